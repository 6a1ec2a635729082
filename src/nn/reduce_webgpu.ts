/**
 * Sums over leading axes in one WGSL dispatch on the webgpu backend.
 *
 * tfjs-webgpu 4.22 reduces only along the last axis, so `sum(x, [0, 1])` of an activation [B, T, d] — the gradient
 * of every broadcast bias, scale or gate, once per parameter per step — first transposes x to [d, B·T]: two
 * dispatches and a full copy. {@linkcode sumLeadingWebGPU} views x as [R, C] (R = product of the summed axes)
 * and sums the rows directly: one workgroup of 256 lanes per 8 adjacent columns, 32 row groups striding over the
 * rows (a 32-byte sector per row group), then a tree reduction in workgroup memory.
 *
 * {@linkcode installLeadingSum} puts it under tfjs's own `Sum` kernel for webgpu (every other reduction is passed
 * to the original kernel), so autograd's broadcast gradients use it too. `tf.sum` on the cpu backend is the
 * reference (`tests/reduce_webgpu_test.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  intUniforms,
  requireWebGPU,
  webgpuKernel,
  webgpuProgram as program,
  type WebGPUProgramLike,
} from "./webgpu_kernel.ts";

/** Columns per workgroup and row groups (8 · 32 = 256 lanes). */
const CT = 8;
const RG = 32;

/**
 * WGSL of a column sum over rows: result[col] = Σ_{r < R} term(i = r·C + col), one workgroup of 256 lanes per 8
 * adjacent columns, 32 row groups striding over the rows, then a tree reduction in workgroup memory. Shared by the
 * kernels that reduce over the rows of an activation (this module, RMSNorm's dw, the SSM gate's dc and dD).
 *
 * @param rows WGSL expression of R
 * @param cols WGSL expression of C
 * @param term WGSL expression of one row's value, in terms of the flat index `i` (and `r`, `col`)
 * @param touch WGSL statements reading inputs the term may leave unread (see `webgpu_kernel.ts`)
 */
export function columnSumCode(rows: string, cols: string, term: string, touch = ""): string {
  return `
  var<workgroup> part : array<f32, ${CT * RG}>;
  fn main(index : i32) {
    let R = ${rows};
    let C = ${cols};
    ${touch}
    let lane = i32(localIndex);
    let c = lane % ${CT};
    let g = lane / ${CT};
    let col = i32(workgroupId.x) * ${CT} + c;
    var acc = 0.0;
    if (col < C) {
      for (var r = g; r < R; r = r + ${RG}) { let i = r * C + col; acc = acc + ${term}; }
    }
    part[lane] = acc;
    workgroupBarrier();
    for (var h = ${RG / 2}; h > 0; h = h / 2) {
      if (g < h) { part[lane] = part[lane] + part[lane + h * ${CT}]; }
      workgroupBarrier();
    }
    if (g == 0 && col < C) { result[col] = part[lane]; }
  }
`;
}

/** Workgroups of {@linkcode columnSumCode} for C columns, and its lanes per workgroup. */
export function columnSumLaunch(cols: number): { workgroups: number; lanes: number } {
  return { workgroups: Math.ceil(cols / CT), lanes: CT * RG };
}

/** Input X viewed as [R, C] (uniforms R, C); output [C]. */
const CODE = columnSumCode("uniforms.R", "uniforms.C", "X[i]", "_ = X[0];");

function sumProgram(R: number, C: number, outShape: number[]): WebGPUProgramLike {
  const { workgroups, lanes } = columnSumLaunch(C);
  const p = program("sum_leading", ["X"], outShape, workgroups, lanes, CODE);
  // One workgroup per column tile: keep the dispatch 1-D (≤ 65535 tiles = 524,280 columns, checked by callers).
  return {
    ...p,
    ...intUniforms({ R, C }),
  };
}

/** The largest C one dispatch covers (one workgroup per 8 columns, ≤ 65535 workgroups in x). */
const MAX_COLUMNS = 65535 * CT;

const KERNEL = webgpuKernel("SsmlabSumLeading", ["X"], ([x], attrs) => {
  const k = attrs.k as number;
  const R = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
  const rest = x.shape.slice(k);
  return sumProgram(R, rest.reduce((a, b) => a * b, 1), rest);
});

/**
 * Σ over the first `k` axes of x, on the webgpu backend (no gradient: use `tf.sum`, which routes here once
 * {@linkcode installLeadingSum} ran).
 *
 * @param x [a₀, …, a_{k−1}, …rest]
 * @returns [...rest]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { sumLeadingWebGPU } from "./reduce_webgpu.ts";
 * // on webgpu: sumLeadingWebGPU(tf.ones([8, 256, 512]), 2) → [512] of 2048
 * ```
 */
export function sumLeadingWebGPU(x: tf.Tensor, k: number): tf.Tensor {
  requireWebGPU("sumLeadingWebGPU");
  if (!(Number.isInteger(k) && k >= 1 && k < x.rank)) {
    throw new Error(
      `sumLeadingWebGPU: k must be an integer in [1, ${x.rank - 1}] for x [${x.shape}], got "${k}".`,
    );
  }
  const C = x.shape.slice(k).reduce((a, b) => a * b, 1);
  if (C > MAX_COLUMNS) return tf.sum(x, [...Array(k).keys()]);
  return KERNEL.run({ X: x.dtype === "float32" ? x : x.cast("float32") }, { k });
}

let installed = false;

/**
 * Route tfjs's webgpu `Sum` over leading axes (float32, not every axis) to {@linkcode sumLeadingWebGPU}'s kernel;
 * every other `Sum` goes to the original kernel. Idempotent; `initBackend` calls it for webgpu.
 *
 * @example
 * ```ts
 * import { installLeadingSum } from "./reduce_webgpu.ts";
 * installLeadingSum(); // then tf.sum(x, [0, 1]) on webgpu is one dispatch
 * ```
 */
export function installLeadingSum(): void {
  if (installed) return;
  const orig = tf.getKernel("Sum", "webgpu");
  if (!orig) return;
  installed = true;
  tf.unregisterKernel("Sum", "webgpu");
  tf.registerKernel({
    kernelName: "Sum",
    backendName: "webgpu",
    kernelFunc: (args) => {
      const x = (args.inputs as { x: tf.TensorInfo }).x;
      const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
      const k = axes.length;
      const leading = k >= 1 && k < x.shape.length && axes.every((a, i) => a === i);
      const rest = x.shape.slice(k);
      const C = rest.reduce((a, b) => a * b, 1);
      const R = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
      // empty inputs stay with tfjs (a dispatch over an empty buffer would not run and leave stale memory)
      if (!leading || x.dtype !== "float32" || C > MAX_COLUMNS || C === 0 || R === 0) {
        return orig.kernelFunc(args);
      }
      const outShape = keepDims ? [...axes.map(() => 1), ...rest] : rest;
      const prog = sumProgram(R, C, outShape);
      const be = args.backend as unknown as {
        runWebGPUProgram(p: WebGPUProgramLike, i: tf.TensorInfo[], d: string, u?: unknown): tf.TensorInfo;
      };
      return be.runWebGPUProgram(prog, [x], "float32", prog.uniformData);
    },
  });
}
