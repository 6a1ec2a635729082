/**
 * The captured training step (src/train/capture.ts) on the software WebGPU adapter: a replayed run equals the
 * uncaptured TrainStep run (losses, gradient norms, weights and optimizer state to ≤ 1e-6 relative) under a
 * learning-rate schedule, with dropout on (seeds redrawn per replay); deferred and checked modes; shape changes
 * fall back; variables replaced from outside re-capture; per-step constants the capture cannot rewrite (a tf-op
 * optimizer's learning rate) refuse it; no tensor or pinned buffer left after dispose; the NaN and leak guards;
 * the forward-only capture for evaluation.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { TinyLm } from "./fixtures/tiny_lm.ts";
import type { LanguageModel } from "../src/models/types.ts";
import { createModel } from "../src/models/registry.ts";
import { type MicroBatch, microBatch, type StepStats, TrainStep } from "../src/train/step.ts";
import { CapturedForward, CapturedLoss, CapturedStep, capturePinnedBuffers } from "../src/train/capture.ts";
import { NonFiniteError, TensorLeakError } from "../src/train/guards.ts";
import { mhcConfig } from "../src/models/mhc_family.ts";
import { Rng } from "../src/rng.ts";
import { webgpuOrWarn } from "./webgpu_helpers.ts";

const gpu = await webgpuOrWarn("capture tests");
/** Steps of the model tests (the software adapter runs a tiny mHC step in about 0.1 s). */
const MODEL_STEPS = 50;

function randomMicro(seed: number, V: number, B: number, T: number): MicroBatch {
  const r = new Rng(seed);
  const x = Int32Array.from({ length: B * T }, () => r.int(V));
  const y = Int32Array.from({ length: B * T }, () => r.int(V));
  return microBatch({ x, y, batch: B, seqLen: T }, { vocabSize: V });
}

/** A cosine-like schedule: the learning rate changes every step. */
const lrAt = (s: number) => 1e-2 * (0.5 + 0.5 * Math.cos(s / 7));

interface Run {
  stats: StepStats[];
  weights: Map<string, Float32Array>;
  optStep: number;
  m: Float32Array;
}

async function snapshot(model: LanguageModel, step: TrainStep, stats: StepStats[]): Promise<Run> {
  const weights = new Map<string, Float32Array>();
  for (const [k, v] of model.weights) weights.set(k, Float32Array.from(await v.data() as Float32Array));
  const st = await step.optimizer.getState();
  const m = Float32Array.from([...st.moments.values()].flatMap((x) => [...x.m]));
  return { stats, weights, optStep: step.optimizer.step, m };
}

