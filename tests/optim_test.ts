import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { AdamW, nameMatcher } from "../src/train/optim.ts";
import { clipGradNorm, clipGradNormTensor, globalNorm } from "../src/train/clip.ts";
import { constantLr, cosineSchedule, linearWarmup, makeSchedule } from "../src/train/schedule.ts";
import { dispose, refAdamW, vars } from "./optim_cases.ts";

const BACKENDS = ["cpu", "wasm"];

for (const backend of BACKENDS) {
  Deno.test(`[${backend}] AdamW matches a plain-loop PyTorch AdamW to 1e-6`, async () => {
    await initBackend({ backend });
    const start = [0.5, -1.25, 2.0, 0.1];
    const gseq = [
      [0.3, -0.2, 1.5, 0.0],
      [-0.1, 0.4, 0.7, 1e-3],
      [0.25, 0.25, -2.0, -0.5],
      [1.0, -1.0, 0.1, 0.2],
      [0.05, 0.6, -0.3, 0.9],
      [-0.7, 0.2, 0.4, -0.1],
    ];
    const w = vars([["a", [start[0], start[1]]], ["b.bias", [start[2], start[3]]]]);
    const opt = new AdamW(w, { lr: 0.05, weightDecay: 0.1, noDecayPatterns: ["*.bias"] });
    const n0 = tf.memory().numTensors;
    for (const g of gseq) {
      const gm = new Map([["a", tf.tensor1d(g.slice(0, 2))], ["b.bias", tf.tensor1d(g.slice(2))]]);
      opt.applyGradients(gm);
      dispose(gm);
      assertEquals(tf.memory().numTensors, n0, "no tensor leak per step");
    }
    const ref = refAdamW(start, gseq, {
      lr: 0.05,
      b1: 0.9,
      b2: 0.999,
      eps: 1e-8,
      wd: 0.1,
      decay: [true, true, false, false],
    });
    const got = [...w.get("a")!.dataSync(), ...w.get("b.bias")!.dataSync()];
    for (let i = 0; i < 4; i++) assertAlmostEquals(got[i], ref[i], 1e-6, `param ${i}`);
    assertEquals(opt.step, 6);
    // decay matters: without exclusion the bias would differ
    const ref2 = refAdamW(start, gseq, {
      lr: 0.05,
      b1: 0.9,
      b2: 0.999,
      eps: 1e-8,
      wd: 0.1,
      decay: [true, true, true, true],
    });
    assert(Math.abs(ref2[2] - got[2]) > 1e-4, "exclusion changed the result");
    opt.dispose();
    dispose(w);
  });

  Deno.test(`[${backend}] AdamW: frozen parameters stay bit-for-bit unchanged; state round trip`, async () => {
    await initBackend({ backend });
    const w = vars([["enc.w", [0.1, 0.2, 0.3]], ["dec.w", [1, 2, 3]], ["fixed", [7, 8, 9]]]);
    w.get("fixed")!.trainable = false;
    const before = Float32Array.from(w.get("enc.w")!.dataSync());
    const opt = new AdamW(w, { lr: 0.01, weightDecay: 0.5, frozen: ["enc.*"] });
    assertEquals(opt.trainableNames(), ["dec.w"]);
    const grads = () => new Map([...w.keys()].map((n) => [n, tf.tensor1d([0.5, -0.5, 1])]));
    for (let i = 0; i < 3; i++) {
      const g = grads();
      opt.applyGradients(g);
      dispose(g);
    }
    assertEquals(Float32Array.from(w.get("enc.w")!.dataSync()), before, "frozen by name");
    assertEquals(
      Float32Array.from(w.get("fixed")!.dataSync()),
      new Float32Array([7, 8, 9]),
      "trainable=false",
    );
    assert(w.get("dec.w")!.dataSync()[0] !== 1, "others change");

    // state round trip: a restored optimizer continues identically
    const st = await opt.getState();
    assertEquals([...st.moments.keys()], ["dec.w"]);
    assertEquals(st.moments.get("dec.w")!.step, 3);
    const w2 = vars([["enc.w", [...before]], ["dec.w", [...w.get("dec.w")!.dataSync()]], ["fixed", [
      7,
      8,
      9,
    ]]]);
    const opt2 = new AdamW(w2, { lr: 0.01, weightDecay: 0.5 });
    opt2.setState(st);
    assertEquals(opt2.frozenNames(), ["enc.w"]);
    for (const [o, ws] of [[opt, w], [opt2, w2]] as const) {
      const g = new Map([["dec.w", tf.tensor1d([0.1, 0.2, -0.3])]]);
      o.applyGradients(g);
      dispose(g);
      void ws;
    }
    assertEquals(
      Float32Array.from(w2.get("dec.w")!.dataSync()),
      Float32Array.from(w.get("dec.w")!.dataSync()),
    );
    // bad states and gradients are reported
    assertThrows(
      () => opt2.applyGradients(new Map([["nope", tf.tensor1d([1])]])),
      Error,
      `"nope" (no such parameter)`,
    );
    const bad = await opt.getState();
    bad.moments.set("dec.w", { m: new Float32Array(2), v: new Float32Array(2), shape: [2], step: 1 });
    assertThrows(() => opt2.setState(bad), Error, `"dec.w" has moments of shape [2]`);
    assertThrows(() => new AdamW(w, { lr: -1 }), Error, `"-1"`);
    assertThrows(() => opt.freeze(["zzz*"]), Error, `"zzz*"`);
    opt.dispose();
    opt2.dispose();
    dispose(w);
    dispose(w2);
  });

  Deno.test(`[${backend}] clipGradNorm has clip_grad_norm_ semantics`, async () => {
    await initBackend({ backend });
    const g = new Map<string, tf.Tensor>([["a", tf.tensor1d([3, 0])], ["b", tf.tensor2d([[0, 4]])]]);
    const n0 = tf.memory().numTensors;
    assertAlmostEquals(await globalNorm(g), 5, 1e-6);
    const norm = await clipGradNorm(g, 1);
    assertEquals(tf.memory().numTensors, n0);
    assertAlmostEquals(norm, 5, 1e-6);
    const scale = 1 / (5 + 1e-6);
    assertAlmostEquals(g.get("a")!.dataSync()[0], 3 * scale, 1e-6);
    assertAlmostEquals(g.get("b")!.dataSync()[1], 4 * scale, 1e-6);
    // under the limit: scaled by exactly 1 (bit-for-bit unchanged), no tensor leaked
    const before = [Float32Array.from(await g.get("a")!.data()), Float32Array.from(await g.get("b")!.data())];
    assertAlmostEquals(await clipGradNorm(g, 10), 1, 1e-6);
    assertEquals(tf.memory().numTensors, n0);
    assertEquals([await g.get("a")!.data(), await g.get("b")!.data()], before, "no rescale below max norm");
    // the tensor variant reads nothing and hands the norm back as a scalar
    const t = clipGradNormTensor(g, 0.5);
    assertEquals(t.shape, []);
    assertAlmostEquals((await t.data())[0], 1, 1e-6);
    t.dispose();
    assertAlmostEquals(await globalNorm(g), 0.5, 1e-6);
    assertEquals(await globalNorm(new Map()), 0);
    dispose(g);
  });
}

