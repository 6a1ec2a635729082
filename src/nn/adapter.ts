/**
 * The stream-specialized adapter of mHC-SSM with its residual (docs/models/mhc.md), fused on the webgpu backend:
 *
 *   out_i = x_i + Dropout(W_up(γ_i ⊙ SiLU(W_down RMSNorm_ad(x_i) + b_down)) + b_up),  i = 1 … n streams,
 *
 * where x has n streams (pre-adapter) or one stream broadcast to all n (post-adapter on the SSM output).
 *
 * {@linkcode adapterResidualRef} is the tf-op form: {@linkcode adapterResidual}'s `ref` and `ops` forms
 * (`dispatch.ts`; its inner RMSNorm, linear maps and dropout dispatch in turn). Its `webgpu` form,
 * {@linkcode adapterResidualWebGPU}, keeps the fused RMSNorm and the tiled matmul and fuses everything element-wise into
 * four WGSL kernels, and its backward recomputes nothing but keeps only the norm output, h [rows·nb, r] and
 * z [rows·n, r] (besides the weights and the dropout seed):
 *
 * - forward: h = x̂ W_downᵀ; `SsmlabAdapterAct` z = SiLU(h + b_down) ⊙ γ_s; u = z W_upᵀ;
 *   `SsmlabAdapterOut` out = x + (u + b_up) ⊙ mask (the mask drawn in-kernel by the hash of `dropout_webgpu.ts`,
 *   so it equals the unfused path's mask for the same seed);
 * - backward: du = dout ⊙ mask; db_up = Σ du; dW_up = duᵀ z; dz = du W_up; `SsmlabAdapterGradH`
 *   dh = Σ_s dz_s γ_s SiLU′(h + b_down); `SsmlabAdapterGradGamma` dγ = Σ_rows dz ⊙ SiLU(h + b_down);
 *   db_down = Σ dh; dW_down = dhᵀ x̂; dx̂ = dh W_down; dx = dout (summed over streams when x was broadcast).
 *
 * About 20 dispatches forward and backward where the tf-op form takes about 45, and no [B, T, n, d] mask, dropout
 * output or pre-bias copy is kept for the backward pass.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../rng.ts";
import { dropout, linear } from "./linear.ts";
import { rmsNorm } from "./norm.ts";
import { mmWebGPU } from "./matmul_webgpu.ts";
import { sumLeadingWebGPU } from "./reduce_webgpu.ts";
import { streamMix } from "./stream_mix.ts";
import { dropScaleSnippet, seedWords } from "./dropout_webgpu.ts";
import {
  type CustomFn,
  elementwiseProgram as elementwise,
  intUniforms,
  requireWebGPU,
  webgpuKernel,
} from "./webgpu_kernel.ts";
import { defineOp, type Op } from "./dispatch.ts";

/** The adapter's weights (PyTorch layouts). */
export interface AdapterWeights {
  /** RMSNorm_ad weight [d] */
  normW: tf.Tensor;
  /** W_down [r, d] */
  downW: tf.Tensor;
  /** b_down [r] */
  downB: tf.Tensor;
  /** W_up [d, r] */
  upW: tf.Tensor;
  /** b_up [d] */
  upB: tf.Tensor;
  /** per-stream FiLM scale γ [n, r] */
  gamma: tf.Tensor;
}

/** Dropout of the adapter output. */
export interface AdapterDropout {
  rate: number;
  training: boolean;
  rng: Rng;
}

/** RMSNorm_ad's ε (mhc_slm `blocks.py`). */
const NORM_EPS = 1e-6;

/**
 * The tf-op form: x + Dropout(W_up(γ ⊙ SiLU(W_down RMSNorm(x) + b_down)) + b_up).
 *
 * @param x [B, T, n, d] or [B, T, 1, d] (broadcast over the n streams of γ)
 * @returns [B, T, n, d]
 * @example
 * ```ts
 * // see MhcSLM in models/mhc_ssm.ts
 * ```
 */
