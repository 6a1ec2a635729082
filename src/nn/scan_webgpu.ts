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

/** The function type `tf.customGrad` takes. */
type CustomFn = Parameters<typeof tf.customGrad>[0];

/** Lanes per workgroup (also the reduction width of the parameter-gradient kernels). */
const WG = 64;

/** Is the current tfjs backend webgpu (so {@linkcode diagScanWebGPU} can run)? */
export function webgpuScanAvailable(): boolean {
  try {
    return tf.getBackend() === "webgpu";
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Programs in the shape tfjs-backend-webgpu expects (see its UnaryOpProgram): the backend prepends the buffer
// declarations (`result`, one `array<f32>` per variable name, `uniforms` with every input's and the output's shape)
// and calls `main(globalIndex)` for a flat dispatch layout.

interface WebGPUProgramLike {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  getUserCode(): string;
}

interface WebGPUBackendLike {
  runWebGPUProgram(program: WebGPUProgramLike, inputs: tf.TensorInfo[], dtype: "float32"): tf.TensorInfo;
}

function program(
  key: string,
  variableNames: string[],
  outputShape: number[],
  threads: number,
  code: string,
): WebGPUProgramLike {
  return {
    variableNames,
    outputShape,
    shaderKey: `ssmlab_${key}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.max(1, Math.ceil(threads / WG)), 1, 1],
    workgroupSize: [WG, 1, 1],
    getUserCode: () => code,
  };
}

/** Forward: one invocation per (batch, channel). Inputs U [B,T,D], A [D], Bv [D]; output s [B,T,D]. */
const FWD_CODE = `
  fn main(index : i32) {
    let nB = uniforms.outShape.x;
    let nT = uniforms.outShape.y;
    let nD = uniforms.outShape.z;
    if (index >= nB * nD) { return; }
    let bi = index / nD;
    let d = index - bi * nD;
    let av = A[d];
    let bv = Bv[d];
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
  fn main(index : i32) {
    let nB = uniforms.outShape.x;
    let nT = uniforms.outShape.y;
    let nD = uniforms.outShape.z;
    if (index >= nB * nD) { return; }
    let bi = index / nD;
    let d = index - bi * nD;
    let av = A[d];
    let bv = Bv[d];
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

const K_FWD = "SsmlabDiagScan";
const K_GU = "SsmlabDiagScanGradU";
const K_GA = "SsmlabDiagScanGradA";
const K_GB = "SsmlabDiagScanGradB";

let registered = false;

function ensureKernels(): void {
  if (registered) return;
  const reg = (name: string, make: (ins: tf.TensorInfo[]) => WebGPUProgramLike, names: string[]) => {
    if (tf.getKernel(name, "webgpu")) return;
    tf.registerKernel({
      kernelName: name,
      backendName: "webgpu",
      kernelFunc: ({ inputs, backend }) => {
        const ins = names.map((n) => (inputs as Record<string, tf.TensorInfo>)[n]);
        return (backend as unknown as WebGPUBackendLike).runWebGPUProgram(make(ins), ins, "float32");
      },
    });
  };
  reg(K_FWD, ([u]) => {
    const [B, , D] = u.shape;
    return program("diagscan_fwd", ["U", "A", "Bv"], u.shape, B * D, FWD_CODE);
  }, ["u", "a", "b"]);
  reg(K_GU, ([dy]) => {
    const [B, , D] = dy.shape;
    return program("diagscan_gu", ["Dy", "A", "Bv"], dy.shape, B * D, GRAD_U_CODE);
  }, ["dy", "a", "b"]);
  reg(K_GA, ([dy]) => {
    const D = dy.shape[2];
    return program("diagscan_ga", ["Dy", "A", "X"], [D], D * WG, gradParamCode(true));
  }, ["dy", "a", "x"]);
  reg(K_GB, ([dy]) => {
    const D = dy.shape[2];
    return program("diagscan_gb", ["Dy", "A", "X"], [D], D * WG, gradParamCode(false));
  }, ["dy", "a", "x"]);
  registered = true;
}

function run<T extends tf.Tensor>(name: string, inputs: Record<string, tf.Tensor>): T {
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, {}) as unknown as T;
}

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
  if (!webgpuScanAvailable()) {
    throw new Error(
      `diagScanWebGPU: needs the webgpu backend, but the current backend is "${tf.getBackend()}".`,
    );
  }
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
  ensureKernels();
  const f = tf.customGrad(
    ((u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
      const s = run<tf.Tensor3D>(K_FWD, { u, a, b });
      save([u, a, b, s]);
      return {
        value: s,
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
          const [u, a, b, s] = saved;
          return [
            run(K_GU, { dy, a, b }),
            run(K_GA, { dy, a, x: s }),
            run(K_GB, { dy, a, x: u }),
          ];
        },
      };
    }) as unknown as CustomFn,
  );
  return f(u, a, b) as unknown as tf.Tensor3D;
}