Deno.test("AdamW: a tied weight (one variable under two names) is updated once", async () => {
  await initBackend({ backend: "cpu" });
  const v = tf.variable(tf.tensor1d([1, -1]), true, "optim_test.tied");
  const w = new Map([["tok_emb.emb.weight", v], ["lm_head.weight", v]]);
  const opt = new AdamW(w, { lr: 0.1, weightDecay: 0 });
  assertEquals(opt.trainableNames(), ["tok_emb.emb.weight"]);
  assertEquals([...(await opt.getState()).moments.keys()], ["tok_emb.emb.weight"]);
  const g = new Map([["lm_head.weight", tf.tensor1d([0.5, 0.5])]]);
  opt.applyGradients(g);
  const ref = refAdamW([1, -1], [[0.5, 0.5]], {
    lr: 0.1,
    b1: 0.9,
    b2: 0.999,
    eps: 1e-8,
    wd: 0,
    decay: [false, false],
  });
  assertAlmostEquals(v.dataSync()[0], ref[0], 1e-6);
  const both = new Map([...g, ["tok_emb.emb.weight", g.get("lm_head.weight")!]]);
  assertThrows(() => opt.applyGradients(both), Error, "given twice for one tied parameter");
  opt.freeze(["lm_head.weight"]);
  assert(opt.isFrozen("tok_emb.emb.weight"));
  dispose(g);
  opt.dispose();
  v.dispose();
});

