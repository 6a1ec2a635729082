/**
 * Cross-entropy over integer targets with an ignore index, whose gradient works on every backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** PyTorch's default ignore index. */
export const IGNORE_INDEX: number = -100;

/**
 * Mean token cross-entropy, −mean_{t: y_t ≠ −100} log softmax(logits_t)[y_t].
 *
 * The gradient is (softmax − onehot) / count on the kept rows, written with `tf.customGrad` so no gather
 * gradient is needed (wasm has none).
 *
 * @param logits [N, V] (or [B, T, V])
 * @param targets [N] (or [B, T]) int32; −100 = ignored
 * @returns scalar; 0 when every target is ignored
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { crossEntropy } from "./losses.ts";
 * const l = crossEntropy(tf.zeros([2, 4]), tf.tensor1d([1, 3], "int32")); // log 4
 * ```
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  const vocab = logits.shape[logits.shape.length - 1];
  const n = logits.size / vocab;
  if (targets.size !== n) {
    throw new Error(
      `crossEntropy: ${targets.size} targets for ${n} rows of logits (shape [${logits.shape}]).`,
    );
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const x2 = x.reshape([n, vocab]);
    const t = targets.reshape([n]).cast("int32");
    const mask = t.notEqual(tf.scalar(IGNORE_INDEX, "int32")).cast("float32");
    const safe = t.mul(mask.cast("int32")); // ignored rows point at class 0, masked out below
    const count = tf.maximum(mask.sum(), tf.scalar(1));
    const lse = tf.logSumExp(x2, 1);
    const flat = tf.range(0, n, 1, "int32").mul(tf.scalar(vocab, "int32")).add(safe);
    const picked = tf.gather(x2.reshape([-1]), flat);
    const value = lse.sub(picked).mul(mask).sum().div(count) as tf.Scalar;
    save([x2, safe, mask, count]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, s, m, c] = saved;
        const p = tf.softmax(xs);
        // int32 then cast: tfjs-wasm 4.22 returns all zeros for a float32 oneHot.
        const oh = tf.oneHot(s as tf.Tensor1D, vocab).cast("float32");
        const scale = m.div(c).mul(dy).reshape([n, 1]);
        return p.sub(oh).mul(scale).reshape(x.shape);
      },
    };
  });
  return f(logits) as tf.Scalar;
}

/** Reference cross-entropy with plain loops (test oracle). */
export function crossEntropyRef(logits: Float32Array, targets: Int32Array, vocab: number): number {
  let total = 0;
  let count = 0;
  for (let i = 0; i < targets.length; i++) {
    if (targets[i] === IGNORE_INDEX) continue;
    let m = -Infinity;
    for (let j = 0; j < vocab; j++) m = Math.max(m, logits[i * vocab + j]);
    let s = 0;
    for (let j = 0; j < vocab; j++) s += Math.exp(logits[i * vocab + j] - m);
    total += m + Math.log(s) - logits[i * vocab + targets[i]];
    count++;
  }
  return count ? total / count : 0;
}

/**
 * Log-probabilities of the next token.
 * @param logits [..., V]
 * @returns [..., V]
 */
export function logSoftmax(logits: tf.Tensor): tf.Tensor {
  return tf.logSoftmax(logits);
}
