/**
 * The stacked mixture of experts (`moeStacked`, `src/nn/moe.ts`) on cpu, wasm and the WebGPU adapter: every
 * form (host gather/scatter on cpu and wasm, the grouped WGSL kernels of `moe_webgpu.ts` on webgpu) against the
 * dense reference, values and gradients of x, the router and all four expert stacks, with experts that receive
 * no token; the routing statistics; the grouped kernels' dispatch on webgpu.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { assertCloseAsync as close } from "./tensor_assert.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import {
  initStackedMoE,
  moeStacked,
  moeStackedRef,
  routingStats,
  type StackedMoEWeights,
} from "../src/nn/moe.ts";
import { withImpl } from "../src/nn/dispatch.ts";
import { Params } from "../src/nn/params.ts";
import { Rng } from "../src/rng.ts";

function flat(w: StackedMoEWeights): tf.Tensor[] {
  return [w.routerW, w.routerB!, w.w1, w.b1, w.w2, w.b2];
}
function unflat(t: tf.Tensor[]): StackedMoEWeights {
  const [routerW, routerB, w1, b1, w2, b2] = t;
  return { routerW, routerB, w1, b1, w2, b2 } as StackedMoEWeights;
}

for (const { name: backend, ignore } of await backendCases()) {
  Deno.test({
    name: `[${backend}] moeStacked (fast form) equals the dense reference in values and gradients`,
    ignore,
    async fn() {
      await initBackend({ backend });
      const rng = new Rng(11);
      const p = new Params(rng);
      const E = 5, d = 6, h = 7;
      const w = initStackedMoE(p, "moe", d, h, E);
      const want = backend === "webgpu" ? "webgpu" : "host";
      assertEquals(moeStacked.kernel(), want, "the fast form");
      const n0 = tf.memory().numTensors;
      for (const [N, topK] of [[9, 2], [13, 1], [4, 5], [1, 2]]) {
        const x = tf.tensor2d(rng.normalArray(N * d), [N, d]);
        const proj = tf.tensor2d(rng.normalArray(N * d), [N, d]);
        const inputs = [x, ...flat(w)];
        const lossOf = (impl: "fast" | "ref") => (...t: tf.Tensor[]) =>
          withImpl(impl, () => {
            const o = moeStacked(t[0] as tf.Tensor2D, unflat(t.slice(1)), { topK, auxAlpha: 0.3 });
            return tf.add(tf.sum(tf.mul(o.y, proj)), o.auxLoss) as tf.Scalar;
          });
        const [yf, yr] = tf.tidy(() => [
          moeStacked(x, w, { topK }).y,
          moeStackedRef(x, w, { topK }).y,
        ]);
        await close(yf, yr, 1e-5, `N=${N} top${topK} y`);
        const gf = tf.grads(lossOf("fast"))(inputs);
        const gr = tf.grads(lossOf("ref"))(inputs);
        const names = ["x", "router.w", "router.b", "w1", "b1", "w2", "b2"];
        for (let i = 0; i < gf.length; i++) await close(gf[i], gr[i], 1e-4, `N=${N} top${topK} d${names[i]}`);
        tf.dispose([x, proj, yf, yr, ...gf, ...gr]);
      }
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
      p.dispose();
    },
  });
}

Deno.test("[cpu] routingStats: load sums to 1 over the chosen experts; entropy is log E for a uniform router", async () => {
  await initBackend({ backend: "cpu" });
  const p = new Params(new Rng(3));
  const w = initStackedMoE(p, "moe", 4, 5, 4);
  tf.tidy(() => {
    const zeroRouter = { ...w, routerW: tf.zerosLike(w.routerW), routerB: tf.zerosLike(w.routerB!) };
    const s = routingStats(moeStacked(tf.ones([6, 4]), zeroRouter as StackedMoEWeights, { topK: 2 }));
    assert(Math.abs(s.entropy.dataSync()[0] - Math.log(4)) < 1e-5, `entropy ${s.entropy.dataSync()}`);
    const load = Array.from(s.load.dataSync());
    assert(Math.abs(load.reduce((a, b) => a + b) - 1) < 1e-6, `load ${load}`);
    assertEquals(load.filter((v) => v > 0).length, 2, "ties: the same two experts for every token");
  });
  p.dispose();
});

Deno.test({
  name:
    "[webgpu] the fast form runs the grouped kernels (top-k experts per token), not one matmul per expert",
  ignore: (await backendCases()).find((c) => c.name === "webgpu")!.ignore,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const p = new Params(new Rng(4));
    const w = initStackedMoE(p, "moe", 8, 16, 8);
    const x = tf.ones([12, 8]) as tf.Tensor2D;
    const names = async (impl: "fast" | "ref") =>
      (await tf.profile(() => tf.dispose(withImpl(impl, () => moeStacked(x, w, { topK: 2 }).y)))).kernels.map(
        (k) => k.name,
      );
    const fast = await names("fast"), ref = await names("ref");
    assertEquals(
      fast.filter((n) => n === "SsmlabMoeGather").length,
      2,
      "fc1 and fc2, each one grouped dispatch",
    );
    assert(fast.filter((n) => n === "BatchMatMul").length <= 2, `router and top-k weights only: ${fast}`);
    assert(ref.filter((n) => n === "BatchMatMul").length >= 16, "the dense reference runs every expert");
    x.dispose();
    p.dispose();
  },
});
