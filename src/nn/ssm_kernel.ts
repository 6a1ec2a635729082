/**
 * Convolution kernels of H3's two state-space models (docs/models/h3.md), materialised for a sequence length T
 * and applied by `longConv` (`conv.ts`):
 *
 * - **Shift SSM** (A = shift matrix, B, C ∈ R^{H×N}): K[h, i] = Σ_j B[h, j] · C[h, j + i] (i < N, j + i < N),
 *   a learned causal filter of length N; at B = e₁ it is exactly C.
 * - **Diagonal SSM (S4D)** with M = N/2 complex modes per channel: A_m = −exp(log_A_real) + i·A_imag,
 *   Δ = exp(log_dt), discretised bilinearly (Ā = (1 + ΔA/2)/(1 − ΔA/2), C̃ = C·B·Δ/(1 − ΔA/2)) or by
 *   zero-order hold (Ā = e^{ΔA}, C̃ = C·B·(e^{ΔA} − 1)/A); K[h, l] = 2·Re Σ_m C̃_m Ā_m^l, l = 0..T−1.
 *
 * Each kernel is an op (`dispatch.ts`) with a step-by-step `ref` form (the recurrence's powers, one step per tap)
 * beside the fast `ops` form (a skewed copy of C for the shift kernel; the Vandermonde product
 * Ā^l = exp(l·log Ā) for the diagonal kernel). Complex numbers are pairs of real tensors; B and C are stored as
 * [..., 2] (real, imaginary), PyTorch's `view_as_real` layout.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { defineOp, type Op } from "./dispatch.ts";
import type { CustomFn } from "./webgpu_kernel.ts";

/** Discretisation of the diagonal SSM: "bilinear" (H3's default) or "zoh" (zero-order hold). */
export type Discretisation = "bilinear" | "zoh";

function checkShift(fn: string, B: tf.Tensor, C: tf.Tensor): void {
  if (B.rank !== 2 || C.rank !== 2 || B.shape[0] !== C.shape[0] || B.shape[1] !== C.shape[1]) {
    throw new Error(
      `${fn}: arguments "B" [${B.shape.join(", ")}] and "C" [${C.shape.join(", ")}] must both be [H, N].`,
    );
  }
}

/**
 * Reference shift-SSM kernel: one tap at a time, K[:, i] = Σ_j B[:, j] · C[:, j + i].
 * @param B [H, N] @param C [H, N] @returns K [H, N]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { shiftKernelRef } from "./ssm_kernel.ts";
 * shiftKernelRef(tf.tensor2d([[1, 0, 0]]), tf.tensor2d([[3, 2, 1]])); // [[3, 2, 1]] (B = e₁: K = C)
 * ```
 */
export function shiftKernelRef(B: tf.Tensor2D, C: tf.Tensor2D): tf.Tensor2D {
  checkShift("shiftKernelRef", B, C);
  return tf.tidy(() => {
    const [H, N] = B.shape;
    const taps: tf.Tensor[] = [];
    for (let i = 0; i < N; i++) {
      taps.push(tf.sum(tf.mul(tf.slice(B, [0, 0], [H, N - i]), tf.slice(C, [0, i], [H, N - i])), 1));
    }
    return tf.stack(taps, 1) as tf.Tensor2D;
  });
}

/** `ops` form of {@linkcode shiftKernel}: the Hankel matrix of C by one skew (pad, reshape), then a matmul. */
function shiftKernelHankel(B: tf.Tensor2D, C: tf.Tensor2D): tf.Tensor2D {
  checkShift("shiftKernel", B, C);
  return tf.tidy(() => {
    const [H, N] = B.shape;
    const W = 2 * N; // C followed by N zeros
    const cp = tf.pad(C, [[0, 0], [0, N]]); // [H, W]
    // N copies of cp laid end to end, viewed with rows of W + 1: row i starts i further → Hk[h, i, j] = cp[i + j]
    const tiled = tf.reshape(tf.add(tf.expandDims(cp, 1), tf.zeros([1, N, 1])), [H, N * W]);
    const hk = tf.slice(tf.reshape(tf.pad(tiled, [[0, 0], [0, N]]), [H, N, W + 1]), [0, 0, 0], [H, N, N]);
    return tf.reshape(tf.matMul(hk, tf.expandDims(B, 2)), [H, N]) as tf.Tensor2D;
  });
}

