/**
 * Fused WGSL kernels for the diagonal time-invariant scan s_t = a ⊙ s_{t−1} + b ⊙ u_t on the webgpu backend.
 *
 * The log-depth tf-op scan of `scan.ts` issues ~40 dispatches per layer forward (more backward); on a fast GPU a
 * training step is then bound by per-dispatch overhead. Here the whole recurrence is one compute dispatch forward
 * and three backward, all run through the webgpu backend's own program API (`runWebGPUProgram`, so tfjs keeps
 * managing the buffers) and registered as tfjs kernels (so `tf.profile` and `tf.memory` see them):
 *
 * - `SsmlabDiagScan` — one invocation per (batch, channel), looping forward over t: s [B, T, D].
 * - `SsmlabDiagScanGradU` — one invocation per (batch, channel), looping backwards over t:
 *   ḡ_t = ȳ_t + a ⊙ ḡ_{t+1}, du_t = b ⊙ ḡ_t.
 * - `SsmlabDiagScanGradA` / `SsmlabDiagScanGradB` — one workgroup of 64 invocations per channel; each invocation
 *   reruns the reverse recurrence for its batch rows (b ≡ lane mod 64) and accumulates Σ_t ḡ_t s_{t−1}
 *   (resp. Σ_t ḡ_t u_t); a workgroup tree reduction sums over the batch: da, db [D] with no further ops.
 *
 * Recomputing ḡ in each of the three backward kernels costs O(B·T·D) flops, far less than the dispatches it saves.
 * Only products of the decay are formed (never quotients), so decays near 0 and near 1 are exact as in the
 * sequential loop.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuBackendActive } from "./dispatch.ts";
import {
  type CustomFn,
  requireWebGPU,
  webgpuKernel,
  webgpuProgram,
  type WebGPUProgramLike,
} from "./webgpu_kernel.ts";

/** Lanes per workgroup (also the reduction width of the parameter-gradient kernels). */
const WG = 64;

/** Is the current tfjs backend webgpu (so {@linkcode diagScanWebGPU} can run)? */
export const webgpuScanAvailable: () => boolean = webgpuBackendActive;

/** A flat program of one invocation per thread, ⌈threads / WG⌉ workgroups of WG lanes. */
function program(
  key: string,
  variableNames: string[],
  outputShape: number[],
  threads: number,
  code: string,
): WebGPUProgramLike {
  return webgpuProgram(key, variableNames, outputShape, Math.ceil(threads / WG), WG, code);
}

/**
 * Shared head of the forward and du kernels: one invocation per (batch bi, channel d) of the [B,T,D] output, with
 * the channel's decay av and gain bv.
 */
const PER_BATCH_CHANNEL_HEAD = `
    let nB = uniforms.outShape.x;
    let nT = uniforms.outShape.y;
    let nD = uniforms.outShape.z;
    if (index >= nB * nD) { return; }
    let bi = index / nD;
    let d = index - bi * nD;
    let av = A[d];
    let bv = Bv[d];`;

/** Forward: one invocation per (batch, channel). Inputs U [B,T,D], A [D], Bv [D]; output s [B,T,D]. */
const FWD_CODE = `
  fn main(index : i32) {${PER_BATCH_CHANNEL_HEAD}
    var s = 0.0;
    var i = bi * nT * nD + d;
    for (var t = 0; t < nT; t++) {
      s = av * s + bv * U[i];
      result[i] = s;
      i = i + nD;
    }
  }
`;

/** du: reverse loop per (batch, channel). Inputs Dy [B,T,D], A [D], Bv [D]; output du [B,T,D]. */
const GRAD_U_CODE = `
  fn main(index : i32) {${PER_BATCH_CHANNEL_HEAD}
    var g = 0.0;
    var i = bi * nT * nD + (nT - 1) * nD + d;
    for (var t = nT - 1; t >= 0; t--) {
      g = Dy[i] + av * g;
      result[i] = bv * g;
      i = i - nD;
    }
  }
`;

/**
 * da or db: one workgroup per channel. Inputs Dy [B,T,D], A [D], X [B,T,D] (X = s for da, u for db); output [D].
 * For da the term of step t pairs ḡ_t with s_{t−1} (nothing at t = 0); for db with u_t.
 */
