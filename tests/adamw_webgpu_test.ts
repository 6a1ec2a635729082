/**
 * The fused webgpu AdamW step (`src/train/adamw_webgpu.ts`, used by `AdamW` on webgpu) against the plain-loop
 * PyTorch AdamW of `optim_cases.ts` and against clipGradNorm + an unclipped step, and its kernel count. webgpu
 * only: skipped (with a message) where `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals } from "./assert.ts";
import { dispose, refAdamW, vars } from "./optim_cases.ts";
import { webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { AdamW } from "../src/train/optim.ts";
import { clipGradNorm } from "../src/train/clip.ts";

const GPU = await webgpuOrWarn("AdamW webgpu tests");

Deno.test({
  name:
    "[webgpu] fused AdamW step equals the plain-loop PyTorch AdamW and the tf-op step (decay mask, clipping)",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const start = [0.5, -1.25, 2.0, 0.1, 0.3, -0.7, 1.1];
    const gseq = [
      [0.3, -0.2, 1.5, 0.0, 0.2, 0.1, -0.4],
      [-0.1, 0.4, 0.7, 1e-3, -0.6, 0.3, 0.2],
      [0.25, 0.25, -2.0, -0.5, 0.1, 0.9, -1.2],
      [1.0, -1.0, 0.1, 0.2, 0.3, -0.3, 0.05],
    ];
    const split = (x: number[]) => [x.slice(0, 2), x.slice(2, 4), x.slice(4)];
    const names = ["a", "b.bias", "c"];
    for (const noDecay of [["b.bias"], [] as string[]]) {
      const w = vars(names.map((n, i) => [n, split(start)[i]]));
      const opt = new AdamW(w, { lr: 0.05, weightDecay: 0.1, noDecay });
      let prevM = NaN;
      let n0 = -1; // after the first step: the optimizer's decay mask and placeholder exist from then on
      const decayOf = start.map((_, i) => !(noDecay.length && (i === 2 || i === 3)));
      for (const [t, g] of gseq.entries()) {
        const gm = new Map(names.map((n, i) => [n, tf.tensor1d(split(g)[i])]));
        opt.applyGradients(gm);
        dispose(gm);
        // read after every step: the in-place update must not leave tfjs's host cache of the last read stale
        const now = (await Promise.all(names.map((n) => w.get(n)!.data()))).flatMap((d) => [...d]);
        const want = refAdamW(start, gseq.slice(0, t + 1), {
          lr: 0.05,
          b1: 0.9,
          b2: 0.999,
          eps: 1e-8,
          wd: 0.1,
          decay: decayOf,
        });
        for (let i = 0; i < start.length; i++) {
          assertAlmostEquals(now[i], want[i], 3e-6, `step ${t + 1} param ${i}`);
        }
        const st = await opt.getState(); // reads m and v (cached on the host by tfjs until the next step)
        assertEquals(st.moments.get("a")!.step, t + 1);
        if (t > 0) assert(st.moments.get("a")!.m[0] !== prevM, `step ${t + 1}: m was read stale`);
        prevM = st.moments.get("a")!.m[0];
        if (t === 0) n0 = tf.memory().numTensors;
      }
      assertEquals(tf.memory().numTensors, n0, "no tensor leak");
      const ref = refAdamW(start, gseq, { lr: 0.05, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decay: decayOf });
      const got = (await Promise.all(names.map((n) => w.get(n)!.data()))).flatMap((d) => [...d]);
      for (let i = 0; i < start.length; i++) {
        assertAlmostEquals(got[i], ref[i], 3e-6, `noDecay ${noDecay} param ${i}`);
      }
      // the moments went through the same step: the state round trip gives PyTorch's per-name moments
      const st = await opt.getState();
      assertEquals(st.moments.get("c")!.step, gseq.length);
      opt.dispose();
      dispose(w);
    }
    // clipping (fused on the GPU) equals clipGradNorm + an unclipped step
    const w1 = vars(names.map((n, i) => [n, split(start)[i]])),
      w2 = vars(names.map((n, i) => [n, split(start)[i]]));
    const o1 = new AdamW(w1, { lr: 0.01, weightDecay: 0.1, noDecay: ["b.bias"] });
    const o2 = new AdamW(w2, { lr: 0.01, weightDecay: 0.1, noDecay: ["b.bias"] });
    for (const g of gseq) {
      const g1 = new Map(names.map((n, i) => [n, tf.tensor1d(split(g)[i])]));
      const g2 = new Map(names.map((n, i) => [n, tf.tensor1d(split(g)[i])]));
      const norm = o1.applyGradients(g1, 0.01, { clipNorm: 0.5 });
      const ref = await clipGradNorm(g2, 0.5);
      o2.applyGradients(g2, 0.01);
      assertAlmostEquals((await norm.data())[0], ref, 1e-5);
      norm.dispose();
      dispose(g1);
      dispose(g2);
    }
    for (const n of names) {
      const a = await w1.get(n)!.data(), b = await w2.get(n)!.data();
      a.forEach((x, i) => assertAlmostEquals(x, b[i], 1e-6, `clipped ${n}[${i}]`));
    }
    for (const o of [o1, o2]) o.dispose();
    for (const w of [w1, w2]) dispose(w);
  },
});

Deno.test({
  name: "[webgpu] fused AdamW step: a few kernels, none per parameter",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const w = new Map(
      Array.from(
        { length: 40 },
        (_, i) => [`q${i}`, tf.variable(tf.ones([3, 2]), true, `gpu_k.${Math.random()}`)],
      ),
    );
    const opt = new AdamW(w, { lr: 0.01, weightDecay: 0.1, noDecayPatterns: ["q0"] });
    const g = new Map([...w.keys()].map((n) => [n, tf.ones([3, 2])]));
    const prof = await tf.profile(() => opt.applyGradients(g, 0.01, { clipNorm: 1 }).dispose());
    const k = prof.kernels.filter((k) => k.name !== "Reshape");
    assert(k.length < 10, `a clipped AdamW step ran ${k.length} kernels: ${k.map((x) => x.name)}`);
    dispose(g);
    opt.dispose();
    dispose(w);
  },
});

Deno.test({
  name: "[webgpu] fused AdamW step: clones keep their values and a read in flight does not go stale",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const w = vars([["a", [1, 2, 3, 4]]]);
    const opt = new AdamW(w, { lr: 0.1, weightDecay: 0 });
    const g = () => new Map([["a", tf.tensor1d([1, 1, 1, 1])]]);
    const snap = w.get("a")!.clone(); // shares the variable's data in tfjs
    const inFlight = w.get("a")!.data(); // started before the step, resolved after it
    const g1 = g();
    opt.applyGradients(g1);
    dispose(g1);
    assertEquals([...await inFlight], [1, 2, 3, 4], "the read started before the step sees the old values");
    const after = [...await w.get("a")!.data()];
    after.forEach((x, i) => assertAlmostEquals(x, i + 1 - 0.1, 1e-6, `a[${i}] after one step`));
    assertEquals([...await snap.data()], [1, 2, 3, 4], "a clone taken before the step keeps its values");
    const st0 = opt.getState(); // reads m and v; the next step must not leave them stale
    const g2 = g();
    opt.applyGradients(g2);
    dispose(g2);
    const m0 = (await st0).moments.get("a")!.m[0], m1 = (await opt.getState()).moments.get("a")!.m[0];
    assertAlmostEquals(m0, 0.1, 1e-6, "m after one step");
    assertAlmostEquals(m1, 0.19, 1e-6, "m after two steps");
    tf.dispose([snap]);
    opt.dispose();
    dispose(w);
  },
});
