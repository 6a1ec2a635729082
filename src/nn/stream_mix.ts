/**
 * Stream mixing for multi-stream residuals (mHC, docs/models/mhc.md): Y[r, i, :] = Σ_j W[i, j] · X[r, j, :].
 *
 * One op covers every map of the mHC block: the pre-mix and the aggregator (W = a simplex row, [1, n]), the
 * residual mixing (W = the Sinkhorn matrix, [n, n]) and the post-distribution of the block output over the streams
 * (W = a simplex column, [n, 1]).
 *
 * Forms (`dispatch.ts`):
 * - `ops` — a broadcast multiply and a sum over the source-stream axis (the fast path on cpu and wasm);
 * - `webgpu` — fused WGSL kernels: one dispatch forward; backward one for dX (the same map with Wᵀ) and two for dW
 *   (per-workgroup partial sums of dY[r,i,:]·X[r,j,:], then one reduction over the partials). tfjs-webgpu reduces a
 *   middle axis by transposing it last and running one workgroup per output element: for the residual mixing at the
 *   published size that is 4M workgroups per sum, forward and backward, per layer.
 *
 * - `ref` — {@linkcode streamMixRef} (one slice per stream, plain adds), the test oracle.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type CustomFn,
  elementwiseProgram,
  requireWebGPU,
  webgpuKernel,
  webgpuProgram as program,
} from "./webgpu_kernel.ts";
import { defineOp, type Op } from "./dispatch.ts";

function check(fn: string, x: tf.Tensor, w: tf.Tensor): void {
  if (x.rank !== 3) {
    throw new Error(`${fn}: argument "x" has shape [${x.shape.join(", ")}], expected [R, n, d] (rank 3).`);
  }
  if (w.rank !== 2 || w.shape[1] !== x.shape[1]) {
    throw new Error(
      `${fn}: argument "w" has shape [${w.shape.join(", ")}], expected [m, n] with n = ${x.shape[1]} ` +
        `(the stream axis of x).`,
    );
  }
  for (const [n, t] of [["x", x], ["w", w]] as const) {
    if (t.dtype !== "float32") throw new Error(`${fn}: argument "${n}" is ${t.dtype}, expected float32.`);
  }
}

/**
 * Reference stream mixing by slices: Y[:, i, :] = Σ_j W[i, j] · X[:, j, :] (test oracle).
 * @param x [R, n, d]
 * @param w [m, n]
 * @returns [R, m, d]
 */
export function streamMixRef(x: tf.Tensor3D, w: tf.Tensor2D): tf.Tensor3D {
  check("streamMixRef", x, w);
  return tf.tidy(() => {
    const [m, n] = w.shape;
    const xs = [...Array(n).keys()].map((j) => tf.slice(x, [0, j, 0], [-1, 1, -1]));
    const out: tf.Tensor[] = [];
    for (let i = 0; i < m; i++) {
      let acc: tf.Tensor | null = null;
      for (let j = 0; j < n; j++) {
        const term = tf.mul(xs[j], tf.slice(w, [i, j], [1, 1]).reshape([1, 1, 1]));
        acc = acc === null ? term : tf.add(acc, term);
      }
      out.push(acc!);
    }
    return tf.concat(out, 1) as tf.Tensor3D;
  });
}

