/**
 * Fused WGSL kernels for the short causal depthwise conv y_t[c] = Σ_{j<k} w[c, 0, j] · x_{t−(k−1)+j}[c] + b[c]
 * (zeros for t < 0) on the webgpu backend.
 *
 * The slice version of `conv.ts` issues ~3k dispatches forward (more backward); on a fast GPU a training step is
 * bound by per-dispatch overhead. Here the conv is one compute dispatch forward and two or three backward, run
 * through the webgpu backend's own program API (`runWebGPUProgram`, so tfjs keeps managing the buffers) and
 * registered as tfjs kernels (so `tf.profile` and `tf.memory` see them), as in `scan_webgpu.ts`:
 *
 * - `SsmlabCausalConv1d` / `SsmlabCausalConv1dBias` — one invocation per output element: y [B, T, D].
 * - `SsmlabCausalConv1dGradX` — one invocation per input element: dx_s[c] = Σ_j w[c, j] · dy_{s+(k−1)−j}[c]
 *   (terms with s + (k−1) − j ≥ T dropped).
 * - `SsmlabCausalConv1dGradW` — one workgroup of 256 invocations per (tile of 8 channels, tap j): 32 row groups
 *   stride over the B·T rows accumulating dy_t[c] · x_{t−(k−1)+j}[c], then a workgroup tree reduction: dw [D, 1, k].
 * - db [D] (only when there is a bias) — a sum of dy over its rows, `sumLeadingWebGPU` of `reduce_webgpu.ts`.
 *
 * Eight adjacent channels per workgroup row keep the loads of a row group in one 32-byte sector.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuBackendActive } from "./dispatch.ts";
import {
  type CustomFn,
  elementwiseProgram,
  type MakeProgram,
  requireWebGPU,
  webgpuKernel,
  webgpuProgram as program,
} from "./webgpu_kernel.ts";
import { sumLeadingWebGPU } from "./reduce_webgpu.ts";

/** Channels per workgroup of the reduction kernels. */
const CT = 8;
/** Row groups per workgroup of the reduction kernels (CT · RG = 256 lanes, WebGPU's default maximum). */
const RG = 32;
const WG_RED = CT * RG;

/** Is the current tfjs backend webgpu (so {@linkcode causalDepthwiseConv1dWebGPU} can run)? */
export const webgpuConvAvailable: () => boolean = webgpuBackendActive;

/**
 * Shared head of the forward and dx kernels: one invocation per element (row, channel d) of the [B,T,D] output,
 * with the tap count k and the time step `pos` of the row.
 */
function perElementHead(pos: string): string {
  return `
    let nT = uniforms.outShape.y;
    let nD = uniforms.outShape.z;
    if (index >= uniforms.outShape.x * nT * nD) { return; }
    let k = uniforms.wShape.z;
    let row = index / nD;
    let d = index - row * nD;
    let ${pos} = row - (row / nT) * nT;`;
}

/** Forward: one invocation per output element. Inputs X [B,T,D], W [D,1,k] (, Bias [D]); output y [B,T,D]. */
function fwdCode(withBias: boolean): string {
  return `
  fn main(index : i32) {${perElementHead("t")}
    var acc = ${withBias ? "Bias[d]" : "0.0"};
    for (var j = max(0, k - 1 - t); j < k; j++) {
      acc = acc + W[d * k + j] * X[index + (j - (k - 1)) * nD];
    }
    result[index] = acc;
  }
`;
}

/** dx: one invocation per input element. Inputs Dy [B,T,D], W [D,1,k]; output dx [B,T,D]. */
const GRAD_X_CODE = `
  fn main(index : i32) {${perElementHead("s")}
    var acc = 0.0;
    for (var j = max(0, s + k - nT); j < k; j++) {
      acc = acc + W[d * k + j] * Dy[index + ((k - 1) - j) * nD];
    }
    result[index] = acc;
  }
`;

/**
 * WGSL of a lagged per-channel correlation, the weight gradient of a causal per-channel convolution:
 * out(j, c) = Σ_{b, t ≥ lag(j)} Dy[b, t, c] · X[b, t − lag(j), c] over inputs `Dy` and `x` ([B, T, D]) — one
 * workgroup per (tile of {@linkcode CONV_REDUCE_CT} channels, tap j), {@linkcode CONV_REDUCE_LANES} lanes, so
 * ⌈D / CT⌉ · taps workgroups. `taps`, `lag` and `out` are WGSL expressions (`lag` and `out` in j, c, k = taps, nD).
 */
export function lagCorrelationCode(x: string, taps: string, lag: string, out: string): string {
  return `
  var<workgroup> partial : array<f32, ${WG_RED}>;
  fn main(index : i32) {
    let nB = uniforms.dyShape.x;
    let nT = uniforms.dyShape.y;
    let nD = uniforms.dyShape.z;
    let k = ${taps};
    let nTiles = (nD + ${CT - 1}) / ${CT};
    let wg = index / ${WG_RED};
    let lane = index - wg * ${WG_RED};
    let j = wg / nTiles;
    let c = (wg - j * nTiles) * ${CT} + lane % ${CT};
    let rg = lane / ${CT};
    var acc = 0.0;
    if (c < nD && j < k) {
      let lag = ${lag};
      for (var r = rg; r < nB * nT; r = r + ${RG}) {
        if (r % nT >= lag) { acc = acc + Dy[r * nD + c] * ${x}[(r - lag) * nD + c]; }
      }
    }
    partial[lane] = acc;
    workgroupBarrier();
    for (var h = ${RG / 2}; h > 0; h = h / 2) {
      if (rg < h) { partial[lane] = partial[lane] + partial[lane + h * ${CT}]; }
      workgroupBarrier();
    }
    if (rg == 0 && c < nD && j < k) { result[${out}] = partial[lane]; }
  }
`;
}

