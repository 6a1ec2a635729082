/**
 * Matrix products in the forms that tfjs's WebGPU backend runs fast.
 *
 * tfjs-webgpu 4.22 uses its vectorised (vec4) matmul kernel only when B is not transposed and the inner and output
 * sizes are multiples of 4; `matMul(a, b, false, true)` — the natural form for PyTorch-layout weights — and its
 * autograd backward (which transposes B again) fall back to a scalar kernel that measured 0.3–0.4 TFLOP/s on the
 * H100 against 2.45 TFLOP/s for the vec4 form (bench/matmul_bench.ts). {@linkcode matmul} keeps every product,
 * forward and backward, in a vec4-eligible form by transposing explicitly, and {@linkcode linearT} applies a
 * PyTorch-layout weight with it. The plain `tf.matMul` is the reference.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * a · b with a gradient whose products are also untransposed-B forms.
 * da = dy · bᵀ (bᵀ materialised), db = aᵀ · dy (transpose-A form, vec4 when a's column count is a multiple of 4).
 *
 * @param a [M, K]
 * @param b [K, N]
 * @returns [M, N]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { matmul } from "./matmul.ts";
 * const c = matmul(tf.ones([2, 3]), tf.ones([3, 4])); // all 3
 * ```
 */
export function matmul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (a.shape[1] !== b.shape[0]) {
    throw new Error(`matmul: inner sizes differ: a is [${a.shape}], b is [${b.shape}].`);
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y] = args as [tf.Tensor2D, tf.Tensor2D];
    const save = args[2] as tf.GradSaveFunc;
    save([x, y]);
    return {
      value: tf.matMul(x, y),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [
          tf.matMul(dy as tf.Tensor2D, tf.transpose(ys)),
          tf.matMul(xs, dy as tf.Tensor2D, true, false),
        ];
      },
    };
  });
  return f(a, b) as tf.Tensor2D;
}

/**
 * a · wᵀ for a PyTorch-layout weight w [N, K] (nn.Linear's [out, in]), with a gradient that needs no transposes:
 * forward wᵀ materialised then an untransposed product; backward da = dy · w (untransposed) and
 * dw = dyᵀ · a (transpose-A form). Two products backward instead of {@linkcode matmul}'s two products and two
 * transposes (one for bᵀ, one for the gradient of the materialised wᵀ).
 *
 * @param a [M, K]
 * @param w [N, K]
 * @returns [M, N]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { matmulWT } from "./matmul.ts";
 * const c = matmulWT(tf.ones([2, 3]), tf.ones([4, 3])); // [2, 4], all 3
 * ```
 */
export function matmulWT(a: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (a.shape[1] !== w.shape[1]) {
    throw new Error(
      `matmulWT: inner sizes differ: a is [${a.shape}], w is [${w.shape}] (expected [N, ${a.shape[1]}]).`,
    );
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, wt] = args as [tf.Tensor2D, tf.Tensor2D];
    const save = args[2] as tf.GradSaveFunc;
    save([x, wt]);
    return {
      value: tf.matMul(x, tf.transpose(wt)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy as tf.Tensor2D, ws), tf.matMul(dy as tf.Tensor2D, xs, true, false)];
      },
    };
  });
  return f(a, w) as tf.Tensor2D;
}

/**
 * y = x Wᵀ + b for a PyTorch-layout weight W [out, in], through {@linkcode matmulWT}.
 * @param x [..., in]
 * @param w [out, in]
 * @param b [out] or null
 * @returns [..., out]
 */
export function linearT(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
  const inF = w.shape[1]!;
  const outF = w.shape[0]!;
  const lead = x.shape.slice(0, -1);
  let y: tf.Tensor = matmulWT(x.reshape([-1, inF]) as tf.Tensor2D, w as tf.Tensor2D);
  if (b) y = y.add(b);
  return y.reshape([...lead, outF]);
}