/**
 * Shift-SSM kernel K[h, i] = Σ_j B[h, j] · C[h, j + i] (the impulse response of state ← shift(state) + B·u_t,
 * y = C·state). Forms: `ref` {@linkcode shiftKernelRef}; `ops` one skewed copy of C and a batched matmul.
 * @param B [H, N] @param C [H, N] @returns K [H, N]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { shiftKernel } from "./ssm_kernel.ts";
 * shiftKernel(tf.tensor2d([[0, 1, 0]]), tf.tensor2d([[3, 2, 1]])); // [[2, 1, 0]]
 * ```
 */
export const shiftKernel: Op<(B: tf.Tensor2D, C: tf.Tensor2D) => tf.Tensor2D> = defineOp("shiftKernel", {
  ref: shiftKernelRef,
  ops: shiftKernelHankel,
});

/** The parameters of a diagonal (S4D) SSM kernel, H channels of M complex modes. */
export interface DiagSsmParams {
  /** log Δ per channel [H]. */
  logDt: tf.Tensor1D;
  /** log(−Re A) [H, M]. */
  logAReal: tf.Tensor2D;
  /** Im A [H, M]. */
  aImag: tf.Tensor2D;
  /** B, complex as (re, im) [H, M, 2]. */
  B: tf.Tensor3D;
  /** C, complex as (re, im) [H, M, 2]. */
  C: tf.Tensor3D;
}

/** A complex tensor as its real and imaginary parts (same shape). */
interface Cx {
  re: tf.Tensor;
  im: tf.Tensor;
}

const cmul = (a: Cx, b: Cx): Cx => ({
  re: tf.sub(tf.mul(a.re, b.re), tf.mul(a.im, b.im)),
  im: tf.add(tf.mul(a.re, b.im), tf.mul(a.im, b.re)),
});

function cdiv(a: Cx, b: Cx): Cx {
  const n = tf.add(tf.square(b.re), tf.square(b.im));
  return {
    re: tf.div(tf.add(tf.mul(a.re, b.re), tf.mul(a.im, b.im)), n),
    im: tf.div(tf.sub(tf.mul(a.im, b.re), tf.mul(a.re, b.im)), n),
  };
}

const split = (z: tf.Tensor3D): Cx => {
  const [H, M] = z.shape;
  return {
    re: tf.reshape(tf.slice(z, [0, 0, 0], [H, M, 1]), [H, M]),
    im: tf.reshape(tf.slice(z, [0, 0, 1], [H, M, 1]), [H, M]),
  };
};

function checkDiag(fn: string, p: DiagSsmParams, T: number, disc: string): void {
  const H = p.logDt.shape[0], M = p.logAReal.shape[1];
  const want: [string, tf.Tensor, number[]][] = [
    ["logDt", p.logDt, [H]],
    ["logAReal", p.logAReal, [H, M]],
    ["aImag", p.aImag, [H, M]],
    ["B", p.B, [H, M, 2]],
    ["C", p.C, [H, M, 2]],
  ];
  for (const [name, t, s] of want) {
    if (t.rank !== s.length || t.shape.some((v, i) => v !== s[i])) {
      throw new Error(
        `${fn}: parameter "${name}" has shape [${t.shape.join(", ")}], expected [${s.join(", ")}].`,
      );
    }
  }
  if (!(Number.isInteger(T) && T >= 0)) throw new Error(`${fn}: length T is ${T}, expected an integer ≥ 0.`);
  if (disc !== "bilinear" && disc !== "zoh") {
    throw new Error(`${fn}: discretisation "${disc}" is unknown, expected "bilinear" or "zoh".`);
  }
}

