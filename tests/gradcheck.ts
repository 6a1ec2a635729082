/**
 * Finite-difference gradient checker for tests: compares tfjs gradients (autograd or `tf.customGrad`) of a scalar
 * function with central differences computed in float32.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertGradCheck } from "./gradcheck.ts";
 * assertGradCheck((x) => tf.sum(tf.square(x)), [tf.tensor1d([1, 2])]); // throws when gradients disagree
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Options of {@linkcode gradCheck}. */
export interface GradCheckOptions {
  /** Finite-difference step (default 1e-2; float32 needs a large step). */
  eps?: number;
  /** Relative tolerance, against the largest numerical gradient entry of the input (default 1e-2). */
  rtol?: number;
  /** Absolute tolerance (default 1e-4). */
  atol?: number;
  /** Check at most this many entries per input, spread evenly (default 24). */
  maxEntries?: number;
  /** Names of the inputs, for messages. */
  names?: string[];
}

/** Per-input result of {@linkcode gradCheck}. */
export interface GradCheckResult {
  name: string;
  /** max |analytic − numeric| / (max |numeric| + atol/rtol) over checked entries. */
  relErr: number;
  /** Entries checked. */
  checked: number;
  ok: boolean;
  /** The worst entry: index, analytic, numeric. */
  worst: { index: number; analytic: number; numeric: number };
}

/**
 * Central-difference check of the gradient of `f` w.r.t. each input.
 *
 * @param f scalar function of the inputs
 * @param inputs float32 tensors (not modified)
 * @param opts step and tolerances
 * @returns one result per input
 */
export function gradCheck(
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  inputs: tf.Tensor[],
  opts: GradCheckOptions = {},
): GradCheckResult[] {
  const eps = opts.eps ?? 1e-2,
    rtol = opts.rtol ?? 1e-2,
    atol = opts.atol ?? 1e-4,
    maxEntries = opts.maxEntries ?? 24;
  const values = inputs.map((t) => t.dataSync().slice() as Float32Array);
  const analytic = tf.tidy(() => tf.grads(f)(inputs).map((g) => g.dataSync().slice() as Float32Array));
  const evalAt = (i: number, v: Float32Array) =>
    tf.tidy(() => {
      const xs = inputs.map((t, j) => (j === i ? tf.tensor(v, t.shape, "float32") : t));
      return f(...xs).dataSync()[0];
    });
  return inputs.map((t, i) => {
    const n = t.size;
    const stride = Math.max(1, Math.floor(n / maxEntries));
    const idx: number[] = [];
    for (let j = 0; j < n && idx.length < maxEntries; j += stride) idx.push(j);
    const num: number[] = [];
    for (const j of idx) {
      const v = values[i].slice();
      v[j] = values[i][j] + eps;
      const fp = evalAt(i, v);
      v[j] = values[i][j] - eps;
      const fm = evalAt(i, v);
      num.push((fp - fm) / (2 * eps));
    }
    const scale = Math.max(...num.map(Math.abs)) + atol / rtol;
    let relErr = 0;
    let worst = { index: idx[0] ?? 0, analytic: 0, numeric: 0 };
    idx.forEach((j, q) => {
      const e = Math.abs(analytic[i][j] - num[q]) / scale;
      if (!(e <= relErr)) (relErr = e), (worst = { index: j, analytic: analytic[i][j], numeric: num[q] });
    });
    const name = opts.names?.[i] ?? `input ${i}`;
    return { name, relErr, checked: idx.length, ok: relErr <= rtol, worst };
  });
}

/**
 * {@linkcode gradCheck}, throwing an Error that names each failing input with its worst entry.
 *
 * @param f scalar function of the inputs
 * @param inputs float32 tensors
 * @param opts step and tolerances
 */
export function assertGradCheck(
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  inputs: tf.Tensor[],
  opts: GradCheckOptions = {},
): GradCheckResult[] {
  const res = gradCheck(f, inputs, opts);
  const bad = res.filter((r) => !r.ok);
  if (bad.length) {
    throw new Error(
      "Gradient check failed: " +
        bad.map((r) =>
          `${r.name}: relative error ${r.relErr.toExponential(2)} > ${
            opts.rtol ?? 1e-2
          } at entry ${r.worst.index} ` +
          `(analytic ${r.worst.analytic}, numeric ${r.worst.numeric})`
        ).join("; ") + ".",
    );
  }
  return res;
}
