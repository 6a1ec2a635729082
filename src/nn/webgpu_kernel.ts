/**
 * The tfjs-backend-webgpu plumbing shared by the fused WGSL kernels of `scan_webgpu.ts` and `conv_webgpu.ts`:
 * the backend check, program objects in the shape the backend expects, kernel registration through
 * `runWebGPUProgram` (so tfjs keeps managing the buffers) and running a registered kernel through the engine (so
 * `tf.profile` and `tf.memory` see it).
 *
 * A rule for every kernel built on this: its WGSL must read every input and the uniforms. tfjs-webgpu creates
 * pipelines with layout "auto", which drops unused bindings; the bind group it then makes (every input) fails
 * validation and the dispatch silently does not run, leaving the output buffer's old contents.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The function type `tf.customGrad` takes. */
export type CustomFn = Parameters<typeof tf.customGrad>[0];

/** Is the current tfjs backend webgpu (so the fused kernels can run)? */
export function webgpuBackendActive(): boolean {
  try {
    return tf.getBackend() === "webgpu";
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Programs in the shape tfjs-backend-webgpu expects (see its UnaryOpProgram): the backend prepends the buffer
// declarations (`result`, one `array<f32>` per variable name, `uniforms` with every input's and the output's shape)
// and calls `main(globalIndex)` for a flat dispatch layout; it also folds a dispatch too large for one dimension
// into y and z.

/** The fields of a tfjs-backend-webgpu program that the fused kernels set. */
export interface WebGPUProgramLike {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  getUserCode(): string;
  /** Program-defined uniforms, WGSL struct fields (e.g. `"eps : f32,"`), appended after the shapes. */
  uniforms?: string;
  /** Their values, in order (passed to `runWebGPUProgram`). */
  uniformData?: { type: "float32" | "int32"; data: number[] }[];
}

interface WebGPUBackendLike {
  runWebGPUProgram(
    program: WebGPUProgramLike,
    inputs: tf.TensorInfo[],
    dtype: "float32",
    uniformData?: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

/**
 * A flat program: `workgroups` workgroups (at least one) of `wg` lanes running `code`, cached by the backend under
 * `ssmlab_${key}`.
 */
export function webgpuProgram(
  key: string,
  variableNames: string[],
  outputShape: number[],
  workgroups: number,
  wg: number,
  code: string,
): WebGPUProgramLike {
  return {
    variableNames,
    outputShape,
    shaderKey: `ssmlab_${key}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.max(1, workgroups), 1, 1],
    workgroupSize: [wg, 1, 1],
    getUserCode: () => code,
  };
}

/**
 * Program-defined int32 uniforms, one WGSL field per entry, in order: spread into a program
 * (`{ ...webgpuProgram(…), ...intUniforms({ n: 4, nb: 1 }) }`).
 */
export function intUniforms(
  fields: Record<string, number>,
): Required<Pick<WebGPUProgramLike, "uniforms" | "uniformData">> {
  const names = Object.keys(fields);
  return {
    uniforms: names.map((n) => `${n} : i32,`).join(" "),
    uniformData: names.map((n) => ({ type: "int32" as const, data: [fields[n]] })),
  };
}

/**
 * Register `name` as a webgpu kernel (unless one is registered already) that runs the program `make` builds from
 * its inputs, taken in the order of `names`, and its attributes; float32 output.
 */
export function registerWebGPUKernel(
  name: string,
  names: string[],
  make: (ins: tf.TensorInfo[], attrs: Record<string, unknown>) => WebGPUProgramLike,
): void {
  if (tf.getKernel(name, "webgpu")) return;
  tf.registerKernel({
    kernelName: name,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const ins = names.map((n) => (inputs as Record<string, tf.TensorInfo>)[n]);
      const prog = make(ins, (attrs ?? {}) as Record<string, unknown>);
      return (backend as unknown as WebGPUBackendLike).runWebGPUProgram(
        prog,
        ins,
        "float32",
        prog.uniformData,
      );
    },
  });
}

/** Run the registered kernel `name` through the engine on named inputs and attributes. */
export function runWebGPUKernel<T extends tf.Tensor>(
  name: string,
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, number | number[]> = {},
): T {
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs) as unknown as T;
}