/** Channels per workgroup of {@linkcode lagCorrelationCode}. */
export const CONV_REDUCE_CT = CT;
/** Lanes per workgroup of {@linkcode lagCorrelationCode}. */
export const CONV_REDUCE_LANES = WG_RED;

/** dw of the depthwise conv: inputs Dy [B,T,D], X [B,T,D]; output dw [D,1,k]; tap j multiplies x at lag k − 1 − j. */
const GRAD_W_CODE = lagCorrelationCode("X", "uniforms.outShape.z", "(k - 1) - j", "c * k + j");

// ---------------------------------------------------------------------------------------------------------------
// Kernel registration (lazy: the webgpu backend package may not be loaded)

/** One lane per element of the first input's shape, running `code` over variables `vars`. */
const elementwise = (key: string, vars: string[], code: string): MakeProgram => (ins) =>
  elementwiseProgram(key, vars, ins[0].shape, code);
const K_FWD = webgpuKernel(
  "SsmlabCausalConv1d",
  ["x", "w"],
  elementwise("dwconv_fwd", ["X", "W"], fwdCode(false)),
);
const K_FWD_BIAS = webgpuKernel(
  "SsmlabCausalConv1dBias",
  ["x", "w", "bias"],
  elementwise("dwconv_fwd_bias", ["X", "W", "Bias"], fwdCode(true)),
);
const K_GX = webgpuKernel(
  "SsmlabCausalConv1dGradX",
  ["dy", "w"],
  elementwise("dwconv_gx", ["Dy", "W"], GRAD_X_CODE),
);
const K_GW = webgpuKernel("SsmlabCausalConv1dGradW", ["dy", "x"], ([dy], attrs) => {
  const D = dy.shape[2], k = attrs.k as number;
  return program("dwconv_gw", ["Dy", "X"], [D, 1, k], Math.ceil(D / CT) * k, WG_RED, GRAD_W_CODE);
});

// ---------------------------------------------------------------------------------------------------------------

/**
 * Causal depthwise conv by fused WGSL kernels (webgpu backend only): same result and gradients (x, w, bias) as
 * `causalDepthwiseConv1dRef` of `conv.ts`. One dispatch forward; backward one for dx, one for dw and one for db.
 *
 * @param x [B, T, D] input
 * @param w [D, 1, k] taps (PyTorch Conv1d depthwise layout; tap k−1 multiplies x_t)
 * @param bias [D] or null
 * @returns y [B, T, D]
 * @throws Error when the current backend is not webgpu or the shapes or dtypes do not match.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { causalDepthwiseConv1dWebGPU, webgpuConvAvailable } from "./conv_webgpu.ts";
 * if (webgpuConvAvailable()) {
 *   const y = causalDepthwiseConv1dWebGPU(tf.ones([1, 3, 1]), tf.ones([1, 1, 2]), null); // [[1], [2], [2]]
 * }
 * ```
 */
export function causalDepthwiseConv1dWebGPU(
  x: tf.Tensor3D,
  w: tf.Tensor3D,
  bias: tf.Tensor1D | null,
): tf.Tensor3D {
  const fn = "causalDepthwiseConv1dWebGPU";
  requireWebGPU(fn);
  if (x.rank !== 3) {
    throw new Error(`${fn}: argument "x" has shape [${x.shape.join(", ")}], expected [B, T, D] (rank 3).`);
  }
  const D = x.shape[2];
  if (w.rank !== 3 || w.shape[0] !== D || w.shape[1] !== 1 || w.shape[2] < 1) {
    throw new Error(
      `${fn}: argument "w" has shape [${w.shape.join(", ")}], expected [D, 1, k] = [${D}, 1, k] with k ≥ 1 ` +
        `(PyTorch Conv1d depthwise layout).`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== D)) {
    throw new Error(`${fn}: argument "bias" has shape [${bias.shape.join(", ")}], expected [D] = [${D}].`);
  }
  for (const [n, t] of [["x", x], ["w", w], ["bias", bias]] as const) {
    if (t && t.dtype !== "float32") {
      throw new Error(`${fn}: argument "${n}" is ${t.dtype}, expected float32.`);
    }
  }
  if (x.size === 0) return tf.zeros(x.shape) as tf.Tensor3D;
  const grads = (dy: tf.Tensor3D, x: tf.Tensor, w: tf.Tensor): tf.Tensor[] => [
    K_GX.run({ dy, w }),
    K_GW.run({ dy, x }, { k: w.shape[2] as number }),
  ];
  if (bias) {
    const f = tf.customGrad(
      ((x: tf.Tensor3D, w: tf.Tensor3D, bias: tf.Tensor1D, save: tf.GradSaveFunc) => {
        save([x, w]);
        return {
          value: K_FWD_BIAS.run<tf.Tensor3D>({ x, w, bias }),
          gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => [
            ...grads(dy, saved[0], saved[1]),
            sumLeadingWebGPU(dy, 2),
          ],
        };
      }) as unknown as CustomFn,
    );
    return f(x, w, bias) as unknown as tf.Tensor3D;
  }
  const f = tf.customGrad(
    ((x: tf.Tensor3D, w: tf.Tensor3D, save: tf.GradSaveFunc) => {
      save([x, w]);
      return {
        value: K_FWD.run<tf.Tensor3D>({ x, w }),
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => grads(dy, saved[0], saved[1]),
      };
    }) as unknown as CustomFn,
  );
  return f(x, w) as unknown as tf.Tensor3D;
}
