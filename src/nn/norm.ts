/**
 * Normalisations: RMSNorm (x · rsqrt(mean(x²) + ε) · w, docs/models/baseline.md) and LayerNorm.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { rmsNormWebGPU } from "./norm_webgpu.ts";
import { defineOp, type Op } from "./dispatch.ts";

/** The `webgpu` form of {@linkcode rmsNorm}: the fused kernels for float32 input and a [d] weight, else tf ops. */
function rmsNormFused(x: tf.Tensor, w: tf.Tensor, eps = 1e-6): tf.Tensor {
  const fits = x.dtype === "float32" && w.rank === 1 && x.size > 0;
  return fits ? rmsNormWebGPU(x, w, eps) : rmsNormOps(x, w, eps);
}

/**
 * RMSNorm over the last axis. Forms (`dispatch.ts`): `webgpu` fused kernels (`norm_webgpu.ts`); `ref` and `ops`
 * {@linkcode rmsNormOps} (the tf-op form; {@linkcode rmsNormRef}, on host arrays, is the loop oracle of both).
 *
 * @param x [..., d]
 * @param w [d] scale (init 1)
 * @param eps added to the mean square (1e-6 in mHC-SSM, 1e-5 in Mamba)
 * @returns [..., d]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { rmsNorm } from "./norm.ts";
 * const y = rmsNorm(tf.tensor2d([[3, 4]]), tf.ones([2])); // ≈ [[0.8485, 1.1314]]
 * ```
 */
export const rmsNorm: Op<(x: tf.Tensor, w: tf.Tensor, eps?: number) => tf.Tensor> = defineOp("rmsNorm", {
  ref: rmsNormOps,
  ops: rmsNormOps,
  webgpu: rmsNormFused,
});

/** RMSNorm as tf ops (cpu, wasm; the reference of the fused WebGPU kernels). @param x [..., d] @param w [d] */
export function rmsNormOps(x: tf.Tensor, w: tf.Tensor, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), -1, true);
    return x.mul(tf.rsqrt(ms.add(eps))).mul(w);
  });
}

/**
 * LayerNorm over the last axis (biased variance, as PyTorch).
 *
 * @param x [..., d]
 * @param w [d] scale (init 1)
 * @param b [d] shift (init 0), or null
 * @param eps 1e-5 as PyTorch's default
 */
export function layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const xc = x.sub(mean);
    const variance = tf.mean(tf.square(xc), -1, true);
    const y = xc.mul(tf.rsqrt(variance.add(eps))).mul(w);
    return b ? y.add(b) : y;
  });
}

/** Reference RMSNorm over the last axis with plain loops (test oracle). @param x flat values, rows of length d */
export function rmsNormRef(x: Float32Array, w: Float32Array, eps = 1e-6): Float32Array {
  const d = w.length;
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let ms = 0;
    for (let j = 0; j < d; j++) ms += x[r * d + j] ** 2;
    const s = 1 / Math.sqrt(ms / d + eps);
    for (let j = 0; j < d; j++) out[r * d + j] = x[r * d + j] * s * w[j];
  }
  return out;
}
