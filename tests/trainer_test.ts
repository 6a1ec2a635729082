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
import { Rng } from "../src/rng.ts";
import { ArrayBatchSource, type Batch } from "../src/train/batch_source.ts";
import { BatchIterator, PackedDataset } from "../src/data/batches.ts";
import { type StepRecord, train, type TrainOptions } from "../src/train/trainer.ts";
import { latestCheckpoint, loadCheckpoint, loadFrozenSubmodules } from "../src/train/checkpoint.ts";
import { NonFiniteError, TensorLeakError } from "../src/train/guards.ts";
import {
  BarProgress,
  createProgress,
  formatProgress,
  JupyterProgress,
  LogProgress,
  SilentProgress,
} from "../src/train/progress.ts";

await initBackend({ backend: "cpu" });

const V = 16;
const TOKENS = (() => {
  const r = new Rng(42);
  // a learnable pattern plus noise: next = (3·prev + 1) mod V with prob 0.8
  const t = new Int32Array(200);
  for (let i = 1; i < t.length; i++) t[i] = r.uniform() < 0.8 ? (3 * t[i - 1] + 1) % V : r.int(V);
  return t;
})();

/** A TinyLm whose loss can be sabotaged on a given call (1-based). */
class Sabotaged implements LanguageModel {
  calls = 0;
  constructor(readonly inner: TinyLm, readonly hook: (call: number) => "nan" | "throw" | "leak" | null) {}
  get config() {
    return this.inner.config;
  }
  get weights() {
    return this.inner.weights;
  }
  get noDecay() {
    return this.inner.noDecay;
  }
  logProbs(ids: tf.Tensor2D) {
    return this.inner.logProbs(ids);
  }
  loss(ids: tf.Tensor2D, t: tf.Tensor2D): tf.Scalar {
    const what = this.hook(++this.calls);
    if (what === "throw") throw new Error(`simulated crash in loss call ${this.calls}`);
    if (what === "leak") tf.keep(tf.zeros([3]));
    const l = this.inner.loss(ids, t);
    return what === "nan" ? l.mul(tf.scalar(NaN)) : l;
  }
  dispose() {
    this.inner.dispose();
  }
}