export function adapterResidualRef(x: tf.Tensor4D, w: AdapterWeights, drop: AdapterDropout): tf.Tensor4D {
  return tf.tidy(() => {
    const h = linear(rmsNorm(x, w.normW, NORM_EPS), w.downW, w.downB);
    const z = tf.mul(tf.mul(h, tf.sigmoid(h)), w.gamma); // [B, T, n or 1, r] ⊙ [n, r] → [B, T, n, r]
    const up = linear(z, w.upW, w.upB);
    return tf.add(x, dropout(up, drop.rate, drop.training, drop.rng)) as tf.Tensor4D;
  });
}

/**
 * Shared head of the kernels with one lane per (row, stream s, j) of an [R, n, r] output: the pre-activation
 * a = h[row, s or 0, j] + b_down[j] (uniforms n, nb; `r` the WGSL expression of r).
 */
function perStreamHead(r: string): string {
  return `
  fn main(index : i32) {
    let r = ${r};
    let n = uniforms.n;
    if (index >= uniforms.outShape.x * n * r) { return; }
    let j = index % r;
    let s = (index / r) % n;
    let row = index / (n * r);
    let sh = select(s, 0, uniforms.nb == 1);
    let a = H[(row * uniforms.nb + sh) * r + j] + Bd[j];`;
}

/** [R, n, r] from H [R·nb, r], Bd [r], G [n, r]: z = SiLU(h + b) γ. */
const ACT_CODE = `${perStreamHead("uniforms.gShape.y")}
    result[index] = a / (1.0 + exp(-a)) * G[s * r + j];
  }
`;

/** [R, n, d] from X [R, nb, d], U [R·n, d], Bu [d], Seed: out = x + (u + b) · mask. */
function outCode(rate: number): string {
  const scale = rate > 0
    ? "dropScale(bitcast<u32>(index), bitcast<u32>(Seed[0]), bitcast<u32>(Seed[1]))"
    : "1.0";
  return `${rate > 0 ? dropScaleSnippet(rate) : ""}
  fn main(index : i32) {
    let d = uniforms.xShape.z;
    let n = uniforms.n;
    _ = Seed[0];
    if (index >= uniforms.xShape.x * n * d) { return; }
    let c = index % d;
    let s = (index / d) % n;
    let row = index / (n * d);
    let sh = select(s, 0, uniforms.xShape.y == 1);
    result[index] = X[(row * uniforms.xShape.y + sh) * d + c] + (U[index] + Bu[c]) * ${scale};
  }
`;
}

/** du = dout · mask. */
function dropGradCode(rate: number): string {
  return `${dropScaleSnippet(rate)}
  fn main(index : i32) {
    if (index >= uniforms.size) { return; }
    result[index] = Dy[index] * dropScale(bitcast<u32>(index), bitcast<u32>(Seed[0]), bitcast<u32>(Seed[1]));
  }
`;
}

/** dh [R·nb, r] from Dz [R·n, r], H, Bd, G: Σ over the streams s that read row sh of h. */
const GRAD_H_CODE = `
  fn main(index : i32) {
    let r = uniforms.gShape.y;
    let n = uniforms.gShape.x;
    let nb = uniforms.nb;
    if (index >= uniforms.hShape.x * r) { return; }
    let j = index % r;
    let rowb = index / r;
    let row = rowb / nb;
    let sh = rowb - row * nb;
    let a = H[index] + Bd[j];
    let sg = 1.0 / (1.0 + exp(-a));
    let dsilu = sg * (1.0 + a * (1.0 - sg));
    var acc = 0.0;
    if (nb == 1) {
      for (var s = 0; s < n; s = s + 1) { acc = acc + Dz[(row * n + s) * r + j] * G[s * r + j]; }
    } else {
      acc = Dz[(row * n + sh) * r + j] * G[sh * r + j];
    }
    result[index] = acc * dsilu;
  }
`;

