/** Notebook 02's steps: loading a committed streaming run and the views both modes show. */
import { assert, assertEquals } from "./assert.ts";
import { hssmRunViews, loadHssmRun, recentTokensPerSec } from "../src/experiments/hssm_pretraining.ts";

Deno.test("loadHssmRun reads the committed H100 epoch (last record per step) and hssmRunViews charts it", async () => {
  const run = await loadHssmRun(new URL("../results/hssm", import.meta.url).pathname);
  assert(run, "results/hssm holds history.jsonl and routing.jsonl");
  assertEquals(run.history.length, 3303);
  assertEquals(new Set(run.history.map((r) => r.step)).size, 3303);
  assert(run.routing.length >= 16 && run.routing.every((r) => r.load[0].length === 8));
  assert((run.files["blimp.json"] as { pairs: number }).pairs === 13400);
  const v = hssmRunViews(run);
  assertEquals(v.evals.length, run.routing.length);
  assertEquals((v.load.data as { values: unknown[] }).values.length, run.routing.length * 8);
  assert(recentTokensPerSec(run) > 1000);
});

Deno.test("loadHssmRun: a folder without the run's files gives null", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(await loadHssmRun(dir), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