/** Ā and C̃ of the discretised diagonal SSM, each [H, M] complex. */
function discretise(p: DiagSsmParams, disc: Discretisation): { a: Cx; c: Cx } {
  const dt = tf.expandDims(tf.exp(p.logDt), 1); // [H, 1]
  const A: Cx = { re: tf.neg(tf.exp(p.logAReal)), im: p.aImag };
  const dtA: Cx = { re: tf.mul(A.re, dt), im: tf.mul(A.im, dt) };
  const cb = cmul(split(p.C), split(p.B));
  if (disc === "zoh") {
    const mag = tf.exp(dtA.re);
    const a = { re: tf.mul(mag, tf.cos(dtA.im)), im: tf.mul(mag, tf.sin(dtA.im)) };
    return { a, c: cmul(cb, cdiv({ re: tf.sub(a.re, 1), im: a.im }, A)) };
  }
  const half = { re: tf.mul(dtA.re, 0.5), im: tf.mul(dtA.im, 0.5) };
  const den = { re: tf.sub(1, half.re), im: tf.neg(half.im) };
  const a = cdiv({ re: tf.add(1, half.re), im: half.im }, den);
  const c = cdiv({ re: tf.mul(cb.re, dt), im: tf.mul(cb.im, dt) }, den);
  return { a, c };
}

/**
 * Reference diagonal-SSM kernel: the powers Ā^l by one complex multiplication per step (the recurrence
 * x_l = Ā x_{l−1} driven by an impulse), K[:, l] = 2·Re Σ_m C̃_m Ā_m^l.
 * @param p the SSM's parameters (H channels, M modes) @param T kernel length @param disc discretisation
 * @returns K [H, T]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { diagKernelRef } from "./ssm_kernel.ts";
 * const p = { logDt: tf.tensor1d([Math.log(0.1)]), logAReal: tf.tensor2d([[Math.log(0.5)]]),
 *   aImag: tf.tensor2d([[0]]), B: tf.tensor3d([[[1, 0]]]), C: tf.tensor3d([[[1, 0]]]) };
 * diagKernelRef(p, 4, "zoh"); // [1, 4]: 2·(e^{−0.05} − 1)/(−0.5) · e^{−0.05 l}
 * ```
 */
export function diagKernelRef(p: DiagSsmParams, T: number, disc: Discretisation): tf.Tensor2D {
  checkDiag("diagKernelRef", p, T, disc);
  return tf.tidy(() => {
    const H = p.logDt.shape[0];
    if (T === 0) return tf.zeros([H, 0]) as tf.Tensor2D;
    const { a, c } = discretise(p, disc);
    let pw: Cx = c; // C̃ Ā^l
    const taps: tf.Tensor[] = [];
    for (let l = 0; l < T; l++) {
      if (l > 0) pw = cmul(pw, a);
      taps.push(tf.mul(tf.sum(pw.re, 1), 2));
    }
    return tf.stack(taps, 1) as tf.Tensor2D;
  });
}

/** The powers z^l, l = 0 … T−1, of z [H, M]: exp(l·log z), log z = log|z| + i·arg z. @returns [H, M, T] each */
function powers(zre: tf.Tensor, zim: tf.Tensor, T: number): Cx {
  const logMag = tf.mul(tf.log(tf.add(tf.square(zre), tf.square(zim))), 0.5);
  const arg = tf.atan2(zim, zre); // in (−π, π]; integer powers do not care about the branch
  const l = tf.range(0, T, 1, "float32");
  const mag = tf.exp(tf.mul(tf.expandDims(logMag, 2), l));
  const ph = tf.mul(tf.expandDims(arg, 2), l);
  return { re: tf.mul(mag, tf.cos(ph)), im: tf.mul(mag, tf.sin(ph)) };
}

