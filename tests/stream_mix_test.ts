/**
 * Stream mixing (`src/nn/stream_mix.ts`): the tf-op form and the fused WGSL kernels against the slice reference
 * `streamMixRef`, values and gradients, on every backend here (webgpu where an adapter exists); a
 * finite-difference check; argument errors; no tensor leaks.
 */
import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertThrows } from "./assert.ts";
import { assertCloseAsync as close, normal } from "./tensor_assert.ts";
import { assertGradCheck } from "./gradcheck.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { streamMix, streamMixRef, streamMixWebGPU, streamScale } from "../src/nn/stream_mix.ts";
import { type Impl, withImpl } from "../src/nn/dispatch.ts";
import { Rng } from "../src/rng.ts";

/** [R, n, d, m]: square mixing, a simplex row (pre-mix, aggregator), a column (post), odd sizes, many rows. */
const SHAPES: [number, number, number, number][] = [
  [5, 4, 7, 4],
  [3, 4, 16, 1],
  [6, 1, 9, 4],
  [2, 3, 5, 2],
  [300, 4, 37, 4],
];

for (const { name: backend, ignore } of await backendCases()) {
  Deno.test({
    name: `[${backend}] streamMix equals the slice reference in values and gradients`,
    ignore,
    async fn() {
      await initBackend({ backend });
      const rng = new Rng(31);
      const n0 = tf.memory().numTensors;
      const impls: Impl[] = ["fast", "ops", "ref"];
      assertEquals(withImpl("fast", () => streamMix.kernel()), backend === "webgpu" ? "webgpu" : "ops");
      for (const [R, n, d, m] of SHAPES) {
        const x = normal(rng, [R, n, d]) as tf.Tensor3D;
        const w = normal(rng, [m, n]) as tf.Tensor2D;
        const p = normal(rng, [R, m, d]);
        const ref = streamMixRef(x, w);
        const loss = (f: (x: tf.Tensor3D, w: tf.Tensor2D) => tf.Tensor3D) => (x: tf.Tensor, w: tf.Tensor) =>
          tf.sum(tf.mul(f(x as tf.Tensor3D, w as tf.Tensor2D), p)) as tf.Scalar;
        const gr = tf.grads(loss(streamMixRef))([x, w]);
        for (const impl of impls) {
          const what = `R=${R} n=${n} d=${d} m=${m} impl ${impl}`;
          const y = withImpl(impl, () => streamMix(x, w));
          assertEquals(y.shape, [R, m, d], `${what} shape`);
          await close(y, ref, 1e-5, `${what} values`);
          const g = tf.grads(loss((x, w) => withImpl(impl, () => streamMix(x, w))))([x, w]);
          await close(g[0], gr[0], 1e-4, `${what} dx`);
          await close(g[1], gr[1], 1e-4, `${what} dw`);
          tf.dispose([y, ...g]);
        }
        tf.dispose([x, w, p, ref, ...gr]);
      }
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
    },
  });
}

Deno.test("[cpu] streamMix passes a finite-difference gradient check", async () => {
  await initBackend({ backend: "cpu" });
  const rng = new Rng(32);
  const x = normal(rng, [3, 4, 5]) as tf.Tensor3D;
  const w = normal(rng, [4, 4]) as tf.Tensor2D;
  assertGradCheck((a, b) => tf.sum(tf.square(streamMix(a as tf.Tensor3D, b as tf.Tensor2D))) as tf.Scalar, [
    x,
    w,
  ], {
    names: ["x", "w"],
  });
  tf.dispose([x, w]);
});

Deno.test("[cpu] streamMix rejects mismatched shapes and unknown implementations", async () => {
  await initBackend({ backend: "cpu" });
  const x = tf.zeros([2, 4, 3]) as tf.Tensor3D;
  assertThrows(() => streamMix(x, tf.zeros([4, 3]) as tf.Tensor2D), Error, 'argument "w" has shape [4, 3]');
  assertThrows(
    () => streamMix(tf.zeros([4, 3]) as unknown as tf.Tensor3D, tf.zeros([4, 4]) as tf.Tensor2D),
    Error,
    'argument "x" has shape [4, 3]',
  );
  assertThrows(
    () => withImpl("cuda" as Impl, () => streamMix(x, tf.zeros([4, 4]) as tf.Tensor2D)),
    Error,
    'implementation "cuda" is unknown',
  );
  assertThrows(() => streamMixWebGPU(x, tf.zeros([4, 4]) as tf.Tensor2D), Error, "needs the webgpu");
  tf.dispose(x);
});

for (const { name: backend, ignore } of await backendCases()) {
  Deno.test({
    name: `[${backend}] streamScale equals a per-stream multiply in values and gradients`,
    ignore,
    async fn() {
      await initBackend({ backend });
      const rng = new Rng(33);
      const n0 = tf.memory().numTensors;
      const x = normal(rng, [6, 4, 5]) as tf.Tensor3D;
      const w = normal(rng, [4]) as tf.Tensor1D;
      const p = normal(rng, [6, 4, 5]);
      const want = tf.tidy(() => streamMixRef(x, tf.mul(tf.eye(4), w.reshape([4, 1])) as tf.Tensor2D));
      const loss = (f: (x: tf.Tensor3D, w: tf.Tensor1D) => tf.Tensor3D) => (x: tf.Tensor, w: tf.Tensor) =>
        tf.sum(tf.mul(f(x as tf.Tensor3D, w as tf.Tensor1D), p)) as tf.Scalar;
      const gr = tf.grads(loss((x, w) => withImpl("ops", () => streamScale(x, w))))([x, w]);
      const y = streamScale(x, w);
      await close(y, want, 1e-5, "values");
      const g = tf.grads(loss(streamScale))([x, w]);
      await close(g[0], gr[0], 1e-4, "dx");
      await close(g[1], gr[1], 1e-4, "dw");
      const bad = tf.ones([3]) as tf.Tensor1D;
      assertThrows(() => streamScale(x, bad), Error, 'argument "w" has shape [3]');
      tf.dispose([x, w, p, want, y, bad, ...g, ...gr]);
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
    },
  });
}
