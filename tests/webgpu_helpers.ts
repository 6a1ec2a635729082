/**
 * WebGPU set-up shared by the tests that run on webgpu where an adapter exists: the adapter check (with the skip
 * message), the backend list of the per-backend tests, and a kernel count by `tf.profile`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Does `navigator.gpu?.requestAdapter()` give an adapter? */
export async function hasWebGpu(): Promise<boolean> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown | null> } }).gpu;
  return !!(await gpu?.requestAdapter().catch(() => null));
}

/** {@linkcode hasWebGpu}, warning "SKIPPED <skipped>: …" when there is no adapter. */
export async function webgpuOrWarn(skipped: string): Promise<boolean> {
  const gpu = await hasWebGpu();
  if (!gpu) {
    console.warn(`SKIPPED ${skipped}: no WebGPU adapter here (navigator.gpu?.requestAdapter() gave null)`);
  }
  return gpu;
}

/** cpu, wasm and webgpu, webgpu ignored without an adapter (warning "SKIPPED webgpu cases: …"). */
export async function backendCases(): Promise<{ name: string; ignore: boolean }[]> {
  const gpu = await webgpuOrWarn("webgpu cases");
  return [
    { name: "cpu", ignore: false },
    { name: "wasm", ignore: false },
    { name: "webgpu", ignore: !gpu },
  ];
}

/** Kernels run by fn (tf.profile), with every tensor it returns disposed. */
export async function countKernels(fn: () => tf.TensorContainer): Promise<number> {
  const info = await tf.profile(() => {
    const out = fn();
    tf.dispose(out);
  });
  return info.kernels.length;
}

/** Kernel counts of one per-layer op (forward + backward) in two implementations and of a whole training step. */
export interface StepKernelCounts {
  opSlow: number;
  opFused: number;
  /** The model's step as it runs (with the fused op). */
  stepFused: number;
  /** The same step with the slow op: the fused step plus `layers` × the per-op difference. */
  stepSlow: number;
}

/**
 * Count kernels of `opStep(slow)` and `opStep(fused)` and of one training step (loss + all gradients) of `model`,
 * which uses the fused op; the slow step is derived per layer, because the model picks its op by backend/config.
 */
export async function compareStepKernels<I extends string>(
  opStep: (impl: I) => () => tf.TensorContainer,
  slow: I,
  fused: I,
  model: { loss(x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar },
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  layers: number,
): Promise<StepKernelCounts> {
  const opSlow = await countKernels(opStep(slow));
  const opFused = await countKernels(opStep(fused));
  const stepFused = await countKernels(() => {
    const { value, grads } = tf.variableGrads(() => model.loss(x, y));
    return [value, ...Object.values(grads)];
  });
  return { opSlow, opFused, stepFused, stepSlow: stepFused + layers * (opSlow - opFused) };
}
