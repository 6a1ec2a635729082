/**
 * The training loop (as mhc-slm's `train.py`): AdamW with decoupled weight decay, global-norm clipping, optional
 * gradient accumulation, periodic evaluation and checkpoints, exact resume, and guards against NaN/Inf and tensor
 * leaks.
 *
 * Reproducibility: every random choice is drawn from generators whose states are checkpointed — the data
 * source's own state (`BatchSource.getState()`), the trainer's `rng` (default `new Rng(seed)`; pass the same
 * Rng to the data source and the model so one seed drives data order and dropout) and any extra generators in
 * `rngs`. On the cpu backend a resumed run reproduces the uninterrupted one bit for bit.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../models/types.ts";
import { Rng } from "../rng.ts";
import { currentBackend, describeEnvironment } from "../backend.ts";
import { AdamW, type NamePattern, type PreparedGradients } from "./optim.ts";
import { makeSchedule, type Schedule, type ScheduleName, type ScheduleSpec } from "./schedule.ts";
import type { Batch, BatchSource } from "./batch_source.ts";
import {
  diffConfigs,
  latestCheckpoint,
  loadCheckpoint,
  resolveCheckpoint,
  restoreModel,
  saveCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
import { assertFinite, TensorLeakGuard, validateTrainConfig } from "./guards.ts";
import { createProgress, type ProgressMode, type ProgressReporter } from "./progress.ts";

export type { Batch, BatchSource } from "./batch_source.ts";

/** Anything with a serialisable state (an {@linkcode Rng}, or a model's dropout generator). */
export interface Stateful {
  /** The current state, JSON-serialisable. */
  getState(): unknown;
  /** Restore a state returned by `getState`. */
  setState(s: unknown): void;
}

/** One optimizer step's record. */
export interface StepRecord {
  /** 1-based step number. */
  step: number;
  /** Mean training loss over the step's micro-batches. */
  loss: number;
  /** Learning rate used. */
  lr: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
  /** Training tokens per second of this step. */
  tokensPerSec: number;
  /** Data epoch the step's (last) batch came from. */
  epoch: number;
  /** Validation loss, on evaluation steps. */
  valLoss?: number;
}

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /** The model to train. */
  model: LanguageModel;
  /** The training batches. */
  data: BatchSource;
  /** A fresh validation source per evaluation (iterated until its first epoch end). */
  valData?: () => BatchSource;
  /** Stop after this many optimizer steps (counting steps before a resume). */
  steps?: number;
  /** Stop after this many data epochs. */
  epochs?: number;
  /** Peak learning rate (default 3e-4). */
  lr?: number;
  /** `constant` (default), `linear_warmup`, `cosine`, a spec, or a function of the 0-based step. */
  schedule?: ScheduleName | ScheduleSpec | Schedule;
  /** Decoupled weight decay (default 0.1, applied to every parameter except exclusions). */
  weightDecay?: number;
  /** AdamW β₁ (default 0.9). */
  beta1?: number;
  /** AdamW β₂ (default 0.999). */
  beta2?: number;
  /** AdamW ε (default 1e-8). */
  eps?: number;
  /** Decay exclusions in addition to the model's `noDecay` set. */
  noDecay?: NamePattern[];
  /** Parameters to keep frozen (no gradient, no update), e.g. from {@linkcode loadFrozenSubmodules}. */
  frozen?: NamePattern[];
  /** Global-norm clip (default 1.0; null = none, the norm is still reported). */
  gradClip?: number | null;
  /** Micro-batches per optimizer step (default 1); their gradients are averaged. */
  accumulate?: number;
  /** Evaluate every N steps (0 = only at the end; default 0). */
  evalEvery?: number;
  /** At most this many validation batches per evaluation (default: all). */
  evalBatches?: number;
  /** Checkpoint every N steps (0 = only at the end; default 0). Needs outDir. */
  saveEvery?: number;
  /** Keep the newest N `step-*` checkpoints. */
  keepLast?: number;
  /** Run folder for checkpoints; none = no checkpoints. */
  outDir?: string;
  /** Seed of the trainer's Rng (default 1337). */
  seed?: number;
  /** The trainer's Rng (default `new Rng(seed)`); checkpointed as `main`. */
  rng?: Rng;
  /** More generators to checkpoint and restore, by name (e.g. the model's dropout Rng). */
  rngs?: Record<string, Stateful>;
  /** true: continue from `outDir/latest` if present; a path: from that checkpoint; false (default): fresh. */
  resume?: boolean | string;
  /** Called after every optimizer step. */
  onStep?: (rec: StepRecord) => void | Promise<void>;
  /** Called after every evaluation. */
  onEval?: (rec: { step: number; valLoss: number }) => void | Promise<void>;
  /** Progress display (default "auto"). */
  progress?: ProgressMode | ProgressReporter;
  /** Log-line interval when the display is log lines (default 50). */
  logEvery?: number;
  /** Throw if tf.memory().numTensors grows across steps (default true; a number = tolerance). */
  leakCheck?: boolean | number;
  /** On an exception, save the last completed step if it is not on disk yet (default true). */
  saveOnError?: boolean;
}

