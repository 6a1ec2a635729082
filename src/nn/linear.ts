/**
 * Affine maps in PyTorch layout and dropout driven by the project's seeded generator.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../rng.ts";
import { matmulWT } from "./matmul.ts";
import { dropoutMaskWebGPU } from "./dropout_webgpu.ts";
import { defineOp } from "./dispatch.ts";

/**
 * y = x Wᵀ + b, with W in PyTorch's nn.Linear layout [out, in].
 *
 * @param x [..., in]
 * @param w [out, in]
 * @param b [out] or null
 * @returns [..., out]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { linear } from "./linear.ts";
 * const y = linear(tf.ones([2, 3, 4]), tf.ones([5, 4]), tf.zeros([5])); // [2, 3, 5], all 4
 * ```
 */
export function linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
  const inF = w.shape[1]!;
  const outF = w.shape[0]!;
  const last = x.shape[x.shape.length - 1];
  if (last !== inF) {
    throw new Error(`linear: input's last dimension is ${last} but the weight expects ${inF}.`);
  }
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    // Wᵀ materialised, then an untransposed product; the backward needs no transposes (matmul.ts).
    let y: tf.Tensor = matmulWT(x.reshape([-1, inF]) as tf.Tensor2D, w as tf.Tensor2D);
    if (b) y = y.add(b);
    return y.reshape([...lead, outF]);
  });
}

/** Inverted dropout of x with a given seed: `tf.dropout` (the `ref` and `ops` forms). */
const tfDropout = (x: tf.Tensor, rate: number, seed: number): tf.Tensor =>
  tf.dropout(x, rate, undefined, seed);

/** Inverted dropout with the mask drawn on the GPU (the `webgpu` form; float32 only, else `tf.dropout`). */
function dropoutWebGPU(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (x.dtype !== "float32") return tfDropout(x, rate, seed);
  return tf.tidy(() => tf.mul(x, dropoutMaskWebGPU(x.shape, rate, seed)));
}

const dropoutOp = defineOp("dropout", { ref: tfDropout, ops: tfDropout, webgpu: dropoutWebGPU });

/**
 * Inverted dropout with a seed drawn from `rng` (identity when `rate` is 0 or not training). Forms
 * (`dispatch.ts`): `webgpu` draws the mask on the GPU ({@linkcode dropoutMaskWebGPU}); `ref` and `ops` use
 * `tf.dropout`. Either way one seed from `rng` per call, so a run is reproducible on its backend and choice (the
 * two masks differ for one seed).
 * @param x any shape
 */
export function dropout(x: tf.Tensor, rate: number, training: boolean, rng: Rng): tf.Tensor {
  if (!training || rate <= 0) return x;
  if (rate >= 1) throw new Error(`Dropout rate must be in [0, 1), got "${rate}".`);
  return dropoutOp(x, rate, rng.seed());
}
