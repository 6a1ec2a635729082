/**
 * The fused WGSL RMSNorm (`src/nn/norm_webgpu.ts`) against the tf-op form `rmsNormOps` (values and gradients in x
 * and w) and the loop `rmsNormRef` (values), rows of widths below, at and above the 64 lanes of a workgroup.
 * webgpu only: skipped (with a message) where `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { assertClose, assertCloseAsync as close, normal } from "./tensor_assert.ts";
import { countKernels, webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { rmsNorm, rmsNormOps, rmsNormRef } from "../src/nn/norm.ts";
import { rmsNormWebGPU } from "../src/nn/norm_webgpu.ts";
import { Rng } from "../src/rng.ts";

const GPU = await webgpuOrWarn("norm_webgpu tests");

Deno.test({
  name: "[webgpu] rmsNormWebGPU equals the tf-op RMSNorm and the loop, gradients included",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const rng = new Rng(61);
    const n0 = tf.memory().numTensors;
    for (const shape of [[3, 5], [2, 7, 64], [4, 130], [2, 3, 4, 512]]) {
      for (const eps of [1e-6, 1e-5]) {
        const d = shape[shape.length - 1];
        const x = normal(rng, shape);
        const w = normal(rng, [d], 0.5, 1);
        const p = normal(rng, shape);
        const what = `[${shape}] eps ${eps}`;
        const yf = rmsNormWebGPU(x, w, eps), yo = rmsNormOps(x, w, eps), ya = rmsNorm(x, w, eps);
        await close(yf, yo, 1e-5, `${what} values vs ops`);
        await close(ya, yo, 1e-5, `${what} rmsNorm on webgpu`);
        const ref = rmsNormRef((await x.data()) as Float32Array, (await w.data()) as Float32Array, eps);
        assertClose(await yf.data(), ref, 1e-5, `${what} values vs loop`);
        const loss = (f: typeof rmsNormOps) => (x: tf.Tensor, w: tf.Tensor) =>
          tf.sum(tf.mul(f(x, w, eps), p)) as tf.Scalar;
        const gf = tf.grads(loss(rmsNormWebGPU))([x, w]);
        const go = tf.grads(loss(rmsNormOps))([x, w]);
        await close(gf[0], go[0], 1e-4, `${what} dx`);
        await close(gf[1], go[1], 1e-4, `${what} dw`);
        tf.dispose([x, w, p, yf, yo, ya, ...gf, ...go]);
      }
    }
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  },
});

Deno.test({
  name: "[webgpu] fused RMSNorm: fewer kernels than the tf-op form (forward + backward)",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const x = tf.randomNormal([4, 16, 32]), w = tf.ones([32]);
    const k = (f: typeof rmsNormOps) =>
      countKernels(() => tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(f(x, w)))([x, w]));
    const fused = await k(rmsNormWebGPU), ops = await k(rmsNormOps);
    assert(fused * 2 < ops, `fused ${fused} kernels vs tf ops ${ops}`);
    tf.dispose([x, w]);
  },
});
