/**
 * Sinkhorn–Knopp (docs/models/mhc.md), not in log space: P = exp(ℓ/τ − rowmax(ℓ/τ)), then `iters` times
 * P ← P / (rowsum + 1e-8); P ← P / (colsum + 1e-8). Ends on a column normalisation. Differentiable through all
 * iterations. Also the simplex weights softmax(ℓ/τ) used for the pre/post stream mixing.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Doubly-stochastic projection of a square logit matrix.
 *
 * @param logits [n, n], or a batch [..., n, n] normalised independently (one set of kernels for all layers)
 * @param iters number of row+column normalisations (8 in mHC-SSM)
 * @param temperature τ (1.0)
 * @returns same shape as `logits`; columns sum to 1 (up to ε), rows approximately
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { sinkhornKnopp } from "./sinkhorn.ts";
 * const h = sinkhornKnopp(tf.zeros([4, 4]), 8); // all 0.25
 * ```
 */
export function sinkhornKnopp(logits: tf.Tensor, iters = 8, temperature = 1.0, eps = 1e-8): tf.Tensor2D {
  const r = logits.rank;
  if (r < 2 || logits.shape[r - 1] !== logits.shape[r - 2]) {
    throw new Error(`sinkhornKnopp expects square [..., n, n] matrices, got shape [${logits.shape}].`);
  }
  if (!(temperature > 0)) throw new Error(`Sinkhorn temperature must be > 0, got "${temperature}".`);
  return tf.tidy(() => {
    const z = logits.div(temperature);
    let p = tf.exp(z.sub(tf.max(z, -1, true)));
    for (let i = 0; i < iters; i++) {
      p = p.div(tf.sum(p, -1, true).add(eps));
      p = p.div(tf.sum(p, -2, true).add(eps));
    }
    return p as tf.Tensor2D;
  });
}

/** Reference Sinkhorn–Knopp with plain loops (test oracle). @param l row-major [n·n] */
export function sinkhornKnoppRef(
  l: Float64Array | Float32Array,
  n: number,
  iters = 8,
  temperature = 1.0,
  eps = 1e-8,
): Float64Array {
  const p = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, l[i * n + j] / temperature);
    for (let j = 0; j < n; j++) p[i * n + j] = Math.exp(l[i * n + j] / temperature - m);
  }
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += p[i * n + j];
      for (let j = 0; j < n; j++) p[i * n + j] /= s + eps;
    }
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += p[i * n + j];
      for (let i = 0; i < n; i++) p[i * n + j] /= s + eps;
    }
  }
  return p;
}

/**
 * Simplex weights softmax(ℓ/τ) over the streams.
 * @param logits [n], or [..., n] (softmax over the last axis)
 * @returns same shape, sums to 1 over the last axis
 */
export function simplexWeights(logits: tf.Tensor1D | tf.Tensor, temperature = 1.0): tf.Tensor1D {
  return tf.tidy(() => tf.softmax(logits.div(temperature)) as tf.Tensor1D);
}
