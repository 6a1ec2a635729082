/**
 * Global L2-norm gradient clipping with PyTorch's `torch.nn.utils.clip_grad_norm_` semantics:
 * norm = √(Σᵢ ‖gᵢ‖₂²), scale = min(1, max_norm / (norm + 1e-6)), applied to every gradient as a tensor op
 * (multiplying by exactly 1 is bit-exact, so this equals "scale only when < 1").
 *
 * Everything stays on the device: the tensor variants ({@linkcode globalNormTensor},
 * {@linkcode clipGradNormTensor}) never read back, so the trainer can fetch the norm together with the loss in
 * one `await data()` per step. The number-returning variants read asynchronously (the webgpu backend does not
 * allow `dataSync`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

function present(grads: Map<string, tf.Tensor | null>): tf.Tensor[] {
  return [...grads.values()].filter((g): g is tf.Tensor => g != null);
}

/**
 * The global L2 norm of a set of gradients as a float32 scalar tensor, computed over their flat concatenation
 * (a constant number of tensor ops whatever the number of gradients; null entries are skipped; no gradient at
 * all gives 0). The caller owns the result. (The trainer does not use this: `AdamW.prepareGradients`
 * in `optim.ts` computes the norm on the optimizer's own flat gradient and fuses the clipping into the update.)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { globalNormTensor } from "./clip.ts";
 * const g = new Map([["a", tf.tensor1d([3])], ["b", tf.tensor1d([4])]]);
 * const n = globalNormTensor(g); // scalar 5
 * n.dispose();
 * ```
 */
export function globalNormTensor(grads: Map<string, tf.Tensor | null>): tf.Scalar {
  const list = present(grads);
  if (list.length === 0) return tf.scalar(0);
  return tf.tidy(() => tf.sqrt(tf.sum(tf.square(flatten(list)))) as tf.Scalar);
}

/** All gradients as one flat float32 vector (one concat), so the norm is a constant number of ops. */
function flatten(list: tf.Tensor[]): tf.Tensor1D {
  const parts = list.map((g) => (g.dtype === "float32" ? g : g.cast("float32")).reshape([-1]));
  return (parts.length === 1 ? parts[0] : tf.concat(parts)) as tf.Tensor1D;
}

/**
 * The global L2 norm of a set of gradients (null entries are skipped), read to the host.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { globalNorm } from "./clip.ts";
 * const g = new Map([["a", tf.tensor1d([3])], ["b", tf.tensor1d([4])]]);
 * await globalNorm(g); // 5
 * ```
 */
export async function globalNorm(grads: Map<string, tf.Tensor | null>): Promise<number> {
  const t = globalNormTensor(grads);
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}

/**
 * Clip gradients in place to a global L2 norm of `maxNorm` without reading anything back: every entry of the
 * map is replaced by its copy scaled by min(1, max_norm / (norm + 1e-6)) (the old tensor is disposed).
 * With a non-finite norm the scaled gradients are meaningless (as in PyTorch); check the returned norm before
 * using them.
 *
 * @returns the norm before clipping, as a scalar tensor the caller must dispose
 * @throws Error when `maxNorm` is not positive.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { clipGradNormTensor } from "./clip.ts";
 * const g = new Map([["w", tf.tensor1d([3, 4])]]);
 * const norm = clipGradNormTensor(g, 1); // scalar 5; g.get("w") ≈ [0.6, 0.8]
 * norm.dispose();
 * ```
 */
export function clipGradNormTensor(grads: Map<string, tf.Tensor | null>, maxNorm: number): tf.Scalar {
  if (!(maxNorm > 0)) throw new Error(`Gradient clipping needs a positive max norm, got "${maxNorm}".`);
  const list = present(grads);
  if (list.length === 0) return tf.scalar(0);
  // One flat pass: concat → norm → scale → split back (a constant number of ops whatever the count).
  const [norm, pieces] = tf.tidy(() => {
    const flat = flatten(list);
    const n = tf.sqrt(tf.sum(tf.square(flat))) as tf.Scalar;
    const scaled = flat.mul(tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxNorm), n.add(tf.scalar(1e-6)))));
    const parts = list.length === 1 ? [scaled] : tf.split(scaled, list.map((g) => g.size));
    return [n, parts.map((t, i) => t.reshape(list[i].shape))] as [tf.Scalar, tf.Tensor[]];
  });
  let i = 0;
  for (const [name, g] of grads) {
    if (!g) continue;
    g.dispose();
    grads.set(name, pieces[i++]);
  }
  return norm;
}

/**
 * Clip gradients in place to a global L2 norm of `maxNorm` (see {@linkcode clipGradNormTensor}) and read the
 * norm before clipping to the host. A non-finite norm is returned as is (the trainer's guard stops on it).
 *
 * @returns the norm before clipping
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { clipGradNorm } from "./clip.ts";
 * const g = new Map([["w", tf.tensor1d([3, 4])]]);
 * await clipGradNorm(g, 1); // 5; g.get("w") ≈ [0.6, 0.8]
 * ```
 */
export async function clipGradNorm(grads: Map<string, tf.Tensor | null>, maxNorm: number): Promise<number> {
  const norm = clipGradNormTensor(grads, maxNorm);
  try {
    return (await norm.data())[0];
  } finally {
    norm.dispose();
  }
}