/** q [R, n, r] = dz · SiLU(h + b) (summed over rows afterwards: dγ). */
const GRAD_GAMMA_CODE = `${perStreamHead("uniforms.bdShape")}
    result[index] = Dz[index] * a / (1.0 + exp(-a));
  }
`;

const ACT = webgpuKernel("SsmlabAdapterAct", ["H", "Bd", "G"], ([, , g], attrs) => {
  const { rows, n, nb } = attrs as { rows: number; n: number; nb: number };
  return {
    ...elementwise("adapter_act", ["H", "Bd", "G"], [rows, n, g.shape[1]], ACT_CODE),
    ...intUniforms({ n, nb }),
  };
});
const OUT = webgpuKernel("SsmlabAdapterOut", ["X", "U", "Bu", "Seed"], ([x], attrs) => {
  const { n, rate } = attrs as { n: number; rate: number };
  const [rows, , d] = x.shape;
  const vars = ["X", "U", "Bu", "Seed"];
  return { ...elementwise(`adapter_out_${rate}`, vars, [rows, n, d], outCode(rate)), ...intUniforms({ n }) };
});
const DROP_GRAD = webgpuKernel("SsmlabAdapterDropGrad", ["Dy", "Seed"], ([dy], attrs) => {
  const rate = attrs.rate as number;
  return elementwise(`adapter_drop_grad_${rate}`, ["Dy", "Seed"], dy.shape, dropGradCode(rate), {
    sized: true,
  });
});
const GRAD_H = webgpuKernel("SsmlabAdapterGradH", ["Dz", "H", "Bd", "G"], ([, h], attrs) => ({
  ...elementwise("adapter_grad_h", ["Dz", "H", "Bd", "G"], h.shape, GRAD_H_CODE),
  ...intUniforms({ nb: attrs.nb as number }),
}));
const GRAD_GAMMA = webgpuKernel("SsmlabAdapterGradGamma", ["Dz", "H", "Bd"], (_ins, attrs) => {
  const { rows, n, nb, r } = attrs as { rows: number; n: number; nb: number; r: number };
  return {
    ...elementwise("adapter_grad_gamma", ["Dz", "H", "Bd"], [rows, n, r], GRAD_GAMMA_CODE),
    ...intUniforms({ n, nb }),
  };
});

/**
 * x + adapter(x) by the fused kernels (webgpu backend only): the values and gradients of
 * {@linkcode adapterResidualRef} (and, for one seed, the dropout mask of `dropout` on webgpu). Prefer
 * {@linkcode adapterResidual}.
 *
 * @param x [B, T, n, d] or [B, T, 1, d]
 * @returns [B, T, n, d]
 * @example
 * ```ts
 * // see MhcSLM in models/mhc_ssm.ts
 * ```
 */
export function adapterResidualWebGPU(x: tf.Tensor4D, w: AdapterWeights, drop: AdapterDropout): tf.Tensor4D {
  requireWebGPU("adapterResidualWebGPU");
  const [B, T, nb] = x.shape;
  const [n, r] = w.gamma.shape as [number, number];
  if (nb !== 1 && nb !== n) {
    throw new Error(`adapterResidual: x has ${nb} streams but γ is [${w.gamma.shape}] (expected 1 or ${n}).`);
  }
  const rows = B * T;
  const rate = drop.training && drop.rate > 0 ? drop.rate : 0;
  if (rate >= 1) throw new Error(`Dropout rate must be in [0, 1), got "${rate}".`);
  const words = rate > 0 ? seedWords(drop.rng.seed()) : [0, 0]; // one draw per call, as dropout() does
  return tf.tidy(() => adapterFused(x, w, rate, words, rows, n, nb, r));
}

