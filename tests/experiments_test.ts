import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { Rng } from "../src/rng.ts";
import {
  checkIds,
  MHC_VARIANTS,
  PUBLISHED_MHC_TABLE,
  runMhcAblation,
} from "../src/experiments/mhc_ablation.ts";
import { quickstart } from "../src/experiments/quickstart.ts";
import {
  checkPplOrdering,
  compareWithPublished,
  loadMhcResults,
  meanCurves,
  mhcResultsReport,
  runMhcSeeds,
  summarizeMhcRows,
} from "../src/experiments/seeds.ts";
import type { MhcAblationRow } from "../src/experiments/mhc_ablation.ts";
import { saveFrame } from "../src/results/frames.ts";

await initBackend({ backend: "cpu" });

/** Synthetic ids in [0, 32): a noisy repeating pattern, so a tiny model has something to learn. */
function synthIds(n: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.uniform() < 0.8 ? (i * 7) % 32 : rng.int(32);
  return out;
}

// Two layers: one-layer mHC failed in backprop (tf.unstack of a length-1 axis) before unstackLayers in mhc_ssm.ts.
const MODEL = { vocabSize: 32, dim: 8, layers: 2, maxLen: 16, adapterRank: 2 };
const TRAIN = synthIds(2048, 1);
const VALID = synthIds(512, 2);
/** The small run both ablation tests make: tiny preset, 2 steps of 2×16 tokens. */
const SMALL_RUN = {
  train: TRAIN,
  valid: VALID,
  preset: "tiny",
  model: MODEL,
  batchSize: 2,
  seqLen: 16,
  steps: 2,
  evalBatches: 1,
  pplBatches: 2,
};

Deno.test("runMhcAblation: one row and finite curves per variant", async () => {
  const logs: string[] = [];
  let onStep = 0;
  const { rows, curves } = await runMhcAblation({
    ...SMALL_RUN,
    lr: 1e-3,
    evalEvery: 1,
    throughput: { batch: 2, warmup: 1, steps: 1 },
    log: (l) => logs.push(l),
    onStep: () => void onStep++,
  });
  assertEquals(rows.map((r) => r.variant), [...MHC_VARIANTS]);
  assertEquals(onStep, 6);
  for (const r of rows) {
    assertEquals(r.steps, 2);
    assertEquals(r.tokens_trained, 2 * 2 * 16);
    assertEquals(r.seed, 1337);
    assertEquals(r.backend, "cpu");
    assertEquals(r.ppl_batches, 2);
    for (const k of ["params", "final_train_loss", "val_loss", "ppl", "tokens_per_sec", "peak_mb"] as const) {
      assert(Number.isFinite(r[k]), `${r.variant}.${k} = ${r[k]}`);
    }
    assert(r.params > 0 && r.ppl > 1, `${r.variant}: params ${r.params}, ppl ${r.ppl}`);
    assert(Math.abs(Math.exp(r.val_loss) - r.ppl) < 1e-3 * r.ppl, "ppl = exp(val_loss)");
  }
  // Params grow baseline < mHC < mHC + adapters.
  assert(
    rows[0].params < rows[1].params && rows[1].params < rows[2].params,
    JSON.stringify(rows.map((r) => r.params)),
  );
  // Two train points and two valid points per variant.
  for (const v of MHC_VARIANTS) {
    for (const split of ["train", "valid"] as const) {
      const pts = curves.filter((c) => c.variant === v && c.split === split);
      assertEquals(pts.map((p) => p.step), [1, 2], `${v} ${split}`);
      for (const p of pts) assert(Number.isFinite(p.loss) && p.loss > 0, `${v} ${split} loss ${p.loss}`);
    }
  }
  assert(logs.some((l) => l.includes("val_loss")), "logs mention val_loss");
  assertEquals(PUBLISHED_MHC_TABLE.map((r) => r.variant), [...MHC_VARIANTS]);
});

