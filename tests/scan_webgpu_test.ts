/**
 * The fused WGSL diagonal scan (`src/nn/scan_webgpu.ts`) against the plain-loop `diagScanRef` in values and
 * gradients, inside the baseline model against `scan: "ref"`, and its dispatch count against the parallel tf-op
 * scan. webgpu only: skipped (with a message) where `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { assertCloseAsync as close, batch, normal } from "./tensor_assert.ts";
import { compareStepKernels, webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { diagScan, diagScanRef } from "../src/nn/scan.ts";
import { withImpl } from "../src/nn/dispatch.ts";
import { diagScanWebGPU, webgpuScanAvailable } from "../src/nn/scan_webgpu.ts";
import { BaselineSLM, mhcConfig } from "../src/models/diag_ssm.ts";
import { Rng } from "../src/rng.ts";

const GPU = await webgpuOrWarn("scan_webgpu tests");

/** Decays near 0 and near 1 (plus a negative and mid values), cycled to D entries. */
function decays(D: number): tf.Tensor1D {
  const base = [1e-4, 1 - 1e-4, 0.5, 0.999, 1e-6, 0.99, -0.5, 1 - 1e-6];
  return tf.tensor1d(Array.from({ length: D }, (_, i) => base[i % base.length]));
}

Deno.test({
  name: "[webgpu] diagScanWebGPU matches the loop in values and gradients (T ∈ {1, 7, 64, 300}, D ∈ {3, 16})",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    assert(webgpuScanAvailable(), "webgpuScanAvailable() on webgpu");
    const rng = new Rng(11);
    const n0 = tf.memory().numTensors;
    for (const T of [1, 7, 64, 300]) {
      for (const D of [3, 16]) {
        const B = 2;
        const u = normal(rng, [B, T, D]) as tf.Tensor3D;
        const a = decays(D);
        const b = normal(rng, [D]) as tf.Tensor1D;
        const w = normal(rng, [B, T, D]); // random projection of the output for the loss
        const loss = (fn: typeof diagScanRef) => (u: tf.Tensor, a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(fn(u as tf.Tensor3D, a as tf.Tensor1D, b as tf.Tensor1D), w)) as tf.Scalar;
        const what = `B=${B} T=${T} D=${D}`;
        const sf = diagScanWebGPU(u, a, b), sr = diagScanRef(u, a, b);
        await close(sf, sr, 1e-5, `${what} values`);
        assertEquals(diagScan.kernel(), "webgpu", "the fast path is the fused scan");
        const sa = diagScan(u, a, b); // fast → fused on webgpu
        const sw = withImpl("ops", () => diagScan(u, a, b)); // the parallel tf-op scan
        await close(sa, sr, 1e-5, `${what} diagScan fast`);
        await close(sw, sr, 1e-5, `${what} diagScan ops`);
        const gf = tf.grads(loss(diagScanWebGPU))([u, a, b]);
        const gr = tf.grads(loss(diagScanRef))([u, a, b]);
        for (let i = 0; i < 3; i++) await close(gf[i], gr[i], 1e-4, `${what} ${["du", "da", "db"][i]}`);
        tf.dispose([u, a, b, w, sf, sr, sa, sw, ...gf, ...gr]);
      }
    }
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  },
});

Deno.test({
  name: "[webgpu] diagScanWebGPU checks its arguments and handles T = 0",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const u = tf.zeros([2, 4, 3]) as tf.Tensor3D,
      a = tf.ones([3]) as tf.Tensor1D,
      b2 = tf.ones([2]) as tf.Tensor1D;
    assertThrows(() => diagScanWebGPU(u, a, b2), Error, 'argument "b" has shape [2]');
    const e = diagScanWebGPU(tf.zeros([2, 0, 3]) as tf.Tensor3D, a, a);
    assertEquals(e.shape, [2, 0, 3]);
    tf.dispose([u, a, b2, e]);
  },
});

Deno.test({
  name: '[webgpu] baseline tiny model: fused scan gives the loss and gradients of scan: "ref"',
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const { x, y } = batch(128, 2, 12, 5);
    const n0 = tf.memory().numTensors;
    const fast = new BaselineSLM(mhcConfig({ kind: "baseline", scan: "fast" }, "tiny"), 7);
    const ref = new BaselineSLM(mhcConfig({ kind: "baseline", scan: "ref" }, "tiny"), 7);
    const gf = tf.variableGrads(() => fast.loss(x, y));
    const gr = tf.variableGrads(() => ref.loss(x, y));
    const lf = (await gf.value.data())[0], lr = (await gr.value.data())[0];
    assert(Math.abs(lf - lr) <= 1e-4 * Math.abs(lr), `loss ${lf} vs ${lr}`);
    for (const [name, v] of fast.weights) {
      await close(gf.grads[v.name], gr.grads[ref.weights.get(name)!.name], 1e-4, `grad ${name}`);
    }
    tf.dispose([gf.value, gr.value, ...Object.values(gf.grads), ...Object.values(gr.grads)]);
    fast.dispose();
    ref.dispose();
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
    tf.dispose([x, y]);
  },
});

Deno.test({
  name:
    "[webgpu] a baseline tiny training step runs fewer kernels with the fused scan than the parallel scan",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const cfg = mhcConfig({ kind: "baseline" }, "tiny");
    const [B, T] = [2, cfg.maxLen];
    const { x, y } = batch(cfg.vocabSize, B, T, 3);
    const rng = new Rng(4);
    const u = normal(rng, [B, T, cfg.dim]) as tf.Tensor3D, a = decays(cfg.dim), b = normal(rng, [cfg.dim]);
    // One scan forward + backward, as a training step runs it per layer.
    const scanStep = (impl: "ops" | "fast") => () =>
      tf.grads((u: tf.Tensor, a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          withImpl(impl, () => diagScan(u as tf.Tensor3D, a as tf.Tensor1D, b as tf.Tensor1D)),
        ) as tf.Scalar
      )([u, a, b]);
    const model = new BaselineSLM(cfg, 7); // scan: "fast" → fused on webgpu
    const c = await compareStepKernels(scanStep, "ops", "fast", model, x, y, cfg.layers);
    const [scanParallel, scanFused, stepParallel, stepFused] = [c.opSlow, c.opFused, c.stepSlow, c.stepFused];
    console.log(
      `kernels per scan fwd+bwd (B=${B}, T=${T}, D=${cfg.dim}): parallel ${scanParallel}, fused ${scanFused}; ` +
        `tiny baseline training step (${cfg.layers} layers): parallel ${stepParallel}, fused ${stepFused}`,
    );
    assert(scanFused < scanParallel, `fused ${scanFused} kernels vs parallel ${scanParallel}`);
    assert(stepFused < stepParallel, `fused step ${stepFused} vs parallel ${stepParallel}`);
    model.dispose();
    tf.dispose([x, y, u, a, b]);
  },
});
