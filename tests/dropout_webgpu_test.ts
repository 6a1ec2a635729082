/**
 * GPU dropout masks (`src/nn/dropout_webgpu.ts`): values in {0, 1/(1−p)}, drop rate within binomial noise, the
 * same mask for the same seed and a different one for another, and `dropout` on webgpu uploads no host array.
 * webgpu only: skipped (with a message) where `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { dropoutMaskWebGPU } from "../src/nn/dropout_webgpu.ts";
import { dropout } from "../src/nn/linear.ts";
import { Rng } from "../src/rng.ts";

const GPU = await webgpuOrWarn("dropout_webgpu tests");

Deno.test({
  name: "[webgpu] dropoutMaskWebGPU: values, rate, determinism by seed",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const n0 = tf.memory().numTensors;
    for (const p of [0.1, 0.5]) {
      const shape = [64, 1000];
      const read = async (seed: number) => {
        const t = dropoutMaskWebGPU(shape, p, seed);
        const v = await t.data();
        t.dispose();
        return v;
      };
      const [a, b, c, big] = [
        await read(12345),
        await read(12345),
        await read(12346),
        await read(2 ** 40 + 7),
      ];
      const n = a.length;
      let drops = 0, same = 0, sameSeedBig = 0;
      for (let i = 0; i < n; i++) {
        assert(a[i] === 0 || Math.abs(a[i] - 1 / (1 - p)) < 1e-6, `value ${a[i]} at ${i}`);
        if (a[i] === 0) drops++;
        if (a[i] === c[i]) same++;
        if (a[i] === big[i]) sameSeedBig++;
        assertEquals(a[i], b[i], "same seed, same mask");
      }
      const sd = Math.sqrt(n * p * (1 - p));
      assert(
        Math.abs(drops - n * p) < 5 * sd,
        `p=${p}: ${drops} of ${n} dropped (expected ${n * p} ± ${sd})`,
      );
      const agree = p * p + (1 - p) * (1 - p); // chance two independent masks agree at an entry
      assert(Math.abs(same / n - agree) < 0.02, `p=${p}: seeds 12345 and 12346 agree at ${same / n}`);
      assert(Math.abs(sameSeedBig / n - agree) < 0.02, `p=${p}: high seed bits change the mask`);
    }
    // neighbouring entries are not correlated
    const mt = dropoutMaskWebGPU([100000], 0.5, 9);
    const m = await mt.data();
    mt.dispose();
    let pairs = 0;
    for (let i = 1; i < m.length; i++) if ((m[i] === 0) === (m[i - 1] === 0)) pairs++;
    assert(Math.abs(pairs / (m.length - 1) - 0.5) < 0.02, `neighbour agreement ${pairs / (m.length - 1)}`);
    assertThrows(() => dropoutMaskWebGPU([2], 1, 0), Error, 'got "1"');
    assertEquals(tf.memory().numTensors, n0 + 0, "no tensor leaks");
  },
});

Deno.test({
  name: "[webgpu] dropout draws its mask on the GPU: no host array uploaded, gradient = mask",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const x = tf.ones([32, 64]);
    const be = tf.backend() as unknown as { write: (...a: unknown[]) => unknown };
    const orig = be.write;
    let uploaded = 0;
    be.write = function (...args: unknown[]) {
      const values = args[0] as { length?: number } | null;
      if (values && (values.length ?? 0) > 2) uploaded += values.length!;
      return orig.apply(be, args);
    };
    let y: tf.Tensor, g: tf.Tensor;
    try {
      y = dropout(x, 0.25, true, new Rng(3));
      g = tf.grad((z: tf.Tensor) => tf.sum(dropout(z, 0.25, true, new Rng(3))))(x);
    } finally {
      be.write = orig;
    }
    assertEquals(uploaded, 0, "elements uploaded from the host");
    const [yv, gv] = [await y.data(), await g.data()];
    for (let i = 0; i < yv.length; i++) assertEquals(gv[i], yv[i], `gradient at ${i} equals the mask`);
    assertEquals(dropout(x, 0.25, false, new Rng(3)), x, "identity when not training");
    tf.dispose([x, y, g]);
  },
});
