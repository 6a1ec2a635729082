/**
 * Where a published-size training step spends its time on the GPU machine: phases (forward, forward + backward,
 * AdamW, tfjs Adam), each synchronised, and the host time of every kernel launch of one step by program.
 * Usage: deno run -A .device/gpu_step_profile.js [baseline|mhc|mhc_adapters|any registered variant] [B] [T]
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend.ts";
import { createModel, modelVariants } from "../src/models/registry.ts";
import { benchConfig } from "./model_bench.ts";
import { syntheticStep } from "./synthetic_step.ts";

await initBackend({ backend: "webgpu" });
const name = Deno.args[0] ?? "baseline";
const B = Number(Deno.args[1] ?? 8), T = Number(Deno.args[2] ?? 256);
const variant = modelVariants().find((v) => v.name === name);
if (!variant) {
  throw new Error(
    `Unknown model "${name}": expected one of ${modelVariants().map((v) => v.name).join(", ")}.`,
  );
}
const model = createModel(benchConfig(variant, "published"), 1);
model.setTraining?.(true);
const s = syntheticStep(model, B, T);
const { opt } = s;
const adam = tf.train.adam(1e-4);
const grads = () => s.grads();
const sync = async (t: tf.Tensor) => void (await t.data());
async function time(label: string, fn: () => Promise<void>, reps = 3) {
  await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  console.log(`${label}: ${ts.map((t) => t.toFixed(1)).join(" / ")} ms`);
}
await time("forward (loss)", async () => {
  const l = tf.tidy(() => model.loss(s.x, s.y));
  await sync(l);
  l.dispose();
});
await time("forward + backward (variableGrads)", async () => {
  const { value, grads: g } = grads();
  await sync(value);
  await sync([...g.values()][0]);
  tf.dispose([value, ...g.values()]);
});
{
  const { value, grads: g } = grads();
  const gm = g;
  const probe = model.weights.values().next().value!;
  await time("AdamW (flat) apply", async () => {
    opt.applyGradients(gm, 1e-4);
    await sync(probe);
  });
  await time("tfjs Adam apply", async () => {
    adam.applyGradients([...g].map(([name, tensor]) => ({ name: model.weights.get(name)!.name, tensor })));
    await sync(probe);
  });
  await time("AdamW prepare (concat + norm)", async () => {
    const p = opt.prepareGradients(gm);
    await sync(p.norm);
    p.dispose();
  });
  tf.dispose([value, ...g.values()]);
}
// host time per kernel launch during one full step
const be = tf.backend() as any;
const orig = be.runWebGPUProgram;
const per = new Map<string, { n: number; ms: number; max: number; shape: string }>();
be.runWebGPUProgram = function (p: any, inputs: any[], ...rest: any[]) {
  const t0 = performance.now();
  const r = orig.call(be, p, inputs, ...rest);
  const dt = performance.now() - t0;
  const k = p.constructor?.name + (p.op !== undefined ? "/" + p.op : "") +
    (p.shaderKey?.startsWith?.("ssmlab") ? ":" + p.shaderKey : "");
  const e = per.get(k) ?? { n: 0, ms: 0, max: 0, shape: "" };
  e.n++;
  e.ms += dt;
  if (dt > e.max) {
    e.max = dt;
    e.shape = `${JSON.stringify(p.outputShape)} <- ${
      inputs.map((i: any) => JSON.stringify(i.shape)).join(",")
    }`;
  }
  per.set(k, e);
  return r;
};
const t0 = performance.now();
s.step(); // the trainer's own step (TrainStep.issue)
const t1 = performance.now();
await s.sync();
const t2 = performance.now();
be.runWebGPUProgram = orig;
console.log(`instrumented step: issue ${(t1 - t0).toFixed(1)} ms, total ${(t2 - t0).toFixed(1)} ms`);
const rows = [...per.entries()].sort((a, b) => b[1].ms - a[1].ms);
for (const [k, e] of rows.slice(0, 30)) {
  console.log(
    `${e.ms.toFixed(1).padStart(8)} ms ${String(e.n).padStart(5)}× max ${
      e.max.toFixed(1)
    } ms  ${k}  (max at ${e.shape})`,
  );
}
// memory bandwidth probe: chains of big adds and copies
for (const n of [1 << 20, 1 << 24]) {
  const c = tf.ones([n]);
  let a = tf.ones([n]);
  await sync(a);
  const reps = n > 1 << 20 ? 100 : 500;
  const s0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const b = tf.add(a, c);
    a.dispose();
    a = b;
  }
  await sync(a);
  const ms = (performance.now() - s0) / reps;
  console.log(`add [${n}]: ${(ms * 1000).toFixed(1)} us/op, ${(12 * n / ms / 1e6).toFixed(1)} GB/s`);
  tf.dispose([a, c]);
}