/** The webgpu body of {@linkcode adapterResidual} (inside its tidy). */
function adapterFused(
  x: tf.Tensor4D,
  w: AdapterWeights,
  rate: number,
  words: number[],
  rows: number,
  n: number,
  nb: number,
  r: number,
): tf.Tensor4D {
  const [B, T, , d] = x.shape;
  const xn = rmsNorm(x, w.normW, NORM_EPS); // fused RMSNorm with its own gradient
  const f = tf.customGrad(
    ((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xb, xnIn, downW, downB, gamma, upW, upB] = args as tf.Tensor[];
      const save = args[7] as tf.GradSaveFunc;
      const seed = tf.tensor1d(words, "int32");
      const xn2 = xnIn.reshape([rows * nb, d]) as tf.Tensor2D;
      const h = mmWebGPU(xn2, downW as tf.Tensor2D, false, true); // [R·nb, r]
      const z = ACT.run<tf.Tensor3D>({ H: h, Bd: downB, G: gamma }, { rows, n, nb }); // [R, n, r]
      const z2 = z.reshape([rows * n, r]) as tf.Tensor2D;
      const u = mmWebGPU(z2, upW as tf.Tensor2D, false, true); // [R·n, d]
      const out = OUT.run<tf.Tensor3D>({ X: xb.reshape([rows, nb, d]), U: u, Bu: upB, Seed: seed }, {
        n,
        rate,
      });
      u.dispose();
      save([xn2, h, z2, downW, downB, gamma, upW, seed]);
      return {
        value: out.reshape([B, T, n, d]),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, hs, zs, dW, dB, g, uW, sd] = saved as tf.Tensor2D[];
          return tf.tidy(() => {
            const dOut = dy.reshape([rows * n, d]) as tf.Tensor2D;
            const du = rate > 0 ? DROP_GRAD.run<tf.Tensor2D>({ Dy: dOut, Seed: sd }, { rate }) : dOut;
            const dUpB = sumLeadingWebGPU(du, 1);
            const dUpW = mmWebGPU(du, zs, true, false); // [d, r]
            const dz = mmWebGPU(du, uW); // [R·n, r]
            const dh = GRAD_H.run<tf.Tensor2D>({ Dz: dz, H: hs, Bd: dB, G: g }, { nb });
            const q = GRAD_GAMMA.run<tf.Tensor3D>({ Dz: dz, H: hs, Bd: dB }, { rows, n, nb, r });
            const dGamma = sumLeadingWebGPU(q, 1); // [n, r]
            const dDownB = sumLeadingWebGPU(dh, 1);
            const dDownW = mmWebGPU(dh, xs, true, false); // [r, d]
            const dXn = mmWebGPU(dh, dW).reshape([B, T, nb, d]); // [R·nb, d]
            // the residual: dout itself, or summed over the streams when x was broadcast
            const dX = nb === n
              ? dy.clone()
              : streamMix(dy.reshape([rows, n, d]), tf.fill([1, n], 1)).reshape([B, T, 1, d]);
            return [dX, dXn, dDownW, dDownB, dGamma, dUpW, dUpB];
          });
        },
      };
    }) as unknown as CustomFn,
  );
  return f(x, xn, w.downW, w.downB, w.gamma, w.upW, w.upB) as tf.Tensor4D;
}

/**
 * x + adapter(x) on any backend. Forms (`dispatch.ts`): `webgpu` {@linkcode adapterResidualWebGPU}; `ref` and
 * `ops` {@linkcode adapterResidualRef}. Same values and gradients.
 *
 * @param x [B, T, n, d] or [B, T, 1, d]
 * @returns [B, T, n, d]
 * @example
 * ```ts
 * // see MhcSLM in models/mhc_ssm.ts
 * ```
 */
export const adapterResidual: Op<typeof adapterResidualRef> = defineOp("adapterResidual", {
  ref: adapterResidualRef,
  ops: adapterResidualRef,
  webgpu: adapterResidualWebGPU,
});