/**
 * K[h, l] = 2·Re Σ_m c[h, m] z[h, m]^l with a hand-written gradient that recomputes the [H, M, T] powers instead
 * of keeping every intermediate of the forward pass: with dK [H, T],
 * ∂/∂Re c = 2 Σ_l dK_l Re z^l, ∂/∂Im c = −2 Σ_l dK_l Im z^l, and for z (K is 2·Re of a holomorphic function):
 * ∂/∂Re z = 2·Re(c·S), ∂/∂Im z = −2·Im(c·S), S = Σ_l l·dK_l·z^{l−1}.
 */
function vandermonde(T: number) {
  return tf.customGrad(
    ((cre: tf.Tensor2D, cim: tf.Tensor2D, zre: tf.Tensor2D, zim: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([cre, cim, zre, zim]);
      const value = tf.tidy(() => {
        const V = powers(zre, zim, T);
        const re = tf.sub(tf.mul(tf.expandDims(cre, 2), V.re), tf.mul(tf.expandDims(cim, 2), V.im));
        return tf.mul(tf.sum(re, 1), 2);
      });
      const gradFunc = (dK: tf.Tensor2D, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [cre, cim, zre, zim] = saved;
          const V = powers(zre, zim, T);
          const g = tf.expandDims(dK, 1); // [H, 1, T]
          const gl = tf.mul(g, tf.range(0, T, 1, "float32")); // l·dK_l
          const s1 = (w: tf.Tensor): Cx => ({
            re: tf.sum(tf.mul(V.re, w), 2),
            im: tf.sum(tf.mul(V.im, w), 2),
          });
          const sd = s1(g); // Σ dK_l z^l
          const sl = cdiv(s1(gl), { re: zre, im: zim }); // Σ l·dK_l z^{l−1}
          const cS = cmul({ re: cre, im: cim }, sl);
          return [tf.mul(sd.re, 2), tf.mul(sd.im, -2), tf.mul(cS.re, 2), tf.mul(cS.im, -2)];
        });
      return { value, gradFunc };
    }) as unknown as CustomFn,
  ) as unknown as (cre: tf.Tensor, cim: tf.Tensor, zre: tf.Tensor, zim: tf.Tensor) => tf.Tensor2D;
}

/**
 * `ops` form of {@linkcode diagKernel}: Ā^l = exp(l·log Ā) for all l at once (a Vandermonde product), with a
 * gradient that recomputes the powers (memory O(H·M·T) transient, not kept per layer).
 */
function diagKernelVandermonde(p: DiagSsmParams, T: number, disc: Discretisation): tf.Tensor2D {
  checkDiag("diagKernel", p, T, disc);
  return tf.tidy(() => {
    const H = p.logDt.shape[0];
    if (T === 0) return tf.zeros([H, 0]) as tf.Tensor2D;
    const { a, c } = discretise(p, disc);
    return vandermonde(T)(c.re, c.im, a.re, a.im);
  });
}

/**
 * Diagonal (S4D) SSM kernel of length T: K[h, l] = 2·Re Σ_m C̃[h, m] Ā[h, m]^l, discretised bilinearly or by
 * zero-order hold. Forms: `ref` {@linkcode diagKernelRef} (one power per step); `ops` the Vandermonde product.
 * Differentiable in every parameter.
 *
 * @param p the SSM's parameters (H channels, M = N/2 complex modes)
 * @param T kernel length (the sequence length)
 * @param disc "bilinear" or "zoh"
 * @returns K [H, T]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { diagKernel } from "./ssm_kernel.ts";
 * const p = { logDt: tf.tensor1d([Math.log(0.1)]), logAReal: tf.tensor2d([[Math.log(0.5)]]),
 *   aImag: tf.tensor2d([[0]]), B: tf.tensor3d([[[1, 0]]]), C: tf.tensor3d([[[1, 0]]]) };
 * diagKernel(p, 8, "bilinear"); // [1, 8]
 * ```
 */
export const diagKernel: Op<(p: DiagSsmParams, T: number, disc: Discretisation) => tf.Tensor2D> = defineOp(
  "diagKernel",
  { ref: diagKernelRef, ops: diagKernelVandermonde },
);