Deno.test("checkIds and runMhcAblation reject ids outside the vocabulary", async () => {
  checkIds([0, 1, 31], 32, "ok ids");
  const e = assertThrows(() => checkIds(new Int32Array([3, 40, 1]), 32, "the train ids"));
  assertStringIncludes(e.message, "Token id 40 at position 1 of the train ids");
  assertStringIncludes(e.message, "[0, 32)");
  assertStringIncludes(e.message, "different tokenizer");
  assertThrows(() => checkIds([-1], 32, "x"), Error, "Token id -1 at position 0");
  assertThrows(() => checkIds([NaN], 32, "x"), Error, "Token id NaN");
  await assertRejects(
    () =>
      runMhcAblation({
        train: TRAIN,
        valid: new Int32Array([0, 200]),
        preset: "tiny",
        model: MODEL,
        steps: 1,
      }),
    Error,
    "of the valid ids is outside the model's vocabulary [0, 32)",
  );
});

Deno.test("runMhcSeeds: 2 seeds × 1 variant, rows, curves and summary", async () => {
  const res = await runMhcSeeds({
    seeds: [3, 4],
    variants: ["mhc"],
    ...SMALL_RUN,
    evalEvery: 2,
    throughput: false,
  });
  assertEquals(res.rows.map((r) => [r.variant, r.seed]), [["mhc", 3], ["mhc", 4]]);
  assertEquals(new Set(res.curves.map((c) => c.seed)), new Set([3, 4]));
  assertEquals(res.rows[0].tokens_per_sec, null);
  assert(res.rows[0].val_loss !== res.rows[1].val_loss, "different seeds give different losses");
  const s = res.summary.toRecords() as Record<string, unknown>[];
  assertEquals(s.length, 1);
  assertEquals(s[0].variant, "mhc");
  assertEquals(s[0].n, 2);
  assert(!("tokens_per_sec" in s[0]), "null-only metrics are left out");
  const vals = res.rows.map((r) => r.ppl);
  const mean = (vals[0] + vals[1]) / 2;
  const std = Math.abs(vals[0] - vals[1]) / Math.SQRT2;
  assert(Math.abs((s[0].ppl_mean as number) - mean) < 1e-9, "mean");
  assert(Math.abs((s[0].ppl_std as number) - std) < 1e-9, "std (ddof 1)");
  assertStringIncludes(s[0].ppl as string, " ± ");
  await assertRejects(
    () => runMhcSeeds({ seeds: [], train: TRAIN, valid: VALID }),
    Error,
    "at least one seed",
  );
  await assertRejects(
    () => runMhcSeeds({ seeds: [1, 1], train: TRAIN, valid: VALID }),
    Error,
    "Seeds repeat",
  );
  assertThrows(() => summarizeMhcRows([]), Error, "No ablation rows");
});

