import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { AdamW, nameMatcher } from "../src/train/optim.ts";
import { clipGradNorm, clipGradNormTensor, globalNorm } from "../src/train/clip.ts";
import { constantLr, cosineSchedule, linearWarmup, makeSchedule } from "../src/train/schedule.ts";

const BACKENDS = ["cpu", "wasm"];

/** PyTorch's single-tensor AdamW on plain numbers (float64). */
function refAdamW(
  p: number[],
  grads: number[][],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number; decay: boolean[] },
): number[] {
  const m = p.map(() => 0), v = p.map(() => 0);
  p = [...p];
  grads.forEach((g, t) => {
    const step = t + 1;
    for (let i = 0; i < p.length; i++) {
      if (o.decay[i]) p[i] *= 1 - o.lr * o.wd;
      m[i] = o.b1 * m[i] + (1 - o.b1) * g[i];
      v[i] = o.b2 * v[i] + (1 - o.b2) * g[i] * g[i];
      const bc1 = 1 - o.b1 ** step, bc2 = 1 - o.b2 ** step;
      const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps;
      p[i] -= (o.lr / bc1) * (m[i] / denom);
    }
  });
  return p;
}

function vars(entries: [string, number[]][]): Map<string, tf.Variable> {
  return new Map(
    entries.map(([n, x]) => [n, tf.variable(tf.tensor1d(x), true, `optim_test.${n}.${Math.random()}`)]),
  );
}

function dispose(m: Map<string, tf.Tensor>) {
  for (const t of m.values()) t.dispose();
}

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
