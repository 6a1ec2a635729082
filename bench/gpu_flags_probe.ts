// Training tokens/s of the published-size models under different tfjs-webgpu flag settings (dispatch batching).
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend.ts";
import { BaselineSLM } from "../src/models/diag_ssm.ts";
import { MhcSLM } from "../src/models/mhc_ssm.ts";
import { Rng } from "../src/rng.ts";

await initBackend({ backend: Deno.args[0] ?? "webgpu" });
const B = 8, T = 256, V = Number(Deno.args[1] ?? 50257), steps = Number(Deno.args[2] ?? 4);
const rng = new Rng(0);
const x = tf.tensor2d(new Int32Array(B * T).map(() => rng.int(V)), [B, T], "int32");
const settings: Record<string, number | boolean>[] = [
  { WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 15, WEBGPU_CPU_FORWARD: true },
  { WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 128, WEBGPU_CPU_FORWARD: true },
  { WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 1024, WEBGPU_CPU_FORWARD: false },
];
for (
  const [name, make] of [
    ["baseline", () => new BaselineSLM({ vocabSize: V }, 1)],
    ["mhc_adapters", () => new MhcSLM({ vocabSize: V, streamAdapters: true, adapterDropout: 0 }, 1)],
  ] as const
) {
  const m = make();
  const opt = tf.train.adam(1e-4);
  const vars = [...m.weights.values()];
  for (const s of (name === "baseline" ? settings : [settings[0], settings[2]])) {
    const n = name === "baseline" ? steps : 2;
    for (const [k, v] of Object.entries(s)) tf.env().set(k, v);
    for (let i = 0; i < (name === "baseline" ? 2 : 1); i++) {
      const l = opt.minimize(() => m.loss(x, x), true, vars)!;
      await l.data();
      l.dispose();
    }
    const t0 = performance.now();
    let last: tf.Scalar | null = null;
    for (let i = 0; i < n; i++) {
      last?.dispose();
      last = opt.minimize(() => m.loss(x, x), true, vars)!;
    }
    await last!.data();
    last!.dispose();
    const dt = (performance.now() - t0) / 1000;
    console.log(
      JSON.stringify({
        name,
        ...s,
        train_tok_s: Math.round(B * T * n / dt),
        step_ms: Math.round(dt * 1000 / n),
      }),
    );
  }
  opt.dispose();
  m.dispose();
}
