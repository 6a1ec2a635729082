/**
 * Device-side gradients for tfjs's `Sum` and `Mean` kernels.
 *
 * tfjs 4.22's built-in gradients of both multiply the upstream gradient by `ones(x.shape)`, which tfjs-core builds
 * as a host array and uploads on every backward pass (16 MiB for each RMSNorm mean over an mHC activation at the
 * published size). On the webgpu backend such uploads dominated a training step on the GPU (results/bench/h100/
 * README.md, "Session 1"). The gradients registered here broadcast the upstream gradient on the device instead: the
 * same values, no host data.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

let installed = false;

/**
 * The upstream gradient reshaped to `x` with the reduced axes kept (size 1), broadcast back to `x`'s shape: on the
 * device by `broadcastTo` on webgpu; elsewhere as tfjs does it (times host ones), which is faster on cpu and wasm
 * (their Tile kernel is slower than a broadcast multiply; no upload there).
 */
function broadcastBack(dy: tf.Tensor, x: tf.Tensor, axis: number | number[]): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const kept = x.shape.slice();
  for (const a of axes) kept[a] = 1;
  const r = tf.reshape(dy, kept);
  return tf.getBackend() === "webgpu" ? tf.broadcastTo(r, x.shape) : tf.mul(r, tf.ones(x.shape, "float32"));
}

/**
 * Register the device-side `Sum` and `Mean` gradients (once per process; {@linkcode initBackend} calls this).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { installDeviceGradients } from "./device_grads.ts";
 * installDeviceGradients();
 * const g = tf.grad((x: tf.Tensor) => tf.mean(x))(tf.ones([2, 2])); // 0.25 everywhere
 * ```
 */
export function installDeviceGradients(): void {
  if (installed) return;
  tf.registerGradient({
    kernelName: "Sum",
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0];
      const { axis } = attrs as unknown as { axis: number | number[] };
      return { x: () => broadcastBack(dy as tf.Tensor, x, axis) };
    },
  });
  tf.registerGradient({
    kernelName: "Mean",
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0];
      const { axis } = attrs as unknown as { axis: number | number[] };
      const axes = tf.util.parseAxisParam(axis, x.shape);
      const n = axes.reduce((s, a) => s * x.shape[a], 1);
      return { x: () => tf.div(broadcastBack(dy as tf.Tensor, x, axis), n) };
    },
  });
  installed = true;
}
