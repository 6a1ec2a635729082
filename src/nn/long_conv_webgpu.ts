/**
 * Fused WGSL kernels for the long causal convolution y_t[c] = Σ_{s=0..min(t, L−1)} K[c, s] · u_{t−s}[c] (H3's SSM
 * kernels as long as the sequence) on the webgpu backend: one dispatch forward, two backward, in place of the
 * blockwise Toeplitz ops of `conv.ts`. The kernel is read transposed, Kᵀ [L, D], so that adjacent lanes (adjacent
 * channels) read adjacent words of both u and Kᵀ.
 *
 * - `SsmlabLongConv` — one lane per output element: y [B, T, D].
 * - `SsmlabLongConvGradU` — one lane per input element: du_s[c] = Σ_{j < L, s + j < T} K[c, j] · dy_{s+j}[c].
 * - `SsmlabLongConvGradK` — one workgroup of 256 lanes per (tile of 8 channels, lag j): 32 row groups stride over
 *   the B·T rows accumulating dy_t[c] · u_{t−j}[c], then a workgroup tree reduction: dKᵀ [L, D].
 *
 * Cost: O(B·T·L·D) multiply-adds each (no FFT); the loops are short for H3's shift filter (L = N = 64) and a few
 * hundred to a few thousand taps for the diagonal SSM's kernel (L = T).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { CONV_REDUCE_CT, CONV_REDUCE_LANES, lagCorrelationCode } from "./conv_webgpu.ts";
import {
  type CustomFn,
  elementwiseProgram,
  requireWebGPU,
  webgpuKernel,
  webgpuProgram,
} from "./webgpu_kernel.ts";

/** Channels and lanes per workgroup of the dK reduction (the causal conv's dw kernel, at other lags). */
const CT = CONV_REDUCE_CT;
const WG_RED = CONV_REDUCE_LANES;

/** Head of the per-element kernels: time step `pos` and channel d of output element `index` of [B, T, D]. */
function head(pos: string): string {
  return `
    let nT = uniforms.outShape.y;
    let nD = uniforms.outShape.z;
    if (index >= uniforms.outShape.x * nT * nD) { return; }
    let nL = uniforms.ktShape.x;
    let row = index / nD;
    let d = index - row * nD;
    let ${pos} = row - (row / nT) * nT;`;
}

/** Forward: inputs U [B, T, D], Kt [L, D]. */
const FWD_CODE = `
  fn main(index : i32) {${head("t")}
    var acc = 0.0;
    let last = min(t, nL - 1);
    for (var s = 0; s <= last; s++) {
      acc = acc + Kt[s * nD + d] * U[index - s * nD];
    }
    result[index] = acc;
  }
`;

/** du: inputs Dy [B, T, D], Kt [L, D]. */
const GRAD_U_CODE = `
  fn main(index : i32) {${head("s")}
    var acc = 0.0;
    let last = min(nT - 1 - s, nL - 1);
    for (var j = 0; j <= last; j++) {
      acc = acc + Kt[j * nD + d] * Dy[index + j * nD];
    }
    result[index] = acc;
  }
`;

/** dKᵀ: inputs Dy [B, T, D], U [B, T, D]; output [L, D] (lag j for tap j), workgroups ⌈D / CT⌉ · L. */
const GRAD_K_CODE = lagCorrelationCode("U", "uniforms.outShape.x", "j", "j * nD + c");

const K_FWD = webgpuKernel(
  "SsmlabLongConv",
  ["u", "kt"],
  ([u]) => elementwiseProgram("long_conv_fwd", ["U", "Kt"], u.shape, FWD_CODE),
);
const K_GU = webgpuKernel(
  "SsmlabLongConvGradU",
  ["dy", "kt"],
  ([dy]) => elementwiseProgram("long_conv_gu", ["Dy", "Kt"], dy.shape, GRAD_U_CODE),
);
const K_GK = webgpuKernel("SsmlabLongConvGradK", ["dy", "u"], ([dy], attrs) => {
  const D = dy.shape[2], L = attrs.L as number;
  return webgpuProgram("long_conv_gk", ["Dy", "U"], [L, D], Math.ceil(D / CT) * L, WG_RED, GRAD_K_CODE);
});

/**
 * Long causal convolution by fused WGSL kernels (webgpu backend only): same result and gradients as `longConvRef`
 * of `conv.ts`. Taps beyond T are unused; a kernel shorter than T has zeros beyond its end.
 *
 * @param u [B, T, D] float32
 * @param kernel [D, L] float32
 * @returns y [B, T, D]
 * @throws Error when the current backend is not webgpu or a dtype is not float32 (shapes: `conv.ts` checks them).
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { longConvWebGPU } from "./long_conv_webgpu.ts";
 * if (tf.getBackend() === "webgpu") {
 *   const y = longConvWebGPU(tf.ones([1, 3, 1]), tf.tensor2d([[1, 0.5, 0.25]])); // [[1], [1.5], [1.75]]
 * }
 * ```
 */
export function longConvWebGPU(u: tf.Tensor3D, kernel: tf.Tensor2D): tf.Tensor3D {
  const fn = "longConvWebGPU";
  requireWebGPU(fn);
  for (const [n, t] of [["u", u], ["kernel", kernel]] as const) {
    if (t.dtype !== "float32") throw new Error(`${fn}: argument "${n}" is ${t.dtype}, expected float32.`);
  }
  const [B, T, D] = u.shape;
  const L = Math.min(kernel.shape[1], T);
  if (u.size === 0) return tf.zeros([B, T, D]) as tf.Tensor3D;
  if (L === 0) return tf.mul(u, 0) as tf.Tensor3D;
  const f = tf.customGrad(
    ((u: tf.Tensor3D, kt: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([u, kt]);
      return {
        value: K_FWD.run<tf.Tensor3D>({ u, kt }),
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => [
          K_GU.run({ dy, kt: saved[1] }),
          K_GK.run({ dy, u: saved[0] }, { L }),
        ],
      };
    }) as unknown as CustomFn,
  );
  return tf.tidy(() => {
    const kt = tf.transpose(tf.slice(kernel, [0, 0], [D, L])); // [L, D]
    return f(u, kt) as unknown as tf.Tensor3D;
  });
}
