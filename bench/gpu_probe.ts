// Quick probe: training tokens/s of the mHC family at the published config on the chosen backend.
import * as tf from "@tensorflow/tfjs";
import { describeEnvironment, initBackend } from "../src/backend.ts";
import { BaselineSLM } from "../src/models/diag_ssm.ts";
import { MhcSLM } from "../src/models/mhc_ssm.ts";
import { Rng } from "../src/rng.ts";
import { matmulBench } from "./matmul_bench.ts";

const backend = await initBackend({ backend: Deno.args[0] ?? "auto" });
console.log(JSON.stringify(describeEnvironment()));
if (Deno.env.get("MATMUL")) { for (const r of await matmulBench()) console.log(JSON.stringify(r)); }
const B = 8, T = Number(Deno.args[1] ?? 256), steps = Number(Deno.args[2] ?? 20);
const rng = new Rng(0);
const V = 50257;
const x = tf.tensor2d(new Int32Array(B * T).map(() => rng.int(V)), [B, T], "int32");
const y = tf.tensor2d(new Int32Array(B * T).map(() => rng.int(V)), [B, T], "int32");
for (
  const [name, make] of [
    ["baseline", () => new BaselineSLM({ maxLen: Math.max(256, T) }, 1)],
    ["mhc", () => new MhcSLM({ maxLen: Math.max(256, T) }, 1)],
    [
      "mhc+adapters",
      () => new MhcSLM({ streamAdapters: true, adapterDropout: 0, maxLen: Math.max(256, T) }, 1),
    ],
  ] as const
) {
  const t00 = performance.now();
  const m = make();
  console.log(name, "built", ((performance.now() - t00) / 1000).toFixed(1), "s");
  m.setTraining(true);
  const opt = tf.train.adam(1e-4);
  const vars = [...m.weights.values()];
  const step = () => {
    const l = opt.minimize(() => m.loss(x, y), true, vars)!;
    return l;
  };
  for (let i = 0; i < 3; i++) {
    const l = step();
    console.log("warmup", i, (await l.data())[0], ((performance.now() - t00) / 1000).toFixed(1), "s");
    l.dispose();
  }
  const t0 = performance.now();
  let last: tf.Scalar | null = null;
  for (let i = 0; i < steps; i++) {
    last?.dispose();
    last = step();
  }
  const lv = (await last!.data())[0];
  const dt = (performance.now() - t0) / 1000;
  // forward only
  const f0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const l = tf.tidy(() => m.loss(x, y));
    if (i === steps - 1) await l.data();
    l.dispose();
  }
  const fdt = (performance.now() - f0) / 1000;
  const mem = tf.memory() as any;
  console.log(
    JSON.stringify({
      name,
      backend,
      T,
      train_tok_s: Math.round(B * T * steps / dt),
      fwd_tok_s: Math.round(B * T * steps / fdt),
      loss: lv,
      numBytes: mem.numBytes,
      numBytesInGPUAllocated: mem.numBytesInGPUAllocated,
    }),
  );
  last!.dispose();
  opt.dispose();
  m.dispose();
}
