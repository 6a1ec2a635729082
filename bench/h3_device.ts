/**
 * GPU entry for H3 (docs/models/h3.md), bundled by the device kit like the other `bench/*_device.ts` entries (no
 * native addons on the device, so it writes CSV and JSON by hand):
 *
 * - `longconv`: the long causal convolution forward + backward (du, dK) at B = 8, D = 768, for a kernel of N = 64
 *   taps (the shift SSM) and of T taps (the diagonal SSM), T = 256 … 2048: median milliseconds of the fused WGSL
 *   kernels (`webgpu`) against the blockwise Toeplitz tf ops (`ops`);
 * - `models`: training and forward-only tokens/s and peak memory of the H3 LM at the `small30m` and `published`
 *   presets, B = 8, T = 256 and 1024 (`measureThroughput`, the benchmark protocol of the other families).
 *
 * Usage (device): `deno run -A .device/h3_device.js --out $OUT/h3 [--sections longconv,models] [--T 256,1024,2048]
 *   [--presets small30m,published] [--model-T 256,1024] [--steps 10] [--warmup 3] [--backend webgpu]`
 * Writes `longconv.csv`, `models.csv` and `result.json` under `--out`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { describeEnvironment, initBackend } from "../src/backend.ts";
import { h3Config, H3LM } from "../src/models/h3.ts";
import { longConv } from "../src/nn/conv.ts";
import { withImpl } from "../src/nn/dispatch.ts";
import { measureThroughput } from "../src/eval/throughput.ts";
import { toCsv } from "./csv.ts";

const { values: a } = parseArgs({
  options: {
    out: { type: "string", default: "results/bench/h3" },
    sections: { type: "string", default: "longconv,models" },
    T: { type: "string", default: "256,1024,2048" },
    presets: { type: "string", default: "small30m,published" },
    "model-T": { type: "string", default: "256,1024" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    backend: { type: "string", default: "webgpu" },
  },
});
const out = a.out!;
const sections = new Set(a.sections!.split(","));
const nums = (s: string) => s.split(",").map(Number);
const steps = Number(a.steps), warmup = Number(a.warmup);
await Deno.mkdir(out, { recursive: true });
const backend = await initBackend({ backend: a.backend });
const env = { ...describeEnvironment(), date: new Date().toISOString(), args: Deno.args };
console.log(JSON.stringify(env));

/** Median milliseconds of forward + backward of longConv under `impl`. */
async function timeLongConv(
  impl: "fast" | "ops",
  B: number,
  T: number,
  D: number,
  L: number,
): Promise<number> {
  const u = tf.randomNormal([B, T, D]) as tf.Tensor3D, K = tf.randomNormal([D, L]) as tf.Tensor2D;
  const run = () =>
    withImpl(impl, () => {
      const g = tf.grads((x: tf.Tensor, k: tf.Tensor) =>
        tf.sum(longConv(x as tf.Tensor3D, k as tf.Tensor2D)) as tf.Scalar
      )([u, K]);
      return g;
    });
  const ms: number[] = [];
  for (let r = 0; r < warmup + steps; r++) {
    const t0 = performance.now();
    const g = run();
    for (const t of g) await t.data();
    if (r >= warmup) ms.push(performance.now() - t0);
    tf.dispose(g);
  }
  tf.dispose([u, K]);
  ms.sort((x, y) => x - y);
  return ms[Math.floor(ms.length / 2)];
}

const result: Record<string, unknown> = { environment: env, backend };
if (sections.has("longconv")) {
  const rows: Record<string, unknown>[] = [];
  for (const T of nums(a.T!)) {
    for (const L of [64, T]) {
      for (const impl of ["fast", "ops"] as const) {
        const ms = await timeLongConv(impl, 8, T, 768, L);
        const row = { B: 8, T, D: 768, L, impl: withImpl(impl, () => longConv.kernel()), ms_fwd_bwd: ms };
        console.log(JSON.stringify(row));
        rows.push(row);
      }
    }
  }
  await Deno.writeTextFile(`${out}/longconv.csv`, toCsv(rows));
  result.longconv = rows;
}
if (sections.has("models")) {
  const rows: Record<string, unknown>[] = [];
  for (const preset of a.presets!.split(",")) {
    for (const T of nums(a["model-T"]!)) {
      const cfg = h3Config({ maxLen: Math.max(T, h3Config({}, preset).maxLen) }, preset);
      const model = new H3LM(cfg, 1337);
      model.setTraining(true);
      const r = await measureThroughput(model, { batch: 8, seqLen: T, warmup, steps, forward: true });
      const row = {
        preset,
        params: model.numParams(),
        B: 8,
        T,
        train_tokens_per_s: r.tokensPerSec,
        forward_tokens_per_s: r.forwardTokensPerSec,
        peak_bytes: r.peakBytes,
        peak_measure: r.peakMeasure,
        final_loss: r.finalLoss,
      };
      console.log(JSON.stringify(row));
      rows.push(row);
      model.dispose();
    }
  }
  await Deno.writeTextFile(`${out}/models.csv`, toCsv(rows));
  result.models = rows;
}
await Deno.writeTextFile(`${out}/result.json`, JSON.stringify(result, null, 2));
