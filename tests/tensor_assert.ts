/**
 * Tensor helpers shared by the nn tests: random inputs and comparisons.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { Rng } from "../src/rng.ts";

/** A tensor of the given shape with N(mean, std²) entries drawn from rng. */
export function normal(rng: Rng, shape: number[], std = 1, mean = 0): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1), mean, std), shape);
}

/** Random int32 token ids x and targets y, both [B, T] in [0, V), from an Rng seeded with seed. */
export function batch(V: number, B: number, T: number, seed = 0): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const rng = new Rng(seed);
  const x = new Int32Array(B * T).map(() => rng.int(V));
  const y = new Int32Array(B * T).map(() => rng.int(V));
  return { x: tf.tensor2d(x, [B, T], "int32"), y: tf.tensor2d(y, [B, T], "int32") };
}

/** Values of a tensor or an array. */
export type Numbers = tf.Tensor | ArrayLike<number>;

function values(a: Numbers): ArrayLike<number> {
  return a instanceof tf.Tensor ? a.dataSync() : a;
}

/** max |a − b| / max(|b|, 1e-6), after checking the sizes match and `a` is finite. */
export function relDiff(a: Numbers, b: Numbers, what: string): number {
  const x = values(a), y = values(b);
  assert(x.length === y.length, `${what}: ${x.length} vs ${y.length} values`);
  let d = 0, m = 1e-6;
  for (let i = 0; i < x.length; i++) {
    assert(Number.isFinite(x[i]), `${what}[${i}] is ${x[i]}`);
    d = Math.max(d, Math.abs(x[i] - y[i]));
    m = Math.max(m, Math.abs(y[i]));
  }
  return d / m;
}

/** Assert {@linkcode relDiff}(a, b) ≤ tol. */
export function assertClose(a: Numbers, b: Numbers, tol: number, what: string): void {
  const r = relDiff(a, b, what);
  assert(r <= tol, `${what}: relative difference ${r.toExponential(2)} > ${tol}`);
}

/**
 * Assert equal shapes and {@linkcode assertClose}, reading both with `await data()` (webgpu in Deno cannot
 * `dataSync`); no NaN (relDiff checks finiteness).
 */
export async function assertCloseAsync(a: tf.Tensor, b: tf.Tensor, tol: number, what: string): Promise<void> {
  assertEquals(a.shape, b.shape, `${what} shape`);
  assertClose(await a.data(), await b.data(), tol, what);
}