function gradParamCode(forA: boolean): string {
  return `
  var<workgroup> partial : array<f32, ${WG}>;
  fn main(index : i32) {
    let nB = uniforms.dyShape.x;
    let nT = uniforms.dyShape.y;
    let nD = uniforms.dyShape.z;
    let d = index / ${WG};
    let lane = index - d * ${WG};
    var acc = 0.0;
    if (d < nD) {
      let av = A[d];
      for (var bi = lane; bi < nB; bi = bi + ${WG}) {
        var g = 0.0;
        var i = bi * nT * nD + (nT - 1) * nD + d;
        for (var t = nT - 1; t >= 0; t--) {
          g = Dy[i] + av * g;
          ${forA ? "if (t > 0) { acc = acc + g * X[i - nD]; }" : "acc = acc + g * X[i];"}
          i = i - nD;
        }
      }
    }
    partial[lane] = acc;
    workgroupBarrier();
    for (var k = ${WG / 2}; k > 0; k = k / 2) {
      if (lane < k) { partial[lane] = partial[lane] + partial[lane + k]; }
      workgroupBarrier();
    }
    if (lane == 0 && d < nD) { result[d] = partial[0]; }
  }
`;
}

// ---------------------------------------------------------------------------------------------------------------
// Kernel registration (lazy: the webgpu backend package may not be loaded)

const K_FWD = webgpuKernel("SsmlabDiagScan", ["u", "a", "b"], ([u]) => {
  const [B, , D] = u.shape;
  return program("diagscan_fwd", ["U", "A", "Bv"], u.shape, B * D, FWD_CODE);
});
const K_GU = webgpuKernel("SsmlabDiagScanGradU", ["dy", "a", "b"], ([dy]) => {
  const [B, , D] = dy.shape;
  return program("diagscan_gu", ["Dy", "A", "Bv"], dy.shape, B * D, GRAD_U_CODE);
});
/** da (`forA`) or db: one workgroup per channel reducing over (b, t). */
const gradParam = (name: string, key: string, forA: boolean) =>
  webgpuKernel(name, ["dy", "a", "x"], ([dy]) => {
    const D = dy.shape[2];
    return program(key, ["Dy", "A", "X"], [D], D * WG, gradParamCode(forA));
  });
const K_GA = gradParam("SsmlabDiagScanGradA", "diagscan_ga", true);
const K_GB = gradParam("SsmlabDiagScanGradB", "diagscan_gb", false);

// ---------------------------------------------------------------------------------------------------------------

/**
 * Diagonal scan by fused WGSL kernels (webgpu backend only): same result and gradients as `diagScanRef` of
 * `scan.ts`. One dispatch forward; three backward (du, da, db).
 *
 * @param u [B, T, D] input
 * @param a [D] decay per channel
 * @param b [D] input gain per channel
 * @returns s [B, T, D]
 * @throws Error when the current backend is not webgpu or the shapes do not match.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { diagScanWebGPU, webgpuScanAvailable } from "./scan_webgpu.ts";
 * if (webgpuScanAvailable()) {
 *   const s = diagScanWebGPU(tf.ones([1, 3, 1]), tf.tensor1d([0.5]), tf.tensor1d([1])); // [[1], [1.5], [1.75]]
 * }
 * ```
 */
export function diagScanWebGPU(u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor3D {
  requireWebGPU("diagScanWebGPU");
  if (u.rank !== 3) {
    throw new Error(
      `diagScanWebGPU: argument "u" has shape [${u.shape.join(", ")}], expected [B, T, D] (rank 3).`,
    );
  }
  const D = u.shape[2];
  for (const [n, t] of [["a", a], ["b", b]] as const) {
    if (t.rank !== 1 || t.shape[0] !== D) {
      throw new Error(
        `diagScanWebGPU: argument "${n}" has shape [${t.shape.join(", ")}], expected [D] = [${D}].`,
      );
    }
  }
  for (const [n, t] of [["u", u], ["a", a], ["b", b]] as const) {
    if (t.dtype !== "float32") {
      throw new Error(`diagScanWebGPU: argument "${n}" is ${t.dtype}, expected float32.`);
    }
  }
  if (u.size === 0) return tf.zeros(u.shape) as tf.Tensor3D;
  const f = tf.customGrad(
    ((u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
      const s = K_FWD.run<tf.Tensor3D>({ u, a, b });
      save([u, a, b, s]);
      return {
        value: s,
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
          const [u, a, b, s] = saved;
          return [
            K_GU.run({ dy, a, b }),
            K_GA.run({ dy, a, x: s }),
            K_GB.run({ dy, a, x: u }),
          ];
        },
      };
    }) as unknown as CustomFn,
  );
  return f(u, a, b) as unknown as tf.Tensor3D;
}
