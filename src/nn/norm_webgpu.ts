/**
 * Fused WGSL RMSNorm y = x · s · w, s = (mean(x²) + ε)^(−1/2) over the last axis, on the webgpu backend.
 *
 * As tf ops RMSNorm is about 6 dispatches forward and 15 backward; an mHC + adapters step runs 25 of them. Here:
 *
 * - `SsmlabRmsNorm` — one workgroup of 64 lanes per row: a shared-memory sum of squares, then y; [R, d].
 * - `SsmlabRmsNormRstd` — the same reduction, writing s per row: [R] (backward only).
 * - `SsmlabRmsNormGradX` — one workgroup per row: c = Σ_k w_k ȳ_k x_k, then dx_j = s w_j ȳ_j − x_j s³ c / d.
 * - `SsmlabRmsNormGradW` — one workgroup per tile of 8 channels, 32 row groups striding over the rows:
 *   dw_j = Σ_r ȳ_rj x_rj s_r, then a workgroup tree reduction.
 *
 * One dispatch forward, three backward. `rmsNormOps` in `norm.ts` (tf ops) and `rmsNormRef` (loops) are the
 * references.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type CustomFn,
  type MakeProgram,
  requireWebGPU,
  webgpuKernel,
  webgpuProgram as program,
} from "./webgpu_kernel.ts";
import { columnSumCode, columnSumLaunch as gwLaunch } from "./reduce_webgpu.ts";

/** Lanes per row of the row kernels. */
const WG = 64;

/** Shared head of the row kernels: workgroup = row, lane; sum of squares of the row into `ss` (all lanes). */
function rowHead(extra = ""): string {
  return `
  var<workgroup> part : array<f32, ${WG}>;
  fn rowSum(lane : i32, v : f32) -> f32 {
    part[lane] = v;
    workgroupBarrier();
    for (var h = ${WG / 2}; h > 0; h = h / 2) {
      if (lane < h) { part[lane] = part[lane] + part[lane + h]; }
      workgroupBarrier();
    }
    let total = part[0];
    workgroupBarrier();
    return total;
  }
  fn main(index : i32) {
    let nR = uniforms.xShape.x;
    let d = uniforms.xShape.y;
    _ = W[0];${extra}
    let row = index / ${WG};
    let lane = index - row * ${WG};
    let base = row * d;
    var acc = 0.0;
    if (row < nR) {
      for (var j = lane; j < d; j = j + ${WG}) { let v = X[base + j]; acc = acc + v * v; }
    }
    let ss = rowSum(lane, acc);
    let s = inverseSqrt(ss / f32(d) + uniforms.eps);`;
}

const FWD_CODE = `${rowHead()}
    if (row >= nR) { return; }
    for (var j = lane; j < d; j = j + ${WG}) { result[base + j] = X[base + j] * s * W[j]; }
  }
`;

const RSTD_CODE = `${rowHead()}
    if (row < nR && lane == 0) { result[row] = s; }
  }
`;

const GRAD_X_CODE = `${rowHead("\n    _ = Dy[0];")}
    var c = 0.0;
    if (row < nR) {
      for (var j = lane; j < d; j = j + ${WG}) { c = c + W[j] * Dy[base + j] * X[base + j]; }
    }
    let cs = rowSum(lane, c);
    if (row >= nR) { return; }
    let k = s * s * s * cs / f32(d);
    for (var j = lane; j < d; j = j + ${WG}) {
      result[base + j] = s * W[j] * Dy[base + j] - X[base + j] * k;
    }
  }
`;

const GRAD_W_CODE = columnSumCode(
  "uniforms.xShape.x",
  "uniforms.xShape.y",
  "Dy[i] * X[i] * S[r]",
);

/** A program with the ε uniform (tfjs-webgpu appends program-defined uniforms after the shapes). */
const withEps = (make: MakeProgram): MakeProgram => (ins, attrs) => ({
  ...make(ins, attrs),
  uniforms: "eps : f32,",
  uniformData: [{ type: "float32" as const, data: [attrs.eps as number] }],
});
const K_FWD = webgpuKernel(
  "SsmlabRmsNorm",
  ["x", "w"],
  withEps(([x]) => program("rmsnorm_fwd", ["X", "W"], x.shape, x.shape[0], WG, FWD_CODE)),
);
const K_RSTD = webgpuKernel(
  "SsmlabRmsNormRstd",
  ["x", "w"],
  withEps(([x]) => program("rmsnorm_rstd", ["X", "W"], [x.shape[0]], x.shape[0], WG, RSTD_CODE)),
);
const K_GX = webgpuKernel(
  "SsmlabRmsNormGradX",
  ["x", "w", "dy"],
  withEps(([x]) => program("rmsnorm_gx", ["X", "W", "Dy"], x.shape, x.shape[0], WG, GRAD_X_CODE)),
);
const K_GW = webgpuKernel("SsmlabRmsNormGradW", ["x", "dy", "s"], ([x]) => {
  const { workgroups, lanes } = gwLaunch(x.shape[1]);
  return program("rmsnorm_gw", ["X", "Dy", "S"], [x.shape[1]], workgroups, lanes, GRAD_W_CODE);
});

/**
 * RMSNorm over the last axis by fused WGSL kernels (webgpu only); the values and gradients (x, w) of the tf-op
 * form. Prefer `rmsNorm` of `norm.ts`, which picks this on webgpu.
 *
 * @param x [..., d] float32
 * @param w [d]
 * @param eps added to mean(x²) (default 1e-6, the reference's)
 * @returns [..., d]
 * @throws Error off the webgpu backend.
 */
export function rmsNormWebGPU(x: tf.Tensor, w: tf.Tensor, eps = 1e-6): tf.Tensor {
  requireWebGPU("rmsNormWebGPU");
  const d = x.shape[x.rank - 1];
  const shape = x.shape;
  const f = tf.customGrad(
    ((x2: tf.Tensor2D, w: tf.Tensor1D, save: tf.GradSaveFunc) => {
      save([x2, w]);
      return {
        value: K_FWD.run<tf.Tensor2D>({ x: x2, w }, { eps }),
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const [xs, ws] = saved;
          const s = K_RSTD.run<tf.Tensor1D>({ x: xs, w: ws }, { eps });
          const dx = K_GX.run({ x: xs, w: ws, dy }, { eps });
          const dw = K_GW.run({ x: xs, dy, s });
          s.dispose();
          return [dx, dw];
        },
      };
    }) as unknown as CustomFn,
  );
  return tf.tidy(() => (f(x.reshape([-1, d]), w) as unknown as tf.Tensor).reshape(shape));
}
