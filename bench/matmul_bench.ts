// TFLOP/s of the LM-head matmul shapes (forward, dX, dE) in each transpose form, on the chosen backend.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend.ts";

/**
 * Mean milliseconds of `f` over `reps` calls after one untimed call, synchronised by reading the last result
 * (every call's outputs but the last are disposed as the next one starts).
 */
export async function timeOp(f: () => tf.TensorContainer, reps = 5): Promise<number> {
  // Warm-up, waited for: compiles the kernels and uploads any host-resident inputs outside the timed loop.
  const warm = f();
  const w0 = tf.tidy(() => ((Array.isArray(warm) ? warm[0] : warm) as tf.Tensor).reshape([-1]).slice(0, 1));
  await w0.data();
  w0.dispose();
  tf.dispose(warm);
  let last: tf.TensorContainer = [];
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    tf.dispose(last);
    last = f();
  }
  const first = (Array.isArray(last) ? last[0] : last) as tf.Tensor;
  // Wait for the queue by reading one element of the last result (reading all of it would time its download).
  const one = tf.tidy(() => first.reshape([-1]).slice(0, 1));
  await one.data();
  one.dispose();
  const ms = (performance.now() - t0) / reps;
  tf.dispose(last);
  return ms;
}

export async function matmulBench(N = 2048, d = 512, V = 50257, reps = 5): Promise<Record<string, number>[]> {
  const rows: Record<string, number | string>[] = [];
  const x = tf.randomNormal([N, d]), E = tf.randomNormal([V, d]), G = tf.randomNormal([N, V]);
  const Et = tf.transpose(E), Gt = tf.transpose(G);
  const cases: [string, () => tf.Tensor, number][] = [
    ["fwd x·Eᵀ (transposeB)", () => tf.matMul(x, E, false, true), 2 * N * d * V],
    ["fwd x·Et (plain)", () => tf.matMul(x, Et), 2 * N * d * V],
    ["dX G·E (plain)", () => tf.matMul(G, E), 2 * N * d * V],
    ["dE Gᵀ·x (transposeA)", () => tf.matMul(G, x, true, false), 2 * N * d * V],
    ["dE Gt·x (plain)", () => tf.matMul(Gt, x), 2 * N * d * V],
    ["transpose G", () => tf.transpose(G), 0],
    [
      "square 2048x2048x2048",
      () => tf.matMul(x.reshape([2048, 512]).tile([1, 4]), x.reshape([2048, 512]).tile([1, 4]), false, true),
      2 * 2048 ** 3,
    ],
  ];
  for (const [name, f, flops] of cases) {
    const ms = await timeOp(f, reps);
    rows.push({
      name,
      ms: Math.round(ms * 100) / 100,
      tflops: flops ? Math.round(flops / ms / 1e9 * 100) / 100 : 0,
    });
  }
  tf.dispose([x, E, G, Et, Gt]);
  return rows as Record<string, number>[];
}

if (import.meta.main) {
  await initBackend({ backend: Deno.args[0] ?? "auto" });
  for (const r of await matmulBench()) console.log(JSON.stringify(r));
}
