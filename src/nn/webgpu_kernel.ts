/**
 * The tfjs-backend-webgpu plumbing shared by every fused WGSL kernel of `src/nn`: the backend check, program
 * objects in the shape the backend expects, and {@linkcode webgpuKernel}, a kernel registered with tfjs on its
 * first run (lazily: the webgpu backend package may not be loaded) through `runWebGPUProgram` (so tfjs keeps
 * managing the buffers) and run through the engine (so `tf.profile` and `tf.memory` see it).
 *
 * A rule for every kernel built on this: its WGSL must read every input and the uniforms. tfjs-webgpu creates
 * pipelines with layout "auto", which drops unused bindings; the bind group it then makes (every input) fails
 * validation and the dispatch silently does not run, leaving the output buffer's old contents.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpuBackendActive } from "./dispatch.ts";

/** The function type `tf.customGrad` takes (the one definition; every custom-gradient op casts to it). */
export type CustomFn = Parameters<typeof tf.customGrad>[0];

/**
 * Throw a clear error unless the webgpu backend is active (the first line of every `…WebGPU` function).
 * @param fn the caller's name, for the message
 */
export function requireWebGPU(fn: string): void {
  if (!webgpuBackendActive()) {
    throw new Error(`${fn}: needs the webgpu backend, but the current backend is "${tf.getBackend()}".`);
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
 * A flat program of one lane per element of `outputShape`: ⌈size / wg⌉ workgroups of `wg` lanes running `code`
 * (which returns for `index` ≥ size). With `sized`, the backend also passes the element count as `uniforms.size`.
 */
export function elementwiseProgram(
  key: string,
  variableNames: string[],
  outputShape: number[],
  code: string,
  { wg = 64, sized = false }: { wg?: number; sized?: boolean } = {},
): WebGPUProgramLike {
  const size = outputShape.reduce((a, b) => a * b, 1);
  const p = webgpuProgram(key, variableNames, outputShape, Math.ceil(size / wg), wg, code);
  return sized ? { ...p, size: true } as WebGPUProgramLike : p;
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

/** Makes a kernel's program from its inputs (in the order of its input names) and attributes. */
export type MakeProgram = (ins: tf.TensorInfo[], attrs: Record<string, unknown>) => WebGPUProgramLike;

/** A fused kernel made by {@linkcode webgpuKernel}. */
export interface WebGPUKernel {
  /** The tfjs kernel name (what `tf.profile` lists). */
  readonly name: string;
  /** Run it on named inputs and attributes (registering it first, once); float32 output. */
  run<T extends tf.Tensor>(inputs: Record<string, tf.Tensor>, attrs?: Record<string, number | number[]>): T;
}

/** Register `name` as a webgpu kernel (unless one is registered already) that runs the program `make` builds. */
function register(name: string, names: string[], make: MakeProgram): void {
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

/**
 * A webgpu kernel `name` with inputs `names` running the program `make` builds; registered with tfjs on its first
 * run, so a module can define its kernels at load time whether or not the webgpu backend is there.
 *
 * @param name tfjs kernel name (`Ssmlab…`)
 * @param names input names, in the order `make` receives them
 * @param make the program for given inputs and attributes
 * @example
 * ```ts
 * import { webgpuKernel, webgpuProgram } from "./webgpu_kernel.ts";
 * const DOUBLE = webgpuKernel("SsmlabDoubleExample", ["x"], ([x]) =>
 *   webgpuProgram("double_example", ["X"], x.shape, 1, 64, `
 *   fn main(index : i32) {
 *     if (index < uniforms.xShape) { result[index] = 2.0 * X[index]; }
 *   }`));
 * // on webgpu: DOUBLE.run({ x: tf.ones([8]) }) → 8 × 2
 * ```
 */
export function webgpuKernel(name: string, names: string[], make: MakeProgram): WebGPUKernel {
  let registered = false;
  return {
    name,
    run<T extends tf.Tensor>(
      inputs: Record<string, tf.Tensor>,
      attrs: Record<string, number | number[]> = {},
    ): T {
      if (!registered) {
        register(name, names, make);
        registered = true;
      }
      return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs) as unknown as T;
    },
  };
}
