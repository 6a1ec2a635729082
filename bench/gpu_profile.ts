// Per-kernel GPU time of one training step (forward + backward + Adam) of the mHC family, to find hot spots.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend.ts";
import { BaselineSLM } from "../src/models/diag_ssm.ts";
import { MhcSLM } from "../src/models/mhc_ssm.ts";
import { Rng } from "../src/rng.ts";

await initBackend({ backend: Deno.args[0] ?? "webgpu" });
const B = Number(Deno.args[1] ?? 8), T = Number(Deno.args[2] ?? 256);
const rng = new Rng(0);
const V = Number(Deno.args[3] ?? 50257);
const x = tf.tensor2d(new Int32Array(B * T).map(() => rng.int(V)), [B, T], "int32");
for (
  const [name, make] of [
    ["baseline", () => new BaselineSLM({ vocabSize: V }, 1)],
    ["mhc+adapters", () => new MhcSLM({ vocabSize: V, streamAdapters: true, adapterDropout: 0 }, 1)],
  ] as const
) {
  const m = make();
  const opt = tf.train.adam(1e-4);
  const vars = [...m.weights.values()];
  const l0 = opt.minimize(() => m.loss(x, x), true, vars)!;
  await l0.data();
  l0.dispose();
  const t0 = performance.now();
  const prof = await tf.profile(async () => {
    const l = opt.minimize(() => m.loss(x, x), true, vars)!;
    await l.data();
    l.dispose();
  });
  const wall = performance.now() - t0;
  const agg = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) {
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    const e = agg.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += ms;
    e.n++;
    agg.set(k.name, e);
  }
  const top = [...agg].sort((a, b) => (Deno.env.get("BY_COUNT") ? b[1].n - a[1].n : b[1].ms - a[1].ms)).slice(
    0,
    18,
  );
  console.log(
    JSON.stringify({
      name,
      wall_ms: Math.round(wall),
      kernels: prof.kernels.length,
      sum_ms: Math.round([...agg.values()].reduce((a, e) => a + e.ms, 0)),
    }),
  );
  for (const [k, e] of top) console.log(`  ${k.padEnd(28)} ${e.ms.toFixed(1).padStart(9)} ms  x${e.n}`);
  opt.dispose();
  m.dispose();
}
