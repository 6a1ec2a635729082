/**
 * Measure the peak tfjs memory of one training step (weights, gradients, AdamW moments, activations; `tf.profile`)
 * for a grid of small configs on one backend, beside the size guard's estimate (src/train/memory_estimate.ts).
 *
 *   deno run -A bench/memory_calibration.ts [--backend cpu] [--large] [--out DIR]
 *
 * `--large` adds the published mHC at B 1, T 256 and with adapters at B 1, T 128 (about 2.8 GiB each; 25 minutes
 * on a busy 2-core machine).
 *
 * Prints one row per config and writes `memory_calibration.json` into --out when given.
 */
import { parseArgs } from "node:util";
import { initBackend } from "../src/backend.ts";
import { createModel, modelConfig } from "../src/models/registry.ts";
import { measureThroughput } from "../src/eval/throughput.ts";
import { estimateTrainingMemory } from "../src/train/memory_estimate.ts";

const args = parseArgs({
  args: Deno.args,
  options: { backend: { type: "string" }, out: { type: "string" }, large: { type: "boolean" } },
});
const backend = await initBackend({ backend: args.values.backend ?? "cpu" });
const grid: [string, Record<string, unknown>, number, number][] = [
  ["baseline", { vocabSize: 128, dim: 16, layers: 2, maxLen: 32 }, 4, 32],
  ["mhc", { vocabSize: 128, dim: 16, layers: 2, maxLen: 32 }, 4, 32],
  ["baseline", { vocabSize: 2048, dim: 32, layers: 2, maxLen: 64 }, 4, 64],
  ["mhc", { vocabSize: 2048, dim: 32, layers: 2, maxLen: 64 }, 4, 64],
  ["baseline", { vocabSize: 256, dim: 64, layers: 4, maxLen: 64 }, 8, 64],
  ["mhc", { vocabSize: 256, dim: 64, layers: 4, maxLen: 64 }, 8, 64],
  ["mhc", { vocabSize: 256, dim: 64, layers: 4, maxLen: 64, streamAdapters: true, adapterRank: 16 }, 8, 64],
  ["mhc", { vocabSize: 8192, dim: 64, layers: 2, maxLen: 64 }, 4, 64],
  ["mhc", { vocabSize: 512, dim: 128, layers: 4, maxLen: 128, adapterRank: 16 }, 4, 128],
  ["mhc", { vocabSize: 1024, dim: 256, layers: 2, maxLen: 256 }, 2, 256],
  ["baseline", { vocabSize: 1024, dim: 256, layers: 2, maxLen: 256 }, 2, 256],
  [
    "mhc",
    { vocabSize: 128, dim: 128, layers: 4, maxLen: 128, streamAdapters: true, adapterRank: 16 },
    8,
    128,
  ],
];
if (args.values.large) grid.push(["mhc", {}, 1, 256], ["mhc", { streamAdapters: true }, 1, 128]);
const rows = [];
for (const [kind, over, batch, seqLen] of grid) {
  const cfg = modelConfig(kind, over, "published");
  const model = createModel(cfg, 1);
  const r = await measureThroughput(model, { batch, seqLen, warmup: 2, steps: 1, restoreWeights: false });
  model.dispose();
  const est = estimateTrainingMemory(cfg, { batch, seqLen });
  const row = {
    kind,
    ...over,
    batch,
    seqLen,
    measured_mib: r.peakBytes / 2 ** 20,
    estimate_mib: est.totalBytes / 2 ** 20,
    ratio: est.totalBytes / r.peakBytes,
    measure: r.peakMeasure,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
if (args.values.out) {
  await Deno.mkdir(args.values.out, { recursive: true });
  await Deno.writeTextFile(
    `${args.values.out}/memory_calibration.json`,
    JSON.stringify({ backend, rows }, null, 2),
  );
}
