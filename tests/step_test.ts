import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { TinyLm } from "./fixtures/tiny_lm.ts";
import type { LanguageModel } from "../src/models/types.ts";
import { AdamW } from "../src/train/optim.ts";
import { type MicroBatch, microBatch, TrainStep } from "../src/train/step.ts";
import { NonFiniteError, TensorLeakError } from "../src/train/guards.ts";
import { Rng } from "../src/rng.ts";
import { backendCases } from "./webgpu_helpers.ts";

await initBackend({ backend: "cpu" });

const V = 16;

function randomMicro(seed: number, B = 2, T = 6): MicroBatch {
  const r = new Rng(seed);
  const x = Int32Array.from({ length: B * T }, () => r.int(V));
  const y = Int32Array.from({ length: B * T }, () => r.int(V));
  return microBatch({ x, y, batch: B, seqLen: T }, { vocabSize: V });
}

function weightsOf(m: LanguageModel): Map<string, Float32Array> {
  return new Map([...m.weights].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
}

function disposeMicro(ms: MicroBatch[]): void {
  tf.dispose(ms.flatMap((m) => [m.ids, m.targets]));
}

/** The reference: the textbook step written out (variableGrads per micro-batch, mean, AdamW with clipping). */
function referenceStep(model: TinyLm, opt: AdamW, micro: MicroBatch[], lr: number, clip: number): number {
  const vars = opt.trainableNames().map((n) => model.weights.get(n)!);
  const keyOf = new Map(opt.trainableNames().map((n, i) => [vars[i].name, n]));
  const sums = new Map<string, tf.Tensor>();
  let loss = 0;
  for (const { ids, targets } of micro) {
    const { value, grads } = tf.variableGrads(() => model.loss(ids, targets), vars);
    loss += value.dataSync()[0];
    for (const [vn, g] of Object.entries(grads)) {
      const k = keyOf.get(vn)!;
      const prev = sums.get(k);
      sums.set(k, prev ? prev.add(g) : g.clone());
      prev?.dispose();
    }
    tf.dispose([value, ...Object.values(grads)]);
  }
  const mean = new Map([...sums].map(([k, g]) => [k, g.div(micro.length)]));
  opt.applyGradients(mean, lr, { clipNorm: clip }).dispose();
  tf.dispose([...sums.values(), ...mean.values()]);
  return loss / micro.length;
}

Deno.test("step: run() = the textbook step (accumulation, mean, clip, AdamW), weights close, loss equal", async () => {
  const a = new TinyLm({ vocabSize: V, dim: 8 }, 3), b = new TinyLm({ vocabSize: V, dim: 8 }, 3);
  const step = new TrainStep(a, { optimizer: { weightDecay: 0.1, lr: 1e-2 }, gradClip: 0.3 });
  const ref = new AdamW(b.weights, { weightDecay: 0.1, lr: 1e-2, noDecay: b.noDecay });
  const before = tf.memory().numTensors;
  for (let s = 1; s <= 4; s++) {
    const micro = [randomMicro(10 * s), randomMicro(10 * s + 1)];
    const st = await step.run({ micro, lr: 1e-2, step: s });
    const refLoss = referenceStep(b, ref, micro, 1e-2, 0.3);
    assert(Math.abs(st.loss - refLoss) < 1e-6, `step ${s}: loss ${st.loss} vs ${refLoss}`);
    assertEquals([st.step, st.microBatches, st.lr], [s, 2, 1e-2]);
    assert(st.gradNorm > 0.3, "the clip is active on these steps");
    disposeMicro(micro);
  }
  assertEquals(tf.memory().numTensors, before, "no tensor left behind by four steps");
  const wa = weightsOf(a), wb = weightsOf(b);
  for (const [k, v] of wa) {
    for (let i = 0; i < v.length; i++) assert(Math.abs(v[i] - wb.get(k)![i]) < 1e-6, `${k}[${i}]`);
  }
  assertEquals(step.optimizer.step, 4);
  step.dispose();
  ref.dispose();
  a.dispose();
  b.dispose();
});

Deno.test("step: issue() + flush() (deferred, one host read) gives the same weights and stats as run()", async () => {
  const a = new TinyLm({ vocabSize: V, dim: 8 }, 4), b = new TinyLm({ vocabSize: V, dim: 8 }, 4);
  const sa = new TrainStep(a, { optimizer: { lr: 1e-2 }, gradClip: 1 });
  const sb = new TrainStep(b, { optimizer: { lr: 1e-2 }, gradClip: 1 });
  const micro = [randomMicro(1)];
  const checked = [];
  for (let s = 1; s <= 3; s++) checked.push(await sa.run({ micro, lr: 1e-2, step: s }));
  for (let s = 1; s <= 3; s++) sb.issue({ micro, lr: 1e-2, step: s });
  assertEquals(sb.pending, 3);
  await assertRejects(() => sb.run({ micro, lr: 1e-2, step: 4 }), Error, "call flush() first");
  const deferred = await sb.flush();
  assertEquals(sb.pending, 0);
  assertEquals(deferred, checked);
  assertEquals(weightsOf(a), weightsOf(b));
  assertEquals(await sb.flush(), [], "nothing pending");
  disposeMicro(micro);
  sa.dispose();
  sb.dispose();
  a.dispose();
  b.dispose();
});

/** A TinyLm whose loss is NaN or leaks a tensor on given calls. */
class Faulty extends TinyLm {
  calls = 0;
  constructor(readonly fault: (call: number) => "nan" | "leak" | null) {
    super({ vocabSize: V, dim: 8 }, 0);
  }
  override loss(ids: tf.Tensor2D, t: tf.Tensor2D): tf.Scalar {
    const f = this.fault(++this.calls);
    if (f === "leak") tf.keep(tf.zeros([2]));
    const l = super.loss(ids, t);
    return f === "nan" ? l.mul(tf.scalar(NaN)) : l;
  }
}

Deno.test("step: NaN guard — run() applies nothing; flush() names the first bad step and says it was applied", async () => {
  const m = new Faulty((c) => (c === 2 ? "nan" : null));
  const step = new TrainStep(m, { optimizer: { lr: 1e-2 } });
  const micro = [randomMicro(2)];
  await step.run({ micro, lr: 1e-2, step: 1 });
  const w1 = weightsOf(m);
  const e = await assertRejects(() => step.run({ micro, lr: 1e-2, step: 2 }), NonFiniteError, "step 2");
  assertStringIncludes(e.message, "was not applied");
  assertEquals(weightsOf(m), w1, "no update at the NaN step");
  assertEquals(step.midUpdate, false);
  step.dispose();
  m.dispose();

  const m2 = new Faulty((c) => (c === 3 ? "nan" : null));
  const s2 = new TrainStep(m2, { optimizer: { lr: 1e-2 } });
  for (let s = 1; s <= 4; s++) s2.issue({ micro, lr: 1e-2, step: s });
  const e2 = await assertRejects(() => s2.flush(), NonFiniteError, "step 3");
  assertStringIncludes(e2.message, "was applied before its statistics were read");
  assertEquals(s2.pending, 0, "the pending statistics are released");
  s2.dispose();
  m2.dispose();
  disposeMicro(micro);
});

Deno.test("step: the leak guard names the step that leaked, before the next one starts", async () => {
  const before = tf.memory().numTensors;
  const m = new Faulty((c) => (c === 2 ? "leak" : null));
  const step = new TrainStep(m, { optimizer: { lr: 1e-2 } });
  const micro = [randomMicro(3)];
  await step.run({ micro, lr: 1e-2, step: 1 });
  await step.run({ micro, lr: 1e-2, step: 2 });
  const w2 = weightsOf(m);
  await assertRejects(() => step.run({ micro, lr: 1e-2, step: 3 }), TensorLeakError, "Tensor leak at step 2");
  assertEquals(weightsOf(m), w2, "step 3 did not start");
  // deferred statistics and the step's own inputs are not leaks
  const clean = new TrainStep(new TinyLm({ vocabSize: V, dim: 8 }, 1), { optimizer: { lr: 1e-2 } });
  for (let s = 1; s <= 4; s++) {
    const extra = randomMicro(50 + s);
    clean.issue({ micro: [micro[0], extra], lr: 1e-2, step: s });
    disposeMicro([extra]);
  }
  assertEquals((await clean.flush()).length, 4);
  clean.dispose();
  (clean.model as TinyLm).dispose();
  step.dispose();
  m.dispose();
  disposeMicro(micro);
  assertEquals(tf.memory().numTensors, before + 1, "only the Faulty model's leaked tensor is left");
});

Deno.test("step: frozen weights stay unchanged; a passed-in optimizer is the caller's; bad input", async () => {
  const m = new TinyLm({ vocabSize: V, dim: 8 }, 5);
  const opt = new AdamW(m.weights, { lr: 1e-2, frozen: [/^mix\./] });
  const step = new TrainStep(m, { optimizer: opt, gradClip: null });
  const w0 = weightsOf(m);
  const micro = [randomMicro(4)];
  const { losses, grads } = step.gradients(micro);
  assertEquals([...grads.keys()].sort(), ["emb.weight", "head.bias"], "no gradient for frozen weights");
  tf.dispose([...losses, ...grads.values()]);
  await step.run({ micro, lr: 1e-2, step: 1 });
  const w1 = weightsOf(m);
  assertEquals(w1.get("mix.weight"), w0.get("mix.weight"));
  assertNotEquals(w1.get("emb.weight"), w0.get("emb.weight"));
  step.dispose();
  assertEquals(opt.step, 1, "the optimizer outlives the step that did not create it");
  opt.freeze([/^emb\./, /^head\./]);
  const none = new TrainStep(m, { optimizer: opt });
  await assertRejects(() => none.run({ micro, lr: 1e-2, step: 2 }), Error, "every parameter is frozen");
  none.dispose();
  opt.dispose();
  assertThrows(
    () => new TrainStep(m, { gradClip: 0 }),
    Error,
    `gradClip must be a positive number or null, got "0"`,
  );
  const s3 = new TrainStep(m);
  await assertRejects(() => s3.run({ micro: [], lr: 1e-2, step: 1 }), Error, "no micro-batch");
  await assertRejects(() => s3.run({ micro, lr: 0, step: 1 }), Error, `got "0"`);
  s3.dispose();
  disposeMicro(micro);
  m.dispose();
});

Deno.test("microBatch: an out-of-vocabulary id is named with its position and the vocabulary size", () => {
  const b = { x: Int32Array.of(1, 2, 3, 70), y: Int32Array.of(2, 3, 4, -100), batch: 2, seqLen: 2 };
  assertThrows(
    () => microBatch(b, { vocabSize: 16, where: "step 3" }),
    Error,
    `step 3: input id "70" at row 1, column 1 is outside the model's vocabulary [0, 16) (vocabSize 16)`,
  );
  const t = { x: Int32Array.of(1, 2), y: Int32Array.of(-5, 3), batch: 1, seqLen: 2 };
  assertThrows(() => microBatch(t, { vocabSize: 16 }), Error, `target id "-5" at row 0, column 0`);
  assertThrows(() => microBatch({ ...t, batch: 2 }), Error, `holds "2" inputs`);
  const ok = microBatch({ ...b, x: Int32Array.of(1, 2, 3, 15) }, { vocabSize: 16 });
  assertEquals(ok.ids.shape, [2, 2]);
  assertEquals(Array.from(ok.targets.dataSync()), [2, 3, 4, -100], "−100 targets are kept");
  tf.dispose([ok.ids, ok.targets]);
});

for (const c of await backendCases()) {
  Deno.test({
    name: `step: deferred = checked, close to cpu, no leaks (${c.name}${
      c.name === "webgpu" ? ", with the fused AdamW" : ""
    })`,
    ignore: c.ignore,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const run = async (backend: string, deferred: boolean) => {
        await initBackend({ backend });
        const m = new TinyLm({ vocabSize: V, dim: 8 }, 6);
        const step = new TrainStep(m, { optimizer: { lr: 2e-2, weightDecay: 0.1 }, gradClip: 0.5 });
        const micro = [randomMicro(7), randomMicro(8)];
        const stats = [];
        let before = 0;
        for (let s = 1; s <= 3; s++) {
          if (deferred) step.issue({ micro, lr: 2e-2, step: s });
          else stats.push(await step.run({ micro, lr: 2e-2, step: s }));
          if (s === 1 || s === 3) stats.push(...await step.flush());
          if (s === 1) before = tf.memory().numTensors; // after lazily made state (the fused AdamW's scratch)
        }
        assertEquals(tf.memory().numTensors, before, "no tensor left by steps 2 and 3");
        const w = new Map<string, Float32Array>();
        for (const [k, v] of m.weights) w.set(k, Float32Array.from(await v.data() as Float32Array));
        step.dispose();
        disposeMicro(micro);
        m.dispose();
        return { stats, w };
      };
      const ref = await run("cpu", false);
      for (const deferred of [false, true]) {
        const got = await run(c.name, deferred);
        for (let i = 0; i < 3; i++) {
          assert(Math.abs(got.stats[i].loss - ref.stats[i].loss) < 1e-4, `loss ${i} (deferred ${deferred})`);
          assert(Math.abs(got.stats[i].gradNorm - ref.stats[i].gradNorm) < 1e-4, `norm ${i}`);
        }
        for (const [k, v] of ref.w) {
          for (let i = 0; i < v.length; i++) {
            assert(Math.abs(v[i] - got.w.get(k)![i]) < 1e-4, `${k}[${i}] (deferred ${deferred})`);
          }
        }
      }
      await initBackend({ backend: "cpu" });
    },
  });
}