interface Snapshot {
  step: number;
  epoch: number;
  data: unknown;
  rng: Record<string, unknown>;
}

/**
 * Train a language model; returns the per-step history (including steps before a resume).
 *
 * @throws NonFiniteError when the loss or gradient norm is NaN/Inf (the update is not applied and the last
 *   good state is checkpointed); TensorLeakError when tensors leak; Error on invalid options.
 * @example
 * ```ts
 * import { train } from "./trainer.ts";
 * import { ArrayBatchSource } from "./batch_source.ts";
 * import { Rng } from "../rng.ts";
 * // const rng = new Rng(1337);
 * // const data = new ArrayBatchSource(tokens, { batch: 16, seqLen: 256, rng });
 * // const history = await train({ model, data, epochs: 10, lr: 3e-4, weightDecay: 0.1, gradClip: 1,
 * //   evalEvery: 500, saveEvery: 1000, outDir: "runs/baseline", rng, resume: true });
 * ```
 */
export async function train(opts: TrainOptions): Promise<StepRecord[]> {
  validateTrainConfig(opts);
  const { model, data } = opts;
  if (!model || !(model.weights instanceof Map)) throw new Error("train: `model` must be a LanguageModel.");
  if (!data || typeof data.next !== "function") throw new Error("train: `data` must be a BatchSource.");
  const lr = opts.lr ?? 3e-4;
  const accumulate = opts.accumulate ?? 1;
  const gradClip = opts.gradClip === undefined ? 1.0 : opts.gradClip;
  const seed = opts.seed ?? 1337;
  const rng = opts.rng ?? new Rng(seed);
  const gens: Record<string, Stateful> = { main: rng as unknown as Stateful, ...(opts.rngs ?? {}) };
  const total = opts.steps ?? (data.length ? Math.ceil((opts.epochs! * data.length) / accumulate) : null);
  const schedule = makeSchedule(opts.schedule, lr, total);
  const scheduleSpec = typeof opts.schedule === "function" ? "custom" : opts.schedule ?? "constant";
  const outDir = opts.outDir;
  const saveEvery = opts.saveEvery ?? 0;
  const evalEvery = opts.evalEvery ?? 0;
  const progress = createProgress(opts.progress ?? "auto", { logEvery: opts.logEvery });

  const optimizer = new AdamW(model.weights, {
    lr,
    weightDecay: opts.weightDecay ?? 0.1,
    beta1: opts.beta1,
    beta2: opts.beta2,
    eps: opts.eps,
    noDecay: model.noDecay,
    noDecayPatterns: opts.noDecay,
    frozen: opts.frozen,
  });

  let step = 0;
  let bestValLoss: number | null = null;
  let history: StepRecord[] = [];
  let lastSaved = -1;
  let applying = false;
  let grads: Map<string, tf.Tensor> | null = null;
  let prepared: PreparedGradients | null = null;
  const losses: tf.Tensor[] = []; // this step's micro-batch losses (then its gradient norm), not yet read

  const snapshot = (): Snapshot => ({
    step,
    epoch: data.epoch,
    data: structuredClone(data.getState()),
    rng: Object.fromEntries(Object.entries(gens).map(([k, g]) => [k, structuredClone(g.getState())])),
  });

  const save = async (snap: Snapshot, hist: StepRecord[]): Promise<string> => {
    const state: TrainState = {
      step: snap.step,
      epoch: snap.epoch,
      data: snap.data,
      rng: snap.rng,
      schedule: { spec: scheduleSpec, lr, position: snap.step },
      bestValLoss,
      seed,
      backend: currentBackend(),
      versions: describeEnvironment() as unknown as Record<string, unknown>,
      train: {
        lr,
        weightDecay: optimizer.hyper.weightDecay,
        gradClip,
        accumulate,
        steps: opts.steps ?? null,
        epochs: opts.epochs ?? null,
        frozen: optimizer.frozenNames(),
      },
    };
    const path = await saveCheckpoint(outDir!, {
      model,
      optimizer,
      state,
      history: hist,
      keepLast: opts.keepLast,
    });
    lastSaved = snap.step;
    return path;
  };

  // ---- resume ----
  let from: string | null = null;
  try {
    if (typeof opts.resume === "string") from = await resolveCheckpoint(opts.resume);
    else if (opts.resume === true) from = await latestCheckpoint(outDir!);
    if (from) {
      const ck = await loadCheckpoint(from);
      const diff = diffConfigs(ck.config, model.config);
      if (diff.length) {
        throw new Error(`Cannot resume from "${ck.path}": the model config differs (${diff.join("; ")}).`);
      }
      restoreModel(model, ck);
      if (ck.optimizer) optimizer.setState(ck.optimizer);
      data.setState(ck.state.data);
      for (const [k, g] of Object.entries(gens)) {
        if (ck.state.rng?.[k] === undefined) {
          throw new Error(`Cannot resume from "${ck.path}": it has no state for generator "${k}".`);
        }
        g.setState(ck.state.rng[k]);
      }
      step = ck.state.step;
      bestValLoss = ck.state.bestValLoss ?? null;
      history = (ck.history as StepRecord[] | null) ?? [];
      lastSaved = step;
    }
  } catch (e) {
    optimizer.dispose();
    throw e;
  }

  const trainable = optimizer.trainableNames().map((n) => model.weights.get(n)!);
  if (trainable.length === 0) {
    optimizer.dispose();
    throw new Error("train: every parameter is frozen; nothing to train.");
  }
  const keyOf = new Map<string, string>();
  for (const [k, v] of model.weights) if (!keyOf.has(v.name)) keyOf.set(v.name, k);

  // Validation losses stay on the device until the end of the evaluation: one host read per evaluation.
  const evaluate = async (): Promise<number> => {
    const src = opts.valData!();
    model.setTraining?.(false);
    const losses: tf.Scalar[] = [];
    let values: Float32Array;
    try {
      for (let b = src.next(); b !== null; b = src.next()) {
        losses.push(tf.tidy(() => {
          const [x, y] = batchTensors(b!);
          return model.loss(x, y);
        }));
        if (opts.evalBatches && losses.length >= opts.evalBatches) break;
      }
      if (losses.length === 0) throw new Error("train: the validation source gave no batches.");
      const all = tf.stack(losses);
      try {
        values = await all.data() as Float32Array;
      } finally {
        all.dispose();
      }
    } finally {
      for (const l of losses) l.dispose();
      model.setTraining?.(true);
    }
    let sum = 0;
    for (const v of values) sum += v;
    return sum / values.length;
  };

  const leak = opts.leakCheck === false
    ? null
    : new TensorLeakGuard(typeof opts.leakCheck === "number" ? opts.leakCheck : 0);
  const epochsDone = () => opts.epochs !== undefined && data.epoch >= opts.epochs;
  let clean = snapshot();
  let sessionSteps = 0;
  const t0 = performance.now();
  let lastEvalStep = -1;

  progress.start(total, step);
  model.setTraining?.(true);
  try {
    while ((opts.steps === undefined || step < opts.steps) && !epochsDone()) {
      const ts = performance.now();
      let n = 0, tokens = 0, epochOfStep = data.epoch;
      for (let k = 0; k < accumulate; k++) {
        let b = data.next();
        if (b === null) {
          if (epochsDone()) break;
          b = data.next();
          if (b === null) {
            throw new Error(`train: the data source gave no batch at the start of epoch ${data.epoch}.`);
          }
        }
        epochOfStep = data.epoch;
        const { value, grads: g } = tf.tidy(() => {
          const [x, y] = batchTensors(b!);
          return tf.variableGrads(() => model.loss(x, y), trainable);
        });
        losses.push(value);
        tokens += b.batch * b.seqLen;
        n++;
        if (grads === null) {
          grads = new Map();
          for (const [vn, t] of Object.entries(g)) if (t) grads.set(keyOf.get(vn) ?? vn, t);
        } else {
          for (const [vn, t] of Object.entries(g)) {
            if (!t) continue;
            const key = keyOf.get(vn) ?? vn;
            const prev = grads.get(key);
            if (prev) {
              grads.set(key, tf.tidy(() => prev.add(t)));
              prev.dispose();
              t.dispose();
            } else grads.set(key, t);
          }
        }
      }
      if (n === 0) break; // the epoch limit was reached exactly at a step boundary
      const stepNo = step + 1;
      // The gradients as one flat vector (averaged over the micro-batches) and its norm, in a constant number
      // of ops; nothing is applied until the host has seen a finite loss and norm.
      prepared = optimizer.prepareGradients(grads!, { divisor: n });
      for (const g of grads!.values()) g.dispose();
      grads = null;
      // One host read per step: the micro-batch losses and the gradient norm, stacked.
      const stats = tf.stack([...losses, prepared.norm]);
      let vals: Float32Array;
      try {
        vals = await stats.data() as Float32Array;
      } finally {
        stats.dispose();
        for (const l of losses) l.dispose();
        losses.length = 0;
      }
      let lossSum = 0;
      for (let i = 0; i < n; i++) lossSum += vals[i];
      const loss = lossSum / n;
      const gradNorm = vals[n];
      assertFinite(stepNo, loss, gradNorm);
      const stepLr = schedule(step);
      applying = true;
      // clip (scale = min(1, clip / (norm + 1e-6))) and update in one flat pass
      optimizer.applyPrepared(prepared, stepLr, { clipNorm: gradClip });
      applying = false;
      prepared.dispose();
      prepared = null;
      step = stepNo;
      sessionSteps++;
      const rec: StepRecord = {
        step,
        loss,
        lr: stepLr,
        gradNorm,
        tokensPerSec: tokens / Math.max(1e-9, (performance.now() - ts) / 1000),
        epoch: epochOfStep,
      };
      history.push(rec);
      clean = snapshot();
      leak?.check(step);
      if (opts.valData && evalEvery && step % evalEvery === 0) {
        rec.valLoss = await evaluate();
        lastEvalStep = step;
        if (bestValLoss === null || rec.valLoss < bestValLoss) bestValLoss = rec.valLoss;
        progress.message(
          `step ${step}: val loss ${rec.valLoss.toFixed(4)} (ppl ${Math.exp(rec.valLoss).toFixed(2)})`,
        );
        await opts.onEval?.({ step, valLoss: rec.valLoss });
      }
      if (outDir && saveEvery && step % saveEvery === 0) await save(clean, history);
      progress.update({
        step,
        total,
        loss,
        lr: stepLr,
        tokensPerSec: rec.tokensPerSec,
        epoch: rec.epoch,
        valLoss: rec.valLoss,
        elapsedSec: (performance.now() - t0) / 1000,
        sessionSteps,
      });
      await opts.onStep?.(rec);
    }
    if (opts.valData && step > 0 && lastEvalStep !== step && sessionSteps > 0) {
      const v = await evaluate();
      const last = history[history.length - 1];
      if (last && last.step === step) last.valLoss = v;
      if (bestValLoss === null || v < bestValLoss) bestValLoss = v;
      progress.message(`step ${step}: val loss ${v.toFixed(4)} (ppl ${Math.exp(v).toFixed(2)})`);
      await opts.onEval?.({ step, valLoss: v });
    }
    if (outDir && lastSaved !== step) await save(snapshot(), history);
    return history;
  } catch (e) {
    if (opts.saveOnError !== false && outDir && !applying && clean.step > 0 && clean.step !== lastSaved) {
      try {
        const p = await save(clean, history.filter((r) => r.step <= clean.step));
        if (e instanceof Error) e.message += ` Saved the last completed step (${clean.step}) to "${p}".`;
      } catch (e2) {
        if (e instanceof Error) {
          e.message += ` (Saving the last completed step also failed: ${(e2 as Error).message})`;
        }
      }
    }
    throw e;
  } finally {
    if (grads) { for (const g of (grads as Map<string, tf.Tensor>).values()) g.dispose(); }
    (prepared as PreparedGradients | null)?.dispose();
    for (const l of losses) l.dispose();
    optimizer.dispose();
    progress.end();
    model.setTraining?.(false);
  }
}

function batchTensors(b: Batch): [tf.Tensor2D, tf.Tensor2D] {
  if (b.x.length !== b.batch * b.seqLen || b.y.length !== b.batch * b.seqLen) {
    throw new Error(
      `train: a batch of ${b.batch}×${b.seqLen} has ${b.x.length} inputs and ${b.y.length} targets ` +
        `(expected ${b.batch * b.seqLen} each).`,
    );
  }
  return [
    tf.tensor2d(b.x, [b.batch, b.seqLen], "int32"),
    tf.tensor2d(b.y, [b.batch, b.seqLen], "int32"),
  ];
}
