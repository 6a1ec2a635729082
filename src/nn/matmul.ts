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
 * Each op here is made by `defineOp` (`dispatch.ts`): `webgpu` the tiled kernel, `ops` the tf forms below, `ref`
 * the plain `tf.matMul` with explicit transposes (the reference).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mmWebGPU } from "./matmul_webgpu.ts";
import { defineOp, type Op } from "./dispatch.ts";

/** op(t): t or its materialised transpose. */
const op = (t: tf.Tensor2D, transposed: boolean): tf.Tensor2D => transposed ? tf.transpose(t) : t;

/** The reference of every product here: tf.matMul of untransposed operands (transposes materialised). */
function matmulTRef(a: tf.Tensor2D, b: tf.Tensor2D, ta = false, tb = false): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(op(a, ta), op(b, tb)));
}

/** op(a) · op(b) in the tiled kernel, forward and both gradients (webgpu only). */
function matmulTWebGPU(a: tf.Tensor2D, b: tf.Tensor2D, ta = false, tb = false): tf.Tensor2D {
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
 * op(a) · op(b), op = identity or transpose per operand, with gradients. Forms: `webgpu` one tiled-kernel dispatch
 * per product (forward and each gradient); `ops` `tf.matMul(a, b, ta, tb)`; `ref` tf.matMul with the transposes
 * materialised.
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
export const matmulT: Op<(a: tf.Tensor2D, b: tf.Tensor2D, ta?: boolean, tb?: boolean) => tf.Tensor2D> =
  defineOp("matmulT", {
    ref: matmulTRef,
    ops: (a: tf.Tensor2D, b: tf.Tensor2D, ta = false, tb = false) => tf.matMul(a, b, ta, tb),
    webgpu: matmulTWebGPU,
  });

/** A form of `name` behind the check that a [M, K] meets b's K along `bAxis`. */
function checkedInner(
  name: string,
  bAxis: 0 | 1,
  f: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D,
): (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D {
  return (a, b) => {
    if (a.shape[1] !== b.shape[bAxis]) {
      const want = bAxis === 0 ? "" : ` (expected [N, ${a.shape[1]}])`;
      throw new Error(
        `${name}: inner sizes differ: a is [${a.shape}], ${bAxis ? "w" : "b"} is [${b.shape}]${want}.`,
      );
    }
    return f(a, b);
  };
}

/** The `ops` form of {@linkcode matmul}: da = dy · bᵀ (bᵀ materialised), db = aᵀ · dy (transpose-A form). */
function matmulOps(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
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
 * a · b with a gradient whose products are also untransposed-B forms (`ops`: da = dy · bᵀ with bᵀ materialised,
 * db = aᵀ · dy, the transpose-A form, vec4 when a's column count is a multiple of 4); `webgpu` {@linkcode matmulT}'s
 * tiled kernel; `ref` plain `tf.matMul`.
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
export const matmul: Op<(a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D> = defineOp("matmul", {
  ref: checkedInner("matmul", 0, (a, b) => matmulTRef(a, b)),
  ops: checkedInner("matmul", 0, matmulOps),
  webgpu: checkedInner("matmul", 0, (a, b) => matmulTWebGPU(a, b)),
});

/** The `ops` form of {@linkcode matmulWT}: forward wᵀ materialised; backward da = dy · w, dw = dyᵀ · a. */
function matmulWTOps(a: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
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
 * a · wᵀ for a PyTorch-layout weight w [N, K] (nn.Linear's [out, in]). Forms: `webgpu` {@linkcode matmulT}'s tiled
 * kernel; `ops` a gradient that needs no transposes: forward wᵀ materialised then an untransposed product;
 * backward da = dy · w (untransposed) and dw = dyᵀ · a (transpose-A form), two products backward instead of
 * {@linkcode matmul}'s two products and two transposes (one for bᵀ, one for the gradient of the materialised wᵀ);
 * `ref` plain `tf.matMul` of a and the materialised wᵀ.
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
export const matmulWT: Op<(a: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D> = defineOp("matmulWT", {
  ref: checkedInner("matmulWT", 1, (a, w) => matmulTRef(a, w, false, true)),
  ops: checkedInner("matmulWT", 1, matmulWTOps),
  webgpu: checkedInner("matmulWT", 1, (a, w) => matmulTWebGPU(a, w, false, true)),
});