Deno.test("nameMatcher: exact, glob, /regex/ and RegExp", () => {
  const m = nameMatcher(["tok_emb.emb.weight", "*.bias", "/norm/", /^blocks\.\d+\.gamma_/]);
  assert(m("tok_emb.emb.weight"));
  assert(m("blocks.1.ssm.in_proj.bias"));
  assert(m("norm_f.weight"));
  assert(m("blocks.3.gamma_pre"));
  assert(!m("blocks.0.ssm.in_proj.weight"));
  assertThrows(() => nameMatcher(["/(/"]), Error, "Invalid regular expression");
});

Deno.test("schedules: constant, linear warm-up, cosine", () => {
  assertEquals(constantLr(3e-4)(12345), 3e-4);
  const w = linearWarmup(1e-3, 4);
  assertAlmostEquals(w(0), 2.5e-4, 1e-15);
  assertAlmostEquals(w(3), 1e-3, 1e-15);
  assertEquals(w(100), 1e-3);
  const c = cosineSchedule(1e-3, { totalSteps: 12, warmup: 2, minLr: 1e-4 });
  assertAlmostEquals(c(0), 5e-4, 1e-15);
  assertAlmostEquals(c(2), 1e-3, 1e-15);
  assertAlmostEquals(c(11), 1e-4, 1e-15);
  assertAlmostEquals(c(1000), 1e-4, 1e-15);
  for (let s = 3; s < 12; s++) assert(c(s) <= c(s - 1), "monotone decay");
  assertAlmostEquals(makeSchedule({ name: "cosine" }, 1e-3, 11)(5), 5e-4, 1e-12);
  assertThrows(() => makeSchedule("warp" as "constant", 1e-3), Error, `Unknown schedule "warp"`);
  assertThrows(() => constantLr(0), Error, `"0"`);
  assertThrows(() => makeSchedule("cosine", 1e-3, null), Error, "totalSteps");
});