/** The tf-op form: [R, 1, n, d] ⊙ [1, m, n, 1], summed over n. */
function streamMixOps(x: tf.Tensor3D, w: tf.Tensor2D): tf.Tensor3D {
  check("streamMix", x, w);
  return tf.tidy(() => {
    const [R, n, d] = x.shape;
    const m = w.shape[0];
    return tf.sum(tf.mul(x.reshape([R, 1, n, d]), w.reshape([1, m, n, 1])), 2) as tf.Tensor3D;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// WGSL kernels

/** Lanes per workgroup of the dW partial-sum kernel. */
const WG_RED = 256;
/** Elements (r, k) per lane of the dW kernel, roughly: sets the number of partials. */
const PER_LANE = 8;
/** Most partial rows of the dW kernel. */
const MAX_PARTIALS = 1024;

/**
 * Forward (and dX with `transposed`): one invocation per output element.
 * Y[r, i, k] = Σ_j W[i, j] X[r, j, k]; transposed: Y[r, j, k] = Σ_i W[i, j] X[r, i, k] (X has m streams then).
 */
function mixCode(transposed: boolean): string {
  return `
  fn main(index : i32) {
    let nR = uniforms.outShape.x;
    let mOut = uniforms.outShape.y;
    let d = uniforms.outShape.z;
    if (index >= nR * mOut * d) { return; }
    let nIn = uniforms.xShape.y;
    let wCols = uniforms.wShape.y;
    let k = index % d;
    let ri = index / d;
    let i = ri % mOut;
    let r = ri / mOut;
    let base = r * nIn * d + k;
    var acc = 0.0;
    for (var j = 0; j < nIn; j++) {
      acc = acc + W[${transposed ? "j * wCols + i" : "i * wCols + j"}] * X[base + j * d];
    }
    result[index] = acc;
  }
`;
}

/**
 * dW partial sums: workgroup g of WG_RED lanes strides over the (r, k) elements and accumulates
 * P[g, i·n + j] = Σ dY[r, i, k] · X[r, j, k] for all m·n pairs, reduced across the workgroup in shared memory.
 * Inputs Dy [R, m, d], X [R, n, d]; output [G, m·n].
 */
function gradWCode(m: number, n: number): string {
  const mn = m * n;
  return `
  var<workgroup> part : array<f32, ${WG_RED}>;
  fn main(index : i32) {
    let nR = uniforms.xShape.x;
    let d = uniforms.xShape.z;
    let G = uniforms.outShape.x;
    let g = index / ${WG_RED};
    let lane = index - g * ${WG_RED};
    var acc : array<f32, ${mn}>;
    for (var p = 0; p < ${mn}; p++) { acc[p] = 0.0; }
    let total = nR * d;
    for (var e = g * ${WG_RED} + lane; e < total; e = e + G * ${WG_RED}) {
      let r = e / d;
      let k = e - r * d;
      var xv : array<f32, ${n}>;
      for (var j = 0; j < ${n}; j++) { xv[j] = X[(r * ${n} + j) * d + k]; }
      for (var i = 0; i < ${m}; i++) {
        let dy = Dy[(r * ${m} + i) * d + k];
        for (var j = 0; j < ${n}; j++) { acc[i * ${n} + j] = acc[i * ${n} + j] + dy * xv[j]; }
      }
    }
    for (var p = 0; p < ${mn}; p++) {
      part[lane] = acc[p];
      workgroupBarrier();
      for (var h = ${WG_RED / 2}; h > 0; h = h / 2) {
        if (lane < h) { part[lane] = part[lane] + part[lane + h]; }
        workgroupBarrier();
      }
      if (lane == 0) { result[g * ${mn} + p] = part[0]; }
      workgroupBarrier();
    }
  }
`;
}

const K_MIX = webgpuKernel(
  "SsmlabStreamMix",
  ["x", "w"],
  ([x, w]) =>
    elementwiseProgram("streammix", ["X", "W"], [x.shape[0], w.shape[0], x.shape[2]], mixCode(false)),
);
const K_MIX_T = webgpuKernel(
  "SsmlabStreamMixTransposed",
  ["x", "w"],
  ([x, w]) =>
    elementwiseProgram("streammix_t", ["X", "W"], [x.shape[0], w.shape[1], x.shape[2]], mixCode(true)),
);
const K_GW = webgpuKernel("SsmlabStreamMixGradW", ["dy", "x"], ([dy, x], attrs) => {
  const m = dy.shape[1], n = x.shape[1];
  const G = attrs.partials as number;
  return program(`streammix_gw_${m}_${n}`, ["Dy", "X"], [G, m * n], G, WG_RED, gradWCode(m, n));
});

/** Number of dW partial rows for R·d elements. */
function partialsFor(elements: number): number {
  return Math.max(1, Math.min(MAX_PARTIALS, Math.ceil(elements / (WG_RED * PER_LANE))));
}

/**
 * Stream mixing by fused WGSL kernels (webgpu backend only); same values and gradients as
 * {@linkcode streamMixRef}. Prefer {@linkcode streamMix}, which picks this on webgpu.
 *
 * @param x [R, n, d]
 * @param w [m, n]
 * @returns [R, m, d]
 */
export function streamMixWebGPU(x: tf.Tensor3D, w: tf.Tensor2D): tf.Tensor3D {
  check("streamMixWebGPU", x, w);
  requireWebGPU("streamMixWebGPU");
  const f = tf.customGrad(
    ((x: tf.Tensor3D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([x, w]);
      return {
        value: K_MIX.run<tf.Tensor3D>({ x, w }),
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
          const [xs, ws] = saved as [tf.Tensor3D, tf.Tensor2D];
          const dx = K_MIX_T.run<tf.Tensor3D>({ x: dy, w: ws });
          const [m, n] = ws.shape;
          const partials = K_GW.run<tf.Tensor2D>({ dy, x: xs }, {
            partials: partialsFor(xs.shape[0] * xs.shape[2]),
          });
          const dw = tf.sum(partials, 0).reshape([m, n]);
          partials.dispose();
          return [dx, dw];
        },
      };
    }) as unknown as CustomFn,
  );
  return f(x, w) as unknown as tf.Tensor3D;
}

/**
 * Mix streams: Y[r, i, :] = Σ_j W[i, j] · X[r, j, :]. Forms: see the module doc.
 *
 * @param x [R, n, d] (R = B·T rows of n streams of width d)
 * @param w [m, n] mixing weights
 * @returns [R, m, d]
 * @throws Error on mismatched shapes or dtypes.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { streamMix } from "./stream_mix.ts";
 * const x = tf.tensor3d([[[1, 2], [3, 4]]]); // R = 1, n = 2, d = 2
 * streamMix(x, tf.tensor2d([[0.5, 0.5]])).print(); // [[[2, 3]]]
 * ```
 */
export const streamMix: Op<(x: tf.Tensor3D, w: tf.Tensor2D) => tf.Tensor3D> = defineOp("streamMix", {
  ref: streamMixRef,
  ops: streamMixOps,
  webgpu: (x: tf.Tensor3D, w: tf.Tensor2D) => x.size === 0 ? streamMixOps(x, w) : streamMixWebGPU(x, w),
});

/** The `ref` and `ops` form of {@linkcode streamScale}: a broadcast multiply. */
function streamScaleOps(x: tf.Tensor3D, w: tf.Tensor1D): tf.Tensor3D {
  checkScale(x, w);
  return tf.tidy(() => tf.mul(x, w.reshape([1, x.shape[1], 1])) as tf.Tensor3D);
}

/** The `webgpu` form of {@linkcode streamScale}: the fused {@linkcode streamMix} with diag(w). */
function streamScaleWebGPU(x: tf.Tensor3D, w: tf.Tensor1D): tf.Tensor3D {
  checkScale(x, w);
  const n = x.shape[1];
  return tf.tidy(() => streamMix.impls.webgpu!(x, tf.mul(tf.eye(n), w.reshape([n, 1])) as tf.Tensor2D));
}

function checkScale(x: tf.Tensor3D, w: tf.Tensor1D): void {
  const n = x.shape[1];
  if (w.rank !== 1 || w.shape[0] !== n) {
    throw new Error(`streamScale: argument "w" has shape [${w.shape.join(", ")}], expected [n] = [${n}].`);
  }
  if (x.rank !== 3) {
    throw new Error(
      `streamScale: argument "x" has shape [${x.shape.join(", ")}], expected [R, n, d] (rank 3).`,
    );
  }
}

/**
 * Scale each stream by its own weight: Y[r, i, :] = w_i · X[r, i, :] (the diagonal case of {@linkcode streamMix}).
 * Forms (`dispatch.ts`): `ref` and `ops` a broadcast multiply (the tf-op form is the reference); `webgpu` the
 * fused {@linkcode streamMix} with diag(w), whose dW kernel avoids tfjs-webgpu's transpose-and-reduce for the
 * weight gradient.
 *
 * @param x [R, n, d]
 * @param w [n]
 * @returns [R, n, d]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { streamScale } from "./stream_mix.ts";
 * streamScale(tf.ones([1, 2, 3]), tf.tensor1d([2, 3])).print(); // [[[2, 2, 2], [3, 3, 3]]]
 * ```
 */
export const streamScale: Op<(x: tf.Tensor3D, w: tf.Tensor1D) => tf.Tensor3D> = defineOp("streamScale", {
  ref: streamScaleOps,
  ops: streamScaleOps,
  webgpu: streamScaleWebGPU,
});
