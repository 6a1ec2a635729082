/**
 * The fused webgpu adapter + residual (`src/nn/adapter.ts`) against its tf-op form `adapterResidualRef`: values
 * and the gradients of x and all six weights, pre-adapter (n streams) and post-adapter (one stream broadcast),
 * with and without dropout (one seed: the same mask), no tensor leaks. webgpu only: skipped (with a message) where
 * `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assertEquals } from "./assert.ts";
import { assertClose, normal } from "./tensor_assert.ts";
import { webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { adapterResidual, adapterResidualRef, type AdapterWeights } from "../src/nn/adapter.ts";
import { Rng } from "../src/rng.ts";

const GPU = await webgpuOrWarn("adapter tests");

Deno.test({
  name:
    "[webgpu] fused adapter + residual equals the tf-op form in values and all gradients (dropout included)",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const rng = new Rng(91);
    const n0 = tf.memory().numTensors;
    const [B, T, n, d, r] = [2, 5, 4, 24, 8];
    for (const nb of [n, 1]) {
      for (const rate of [0, 0.25]) {
        const what = `streams ${nb}, dropout ${rate}`;
        const x = normal(rng, [B, T, nb, d]);
        const ws = [
          normal(rng, [d], 0.2, 1),
          normal(rng, [r, d], 0.3),
          normal(rng, [r], 0.1),
          normal(rng, [d, r], 0.3),
          normal(rng, [d], 0.1),
          normal(rng, [n, r], 0.3, 1),
        ];
        const p = normal(rng, [B, T, n, d]);
        const weights = (a: tf.Tensor[]): AdapterWeights => ({
          normW: a[0],
          downW: a[1],
          downB: a[2],
          upW: a[3],
          upB: a[4],
          gamma: a[5],
        });
        const loss = (f: typeof adapterResidualRef, seed: number) => (...a: tf.Tensor[]) =>
          tf.sum(
            tf.mul(
              f(a[0] as tf.Tensor4D, weights(a.slice(1)), { rate, training: true, rng: new Rng(seed) }),
              p,
            ),
          );
        const fused = tf.valueAndGrads(loss(adapterResidual, 7))([x, ...ws]);
        const ref = tf.valueAndGrads(loss(adapterResidualRef, 7))([x, ...ws]);
        assertClose(await fused.value.data(), await ref.value.data(), 1e-4, `${what}: value`);
        const names = ["x", "normW", "downW", "downB", "upW", "upB", "gamma"];
        for (let i = 0; i < names.length; i++) {
          assertEquals(fused.grads[i].shape, ref.grads[i].shape, `${what}: d${names[i]} shape`);
          assertClose(await fused.grads[i].data(), await ref.grads[i].data(), 1e-4, `${what}: d${names[i]}`);
        }
        tf.dispose([x, ...ws, p, fused.value, ...fused.grads, ref.value, ...ref.grads]);
      }
    }
    // no tape (inference): nothing kept
    const x = tf.randomNormal([1, 3, n, d]) as tf.Tensor4D;
    const w: AdapterWeights = {
      normW: tf.ones([d]),
      downW: tf.randomNormal([r, d]),
      downB: tf.zeros([r]),
      upW: tf.randomNormal([d, r]),
      upB: tf.zeros([d]),
      gamma: tf.ones([n, r]),
    };
    const n1 = tf.memory().numTensors;
    const y = adapterResidual(x, w, { rate: 0.1, training: false, rng: new Rng(1) });
    await y.data();
    y.dispose();
    assertEquals(tf.memory().numTensors, n1, "inference leaks nothing");
    tf.dispose([x, ...Object.values(w)]);
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  },
});
