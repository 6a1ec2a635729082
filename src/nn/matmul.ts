/**
 * Matrix products in the forms each backend runs fast, all differentiable.
 *
 * - On **webgpu** every product, forward and backward, is one dispatch of the tiled kernel of `matmul_webgpu.ts`
 *   ({@linkcode matmulT}), whose loads absorb the transposes.
 * - Elsewhere tfjs's own `matMul` runs. On webgpu that kernel is fast only with an untransposed B and sizes that
 *   are multiples of 4 (`matMul(a, b, false, true)` and its autograd backward fell back to a scalar kernel that
 *   was several times slower than the vec4 form: results/bench/h100_probe/README.md), and in tfjs 4.22 its
 *   transposed-B product with a long inner size and a small output is wrong (64 × 64 output, K = 2000:
 *   errors of ~230 against a loop, while the tiled kernel agrees to 6e-5), so the non-webgpu forms below keep B
 *   untransposed by transposing explicitly.
 *
 * The plain `tf.matMul` is the reference.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mmWebGPU } from "./matmul_webgpu.ts";
import { webgpuBackendActive } from "./webgpu_kernel.ts";

/**
 * op(a) · op(b), op = identity or transpose per operand, with gradients; on webgpu one tiled-kernel dispatch per
 * product (forward and each gradient), elsewhere `tf.matMul(a, b, ta, tb)`.
 *
 * @param a [M, K], or [K, M] with `ta`
 * @param b [K, N], or [N, K] with `tb`
 * @returns [M, N]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { matmulT } from "./matmul.ts";
 * const c = matmulT(tf.ones([3, 2]), tf.ones([4, 3]), true, true); // [2, 4], all 3
 * ```
 */
export function matmulT(a: tf.Tensor2D, b: tf.Tensor2D, ta = false, tb = false): tf.Tensor2D {
  if (!webgpuBackendActive()) return tf.matMul(a, b, ta, tb);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y] = args as [tf.Tensor2D, tf.Tensor2D];
    const save = args[2] as tf.GradSaveFunc;
    save([x, y]);
    return {
      value: mmWebGPU(x, y, ta, tb),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor2D, tf.Tensor2D];
        const g = dy as tf.Tensor2D;
        // C = op(A) op(B): dA and dB in the operands' stored layouts, no transpose materialised.
        if (!ta && !tb) return [mmWebGPU(g, ys, false, true), mmWebGPU(xs, g, true, false)];
        if (!ta && tb) return [mmWebGPU(g, ys, false, false), mmWebGPU(g, xs, true, false)];
        if (ta && !tb) return [mmWebGPU(ys, g, false, true), mmWebGPU(xs, g, false, false)];
        return [mmWebGPU(ys, g, true, true), mmWebGPU(g, xs, true, true)];
      },
    };
  });
  return f(a, b) as tf.Tensor2D;
}

/**
 * a · b with a gradient whose products are also untransposed-B forms (off webgpu; on webgpu {@linkcode matmulT}).
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
  if (webgpuBackendActive()) return matmulT(a, b);
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
 * a · wᵀ for a PyTorch-layout weight w [N, K] (nn.Linear's [out, in]); on webgpu {@linkcode matmulT}, elsewhere
 * with a gradient that needs no transposes:
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
  if (webgpuBackendActive()) return matmulT(a, w, false, true);
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
