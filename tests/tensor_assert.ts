/**
 * Tensor comparison helpers shared by the nn tests.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { assert } from "./assert.ts";

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
