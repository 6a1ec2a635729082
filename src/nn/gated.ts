/**
 * Gated units: the output gates of the SSM blocks (the baseline block's sigmoid gate, docs/models/baseline.md
 * step 6; Mamba's SiLU gate) and the gated linear unit.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

function sameShape(fn: string, y: tf.Tensor, g: tf.Tensor): void {
  if (y.shape.length !== g.shape.length || y.shape.some((s, i) => s !== g.shape[i])) {
    throw new Error(
      `${fn}: argument "g" has shape [${g.shape.join(", ")}], expected the shape of "y" = [${
        y.shape.join(", ")
      }].`,
    );
  }
}

/**
 * Sigmoid gate: y ⊙ σ(g) (the baseline SSM block's gate, docs/models/baseline.md step 6).
 *
 * @param y [...] values
 * @param g [...] gate pre-activations, same shape as y
 * @returns [...]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { sigmoidGate } from "./gated.ts";
 * sigmoidGate(tf.tensor1d([2]), tf.tensor1d([0])).print(); // [1]
 * ```
 */
export function sigmoidGate<T extends tf.Tensor>(y: T, g: T): T {
  sameShape("sigmoidGate", y, g);
  return tf.tidy(() => tf.mul(y, tf.sigmoid(g))) as T;
}

/**
 * SiLU gate: y ⊙ SiLU(g) = y ⊙ g ⊙ σ(g) (Mamba's output gate).
 *
 * @param y [...] values
 * @param g [...] gate pre-activations, same shape as y
 * @returns [...]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { siluGate } from "./gated.ts";
 * siluGate(tf.tensor1d([2]), tf.tensor1d([0])).print(); // [0]
 * ```
 */
export function siluGate<T extends tf.Tensor>(y: T, g: T): T {
  sameShape("siluGate", y, g);
  return tf.tidy(() => tf.mul(y, tf.mul(g, tf.sigmoid(g)))) as T;
}

/**
 * Gated linear unit: split the last axis (or `axis`) into halves [a, b] and return a ⊙ σ(b)
 * (PyTorch `F.glu`).
 *
 * @param x [..., 2H]
 * @param axis axis to split (default −1); its size must be even
 * @returns [..., H]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { glu } from "./gated.ts";
 * glu(tf.tensor2d([[2, 4, 0, 0]])).print(); // [[1, 2]]
 * ```
 */
export function glu<T extends tf.Tensor>(x: T, axis = -1): T {
  const ax = axis < 0 ? x.rank + axis : axis;
  if (ax < 0 || ax >= x.rank) {
    throw new Error(`glu: axis ${axis} is out of range for a tensor of rank ${x.rank}.`);
  }
  const n = x.shape[ax] as number;
  if (n % 2 !== 0) {
    throw new Error(
      `glu: axis ${axis} has size ${n} in shape [${x.shape.join(", ")}], expected an even size.`,
    );
  }
  return tf.tidy(() => {
    const [a, b] = tf.split(x, 2, ax);
    return tf.mul(a, tf.sigmoid(b));
  }) as T;
}