Deno.test("AdamW (flat): a parameter without a gradient is skipped bit for bit and keeps its own step count", async () => {
  await initBackend({ backend: "cpu" });
  const w = vars([["a", [0.5, -1.25]], ["b", [2.0, 0.1, -0.3]]]);
  const opt = new AdamW(w, { lr: 0.05, weightDecay: 0.1 });
  const o = { lr: 0.05, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decay: [true, true] };
  const ga = [[0.3, -0.2], [0.1, 0.4], [-0.5, 0.25]];
  const gb = [[1.5, 0.0, 0.2], [0.7, 1e-3, -0.4]];
  // step 1: both; step 2: only a (b untouched); step 3: both (a at its step 3, b at its step 2)
  const n0 = tf.memory().numTensors;
  let g = new Map([["a", tf.tensor1d(ga[0])], ["b", tf.tensor1d(gb[0])]]);
  opt.applyGradients(g);
  dispose(g);
  const bAfter1 = Float32Array.from(w.get("b")!.dataSync());
  g = new Map([["a", tf.tensor1d(ga[1])]]);
  opt.applyGradients(g);
  dispose(g);
  assertEquals(Float32Array.from(w.get("b")!.dataSync()), bAfter1, "no gradient: unchanged bit for bit");
  g = new Map([["a", tf.tensor1d(ga[2])], ["b", tf.tensor1d(gb[1])]]);
  opt.applyGradients(g);
  dispose(g);
  assertEquals(tf.memory().numTensors, n0, "no tensor leak");
  const refA = refAdamW([0.5, -1.25], ga, o);
  const refB = refAdamW([2.0, 0.1, -0.3], gb, { ...o, decay: [true, true, true] });
  w.get("a")!.dataSync().forEach((x, i) => assertAlmostEquals(x, refA[i], 1e-6));
  w.get("b")!.dataSync().forEach((x, i) => assertAlmostEquals(x, refB[i], 1e-6));
  const st = await opt.getState();
  assertEquals(st.step, 3);
  assertEquals(st.moments.get("a")!.step, 3);
  assertEquals(st.moments.get("b")!.step, 2);
  // steps now differ: the next full step uses per-parameter bias corrections
  const g4 = [[0.2, 0.2], [0.1, -0.1, 0.3]];
  g = new Map([["a", tf.tensor1d(g4[0])], ["b", tf.tensor1d(g4[1])]]);
  opt.applyGradients(g);
  dispose(g);
  const refA4 = refAdamW([0.5, -1.25], [...ga, g4[0]], o);
  const refB4 = refAdamW([2.0, 0.1, -0.3], [...gb, g4[1]], { ...o, decay: [true, true, true] });
  w.get("a")!.dataSync().forEach((x, i) => assertAlmostEquals(x, refA4[i], 1e-6));
  w.get("b")!.dataSync().forEach((x, i) => assertAlmostEquals(x, refB4[i], 1e-6));
  opt.dispose();
  dispose(w);
});

