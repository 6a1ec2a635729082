/**
 * Causal convolutions over time, per channel: the short depthwise conv of the SSM blocks (docs/models/baseline.md,
 * Mamba's d_conv = 4, H3's FIR filters) and the long convolution with a kernel as long as the sequence (H3's
 * SSM kernels). Each fast version sits beside a plain-loop reference (`…Ref`).
 *
 * Both fast versions use only slice / pad / multiply / add / batched matmul, which have gradients on cpu, wasm and
 * webgpu (tfjs-wasm has no FFT and no depthwise-conv backprop kernels).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { expectShape } from "./scan.ts";
import { causalDepthwiseConv1dWebGPU } from "./conv_webgpu.ts";
import { defineOp, type Op } from "./dispatch.ts";
import { longConvWebGPU } from "./long_conv_webgpu.ts";

function checkConv(fn: string, x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor | null): number {
  if (x.rank !== 3) {
    throw new Error(`${fn}: argument "x" has shape [${x.shape.join(", ")}], expected [B, T, D] (rank 3).`);
  }
  const D = x.shape[2] as number;
  if (w.rank !== 3 || w.shape[0] !== D || w.shape[1] !== 1 || (w.shape[2] as number) < 1) {
    throw new Error(
      `${fn}: argument "w" has shape [${w.shape.join(", ")}], expected [D, 1, k] = [${D}, 1, k] with k ≥ 1 ` +
        `(PyTorch Conv1d depthwise layout).`,
    );
  }
  if (bias) expectShape(fn, "bias", bias, [D], "[D]");
  return w.shape[2] as number;
}

/**
 * Reference causal depthwise conv: a plain loop over output times and taps.
 * u'_t[c] = Σ_{j=0..k−1} w[c, 0, j] · u_{t−(k−1)+j}[c] + bias[c] (zeros for t < 0) — PyTorch's
 * `Conv1d(D, D, k, groups=D, padding=k−1)` cropped to the first T outputs.
 *
 * @param x [B, T, D]
 * @param w [D, 1, k]
 * @param bias [D] or null
 * @returns [B, T, D]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { causalDepthwiseConv1dRef } from "./conv.ts";
 * const y = causalDepthwiseConv1dRef(tf.ones([1, 3, 1]), tf.ones([1, 1, 2]), null); // [[1], [2], [2]]
 * ```
 */
export function causalDepthwiseConv1dRef(
  x: tf.Tensor3D,
  w: tf.Tensor3D,
  bias: tf.Tensor1D | null,
): tf.Tensor3D {
  const k = checkConv("causalDepthwiseConv1dRef", x, w, bias);
  return tf.tidy(() => {
    const [B, T, D] = x.shape;
    const w2 = tf.reshape(w, [D, k]);
    const taps = Array.from({ length: k }, (_, j) => tf.reshape(tf.slice(w2, [0, j], [D, 1]), [D]));
    const out: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      let acc: tf.Tensor = bias ? tf.broadcastTo(bias, [B, D]) : tf.zeros([B, D]);
      for (let j = 0; j < k; j++) {
        const src = t - (k - 1) + j;
        if (src < 0) continue;
        acc = tf.add(acc, tf.mul(tf.reshape(tf.slice(x, [0, src, 0], [B, 1, D]), [B, D]), taps[j]));
      }
      out.push(acc);
    }
    return (T === 0 ? tf.zeros([B, 0, D]) : tf.stack(out, 1)) as tf.Tensor3D;
  });
}

/** The `ops` form of {@linkcode causalDepthwiseConv1d}: k shifted slices of the left-padded input. */
function causalDepthwiseConv1dSlices(x: tf.Tensor3D, w: tf.Tensor3D, bias: tf.Tensor1D | null): tf.Tensor3D {
  const k = checkConv("causalDepthwiseConv1d", x, w, bias);
  return tf.tidy(() => {
    const [B, T, D] = x.shape;
    const wt = tf.transpose(tf.reshape(w, [D, k])); // [k, D]
    const xp = k > 1 ? tf.pad(x, [[0, 0], [k - 1, 0], [0, 0]]) : x;
    let y: tf.Tensor | null = null;
    for (let j = 0; j < k; j++) {
      // tap j multiplies u_{t−(k−1)+j}: skip taps that only ever see the zero padding
      if (j + T <= k - 1) continue;
      const term = tf.mul(tf.slice(xp, [0, j, 0], [B, T, D]), tf.reshape(tf.slice(wt, [j, 0], [1, D]), [D]));
      y = y ? tf.add(y, term) : term;
    }
    if (!y) y = tf.mul(x, 0);
    if (bias) y = tf.add(y, bias);
    return y as tf.Tensor3D;
  });
}