Deno.test("summary helpers: published comparison, ordering, mean curves, loading committed tables", async () => {
  const row = (variant: MhcAblationRow["variant"], seed: number, ppl: number): MhcAblationRow => ({
    variant,
    seed,
    params: 10,
    steps: 5,
    tokens_trained: 100,
    train_seconds: 1,
    final_train_loss: 3,
    val_loss: Math.log(ppl),
    ppl,
    ppl_batches: 2,
    tokens_per_sec: 1000 + seed,
    peak_mb: 20,
    peak_measure: "profile",
    backend: "cpu",
  });
  const rows = [
    row("mhc_adapters", 1, 10),
    row("baseline", 1, 13),
    row("mhc", 1, 12),
    row("mhc_adapters", 2, 11),
    row("baseline", 2, 14),
    row("mhc", 2, 12.5),
  ];
  const summary = summarizeMhcRows(rows);
  assertEquals((summary.toRecords() as Record<string, unknown>[]).map((r) => r.variant), [...MHC_VARIANTS]);
  const cmp = compareWithPublished(summary);
  assertEquals(cmp.map((r) => r.variant), [...MHC_VARIANTS]);
  assertEquals(cmp[0].ppl, "13.50 ± 0.71");
  assertEquals(cmp[0].ppl_published, 572.91);
  assertEquals(cmp[2].n, 2);
  const ord = checkPplOrdering(summary);
  assert(ord.holds, ord.text);
  assertEquals(ord.order, ["baseline", "mhc", "mhc_adapters"]);
  assertStringIncludes(ord.text, "holds");
  const bad = checkPplOrdering(
    summarizeMhcRows([row("baseline", 1, 9), row("mhc", 1, 12), row("mhc_adapters", 1, 10)]),
  );
  assert(!bad.holds);
  assertEquals(bad.order, ["mhc", "mhc_adapters", "baseline"]);
  assertStringIncludes(bad.text, "does NOT hold");
  assert(!checkPplOrdering(summarizeMhcRows([row("mhc", 1, 9)])).holds);

  const curves = [1, 2].flatMap((seed) =>
    [1, 2].map((step) => ({
      variant: "mhc" as const,
      seed,
      step,
      tokens: step * 10,
      split: "valid" as const,
      loss: seed + step,
    }))
  );
  const mc = meanCurves(curves, "valid");
  assertEquals(mc.map((r) => [r.step, r.loss, r.n]), [[1, 2.5, 2], [2, 3.5, 2]]);
  assertEquals(meanCurves(curves, "train"), []);

  const dir = await Deno.makeTempDir({ prefix: "ssmlab-mhc-results-" });
  try {
    assertEquals(await loadMhcResults(`${dir}/missing`), null);
    assertEquals(await loadMhcResults(dir), null);
    await saveFrame(rows.slice(0, 3) as never, `${dir}/run-a/table`);
    await saveFrame(rows.slice(3) as never, `${dir}/table`);
    await saveFrame(curves as never, `${dir}/run-a/curves`);
    const got = await loadMhcResults(dir);
    assert(got !== null);
    assertEquals(got.files.length, 2);
    assertEquals(got.rows.length, 6);
    assertEquals(got.curves.length, 4);
    assertEquals((got.summary.toRecords() as Record<string, unknown>[]).map((r) => r.n), [2, 2, 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("summary helpers: out-of-domain columns, ordering per domain, the results report", () => {
  const row = (variant: string, seed: number, ppl: number, pplOod: number | null): MhcAblationRow => ({
    variant,
    seed,
    params: 1,
    steps: 1,
    tokens_trained: 1,
    train_seconds: 1,
    final_train_loss: 1,
    val_loss: Math.log(ppl),
    ppl,
    ppl_batches: 1,
    val_loss_ood: pplOod === null ? null : Math.log(pplOod),
    ppl_ood: pplOod,
    tokens_per_sec: 100,
    peak_mb: 10,
    peak_measure: "profile",
    backend: "cpu",
  });
  // In-domain the published ordering holds, out of domain it does not.
  const rows = [row("baseline", 1, 13, 50), row("mhc", 1, 12, 40), row("mhc_adapters", 1, 11, 45)];
  const summary = summarizeMhcRows(rows);
  const cmp = compareWithPublished(summary);
  assertEquals(cmp[1].ppl_ood, "40.00");
  assertStringIncludes(checkPplOrdering(summary, "ppl").text, "The published ordering holds (in-domain");
  const ood = checkPplOrdering(summary, "ppl_ood");
  assert(!ood.holds);
  assertEquals(ood.order, ["baseline", "mhc_adapters", "mhc"]);
  assertStringIncludes(ood.text, "out-of-domain");
  const partial = checkPplOrdering(summarizeMhcRows([row("mhc", 1, 12, 40)]), "ppl_ood");
  assertStringIncludes(
    partial.text,
    "Cannot check the out-of-domain ordering: no rows for baseline, mhc_adapters",
  );
  // Without out-of-domain numbers the column and its verdict and chart are left out.
  assertEquals(compareWithPublished(summarizeMhcRows([row("mhc", 1, 12, null)]))[0].ppl_ood, undefined);
  const curves = [1, 2].map((seed) => ({
    variant: "mhc",
    seed,
    step: 250,
    tokens: 1,
    split: "valid" as const,
    loss: 4 + seed,
  }));
  const report = mhcResultsReport({ rows, curves, summary });
  assertEquals(report.verdicts.length, 2);
  assertEquals(report.runs.height, 3);
  assertEquals(Object.keys(report.charts), [
    "val_loss_curves",
    "val_loss",
    "val_loss_ood",
    "train_tok_s",
    "peak_mib",
  ]);
  // The curve chart carries a ± std band layer around the mean line.
  const layers = (report.charts.val_loss_curves as unknown as { layer: { mark: { type: string } }[] }).layer;
  assertEquals(layers.map((l) => l.mark.type), ["area", "line"]);
  const values = (report.charts.val_loss_curves.data as { values: Record<string, number>[] }).values;
  assertEquals([values[0].loss_lo, values[0].loss, values[0].loss_hi].map((x) => Math.round(x * 1e4) / 1e4), [
    4.7929,
    5.5,
    6.2071,
  ]);
  const noOod = mhcResultsReport({
    rows: [row("mhc", 1, 12, null)],
    curves,
    summary: summarizeMhcRows([row("mhc", 1, 12, null)]),
  });
  assertEquals(noOod.verdicts.length, 1);
  assert(!("val_loss_ood" in noOod.charts));
});

Deno.test("runMhcAblation with outDir: checkpoints every N steps, word milestones, resume after a kill", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssmlab-abl-ck-" });
  try {
    const opts = {
      ...SMALL_RUN,
      variants: ["mhc" as const],
      throughput: false as const,
      outDir: dir,
      saveEvery: 2,
      saveAtWords: [40, 100],
      wordsPerToken: 0.5,
      resume: true,
    };
    // 4 steps of 32 tokens = 16 words each: milestones at step 3 (48 ≥ 40 words) and none for 100 (64 words).
    const full = await runMhcAblation({ ...opts, steps: 4 });
    const names = [...Deno.readDirSync(`${dir}/mhc-seed1337`)].map((e) => e.name).sort();
    for (const n of ["chck_40", "latest", "step-2", "step-4"]) assert(names.includes(n), names.join(", "));
    assert(!names.includes("chck_100"), names.join(", "));
    // A second run of the same command resumes at step 4: nothing more to train, the same result.
    const again = await runMhcAblation({ ...opts, steps: 4 });
    assertEquals(again.rows[0].val_loss, full.rows[0].val_loss);
    assertEquals(again.rows[0].steps, 4);
    // A run "killed" after step 2 (steps: 2), then restarted with the full budget, ends where the full run did.
    const dir2 = await Deno.makeTempDir({ prefix: "ssmlab-abl-ck2-" });
    try {
      await runMhcAblation({ ...opts, outDir: dir2, steps: 2 });
      const resumed = await runMhcAblation({ ...opts, outDir: dir2, steps: 4 });
      assertEquals(resumed.rows[0].val_loss, full.rows[0].val_loss);
      assertEquals(resumed.rows[0].final_train_loss, full.rows[0].final_train_loss);
    } finally {
      await Deno.remove(dir2, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("quickstart writes the table, curves, charts and config", async () => {
  const root = await Deno.makeTempDir({ prefix: "ssmlab-quickstart-" });
  try {
    const lines: string[] = [];
    const { run, rows, curves, sample } = await quickstart({
      steps: 3,
      resultsRoot: root,
      // wasm: the same numbers as cpu here, but ~7 s instead of ~210 s (BLiMP scoring is slow on tfjs-cpu).
      backend: "wasm",
      runName: "t",
      log: (l) => lines.push(l),
    });
    assertEquals(run.dir, `${root}/quickstart/t`);
    for (
      const f of [
        "table.csv",
        "table.parquet",
        "curves.csv",
        "loss_curves.png",
        "loss_curves.svg",
        "config.json",
      ]
    ) {
      assert((await Deno.stat(`${run.dir}/${f}`)).size > 0, `${f} is empty`);
    }
    const cfg = JSON.parse(await Deno.readTextFile(`${run.dir}/config.json`));
    assertEquals(cfg.seed, 1337);
    assertEquals(cfg.environment.backend, "wasm");
    assertEquals(rows.map((r) => r.variant), [...MHC_VARIANTS]);
    for (const r of rows) {
      assert(Number.isFinite(r.bits_per_char) && r.bits_per_char > 0, `bits/char ${r.bits_per_char}`);
      for (const b of [r.blimp_first_token_unscored, r.blimp_eos_prefixed]) {
        assert(b >= 0 && b <= 1, `BLiMP ${b}`);
      }
    }
    assert(curves.length >= 9, `${curves.length} curve points`);
    assert(typeof sample === "string" && sample.length > 0, "a text sample");
    const csv = await Deno.readTextFile(`${run.dir}/table.csv`);
    assertStringIncludes(csv.split("\n")[0], "bits_per_char");
    assert(lines.some((l) => l.includes("results written to")), "final log line");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