Deno.test("AdamW (flat): fused clipping equals clipGradNorm + step; prepare/apply; O(1) kernels per step", async () => {
  await initBackend({ backend: "cpu" });
  const shapes = [[2, 3], [4], [1, 5]];
  const init = (tag: string) =>
    new Map(shapes.map((s, i) => {
      const n = s.reduce((a, b) => a * b, 1);
      const x = Array.from({ length: n }, (_, j) => Math.sin(i * 7 + j));
      return [`p${i}`, tf.variable(tf.tensor(x, s), true, `flat_test.${tag}.${i}.${Math.random()}`)] as const;
    }));
  const grads = () =>
    new Map(shapes.map((s, i) => {
      const n = s.reduce((a, b) => a * b, 1);
      return [`p${i}`, tf.tensor(Array.from({ length: n }, (_, j) => 3 * Math.cos(i + j)), s)] as const;
    }));
  const w1 = init("a"), w2 = init("b"), w3 = init("c");
  const o1 = new AdamW(w1, { lr: 0.01, weightDecay: 0.1, noDecayPatterns: ["p1"] });
  const o2 = new AdamW(w2, { lr: 0.01, weightDecay: 0.1, noDecayPatterns: ["p1"] });
  const o3 = new AdamW(w3, { lr: 0.01, weightDecay: 0.1, noDecayPatterns: ["p1"] });
  const n0 = tf.memory().numTensors;
  for (let k = 0; k < 3; k++) {
    const g1 = grads(), g2 = grads(), g3 = grads();
    const norm = o1.applyGradients(g1, 0.01, { clipNorm: 0.5 });
    const ref = await clipGradNorm(g2, 0.5);
    o2.applyGradients(g2, 0.01);
    assertAlmostEquals((await norm.data())[0], ref, 1e-4);
    norm.dispose();
    const prep = o3.prepareGradients(g3);
    dispose(g3);
    assertAlmostEquals((await prep.norm.data())[0], ref, 1e-4);
    o3.applyPrepared(prep, 0.01, { clipNorm: 0.5 });
    prep.dispose();
    dispose(g1);
    dispose(g2);
  }
  assertEquals(tf.memory().numTensors, n0, "no tensor leak");
  for (const n of w1.keys()) {
    const a = w1.get(n)!.dataSync(), b = w2.get(n)!.dataSync(), c = w3.get(n)!.dataSync();
    a.forEach((x, i) => assertAlmostEquals(x, b[i], 1e-6));
    assertEquals(Float32Array.from(c), Float32Array.from(a), "prepare + apply = fused applyGradients");
  }
  // the number of (non-reshape) kernels of a step does not grow with the number of parameters
  const kernels = async (count: number) => {
    const w = new Map(
      Array.from(
        { length: count },
        (_, i) => [`q${i}`, tf.variable(tf.ones([3, 2]), true, `flat_k.${Math.random()}`)],
      ),
    );
    const opt = new AdamW(w, { lr: 0.01, weightDecay: 0.1, noDecayPatterns: ["q0"] });
    const g = new Map([...w.keys()].map((n) => [n, tf.ones([3, 2])]));
    const prof = await tf.profile(() => {
      const norm = opt.applyGradients(g, 0.01, { clipNorm: 1 });
      norm.dispose();
    });
    dispose(g);
    opt.dispose();
    dispose(w);
    return prof.kernels.filter((k) => k.name !== "Reshape").length;
  };
  const k3 = await kernels(3), k40 = await kernels(40);
  assertEquals(k40, k3, "O(1) kernels in the number of parameters");
  assert(k3 < 30, `a fused clip + AdamW step is ${k3} kernels`);
  // freezing after prepare is refused (the flat layout changed)
  const g5 = grads();
  const prep = o1.prepareGradients(g5);
  dispose(g5);
  o1.freeze(["p2"]);
  assertThrows(() => o1.applyPrepared(prep, 0.01), Error, "changed since the gradients were prepared");
  for (const o of [o1, o2, o3]) o.dispose();
  for (const w of [w1, w2, w3]) dispose(w);
});

Deno.test("AdamW (flat): freeze/unfreeze keep the other moments; setState restores the flat state", async () => {
  await initBackend({ backend: "cpu" });
  const w = vars([["x", [1, 2]], ["y", [3, 4, 5]], ["z", [6]]]);
  const opt = new AdamW(w, { lr: 0.01, weightDecay: 0 });
  const g = new Map([["x", tf.tensor1d([0.1, 0.2])], ["y", tf.tensor1d([0.3, -0.4, 0.5])], [
    "z",
    tf.tensor1d([1]),
  ]]);
  opt.applyGradients(g);
  const before = await opt.getState();
  opt.freeze(["y"]);
  assertEquals(opt.flatSize, 3);
  const mid = await opt.getState();
  assertEquals([...mid.moments.keys()], ["x", "z"]);
  assertEquals(mid.moments.get("z")!.m, before.moments.get("z")!.m, "moments carried across the re-layout");
  opt.unfreeze(["y"]);
  const after = await opt.getState();
  assertEquals([...after.moments.keys()], ["x", "y", "z"]);
  assertEquals(after.moments.get("y")!.m, new Float32Array(3), "fresh zero moments after unfreezing");
  assertEquals(after.moments.get("y")!.step, 0);
  assertEquals(after.moments.get("x")!.v, before.moments.get("x")!.v);
  opt.setState(before);
  const back = await opt.getState();
  for (const n of ["x", "y", "z"]) {
    assertEquals(back.moments.get(n)!.m, before.moments.get(n)!.m);
    assertEquals(back.moments.get(n)!.v, before.moments.get(n)!.v);
    assertEquals(back.moments.get(n)!.step, 1);
  }
  dispose(g);
  opt.dispose();
  dispose(w);
});
