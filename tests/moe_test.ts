import * as tf from "@tensorflow/tfjs";
import { assert, assertThrows } from "./assert.ts";
import { assertGradCheck } from "./gradcheck.ts";
import { assertClose as close } from "./tensor_assert.ts";
import { initBackend } from "../src/backend.ts";
import { gatherRows, gelu, initMoE, moeForward, moeRef, scatterRows, topKRouting } from "../src/nn/moe.ts";
import type { MoEWeights } from "../src/nn/moe.ts";
import { glu, sigmoidGate, siluGate } from "../src/nn/gated.ts";
import { Params } from "../src/nn/params.ts";
import { Rng } from "../src/rng.ts";

const BACKENDS = ["cpu", "wasm"];

/** All weights of an MoE as a flat list, and a rebuild from such a list. */
function flatten(w: MoEWeights): tf.Tensor[] {
  return [w.routerW, w.routerB!, ...w.experts.flatMap((e) => [e.w1, e.b1, e.w2, e.b2])];
}
function rebuild(t: tf.Tensor[]): MoEWeights {
  const experts = [];
  for (let i = 2; i < t.length; i += 4) {
    experts.push({
      w1: t[i] as tf.Tensor2D,
      b1: t[i + 1] as tf.Tensor1D,
      w2: t[i + 2] as tf.Tensor2D,
      b2: t[i + 3] as tf.Tensor1D,
    });
  }
  return { routerW: t[0] as tf.Tensor2D, routerB: t[1] as tf.Tensor1D, experts };
}

Deno.test("[cpu] topKRouting renormalises the top-k probabilities", async () => {
  await initBackend({ backend: "cpu" });
  tf.tidy(() => {
    const r = topKRouting(tf.tensor2d([[0, 1, 2], [3, 0, -1]]), 2);
    assert(Array.from(r.indices.dataSync()).join() === "2,1,0,1", `indices ${r.indices.dataSync()}`);
    const e = Math.E;
    close(r.weights, [e / (1 + e), 1 / (1 + e), e ** 3 / (e ** 3 + 1), 1 / (e ** 3 + 1)], 1e-5, "weights");
    close(r.gates, [0, 1 / (1 + e), e / (1 + e), e ** 3 / (e ** 3 + 1), 1 / (e ** 3 + 1), 0], 1e-5, "gates");
    close(tf.sum(r.probs, 1), [1, 1], 1e-6, "probs");
  });
});

Deno.test("[cpu] top_k larger than num_experts is refused with both values", async () => {
  await initBackend({ backend: "cpu" });
  const p = new Params(new Rng(0));
  const w = initMoE(p, "moe", 4, 8, 3);
  const x = tf.ones([2, 4]) as tf.Tensor2D;
  for (const fn of [moeForward, moeRef]) {
    assertThrows(() => fn(x, w, { topK: 4 }), Error, "top_k = 4 is not valid for num_experts = 3");
  }
  assertThrows(() => topKRouting(tf.zeros([2, 3]) as tf.Tensor2D, 0), Error, "top_k = 0");
  assertThrows(
    () => moeRef(tf.ones([2, 5]) as tf.Tensor2D, w, { topK: 1 }),
    Error,
    "expected [E, d] = [3, 5]",
  );
  x.dispose();
  p.dispose();
});

Deno.test("[cpu] gelu and gates", async () => {
  await initBackend({ backend: "cpu" });
  tf.tidy(() => {
    close(gelu(tf.tensor1d([-1, 0, 1, 2])), [-0.15865525, 0, 0.84134475, 1.95449974], 1e-5, "gelu");
    close(sigmoidGate(tf.tensor1d([2, 3]), tf.tensor1d([0, 100])), [1, 3], 1e-6, "sigmoidGate");
    close(siluGate(tf.tensor1d([2, 3]), tf.tensor1d([0, 1])), [0, 3 / (1 + Math.exp(-1))], 1e-6, "siluGate");
    close(glu(tf.tensor2d([[2, 4, 0, 100]])), [1, 4], 1e-6, "glu");
    assertThrows(() => glu(tf.zeros([2, 3])), Error, "expected an even size");
    assertThrows(() => sigmoidGate(tf.zeros([2, 3]), tf.zeros([3, 2])), Error, `"g" has shape [3, 2]`);
  });
});

