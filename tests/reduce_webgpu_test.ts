/**
 * The leading-axes sum of `src/nn/reduce_webgpu.ts` against a plain loop, directly and through `tf.sum` (which
 * `initBackend` routes to it on webgpu), with keepDims, and the gradients of broadcast ops that use it. webgpu
 * only: skipped (with a message) where `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { assertClose } from "./tensor_assert.ts";
import { webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { sumLeadingWebGPU } from "../src/nn/reduce_webgpu.ts";
import { Rng } from "../src/rng.ts";

const GPU = await webgpuOrWarn("reduce_webgpu tests");

/** Σ over the first k axes of a row-major array of `shape`. */
function sumLeadingRef(x: ArrayLike<number>, shape: number[], k: number): Float64Array {
  const C = shape.slice(k).reduce((a, b) => a * b, 1), R = x.length / C;
  const out = new Float64Array(C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c] += x[r * C + c];
  return out;
}

Deno.test({
  name: "[webgpu] sum over leading axes equals the loop (direct, tf.sum, keepDims), one kernel, no transpose",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const rng = new Rng(81);
    const n0 = tf.memory().numTensors;
    const cases: [number[], number][] = [[[3, 5], 1], [[8, 33, 7], 2], [[2, 3, 4, 65], 3], [[4, 4, 4], 1], [[
      257,
      9,
    ], 1]];
    for (const [shape, k] of cases) {
      const xv = rng.normalArray(shape.reduce((a, b) => a * b, 1), 0, 1);
      const x = tf.tensor(xv, shape);
      const ref = sumLeadingRef(xv, shape, k);
      const axes = [...Array(k).keys()];
      const direct = sumLeadingWebGPU(x, k);
      assertEquals(direct.shape, shape.slice(k));
      assertClose(await direct.data(), ref, 1e-5, `[${shape}] k ${k} direct`);
      const info = await tf.profile(() => tf.dispose(tf.sum(x, axes)));
      const names = info.kernels.map((k) => k.name);
      assert(!names.some((n) => n.includes("Transpose")), `[${shape}] tf.sum kernels ${names}`);
      const viaSum = tf.sum(x, axes), kept = tf.sum(x, axes, true);
      assertClose(await viaSum.data(), ref, 1e-5, `[${shape}] tf.sum`);
      assertEquals(kept.shape, [...axes.map(() => 1), ...shape.slice(k)]);
      // a non-leading reduction still goes to tfjs's own kernel
      const last = tf.sum(x, shape.length - 1);
      assertEquals(last.shape, shape.slice(0, -1));
      tf.dispose([x, direct, viaSum, kept, last]);
    }
    // an empty leading axis stays with tfjs's kernel (which refuses it) and never returns stale pool memory
    const empty = tf.zeros([0, 3]);
    try {
      const e = tf.sum(empty, 0);
      assertEquals([...await e.data()], [0, 0, 0], "sum over an empty axis");
      e.dispose();
    } catch (e) {
      assert((e as Error).message.length > 0);
    }
    empty.dispose();
    // the gradient of a broadcast bias add is a leading-axes sum
    const x = tf.randomNormal([6, 7, 10]), b = tf.randomNormal([10]);
    const gb = tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.add(x, b), x)))(b);
    const ref = sumLeadingRef(await x.data(), [6, 7, 10], 2);
    assertClose(await gb.data(), ref, 1e-5, "bias gradient");
    tf.dispose([x, b, gb]);
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  },
});