/**
 * Causal depthwise conv, same result as {@linkcode causalDepthwiseConv1dRef}. Forms (`dispatch.ts`): `webgpu`
 * fused WGSL kernels (`conv_webgpu.ts`: one dispatch forward, two or three backward), `ops` k shifted slices of
 * the left-padded input, multiplied and added; `ref` {@linkcode causalDepthwiseConv1dRef}. Differentiable in x, w
 * and bias on every backend.
 *
 * @param x [B, T, D]
 * @param w [D, 1, k] (PyTorch Conv1d depthwise layout)
 * @param bias [D] or null
 * @returns [B, T, D]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { causalDepthwiseConv1d } from "./conv.ts";
 * const y = causalDepthwiseConv1d(tf.ones([1, 3, 1]), tf.ones([1, 1, 2]), null); // [[1], [2], [2]]
 * ```
 */
export const causalDepthwiseConv1d: Op<
  (x: tf.Tensor3D, w: tf.Tensor3D, bias: tf.Tensor1D | null) => tf.Tensor3D
> = defineOp("causalDepthwiseConv1d", {
  ref: causalDepthwiseConv1dRef,
  ops: causalDepthwiseConv1dSlices,
  webgpu: causalDepthwiseConv1dWebGPU,
});

function checkLong(fn: string, u: tf.Tensor, kernel: tf.Tensor): void {
  if (u.rank !== 3) {
    throw new Error(`${fn}: argument "u" has shape [${u.shape.join(", ")}], expected [B, T, D] (rank 3).`);
  }
  const D = u.shape[2] as number;
  if (kernel.rank !== 2 || kernel.shape[0] !== D) {
    throw new Error(
      `${fn}: argument "kernel" has shape [${kernel.shape.join(", ")}], expected [D, L] = [${D}, L] ` +
        `(one causal filter of any length L per channel).`,
    );
  }
}

/**
 * Reference long causal convolution: a plain loop over output times.
 * y_t[c] = Σ_{s=0..min(t, L−1)} K[c, s] · u_{t−s}[c].
 *
 * @param u [B, T, D]
 * @param kernel [D, L] (L may differ from T; taps beyond T are unused, missing taps are zero)
 * @returns y [B, T, D]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { longConvRef } from "./conv.ts";
 * const y = longConvRef(tf.ones([1, 3, 1]), tf.tensor2d([[1, 0.5, 0.25]])); // [[1], [1.5], [1.75]]
 * ```
 */
export function longConvRef(u: tf.Tensor3D, kernel: tf.Tensor2D): tf.Tensor3D {
  checkLong("longConvRef", u, kernel);
  return tf.tidy(() => {
    const [B, T, D] = u.shape;
    const L = Math.min(kernel.shape[1], T);
    if (T === 0) return tf.zeros([B, 0, D]) as tf.Tensor3D;
    if (L === 0) return tf.zeros([B, T, D]) as tf.Tensor3D;
    // reversed taps [D, L] → for output t: Σ_s K[c, s] u_{t−s}
    const kr = tf.reverse(tf.slice(kernel, [0, 0], [D, L]), 1); // kr[c, L−1−s] = K[c, s]
    const up = tf.pad(u, [[0, 0], [L - 1, 0], [0, 0]]); // up[t + L−1] = u[t]
    const krT = tf.transpose(kr); // [L, D]
    const out: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      // window up[t .. t+L−1] = u[t−L+1 .. t]; weight kr[:, i] = K[:, L−1−i]
      out.push(tf.sum(tf.mul(tf.slice(up, [0, t, 0], [B, L, D]), krT), 1));
    }
    return tf.stack(out, 1) as tf.Tensor3D;
  });
}

/** Options of {@linkcode longConv}. */
export interface LongConvOptions {
  /** Block size C of the blockwise Toeplitz product (default: max(32, ⌈T/16⌉), at most T). */
  chunk?: number;
}