for (const backend of BACKENDS) {
  Deno.test(`[${backend}] sparse MoE matches the dense reference in values, aux loss and gradients`, async () => {
    await initBackend({ backend });
    const rng = new Rng(5);
    const p = new Params(rng);
    const w = initMoE(p, "moe", 6, 10, 4);
    const n0 = tf.memory().numTensors;
    for (const topK of [1, 2, 4]) {
      tf.tidy(() => {
        const x = tf.tensor2d(rng.normalArray(9 * 6), [9, 6]);
        const proj = tf.tensor2d(rng.normalArray(9 * 6), [9, 6]);
        const a = moeForward(x, w, { topK });
        const b = moeRef(x, w, { topK });
        close(a.y, b.y, 1e-5, `top${topK} y`);
        close(a.auxLoss, b.auxLoss, 1e-6, `top${topK} aux`);
        const inputs = [x, ...flatten(w)];
        const loss = (fn: typeof moeRef) => (...t: tf.Tensor[]) => {
          const o = fn(t[0] as tf.Tensor2D, rebuild(t.slice(1)), { topK, auxAlpha: 0.5 });
          // 0·Σ weights keeps experts that received no token connected (their gradient is 0)
          const tie = tf.mul(0, tf.addN(t.slice(1).map((z) => tf.sum(z))));
          return tf.addN([tf.sum(tf.mul(o.y, proj)), o.auxLoss, tie]) as tf.Scalar;
        };
        const gs = tf.grads(loss(moeForward))(inputs);
        const gd = tf.grads(loss(moeRef))(inputs);
        gs.forEach((g, i) => close(g, gd[i], 1e-4, `top${topK} grad ${i}`));
      });
    }
    assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
    p.dispose();
  });

  Deno.test(`[${backend}] load-balance loss is α·E·Σ f_e·P̄_e`, async () => {
    await initBackend({ backend });
    tf.tidy(() => {
      // Router = identity on 2-d tokens with E = 2: logits = x.
      const eye = tf.tensor2d([[1, 0], [0, 1]]);
      const ex = {
        w1: tf.zeros([3, 2]),
        b1: tf.zeros([3]),
        w2: tf.zeros([2, 3]),
        b2: tf.zeros([2]),
      } as never;
      const w: MoEWeights = { routerW: eye, routerB: null, experts: [ex, ex] };
      const x = tf.tensor2d([[2, 0], [1, 0], [0, 3]]);
      const P = [[2, 0], [1, 0], [0, 3]].map(([u, v]) => [Math.exp(u), Math.exp(v)]).map((
        [u, v],
      ) => [u / (u + v), v / (u + v)]);
      const pbar = [0, 1].map((e) => P.reduce((s, r) => s + r[e], 0) / 3);
      const f = [2 / 3, 1 / 3]; // top-1 choices: e0, e0, e1
      const want = 0.01 * 2 * (f[0] * pbar[0] + f[1] * pbar[1]);
      close(moeForward(x, w, { topK: 1 }).auxLoss, [want], 1e-5, "aux");
    });
  });

  Deno.test(`[${backend}] MoE and row gather/scatter gradients agree with finite differences`, async () => {
    await initBackend({ backend });
    const rng = new Rng(6);
    const p = new Params(rng);
    const w = initMoE(p, "moe", 3, 4, 3);
    tf.tidy(() => {
      const x = tf.tensor2d(rng.normalArray(4 * 3), [4, 3]);
      const proj = tf.tensor2d(rng.normalArray(4 * 3), [4, 3]);
      // small steps keep the routing fixed; check x, router and first expert
      assertGradCheck(
        (x, rw, w1) => {
          const ww = {
            ...w,
            routerW: rw as tf.Tensor2D,
            experts: [{ ...w.experts[0], w1: w1 as tf.Tensor2D }, ...w.experts.slice(1)],
          };
          const o = moeForward(x as tf.Tensor2D, ww, { topK: 2, auxAlpha: 1 });
          return tf.add(tf.sum(tf.mul(o.y, proj)), o.auxLoss) as tf.Scalar;
        },
        [x, w.routerW, w.experts[0].w1],
        { names: ["x", "router", "w1"], eps: 3e-3, rtol: 2e-2 },
      );
      const idx = Int32Array.of(2, 0, 2, 1);
      const q = tf.tensor2d(rng.normalArray(4 * 2), [4, 2]);
      assertGradCheck((z) => tf.sum(tf.mul(gatherRows(z as tf.Tensor2D, idx), q)) as tf.Scalar, [
        tf.tensor2d(rng.normalArray(3 * 2), [3, 2]),
      ]);
      const q3 = tf.tensor2d(rng.normalArray(3 * 2), [3, 2]);
      assertGradCheck((z) => tf.sum(tf.mul(scatterRows(z as tf.Tensor2D, idx, 3), q3)) as tf.Scalar, [q]);
    });
    p.dispose();
  });
}
