import * as tf from "@tensorflow/tfjs";
import { assert, assertThrows } from "./assert.ts";
import { assertGradCheck } from "./gradcheck.ts";
import { assertClose as close, normal } from "./tensor_assert.ts";
import { initBackend } from "../src/backend.ts";
import { causalDepthwiseConv1d, causalDepthwiseConv1dRef, longConv, longConvRef } from "../src/nn/conv.ts";
import { diagScan } from "../src/nn/scan.ts";
import { Rng } from "../src/rng.ts";

const BACKENDS = ["cpu", "wasm"];

for (const backend of BACKENDS) {
  Deno.test(`[${backend}] causalDepthwiseConv1d follows PyTorch's pad-then-crop convention`, async () => {
    await initBackend({ backend });
    tf.tidy(() => {
      // x = [1, 2, 3, 4], w = [w0, w1, w2] = [1, 10, 100], bias 0.5:
      // y_t = w0·x_{t−2} + w1·x_{t−1} + w2·x_t + b
      const x = tf.tensor3d([1, 2, 3, 4], [1, 4, 1]);
      const w = tf.tensor3d([1, 10, 100], [1, 1, 3]);
      const want = [100.5, 210.5, 321.5, 432.5];
      for (const fn of [causalDepthwiseConv1d, causalDepthwiseConv1dRef]) {
        const y = Array.from(fn(x, w, tf.tensor1d([0.5])).dataSync());
        assert(y.every((v, i) => Math.abs(v - want[i]) < 1e-4), `${fn.name}: ${y} vs ${want}`);
      }
    });
  });

  Deno.test(`[${backend}] causalDepthwiseConv1d matches the loop in values and gradients`, async () => {
    await initBackend({ backend });
    const rng = new Rng(1);
    const n0 = tf.memory().numTensors;
    for (const T of [1, 7, 64]) {
      for (const k of [1, 3, 4]) {
        for (const withBias of [true, false]) {
          tf.tidy(() => {
            const x = normal(rng, [2, T, 5]) as tf.Tensor3D;
            const w = normal(rng, [5, 1, k]) as tf.Tensor3D;
            const b = withBias ? normal(rng, [5]) as tf.Tensor1D : null;
            const p = normal(rng, [2, T, 5]);
            const tag = `T=${T} k=${k}${withBias ? "" : " no bias"}`;
            close(causalDepthwiseConv1d(x, w, b), causalDepthwiseConv1dRef(x, w, b), 1e-6, tag);
            const inputs = b ? [x, w, b] : [x, w];
            const loss = (fn: typeof causalDepthwiseConv1dRef) => (...z: tf.Tensor[]) =>
              tf.sum(
                tf.mul(fn(z[0] as tf.Tensor3D, z[1] as tf.Tensor3D, (z[2] ?? null) as tf.Tensor1D | null), p),
              ) as tf.Scalar;
            const gf = tf.grads(loss(causalDepthwiseConv1d))(inputs);
            const gr = tf.grads(loss(causalDepthwiseConv1dRef))(inputs);
            gf.forEach((g, i) => close(g, gr[i], 1e-5, `${tag} grad ${i}`));
          });
        }
      }
    }
    assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
  });

  Deno.test(`[${backend}] longConv matches the loop for any kernel length and block size`, async () => {
    await initBackend({ backend });
    const rng = new Rng(2);
    const n0 = tf.memory().numTensors;
    const cases: [number, number, number | undefined][] = [
      [1, 1, undefined],
      [7, 3, undefined],
      [7, 7, 3],
      [7, 12, 2],
      [64, 64, undefined],
      [64, 5, 8],
      [64, 100, 7],
      [200, 200, 16],
    ];
    for (const [T, L, chunk] of cases) {
      tf.tidy(() => {
        const u = normal(rng, [2, T, 3]) as tf.Tensor3D;
        const K = normal(rng, [3, L]) as tf.Tensor2D;
        const p = normal(rng, [2, T, 3]);
        const tag = `T=${T} L=${L} chunk=${chunk}`;
        close(longConv(u, K, { chunk }), longConvRef(u, K), 1e-5, tag);
        const gf = tf.grads((u: tf.Tensor, K: tf.Tensor) =>
          tf.sum(tf.mul(longConv(u as tf.Tensor3D, K as tf.Tensor2D, { chunk }), p)) as tf.Scalar
        )([u, K]);
        const gr = tf.grads((u: tf.Tensor, K: tf.Tensor) =>
          tf.sum(tf.mul(longConvRef(u as tf.Tensor3D, K as tf.Tensor2D), p)) as tf.Scalar
        )([u, K]);
        close(gf[0], gr[0], 1e-5, `${tag} du`);
        close(gf[1], gr[1], 1e-5, `${tag} dK`);
      });
    }
    assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
  });

  Deno.test(`[${backend}] longConv with kernel b·a^s equals the diagonal scan at T = 1024`, async () => {
    await initBackend({ backend });
    const rng = new Rng(3);
    tf.tidy(() => {
      const T = 1024;
      const a = [0.5, 0.99, 1e-4, 1 - 1e-4], b = [1, -2, 3, 0.5];
      const kv = new Float32Array(4 * T);
      for (let c = 0; c < 4; c++) for (let s = 0; s < T; s++) kv[c * T + s] = b[c] * Math.pow(a[c], s);
      const u = normal(rng, [1, T, 4]) as tf.Tensor3D;
      close(
        longConv(u, tf.tensor2d(kv, [4, T])),
        diagScan(u, tf.tensor1d(a), tf.tensor1d(b)),
        1e-4,
        "kernel vs scan",
      );
    });
  });

  Deno.test(`[${backend}] conv gradients agree with finite differences`, async () => {
    await initBackend({ backend });
    const rng = new Rng(4);
    tf.tidy(() => {
      const x = normal(rng, [2, 6, 3]) as tf.Tensor3D;
      const p = normal(rng, [2, 6, 3]);
      assertGradCheck(
        (x, w, b) =>
          tf.sum(
            tf.mul(causalDepthwiseConv1d(x as tf.Tensor3D, w as tf.Tensor3D, b as tf.Tensor1D), p),
          ) as tf.Scalar,
        [x, normal(rng, [3, 1, 4]), normal(rng, [3])],
        { names: ["x", "w", "bias"] },
      );
      assertGradCheck(
        (u, K) => tf.sum(tf.mul(longConv(u as tf.Tensor3D, K as tf.Tensor2D, { chunk: 4 }), p)) as tf.Scalar,
        [x, normal(rng, [3, 5])],
        { names: ["u", "kernel"] },
      );
    });
  });

  Deno.test(`[${backend}] convs reject bad shapes with clear messages`, async () => {
    await initBackend({ backend });
    tf.tidy(() => {
      const x = tf.zeros([2, 5, 3]) as tf.Tensor3D;
      assertThrows(
        () => causalDepthwiseConv1d(x, tf.zeros([3, 4]) as unknown as tf.Tensor3D, null),
        Error,
        "expected [D, 1, k] = [3, 1, k]",
      );
      assertThrows(
        () => causalDepthwiseConv1d(x, tf.zeros([3, 1, 4]) as tf.Tensor3D, tf.zeros([2]) as tf.Tensor1D),
        Error,
        `"bias" has shape [2]`,
      );
      assertThrows(
        () => longConv(x, tf.zeros([4, 5]) as tf.Tensor2D),
        Error,
        `"kernel" has shape [4, 5], expected [D, L] = [3, L]`,
      );
      assertThrows(() => longConv(x, tf.zeros([3, 5]) as tf.Tensor2D, { chunk: 0 }), Error, `"chunk" is 0`);
    });
  });
}