function close(a: number, b: number, what: string): void {
  const tol = 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
  assert(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
}

function compare(ref: Run, got: Run): void {
  assertEquals(got.stats.length, ref.stats.length);
  ref.stats.forEach((s, i) => {
    assertEquals(got.stats[i].step, s.step);
    close(got.stats[i].loss, s.loss, `loss of step ${s.step}`);
    close(got.stats[i].gradNorm, s.gradNorm, `norm of step ${s.step}`);
  });
  for (const [k, w] of ref.weights) {
    const g = got.weights.get(k)!;
    for (let i = 0; i < w.length; i++) close(g[i], w[i], `${k}[${i}]`);
  }
  assertEquals(got.optStep, ref.optStep);
  for (let i = 0; i < ref.m.length; i++) close(got.m[i], ref.m[i], `m[${i}]`);
}

type Make = () => LanguageModel;

interface TrainOpts {
  captured: boolean;
  deferred: boolean;
  /** The micro-batch of step s (1-based). */
  batch: (s: number) => MicroBatch;
  steps: number;
  /** Called before step s (reads, optimizer state round trips). */
  before?: (s: number, model: LanguageModel, step: TrainStep) => Promise<void>;
  lr?: (s: number) => number;
  /** Replays of steps s with timed(s) go through CapturedStep.timeReplay (deferred only). */
  timed?: (s: number) => boolean;
}

/** Train `make()` through TrainStep (captured = false) or CapturedStep, deferred or checked. */
async function train(make: Make, o: TrainOpts) {
  const model = make();
  const step = new TrainStep(model, { optimizer: { lr: 1e-2, weightDecay: 0.1 }, gradClip: 0.5 });
  const cap = o.captured ? new CapturedStep(step) : null;
  const stats: StepStats[] = [];
  const timings: number[] = [];
  for (let s = 1; s <= o.steps; s++) {
    await o.before?.(s, model, step);
    const input = { micro: [o.batch(s)], lr: (o.lr ?? lrAt)(s), step: s };
    if (cap) {
      if (o.deferred && o.timed?.(s)) {
        const t = await cap.timeReplay(input);
        if (t) timings.push(t.submitToDoneMs);
        else cap.issue(input);
      } else if (o.deferred) cap.issue(input);
      else stats.push(await cap.run(input));
    } else if (o.deferred) step.issue(input);
    else stats.push(await step.run(input));
  }
  if (o.deferred) stats.push(...await (cap ? cap.flush() : step.flush()));
  await cap?.sync();
  const run = await snapshot(model, step, stats);
  const counts = cap
    ? { ...cap.counts, dispatches: cap.dispatches, reason: cap.fallbackReason(), timings }
    : null;
  cap?.dispose();
  step.dispose();
  model.dispose();
  return { run, counts };
}

/** n distinct-ish batches [B, T] (five patterns, cycled). */
function batches(n: number, V: number, B: number, T: number): MicroBatch[] {
  return Array.from({ length: n }, (_, i) => randomMicro(100 + (i % 5), V, B, T));
}

const disposeAll = (ms: MicroBatch[]) => tf.dispose(ms.flatMap((m) => [m.ids, m.targets]));
const opts = { ignore: !gpu, sanitizeOps: false, sanitizeResources: false };

/** Captured = uncaptured, deferred and checked, with no tensor or pinned buffer left. */
async function exact(
  make: Make,
  V: number,
  n: number,
  B: number,
  T: number,
  modes = [true, false],
): Promise<number> {
  const data = batches(n, V, B, T);
  const before = tf.memory().numTensors;
  let dispatches = 0;
  for (const deferred of modes) {
    const o = { deferred, batch: (s: number) => data[s - 1], steps: n };
    const ref = await train(make, { ...o, captured: false });
    const got = await train(make, { ...o, captured: true });
    try {
      compare(ref.run, got.run);
    } catch (e) {
      // Tell a capture bug from a non-deterministic uncaptured step (float atomics, e.g. tfjs's
      // UnsortedSegmentSum in the embedding gradient, sum in no fixed order on a parallel GPU).
      const again = await train(make, { ...o, captured: false });
      try {
        compare(ref.run, again.run);
      } catch (e2) {
        throw new Error(
          `two uncaptured runs differ here (${
            (e2 as Error).message
          }): the step is not deterministic on this ` +
            `adapter, so the capture cannot be judged at 1e-6 (captured vs uncaptured: ${
              (e as Error).message
            })`,
        );
      }
      throw e;
    }
    const c = got.counts!;
    assert(c.recorded >= 2 && c.recorded <= 3, `2 or 3 recorded steps, got ${c.recorded} (${c.reason})`);
    assertEquals(c.replayed, n - c.recorded, `replayed (${c.reason})`);
    assertEquals(c.captures, 1);
    dispatches = c.dispatches;
  }
  assertEquals(tf.memory().numTensors, before, "no tensor left");
  assertEquals(capturePinnedBuffers(), { pinned: 0, parked: 0 }, "no buffer left pinned");
  disposeAll(data);
  return dispatches;
}

Deno.test({
  name:
    "capture (webgpu): replay = uncaptured TrainStep (tiny bigram, lr schedule, deferred and checked, 50 steps)",
  ...opts,
  fn: async () => {
    await initBackend({ backend: "webgpu" });
    const d = await exact(() => new TinyLm({ vocabSize: 16, dim: 8 }, 3), 16, 50, 2, 6);
    assert(d > 10, `dispatches per replay: ${d}`);
    await initBackend({ backend: "cpu" });
  },
});

Deno.test({
  name: "capture (webgpu): 160 deferred replays before one flush (the statistics buffer grows mid-encoder)",
  ...opts,
  fn: async () => {
    await initBackend({ backend: "webgpu" });
    // 2 floats a step: the 256-float statistics buffer grows while step 129's replay is encoded; that replay
    // must still run (its submit was dropped when the outgrown buffer was destroyed before it).
    await exact(() => new TinyLm({ vocabSize: 16, dim: 8 }, 3), 16, 160, 2, 6, [true]);
    await initBackend({ backend: "cpu" });
  },
});

for (
  const [name, over] of [
    ["baseline, dropout 0.1", { kind: "baseline", dropout: 0.1 }],
    ["mHC + adapters, dropout 0.1, adapter dropout 0.1", {
      kind: "mhc",
      streamAdapters: true,
      dropout: 0.1,
      adapterDropout: 0.1,
    }],
  ] as const
) {
  Deno.test({
    name:
      `capture (webgpu): replay = uncaptured TrainStep (${name}, training mode, tiny preset, lr schedule, ` +
      `deferred, ${MODEL_STEPS} steps)`,
    ...opts,
    fn: async () => {
      await initBackend({ backend: "webgpu" });
      const cfg = mhcConfig({ ...over, dim: 16, layers: 2 }, "tiny");
      const make = () => {
        const m = createModel(cfg, 5);
        m.setTraining?.(true); // dropout on: each replay redraws the seeds from the model's generators
        return m;
      };
      const d = await exact(make, cfg.vocabSize, MODEL_STEPS, 2, 8, [true]);
      assert(d > 50, `dispatches per replay: ${d}`);
      await initBackend({ backend: "cpu" });
    },
  });
}

Deno.test({
  name:
    "capture (webgpu): a partial batch runs uncaptured, replaced variables re-capture, reads between replays see them",
  ...opts,
  fn: async () => {
    await initBackend({ backend: "webgpu" });
    const V = 16, n = 30;
    const data = batches(n, V, 2, 6);
    const partial = randomMicro(7, V, 1, 6);
    const make = () => new TinyLm({ vocabSize: V, dim: 8 }, 4);
    const o = {
      deferred: true,
      steps: n,
      batch: (s: number) => (s === 12 ? partial : data[s - 1]),
      timed: (s: number) => s % 3 === 0,
      before: async (s: number, model: LanguageModel, step: TrainStep) => {
        if (s === 8 || s === 25) { for (const v of model.weights.values()) await v.data(); // cached on the host
         }
        if (s === 20) step.optimizer.setState(await step.optimizer.getState()); // replaces m and v
      },
    };
    const ref = await train(make, { ...o, captured: false });
    const got = await train(make, { ...o, captured: true });
    try {
      compare(ref.run, got.run);
    } catch (e) {
      // Tell a capture bug from a non-deterministic uncaptured step (float atomics, e.g. tfjs's
      // UnsortedSegmentSum in the embedding gradient, sum in no fixed order on a parallel GPU).
      const again = await train(make, { ...o, captured: false });
      try {
        compare(ref.run, again.run);
      } catch (e2) {
        throw new Error(
          `two uncaptured runs differ here (${
            (e2 as Error).message
          }): the step is not deterministic on this ` +
            `adapter, so the capture cannot be judged at 1e-6 (captured vs uncaptured: ${
              (e as Error).message
            })`,
        );
      }
      throw e;
    }
    const c = got.counts!;
    assertEquals(c.uncaptured, 1, "the partial batch");
    assertEquals(c.captures, 3, "after the partial batch and after setState");
    assertEquals(c.replayed + c.recorded + c.uncaptured, n);
    assert(c.timings.length >= 5 && c.timings.every((t) => t >= 0), "timed replays (timeReplay)");
    disposeAll([...data, partial]);
    await initBackend({ backend: "cpu" });
  },
});

Deno.test({
  name: "capture (webgpu): two micro-batches per step (gradient accumulation), checked, 12 steps",
  ...opts,
  fn: async () => {
    await initBackend({ backend: "webgpu" });
    const V = 16, n = 12;
    const data = batches(2 * n, V, 2, 6);
    const make = () => new TinyLm({ vocabSize: V, dim: 8 }, 9);
    const go = async (captured: boolean) => {
      const model = make();
      const step = new TrainStep(model, { optimizer: { lr: 1e-2, weightDecay: 0.1 }, gradClip: 0.5 });
      const cap = captured ? new CapturedStep(step) : null;
      const stats: StepStats[] = [];
      for (let s = 1; s <= n; s++) {
        const input = { micro: [data[2 * s - 2], data[2 * s - 1]], lr: lrAt(s), step: s };
        stats.push(await (cap ? cap.run(input) : step.run(input)));
      }
      const run = await snapshot(model, step, stats);
      const replayed = cap?.counts.replayed ?? 0;
      cap?.dispose();
      step.dispose();
      model.dispose();
      return { run, replayed };
    };
    const ref = await go(false), got = await go(true);
    compare(ref.run, got.run);
    assert(got.replayed >= n - 3, `replayed ${got.replayed}`);
    assertEquals(got.run.stats[5].microBatches, 2);
    disposeAll(data);
    await initBackend({ backend: "cpu" });
  },
});

Deno.test({
  name: "capture (webgpu): a tf-op optimizer (lr frozen into constants) is refused and runs uncaptured",
  ...opts,
  fn: async () => {
    await initBackend({ backend: "webgpu" });
    const V = 16, n = 6;
    const data = batches(n, V, 2, 6);
    const go = async (captured: boolean) => {
      const model = new TinyLm({ vocabSize: V, dim: 8 }, 1);
      const step = new TrainStep(model, { optimizer: { lr: 1e-2, gpuFused: false } });
      const cap = captured ? new CapturedStep(step) : null;
      for (let s = 1; s <= n; s++) {
        const input = { micro: [data[s - 1]], lr: lrAt(s), step: s };
        await (cap ? cap.run(input) : step.run(input));
      }
      const run = await snapshot(model, step, []);
      const counts = cap ? { ...cap.counts, reason: cap.fallbackReason() } : null;
      cap?.dispose();
      step.dispose();
      model.dispose();
      return { run, counts };
    };
    const ref = await go(false), got = await go(true);
    compare(ref.run, got.run);
    assertEquals(got.counts!.replayed, 0);
    assert(/fused webgpu/.test(got.counts!.reason ?? ""), `reason: ${got.counts!.reason}`);
    disposeAll(data);
    await initBackend({ backend: "cpu" });
  },
});

Deno.test({
  name:
    "capture (webgpu): NaN guard in a replay — run() throws at the same step as TrainStep and applies nothing",
  ...opts,
  fn: async () => {
    await initBackend({ backend: "webgpu" });
    const V = 16;
    const data = batches(10, V, 2, 6);
    const go = async (captured: boolean) => {
      const model = new TinyLm({ vocabSize: V, dim: 8 }, 1);
      const step = new TrainStep(model, { optimizer: { lr: 1e-2 }, gradClip: null });
      const cap = captured ? new CapturedStep(step) : null;
      let failed = 0, optStep = 0;
      for (let s = 1; s <= 10 && !failed; s++) {
        const input = { micro: [data[s - 1]], lr: s === 6 ? 1e38 : 1e-2, step: s }; // step 6 blows the weights up
        try {
          await (cap ? cap.run(input) : step.run(input));
        } catch (e) {
          assert(e instanceof NonFiniteError, String(e));
          failed = s;
          optStep = step.optimizer.step;
        }
      }
      const replayed = cap?.counts.replayed ?? 0;
      cap?.dispose();
      step.dispose();
      const weights = new Map<string, Float32Array>();
      for (const [k, v] of model.weights) weights.set(k, Float32Array.from(await v.data() as Float32Array));
      model.dispose();
      return { failed, optStep, replayed, weights };
    };
    const ref = await go(false), got = await go(true);
    assert(ref.failed > 6, `the uncaptured run fails after step 6 (at ${ref.failed})`);
    assertEquals(got.failed, ref.failed);
    assertEquals(got.optStep, ref.optStep, "no update at the failing step");
    assert(got.replayed >= 2, "the failing step was a replay");
    // the weights are those of the last good step (a failing replay's forward may have used the buffers the
    // update writes as scratch; they are restored)
    for (const [k, w] of ref.weights) {
      const g = got.weights.get(k)!;
      for (let i = 0; i < w.length; i++) {
        const tol = 1e-6 * Math.max(1, Math.abs(w[i]));
        assert(Object.is(g[i], w[i]) || Math.abs(g[i] - w[i]) <= tol, `${k}[${i}]: ${g[i]} vs ${w[i]}`);
      }
    }
    disposeAll(data);
    await initBackend({ backend: "cpu" });
  },
});

Deno.test({
  name: "capture (webgpu): the leak guard names a recorded step that leaked a tensor",
  ...opts,
  fn: async () => {
    await initBackend({ backend: "webgpu" });
    class Leaky extends TinyLm {
      calls = 0;
      override loss(ids: tf.Tensor2D, t: tf.Tensor2D): tf.Scalar {
        if (++this.calls === 2) tf.keep(tf.zeros([2]));
        return super.loss(ids, t);
      }
    }
    const model = new Leaky({ vocabSize: 16, dim: 8 }, 0);
    const cap = new CapturedStep(new TrainStep(model, { optimizer: { lr: 1e-2 } }));
    const data = batches(3, 16, 2, 6);
    await cap.run({ micro: [data[0]], lr: 1e-2, step: 1 });
    await cap.run({ micro: [data[1]], lr: 1e-2, step: 2 });
    await assertRejects(() => cap.run({ micro: [data[2]], lr: 1e-2, step: 3 }), TensorLeakError, "step 2");
    cap.dispose();
    cap.step.dispose();
    model.dispose();
    disposeAll(data);
    await initBackend({ backend: "cpu" });
  },
});

Deno.test({
  name: "capture (webgpu): forward-only loss replayed = model.loss, between captured training steps too",
  ...opts,
  fn: async () => {
    await initBackend({ backend: "webgpu" });
    const V = 16;
    const data = batches(12, V, 2, 6);
    const other = randomMicro(3, V, 1, 6);
    const before = tf.memory().numTensors;
    const model = new TinyLm({ vocabSize: V, dim: 8 }, 2);
    const direct = async (m: MicroBatch) => {
      const l = tf.tidy(() => model.loss(m.ids, m.targets));
      const v = (await l.data())[0];
      l.dispose();
      return v;
    };
    const ev = new CapturedLoss(model);
    for (const m of data.slice(0, 6)) ev.issue(m.ids, m.targets);
    const got = await ev.flush();
    for (let i = 0; i < 6; i++) close(got[i], await direct(data[i]), `loss ${i}`);
    assertEquals(ev.counts.captures, 1, `captured (${ev.fallbackReason()})`);
    assert(ev.counts.replayed >= 3, `replayed ${ev.counts.replayed}`);
    close(await ev.loss(other.ids, other.targets), await direct(other), "another shape");
    assertEquals(ev.counts.uncaptured, 1);
    // Evaluate between captured training steps: the training replays keep the variables' data.
    const step = new TrainStep(model, { optimizer: { lr: 1e-2 } });
    const cap = new CapturedStep(step);
    let s = 0;
    for (; s < 4; s++) cap.issue({ micro: [data[s]], lr: 1e-2, step: s + 1 });
    await cap.flush();
    const captures = ev.counts.captures, replays = ev.counts.replayed;
    for (let i = 0; i < 6; i++) {
      cap.issue({ micro: [data[s]], lr: 1e-2, step: ++s });
      await cap.sync();
      const m = data[6 + i];
      close(await ev.loss(m.ids, m.targets), await direct(m), `loss after step ${s}`);
    }
    // A capture made between training steps holds tensors the training step's leak guard leaves out.
    const ev2 = new CapturedLoss(model);
    for (let i = 0; i < 3; i++) ev2.issue(data[i].ids, data[i].targets);
    await ev2.flush();
    assertEquals(ev2.counts.captures, 1);
    cap.issue({ micro: [data[s]], lr: 1e-2, step: ++s });
    ev2.dispose();
    await cap.flush();
    assert(ev.counts.captures <= captures + 1, "at most one re-capture after the training capture");
    assert(
      ev.counts.replayed >= replays + 3,
      `evaluation replays between training replays: ${ev.counts.replayed}`,
    );
    assert(cap.counts.replayed >= 6, `training replays ${cap.counts.replayed}`);
    ev.dispose();
    cap.dispose();
    step.dispose();
    model.dispose();
    assertEquals(tf.memory().numTensors, before, "no tensor left");
    assertEquals(capturePinnedBuffers(), { pinned: 0, parked: 0 }, "no buffer left pinned");
    disposeAll([...data, other]);
    await initBackend({ backend: "cpu" });
  },
});

Deno.test({
  name: "capture (webgpu): a forward function with a vector output (per-sequence log-probabilities) replayed",
  ...opts,
  fn: async () => {
    await initBackend({ backend: "webgpu" });
    const V = 16;
    const data = batches(6, V, 3, 6);
    const before = tf.memory().numTensors;
    const model = new TinyLm({ vocabSize: V, dim: 8 }, 4);
    /** Σ_t log p(target_t | ids_≤t) per row [B] (the shape of BLiMP-style sentence scores). */
    const rowLogProbs = (ids: tf.Tensor2D, targets: tf.Tensor2D) =>
      tf.sum(tf.mul(model.logProbs(ids), tf.oneHot(targets, V)), [1, 2]);
    const ev = new CapturedForward(model.weights, rowLogProbs);
    for (const m of data) ev.issue(m.ids, m.targets);
    const got = await ev.flush();
    assert(ev.counts.replayed >= 3, `replayed ${ev.counts.replayed} (${ev.fallbackReason()})`);
    for (let i = 0; i < data.length; i++) {
      const want = tf.tidy(() => rowLogProbs(data[i].ids, data[i].targets));
      const w = await want.data() as Float32Array;
      want.dispose();
      assertEquals(got[i].length, 3);
      w.forEach((x, j) => close(got[i][j], x, `row ${j} of call ${i}`));
    }
    ev.dispose();
    model.dispose();
    assertEquals(tf.memory().numTensors, before, "no tensor left");
    assertEquals(capturePinnedBuffers(), { pinned: 0, parked: 0 });
    disposeAll(data);
    await initBackend({ backend: "cpu" });
  },
});