function longConvBlocks(u: tf.Tensor3D, kernel: tf.Tensor2D, opts: LongConvOptions = {}): tf.Tensor3D {
  checkLong("longConv", u, kernel);
  const [B, T, D] = u.shape;
  if (opts.chunk !== undefined && !(Number.isInteger(opts.chunk) && opts.chunk >= 1)) {
    throw new Error(`longConv: option "chunk" is ${opts.chunk}, expected a positive integer.`);
  }
  return tf.tidy(() => {
    const L = Math.min(kernel.shape[1], T);
    if (T === 0) return tf.zeros([B, 0, D]) as tf.Tensor3D;
    if (L === 0) return tf.zeros([B, T, D]) as tf.Tensor3D;
    const C = Math.min(opts.chunk ?? Math.max(32, Math.ceil(T / 16)), T);
    const K = Math.ceil(T / C);
    // Block diagonal m holds taps mC−(C−1) … mC+C−1: non-zero while mC − (C−1) ≤ L − 1.
    const M = Math.min(K, Math.floor((L + C - 2) / C) + 1);
    const W = C - 1 + M * C; // length of the zero-padded kernel kp[j] = K[j − (C−1)]
    const kp = tf.pad(tf.slice(kernel, [0, 0], [D, L]), [[0, 0], [C - 1, W - (C - 1) - L]]); // [D, W]
    // Skew: rows s' = 0..C−1 of kp shifted left by s': G'[c, s', i] = kp[c, i + s'].
    const tiled = tf.reshape(tf.add(tf.expandDims(kp, 1), tf.zeros([1, C, 1])), [D, C * W]);
    const skew = tf.reshape(tf.pad(tiled, [[0, 0], [0, C]]), [D, C, W + 1]);
    // G[c, r, s] = K[c, r − s] (r < M·C, s < C) = G'[c, C−1−s, r]: the first block column of the Toeplitz matrix
    const G = tf.transpose(tf.reverse(tf.slice(skew, [0, 0, 0], [D, C, M * C]), 1), [0, 2, 1]); // [D, M·C, C]
    // Input blocks as columns: [D, C, B·K]
    const up = K * C > T ? tf.pad(u, [[0, 0], [0, K * C - T], [0, 0]]) : u;
    const U = tf.reshape(tf.transpose(tf.reshape(up, [B, K, C, D]), [3, 2, 0, 1]), [D, C, B * K]);
    // P[c, m, t, b, j] = (Toep_m @ u_j)[t]: contribution of input block j to output block j + m
    const P = tf.reshape(tf.matMul(G, U), [D, M, C, B, K]);
    let Y: tf.Tensor; // [D, C, B, K]
    if (M === 1) {
      Y = tf.reshape(P, [D, C, B, K]);
    } else {
      // Skew-and-sum over (m, j) → i = j + m: pad rows to K+M, drop M, view as [M, K+M−1], sum over m.
      // (kept at rank ≤ 3: tfjs-webgpu's pad returns zeros for rank-5 tensors)
      const R = D * C * B;
      const Pt = tf.reshape(tf.transpose(P, [0, 2, 3, 1, 4]), [R, M, K]); // [D·C·B, M, K]
      const padded = tf.reshape(tf.pad(Pt, [[0, 0], [0, 0], [0, M]]), [R, M * (K + M)]);
      const cut = tf.reshape(tf.slice(padded, [0, 0], [R, M * (K + M - 1)]), [R, M, K + M - 1]);
      Y = tf.reshape(tf.slice(tf.sum(cut, 1), [0, 0], [R, K]), [D, C, B, K]);
    }
    const y = tf.reshape(tf.transpose(Y, [2, 3, 1, 0]), [B, K * C, D]);
    return (K * C > T ? tf.slice(y, [0, 0, 0], [B, T, D]) : y) as tf.Tensor3D;
  });
}

/**
 * Long causal convolution, same result as {@linkcode longConvRef}, its `ref` form (`dispatch.ts`; the reference
 * and the `webgpu` form ignore `opts`). The `webgpu` form: fused WGSL kernels (`long_conv_webgpu.ts`, one dispatch
 * forward, two backward). The `ops` form (the fast path on cpu and wasm): blockwise Toeplitz matmuls. The time axis is
 * cut into K blocks of C; the M ≤ K non-zero block diagonals of the [T, T] Toeplitz matrix (each a [C, C] block
 * per channel) come from one skewed copy of the kernel, one batched matmul applies them all to all input blocks,
 * and a skew-and-sum adds the contributions to each output block. Cost O(B·D·T·M·C) multiply-adds, a handful of
 * ops regardless of T, exact in float32 (no FFT), differentiable in u and kernel on every backend.
 *
 * @param u [B, T, D]
 * @param kernel [D, L]
 * @param opts block size
 * @returns y [B, T, D]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { longConv } from "./conv.ts";
 * const y = longConv(tf.ones([1, 3, 1]), tf.tensor2d([[1, 0.5, 0.25]])); // [[1], [1.5], [1.75]]
 * ```
 */
export const longConv: Op<(u: tf.Tensor3D, kernel: tf.Tensor2D, opts?: LongConvOptions) => tf.Tensor3D> =
  defineOp("longConv", {
    ref: longConvRef,
    ops: longConvBlocks,
    webgpu: (u, kernel) => (checkLong("longConv", u, kernel), longConvWebGPU(u, kernel)),
  });