function weightsOf(m: LanguageModel): Map<string, Float32Array> {
  return new Map([...m.weights].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
}

/** One run: a fresh model/data/Rng from seeds, `extra` options; the model is disposed (objects dropped). */
async function run(
  extra: Partial<TrainOptions>,
  o: { modelSeed?: number; rngSeed?: number; wrap?: (m: TinyLm) => LanguageModel } = {},
): Promise<{ history: StepRecord[]; weights: Map<string, Float32Array>; error?: Error }> {
  const tiny = new TinyLm({ vocabSize: V, dim: 8 }, o.modelSeed ?? 0);
  const model = o.wrap ? o.wrap(tiny) : tiny;
  const rng = new Rng(o.rngSeed ?? 1337);
  const data = new ArrayBatchSource(TOKENS, { batch: 4, seqLen: 8, rng });
  let history: StepRecord[] = [];
  let error: Error | undefined;
  try {
    history = await train({
      model,
      data,
      rng,
      lr: 1e-2,
      weightDecay: 0.1,
      gradClip: 1,
      progress: "none",
      ...extra,
    });
  } catch (e) {
    error = e as Error;
  }
  const weights = weightsOf(model);
  model.dispose();
  return { history, weights, error };
}

function tmp(): string {
  return Deno.makeTempDirSync({ prefix: "ssmlab_trainer_" });
}

Deno.test("trainer: 20 steps straight = 10 steps + resume + 10 steps (bitwise on cpu, across epochs)", async () => {
  const a = tmp(), b = tmp();
  const straight = await run({ steps: 20, outDir: a, saveEvery: 10 });
  assertEquals(straight.history.length, 20);
  assert(straight.history[19].epoch >= 2, "the run crosses epoch boundaries");
  assert(straight.history[19].loss < straight.history[0].loss, "loss decreases");
  const first = await run({ steps: 10, outDir: b });
  assertEquals(first.history.map((r) => r.loss), straight.history.slice(0, 10).map((r) => r.loss));
  // a different model init and Rng seed: everything must come from the checkpoint
  const resumed = await run({ steps: 20, outDir: b, resume: true }, { modelSeed: 99, rngSeed: 5 });
  assertEquals(resumed.history.length, 20);
  assertEquals(
    resumed.history.map((r) => r.loss),
    straight.history.map((r) => r.loss),
    "losses bitwise equal",
  );
  assertEquals(resumed.history.map((r) => r.gradNorm), straight.history.map((r) => r.gradNorm));
  assertEquals(resumed.weights, straight.weights, "final weights bitwise equal");
  const ck = await loadCheckpoint(b);
  assertEquals(ck.state.step, 20);
  for (
    const k of ["step", "epoch", "data", "rng", "schedule", "bestValLoss", "seed", "backend", "versions"]
  ) {
    assert(k in ck.state, `state.json has ${k}`);
  }
  assertEquals(ck.state.backend, "cpu");
  // resume: true on a finished run trains nothing more
  const again = await run({ steps: 20, outDir: b, resume: true });
  assertEquals(again.history.length, 20);
  assertEquals(again.weights, straight.weights);
  await Deno.remove(a, { recursive: true });
  await Deno.remove(b, { recursive: true });
});

Deno.test("trainer: an interrupted run (exception mid-step, with accumulation) resumes exactly", async () => {
  const a = tmp(), b = tmp();
  const straight = await run({ steps: 12, accumulate: 2 });
  // loss call 15 is step 8's first micro-batch: step 7 is the last completed one
  const crashed = await run({ steps: 12, accumulate: 2, outDir: b, saveEvery: 5 }, {
    wrap: (m) => new Sabotaged(m, (c) => (c === 15 ? "throw" : null)),
  });
  assertStringIncludes(crashed.error!.message, "simulated crash in loss call 15");
  assertStringIncludes(crashed.error!.message, "Saved the last completed step (7)");
  assertEquals(await latestCheckpoint(b), `${b}/step-7`);
  const resumed = await run({ steps: 12, accumulate: 2, outDir: b, resume: true }, { modelSeed: 3 });
  assertEquals(resumed.history.map((r) => r.loss), straight.history.map((r) => r.loss));
  assertEquals(resumed.weights, straight.weights);
  // resume from an explicit path (the step-5 checkpoint) also reproduces
  const fromPath = await run({ steps: 12, accumulate: 2, outDir: a, resume: `${b}/step-5` });
  assertEquals(fromPath.weights, straight.weights);
  await Deno.remove(a, { recursive: true });
  await Deno.remove(b, { recursive: true });
});

Deno.test("trainer: gradient accumulation of 2×2 ≈ one batch of 4", async () => {
  const tiny = new TinyLm({ vocabSize: V, dim: 8 }, 0);
  const h1 = await train({
    model: tiny,
    data: new ArrayBatchSource(TOKENS, { batch: 4, seqLen: 8, shuffle: false }),
    steps: 1,
    lr: 1e-2,
    progress: "none",
  });
  const w1 = weightsOf(tiny);
  tiny.dispose();
  const tiny2 = new TinyLm({ vocabSize: V, dim: 8 }, 0);
  const h2 = await train({
    model: tiny2,
    data: new ArrayBatchSource(TOKENS, { batch: 2, seqLen: 8, shuffle: false }),
    steps: 1,
    accumulate: 2,
    lr: 1e-2,
    progress: "none",
  });
  const w2 = weightsOf(tiny2);
  tiny2.dispose();
  assert(Math.abs(h1[0].loss - h2[0].loss) < 1e-5, `loss ${h1[0].loss} vs ${h2[0].loss}`);
  assert(Math.abs(h1[0].gradNorm - h2[0].gradNorm) < 1e-5, `norm ${h1[0].gradNorm} vs ${h2[0].gradNorm}`);
  for (const [k, v] of w1) {
    for (let i = 0; i < v.length; i++) assert(Math.abs(v[i] - w2.get(k)![i]) < 1e-5, `${k}[${i}]`);
  }
});

Deno.test("trainer: NaN loss at step 3 stops with an error naming step 3; checkpoint of step 2 kept", async () => {
  for (const saveEvery of [1, 0]) {
    const dir = tmp();
    const r = await run({ steps: 10, outDir: dir, saveEvery }, {
      wrap: (m) => new Sabotaged(m, (c) => (c === 3 ? "nan" : null)),
    });
    assert(r.error instanceof NonFiniteError, `NonFiniteError, got ${r.error}`);
    assertStringIncludes(r.error!.message, "step 3");
    assertStringIncludes(r.error!.message, "loss is NaN");
    assertEquals(await latestCheckpoint(dir), `${dir}/step-2`);
    const ck = await loadCheckpoint(dir);
    assertEquals(ck.state.step, 2);
    for (const [k, t] of ck.weights) {
      assert((t.data as Float32Array).every(Number.isFinite), `${k} finite`);
      assertEquals(t.data, r.weights.get(k)!, `${k}: no update applied at step 3`);
    }
    assert(!(await Deno.stat(`${dir}/step-3`).then(() => true, () => false)), "no step-3 checkpoint");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainer: a tensor leak is caught and names the step", async () => {
  const r = await run({ steps: 5 }, { wrap: (m) => new Sabotaged(m, (c) => (c >= 2 ? "leak" : null)) });
  assert(r.error instanceof TensorLeakError, `TensorLeakError, got ${r.error}`);
  assertStringIncludes(r.error!.message, "Tensor leak at step 2");
  // clean runs do not trip it; and tensors are stable around a whole run
  const n0 = tf.memory().numTensors;
  const ok = await run({ steps: 4 });
  assertEquals(ok.error, undefined);
  assertEquals(tf.memory().numTensors, n0, "train() releases everything it made");
});

Deno.test("trainer: configuration errors are clear", async () => {
  const tiny = new TinyLm({ vocabSize: V, dim: 8 }, 0);
  const data = new ArrayBatchSource(TOKENS, { batch: 4, seqLen: 8 });
  const base = { model: tiny, data, progress: "none" as const };
  await assertRejects(
    () => train({ ...base, steps: 5, lr: 0 }),
    Error,
    `lr must be a positive number, got "0"`,
  );
  await assertRejects(
    () => train({ ...base, steps: 5, accumulate: 0 }),
    Error,
    `accumulate must be an integer ≥ 1, got "0"`,
  );
  await assertRejects(
    () => train({ ...base, steps: 5, schedule: "warp" as "constant" }),
    Error,
    `unknown schedule "warp"`,
  );
  await assertRejects(() => train({ ...base }), Error, "give steps or epochs");
  await assertRejects(() => train({ ...base, steps: 5, resume: true }), Error, "resume: true needs outDir");
  await assertRejects(() => train({ ...base, steps: 5, frozen: ["*"] }), Error, "every parameter is frozen");
  await assertRejects(
    () => train({ ...base, steps: 5, resume: "/nonexistent/ckpt" }),
    Error,
    "No checkpoint at",
  );
  tiny.dispose();
});

Deno.test("trainer: curriculum — a sub-module loaded frozen stays bit-for-bit unchanged, also across resume", async () => {
  const stage1 = tmp(), stage2 = tmp();
  await run({ steps: 3, outDir: stage1 });
  const tiny = new TinyLm({ vocabSize: V, dim: 8 }, 5);
  const frozen = await loadFrozenSubmodules(tiny, stage1, { prefixes: ["mix."] });
  const before = weightsOf(tiny);
  const rng = new Rng(1);
  await train({
    model: tiny,
    data: new ArrayBatchSource(TOKENS, { batch: 4, seqLen: 8, rng }),
    rng,
    steps: 4,
    lr: 1e-2,
    frozen,
    outDir: stage2,
    progress: "none",
  });
  let after = weightsOf(tiny);
  tiny.dispose();
  assertEquals(after.get("mix.weight"), before.get("mix.weight"));
  assertEquals(after.get("mix.bias"), before.get("mix.bias"));
  assertNotEquals(after.get("emb.weight"), before.get("emb.weight"));
  assertNotEquals(after.get("head.bias"), before.get("head.bias"));
  // resuming without repeating `frozen`: the optimizer state remembers it
  const r = await run({ steps: 8, outDir: stage2, resume: true });
  after = r.weights;
  assertEquals(after.get("mix.weight"), before.get("mix.weight"));
  const ck = await loadCheckpoint(stage2);
  assertEquals(ck.optimizer!.frozen.sort(), ["mix.bias", "mix.weight"]);
  assertEquals([...ck.optimizer!.moments.keys()].sort(), ["emb.weight", "head.bias"]);
  await Deno.remove(stage1, { recursive: true });
  await Deno.remove(stage2, { recursive: true });
});

Deno.test("trainer: evaluation, callbacks, epochs, schedules, keepLast, progress", async () => {
  const dir = tmp();
  const evals: number[] = [];
  const steps: number[] = [];
  const progress = new SilentProgress();
  const valData = () =>
    new ArrayBatchSource(TOKENS.subarray(0, 100), { batch: 4, seqLen: 8, shuffle: false });
  const r = await run({
    epochs: 2,
    valData,
    evalEvery: 4,
    saveEvery: 3,
    keepLast: 2,
    outDir: dir,
    schedule: { name: "cosine", warmup: 2, minLr: 1e-3 },
    onEval: ({ valLoss }) => void evals.push(valLoss),
    onStep: (rec) => void steps.push(rec.step),
    progress,
  });
  assertEquals(r.error, undefined);
  // 24 sequences / batch 4 = 6 batches per epoch → 12 steps
  assertEquals(r.history.length, 12);
  assertEquals(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assertEquals(r.history.filter((h) => h.valLoss !== undefined).map((h) => h.step), [4, 8, 12]);
  assertEquals(evals.length, 3);
  assertEquals(r.history.map((h) => h.epoch), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  assertEquals(r.history[0].lr, 5e-3);
  assertEquals(r.history[1].lr, 1e-2);
  assert(Math.abs(r.history[11].lr - 1e-3) < 1e-12, "cosine ends at minLr");
  assert(r.history.every((h) => h.tokensPerSec > 0 && h.gradNorm > 0));
  assertEquals(progress.updates.length, 12);
  assertEquals(progress.updates[11].total, 12);
  assertEquals(progress.messages.length, 3);
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assertEquals(names.sort(), ["latest", "step-12", "step-9"]);
  const ck = await loadCheckpoint(dir);
  assertEquals(ck.state.bestValLoss, Math.min(...evals));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("progress: line format, log lines and Jupyter display updates", () => {
  const info = {
    step: 5,
    total: 10,
    loss: 2.5,
    lr: 3e-4,
    tokensPerSec: 1234.4,
    epoch: 0,
    elapsedSec: 5,
    sessionSteps: 5,
  };
  assertEquals(
    formatProgress(info),
    "[█████░░░░░] step 5/10 | loss 2.5000 | lr 3.0e-4 | 1,234 tok/s | ETA 5s",
  );
  const lines: string[] = [];
  const log = new LogProgress(5, (s) => lines.push(s));
  for (let s = 1; s <= 10; s++) log.update({ ...info, step: s });
  assertEquals(lines.length, 2);
  const sent: [string, Record<string, unknown>][] = [];
  const api = {
    broadcast: (t: string, c: Record<string, unknown>) => (sent.push([t, c]), Promise.resolve()),
  };
  const j = new JupyterProgress(0, api);
  j.update(info);
  j.update({ ...info, step: 6 });
  j.message("val loss 2.1");
  assertEquals(sent.map((s) => s[0]), ["display_data", "update_display_data", "update_display_data"]);
  const ids = sent.map((s) => (s[1].transient as { display_id: string }).display_id);
  assert(ids.every((id) => id === j.displayId));
  assertStringIncludes((sent[2][1].data as Record<string, string>)["text/plain"], "val loss 2.1");
  const out: string[] = [];
  const bar = new BarProgress(0, (s) => out.push(s));
  bar.update(info);
  bar.message("saved");
  bar.update({ ...info, step: 10 });
  bar.end();
  assert(out[0].startsWith("\r\x1b[2K[") && out[0].includes("step 5/10"), JSON.stringify(out[0]));
  assertEquals(out[1], "\r\x1b[2Ksaved\n");
  assertEquals(out[out.length - 1], "\n");
  assert(createProgress("none") instanceof SilentProgress);
});

Deno.test({
  name: "trainer: a few steps on the webgpu backend (no dataSync), with evaluation, checkpoint and resume",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown | null> } }).gpu;
    const adapter = await gpu?.requestAdapter().catch(() => null);
    if (!adapter) {
      console.warn("SKIPPED: no WebGPU adapter here (navigator.gpu?.requestAdapter() gave null)");
      await t.step({ name: "webgpu training (no WebGPU adapter: skipped)", ignore: true, fn: () => {} });
      return;
    }
    const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
    const saved = { dataSync: proto.dataSync, arraySync: proto.arraySync };
    const forbid = (name: string) =>
      function (this: tf.Tensor) {
        if (tf.getBackend() === "webgpu") throw new Error(`${name} called on the webgpu backend`);
        return (saved[name as keyof typeof saved] as (this: tf.Tensor) => unknown).call(this);
      };
    proto.dataSync = forbid("dataSync");
    proto.arraySync = forbid("arraySync");
    const dir = tmp();
    try {
      assertEquals(await initBackend({ backend: "webgpu" }), "webgpu");
      const opts = (model: TinyLm, rng: Rng, steps: number): TrainOptions => ({
        model,
        data: new ArrayBatchSource(TOKENS, { batch: 4, seqLen: 8, rng }),
        valData: () => new ArrayBatchSource(TOKENS.subarray(0, 80), { batch: 4, seqLen: 8, shuffle: false }),
        rng,
        steps,
        lr: 2e-2,
        weightDecay: 0.1,
        gradClip: 0.5, // small enough to clip on some steps
        accumulate: 2,
        evalEvery: 4,
        saveEvery: 4,
        outDir: dir,
        progress: "none",
      });
      const model = new TinyLm({ vocabSize: V, dim: 8 }, 0);
      const before = tf.memory().numTensors;
      const h = await train(opts(model, new Rng(1337), 12));
      assertEquals(tf.memory().numTensors, before, "no tensor leaked");
      assertEquals(h.length, 12);
      for (const r of h) assert(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm), JSON.stringify(r));
      const head = (h[0].loss + h[1].loss) / 2, tail = (h[10].loss + h[11].loss) / 2;
      assert(tail < head - 0.1, `loss falls on webgpu: ${head} → ${tail}`);
      assert(h[11].valLoss !== undefined && h[11].valLoss < h[3].valLoss!, "validation loss falls");
      // the checkpoint holds exactly the trained weights (read with await data())
      const ck = await loadCheckpoint(dir);
      assertEquals(ck.state.step, 12);
      assertEquals(ck.state.backend, "webgpu");
      for (const [k, v] of model.weights) {
        assertEquals(ck.weights.get(k)!.data, Float32Array.from(await v.data() as Float32Array), k);
      }
      assertEquals(ck.optimizer!.step, 12);
      model.dispose();
      // resume from it for a few more steps
      const m2 = new TinyLm({ vocabSize: V, dim: 8 }, 7);
      const h2 = await train({ ...opts(m2, new Rng(5), 14), resume: true });
      assertEquals(h2.length, 14);
      assertEquals(h2.slice(0, 12).map((r) => r.loss), h.map((r) => r.loss));
      assert(h2[13].loss < head, "still learning after resume");
      m2.dispose();
    } finally {
      proto.dataSync = saved.dataSync;
      proto.arraySync = saved.arraySync;
      await initBackend({ backend: "cpu" });
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("trainer: one batch type — ArrayBatchSource, BatchIterator and an array train identically", async () => {
  // unshuffled, so the three sources serve the same batches in the same order (6 batches per epoch)
  const iterator = () => new BatchIterator(new PackedDataset(TOKENS, 8), { batchSize: 4 });
  const array: Batch[] = [...iterator().epoch()];
  const val = () => new ArrayBatchSource(TOKENS.subarray(0, 100), { batch: 4, seqLen: 8, shuffle: false });
  const opts = { steps: 8, evalEvery: 4 };
  const viaSource = await run({
    ...opts,
    data: new ArrayBatchSource(TOKENS, { batch: 4, seqLen: 8, shuffle: false }),
    valData: val,
  });
  assertEquals(viaSource.error, undefined);
  assertEquals(viaSource.history.map((h) => h.epoch), [0, 0, 0, 0, 0, 0, 1, 1]);
  const valIterator = () =>
    new BatchIterator(new PackedDataset(TOKENS.subarray(0, 100), 8), { batchSize: 4 });
  for (
    const [name, data, valData] of [
      ["BatchIterator", iterator(), valIterator],
      ["array", array, () => [...valIterator().epoch()]],
    ] as const
  ) {
    const r = await run({ ...opts, data, valData });
    assertEquals(r.error, undefined, name);
    assertEquals(
      r.history,
      viaSource.history.map((h, i) => ({ ...h, tokensPerSec: r.history[i].tokensPerSec })),
    );
    assertEquals(r.weights, viaSource.weights, name);
  }
});

Deno.test("trainer: a shuffled BatchIterator resumes exactly (its position is checkpointed)", async () => {
  const a = tmp(), b = tmp();
  const data = () =>
    new BatchIterator(new PackedDataset(TOKENS, 8), { batchSize: 4, shuffle: true, dropLast: true, seed: 3 });
  const straight = await run({ steps: 9, data: data() });
  await run({ steps: 4, data: data(), outDir: b });
  const resumed = await run({ steps: 9, data: data(), outDir: b, resume: true }, { modelSeed: 7 });
  assertEquals(resumed.history.map((r) => r.loss), straight.history.map((r) => r.loss));
  assertEquals(resumed.weights, straight.weights);
  // an array resumes exactly too (its position is a count of batches)
  const array = [...data().epoch()];
  const s2 = await run({ steps: 9, data: array });
  await run({ steps: 5, data: array, outDir: a });
  const r2 = await run({ steps: 9, data: array, outDir: a, resume: true }, { modelSeed: 7 });
  assertEquals(r2.weights, s2.weights);
  await Deno.remove(a, { recursive: true });
  await Deno.remove(b, { recursive: true });
});

Deno.test("trainer: out-of-vocabulary ids and empty sources are named clearly", async () => {
  const bad = TOKENS.slice();
  bad[37] = 20; // sequence 4, position 5 (inputs) of a vocabulary of 16
  const n0 = tf.memory().numTensors;
  const r = await run({ steps: 3, data: new ArrayBatchSource(bad, { batch: 4, seqLen: 8, shuffle: false }) });
  assertStringIncludes(r.error!.message, `train: micro-batch 0 of step 2: input id "20" at row 0, column 5`);
  assertStringIncludes(r.error!.message, "vocabulary [0, 16) (vocabSize 16)");
  assertEquals(tf.memory().numTensors, n0, "nothing leaked by the failed step");
  assertThrows(
    () => new ArrayBatchSource(new Int32Array(0), { batch: 4, seqLen: 8, name: "data/train.txt" }),
    Error,
    `ArrayBatchSource: "data/train.txt" holds 0 tokens (is it empty?); expected at least 9`,
  );
  const empty = await run({ steps: 2, data: [] });
  assertStringIncludes(
    empty.error!.message,
    "gave no batch in epoch 1; expected at least one batch per epoch",
  );
  const once = (function* () {
    yield* [...new BatchIterator(new PackedDataset(TOKENS, 8), { batchSize: 4 }).epoch()];
  })();
  let trained = 0;
  const gen = await run({ steps: 8, data: once, onStep: () => void trained++ });
  assertStringIncludes(gen.error!.message, "a generator that can be iterated only once");
  assertEquals(trained, 6, "the first epoch trained");
  const notData = await run({ steps: 2, data: 5 as never });
  assertStringIncludes(notData.error!.message, "train: `data` is not a source of batches");
});
