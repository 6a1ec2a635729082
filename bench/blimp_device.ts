/**
 * GPU entry: BLiMP for the checkpoints of training runs (bundled by the device kit; polars-free, so it writes JSON).
 * For each run folder it scores every word-milestone checkpoint (`chck_1M` …) on the BabyLM fast subset and the
 * final checkpoint (`latest`) on the whole original set and, with `--blimp-filtered`, the BabyLM-filtered set.
 * `scripts/import_device_blimp.ts` turns the JSON into results frames, BabyLM-layout predictions and learning curves.
 *
 *   deno run -A .device/blimp_device.js --runs DIR[,DIR…] --blimp DIR [--blimp-filtered DIR] --out DIR
 *     [--tokenizer gpt2] [--fast 200] [--variant first-token-unscored] [--batch 256] [--backend webgpu]
 *
 * Writes `OUT/<run>/milestones.json` (one entry per milestone: name, words, result with per-pair scores) and
 * `OUT/<run>/final_<set>.json` (result with per-pair scores, the checkpoint's step).
 */
import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend.ts";
import { type BlimpPair, loadBlimp } from "../src/data/blimp.ts";
import { type BlimpResult, type BlimpVariant, evaluateBlimp } from "../src/eval/blimp.ts";
import { blimpFastSubset, listMilestones } from "../src/eval/blimp_milestones.ts";
import { createModel } from "../src/models/registry.ts";
import { loadCheckpoint, resolveCheckpoint, restoreModel } from "../src/train/checkpoint.ts";
import { writeTextAtomic } from "../src/results/atomic.ts";
import { getTokenizer, type Tokenizer, type TokenizerName } from "../src/tokenizers/types.ts";

const { values: a } = parseArgs({
  options: {
    runs: { type: "string" },
    blimp: { type: "string" },
    "blimp-filtered": { type: "string" },
    out: { type: "string" },
    tokenizer: { type: "string", default: "gpt2" },
    fast: { type: "string", default: "200" },
    variant: { type: "string", default: "first-token-unscored" },
    batch: { type: "string", default: "256" },
    backend: { type: "string", default: "webgpu" },
  },
});
if (!a.runs || !a.blimp || !a.out) throw new Error("Options --runs, --blimp and --out are required.");
await initBackend({ backend: a.backend });
const tok = getTokenizer(a.tokenizer as TokenizerName);
const variant = a.variant as BlimpVariant;
const original = await loadBlimp({ dir: a.blimp });
const sets: [string, BlimpPair[]][] = [["original", original]];
if (a["blimp-filtered"]) sets.push(["filtered", await loadBlimp({ dir: a["blimp-filtered"] })]);
const fast = blimpFastSubset(original, Number(a.fast));
const t0 = performance.now();
const log = (l: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${l}`);

/** Score `pairs` with the checkpoint at `path`; the model is disposed afterwards. */
async function score(
  path: string,
  pairs: BlimpPair[],
  tokenizer: Tokenizer,
): Promise<BlimpResult & { step: number }> {
  const ck = await loadCheckpoint(await resolveCheckpoint(path));
  const model = createModel(ck.config, 0);
  try {
    restoreModel(model, ck);
    model.setTraining?.(false);
    const r = await evaluateBlimp(model, tokenizer, pairs, {
      variant,
      batchSize: Number(a.batch),
      overflow: "truncate",
      returnScores: true,
      capture: "auto",
    });
    return { ...r, step: ck.state.step };
  } finally {
    model.dispose();
  }
}

for (const run of a.runs.split(",")) {
  const dir = join(a.out, basename(run));
  await Deno.mkdir(dir, { recursive: true });
  const milestones = [];
  for (const m of await listMilestones(run)) {
    const r = await score(m.path, fast, tok);
    milestones.push({ name: m.name, words: m.words, result: r });
    log(`${basename(run)} ${m.name}: BLiMP fast ${(100 * r.overall).toFixed(2)} % (step ${r.step})`);
    // Rewritten after every milestone, so a machine taken back mid-way leaves the milestones scored so far.
    await writeTextAtomic(
      join(dir, "milestones.json"),
      JSON.stringify({ fastPerParadigm: Number(a.fast), milestones }),
    );
  }
  for (const [name, pairs] of sets) {
    const r = await score(run, pairs, tok);
    await writeTextAtomic(join(dir, `final_${name}.json`), JSON.stringify(r));
    log(
      `${basename(run)} final (step ${r.step}): BLiMP ${name} ${
        (100 * r.overall).toFixed(2)
      } % over ${r.pairs} pairs`,
    );
  }
  log(`tensors alive: ${tf.memory().numTensors}`);
}
