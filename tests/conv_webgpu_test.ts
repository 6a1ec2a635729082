/**
 * The fused WGSL causal depthwise conv (`src/nn/conv_webgpu.ts`) against the plain-loop `causalDepthwiseConv1dRef`
 * in values and gradients (x, w, bias), the `withImpl` dispatch of `causalDepthwiseConv1d`, and the dispatch count of a
 * tiny baseline training step against the slice version. webgpu only: skipped (with a message) where
 * `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { assertCloseAsync as close, batch, normal } from "./tensor_assert.ts";
import { compareStepKernels, webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { causalDepthwiseConv1d, causalDepthwiseConv1dRef } from "../src/nn/conv.ts";
import { type Impl, withImpl } from "../src/nn/dispatch.ts";
import { causalDepthwiseConv1dWebGPU, webgpuConvAvailable } from "../src/nn/conv_webgpu.ts";
import { BaselineSLM, mhcConfig } from "../src/models/diag_ssm.ts";
import { Rng } from "../src/rng.ts";

const GPU = await webgpuOrWarn("conv_webgpu tests");

type ConvFn = (x: tf.Tensor3D, w: tf.Tensor3D, bias: tf.Tensor1D | null) => tf.Tensor3D;

Deno.test({
  name: "[webgpu] causalDepthwiseConv1dWebGPU matches the loop in values and gradients (k, T, D, bias)",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    assert(webgpuConvAvailable(), "webgpuConvAvailable() on webgpu");
    assertEquals(causalDepthwiseConv1d.kernel(), "webgpu", "the fast path is the fused conv");
    const rng = new Rng(21);
    const n0 = tf.memory().numTensors;
    const B = 2;
    for (const k of [1, 3, 4]) {
      for (const T of [1, 2, 5, 64]) {
        for (const D of [3, 16]) {
          for (const withBias of [false, true]) {
            const what = `B=${B} T=${T} D=${D} k=${k} bias=${withBias}`;
            const x = normal(rng, [B, T, D]) as tf.Tensor3D;
            const w = normal(rng, [D, 1, k]) as tf.Tensor3D;
            const bias = withBias ? normal(rng, [D]) as tf.Tensor1D : null;
            const p = normal(rng, [B, T, D]); // random projection of the output for the loss
            const yf = causalDepthwiseConv1dWebGPU(x, w, bias), yr = causalDepthwiseConv1dRef(x, w, bias);
            await close(yf, yr, 1e-5, `${what} values`);
            const ya = causalDepthwiseConv1d(x, w, bias); // fast → fused on webgpu
            const yw = withImpl("ref", () => causalDepthwiseConv1d(x, w, bias));
            const ys = withImpl("ops", () => causalDepthwiseConv1d(x, w, bias));
            for (const [y, n] of [[ya, "fast"], [yw, "ref"], [ys, "ops"]] as const) {
              await close(y, yr, 1e-5, `${what} impl ${n}`);
            }
            const inputs = bias ? [x, w, bias] : [x, w];
            const loss = (fn: ConvFn) => (...z: tf.Tensor[]) =>
              tf.sum(
                tf.mul(fn(z[0] as tf.Tensor3D, z[1] as tf.Tensor3D, (z[2] ?? null) as tf.Tensor1D), p),
              ) as tf.Scalar;
            const gf = tf.grads(loss(causalDepthwiseConv1dWebGPU))(inputs);
            const gr = tf.grads(loss(causalDepthwiseConv1dRef))(inputs);
            for (let i = 0; i < inputs.length; i++) {
              await close(gf[i], gr[i], 1e-4, `${what} ${["dx", "dw", "dbias"][i]}`);
            }
            tf.dispose([x, w, p, yf, yr, ya, yw, ys, ...gf, ...gr]);
            if (bias) bias.dispose();
          }
        }
      }
    }
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  },
});

Deno.test({
  name: "[webgpu] causalDepthwiseConv1dWebGPU: larger shapes (reduction over many rows, tiles of channels)",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const rng = new Rng(22);
    const n0 = tf.memory().numTensors;
    const [B, T, D, k] = [3, 200, 37, 4];
    const x = normal(rng, [B, T, D]) as tf.Tensor3D;
    const w = normal(rng, [D, 1, k]) as tf.Tensor3D;
    const bias = normal(rng, [D]) as tf.Tensor1D;
    const p = normal(rng, [B, T, D]);
    const loss = (fn: ConvFn) => (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(fn(x as tf.Tensor3D, w as tf.Tensor3D, b as tf.Tensor1D), p)) as tf.Scalar;
    const gf = tf.grads(loss(causalDepthwiseConv1dWebGPU))([x, w, bias]);
    const gs = tf.grads(loss((x, w, b) => withImpl("ops", () => causalDepthwiseConv1d(x, w, b))))([
      x,
      w,
      bias,
    ]);
    for (let i = 0; i < 3; i++) await close(gf[i], gs[i], 1e-4, `${["dx", "dw", "dbias"][i]}`);
    tf.dispose([x, w, bias, p, ...gf, ...gs]);
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  },
});

Deno.test({
  name: "[webgpu] causalDepthwiseConv1dWebGPU checks its arguments and handles T = 0",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const x = tf.zeros([2, 4, 3]) as tf.Tensor3D,
      w = tf.zeros([3, 1, 2]) as tf.Tensor3D,
      b2 = tf.ones([2]) as tf.Tensor1D;
    assertThrows(() => causalDepthwiseConv1dWebGPU(x, w, b2), Error, 'argument "bias" has shape [2]');
    assertThrows(
      () => causalDepthwiseConv1dWebGPU(x, tf.zeros([3, 2]) as unknown as tf.Tensor3D, null),
      Error,
      'argument "w" has shape [3, 2]',
    );
    assertThrows(
      () => withImpl("fft" as Impl, () => causalDepthwiseConv1d(x, w, null)),
      Error,
      'implementation "fft" is unknown',
    );
    const e = causalDepthwiseConv1dWebGPU(tf.zeros([2, 0, 3]) as tf.Tensor3D, w, null);
    assertEquals(e.shape, [2, 0, 3]);
    tf.dispose([x, w, b2, e]);
  },
});

Deno.test({
  name: "[webgpu] a baseline tiny training step runs fewer kernels with the fused conv than the slice conv",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const cfg = mhcConfig({ kind: "baseline" }, "tiny");
    const [B, T] = [2, cfg.maxLen];
    const { x, y } = batch(cfg.vocabSize, B, T, 3);
    const rng = new Rng(4);
    const u = normal(rng, [B, T, cfg.dim]) as tf.Tensor3D;
    const w = normal(rng, [cfg.dim, 1, cfg.convKernel]) as tf.Tensor3D;
    const b = normal(rng, [cfg.dim]) as tf.Tensor1D;
    // One conv forward + backward, as a training step runs it per layer.
    const convStep = (impl: "ops" | "fast") => () =>
      tf.grads((u: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          withImpl(impl, () => causalDepthwiseConv1d(u as tf.Tensor3D, w as tf.Tensor3D, b as tf.Tensor1D)),
        ) as tf.Scalar
      )([u, w, b]);
    const model = new BaselineSLM(cfg, 7); // the fused conv is auto on webgpu
    const c = await compareStepKernels(convStep, "ops", "fast", model, x, y, cfg.layers);
    const [convSlices, convFused, stepSlices, stepFused] = [c.opSlow, c.opFused, c.stepSlow, c.stepFused];
    console.log(
      `kernels per conv fwd+bwd (B=${B}, T=${T}, D=${cfg.dim}, k=${cfg.convKernel}): slices ${convSlices}, ` +
        `fused ${convFused}; tiny baseline training step (${cfg.layers} layers): slices ${stepSlices}, ` +
        `fused ${stepFused}`,
    );
    assert(convFused < convSlices, `fused ${convFused} kernels vs slices ${convSlices}`);
    assert(stepFused < stepSlices, `fused step ${stepFused} vs slices ${stepSlices}`);
    model.dispose();
    tf.dispose([x, y, u, w, b]);
  },
});
