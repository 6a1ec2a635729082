/**
 * The training loop (as mhc-slm's `train.py`): AdamW with decoupled weight decay, global-norm clipping, optional
 * gradient accumulation, periodic evaluation and checkpoints, exact resume, and guards against NaN/Inf and tensor
 * leaks.
 *
 * The parts: {@linkcode train} validates the options, then a `TrainingRun` resumes (restores model, optimizer,
 * data and generators from a checkpoint), loops over steps (each one {@linkcode TrainStep.run} of `step.ts`:
 * forward, backward, accumulation, clip, AdamW, one host read), evaluates (`batchLosses` of
 * `../eval/perplexity.ts`) and checkpoints atomically (`checkpoint.ts`). On the webgpu backend the steps are
 * captured and replayed as one command buffer (`capture.ts`, option `capture`, default "auto").
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
import type { NamePattern } from "./optim.ts";
import { makeSchedule, type Schedule, type ScheduleName, type ScheduleSpec } from "./schedule.ts";
import type { Batch } from "./batch_source.ts";
import { type Batches, type PullSource, toBatchSource } from "./batch_input.ts";
import { type MicroBatch, microBatch, type StepInput, type StepStats, TrainStep } from "./step.ts";
import { CapturedStep } from "./capture.ts";
import { batchLosses } from "../eval/perplexity.ts";
import {
  diffConfigs,
  latestCheckpoint,
  loadCheckpoint,
  resolveCheckpoint,
  restoreModel,
  saveCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
import { validateTrainConfig } from "./guards.ts";
import { milestoneName } from "../eval/blimp_milestones.ts";
import { createProgress, type ProgressMode, type ProgressReporter } from "./progress.ts";

export type { Batch, BatchSource } from "./batch_source.ts";
export type { Batches } from "./batch_input.ts";

/** Anything with a serialisable state (an {@linkcode Rng}, or a model's dropout generator). */
export interface Stateful {
  /** A serialisable copy of the state. */
  getState(): unknown;
  /** Restore a state of `getState()`. */
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
  /** Tokens of the step over its wall time (data, forward, backward, update, read). */
  tokensPerSec: number;
  /** Data epoch the step's (last) batch came from. */
  epoch: number;
  /** Validation loss, on evaluation steps. */
  valLoss?: number;
}

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /** The model to train (weights updated in place). */
  model: LanguageModel;
  /**
   * The training batches: a `BatchSource` (e.g. `ArrayBatchSource`), a `BatchIterator`, or an (async) iterable
   * of batches (one pass = one epoch; its position is checkpointed as a count of batches).
   */
  data: Batches;
  /** A fresh validation source per evaluation (any of {@linkcode Batches}; iterated until its first epoch end). */
  valData?: () => Batches;
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
  /**
   * Also checkpoint when the words seen first reach each of these counts, into `chck_1M`-style folders named like
   * the BabyLM revisions (`milestoneName`, `../eval/blimp_milestones.ts`; `latest` is not moved). Words seen =
   * tokens seen × `wordsPerToken`. Needs outDir.
   */
  saveAtWords?: number[];
  /** Words per training token for `saveAtWords` (default 1, i.e. word-level data; see `wordsPerToken`). */
  wordsPerToken?: number;
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
  /** Called after every step with its record (awaited). */
  onStep?: (rec: StepRecord) => void | Promise<void>;
  /** Called after every evaluation (awaited). */
  onEval?: (rec: { step: number; valLoss: number }) => void | Promise<void>;
  /** Progress display (default "auto"). */
  progress?: ProgressMode | ProgressReporter;
  /** Log-line interval when the display is log lines (default 50). */
  logEvery?: number;
  /** Throw if tf.memory().numTensors grows across steps (default true; a number = tolerance). */
  leakCheck?: boolean | number;
  /** On an exception, save the last completed step if it is not on disk yet (default true). */
  saveOnError?: boolean;
  /**
   * Capture the training step and replay it as one command buffer (`capture.ts`, docs/capture.md): "auto"
   * (default) or true = on the webgpu backend (elsewhere every step runs through tfjs, as with false); false =
   * never. A captured run equals an uncaptured one to float rounding (resume, the NaN and leak guards included).
   * Steps of another shape (a last partial batch) run through tfjs and the next full batches record again; the
   * weights are synchronised before every evaluation, checkpoint and the end. Evaluation uses a captured forward
   * under the same rule. The capture keeps the buffers of a step out of tfjs's pool while it lives.
   */
  capture?: boolean | "auto";
}

/**
 * Whether `capture` (an option of {@linkcode train} or of evaluation) asks for a capture on this backend.
 * @example
 * ```ts
 * import { captureActive } from "./trainer.ts";
 * captureActive(false); // false (true or "auto" on the webgpu backend: true)
 * ```
 */
export function captureActive(capture: boolean | "auto" | undefined): boolean {
  if (capture !== undefined && capture !== true && capture !== false && capture !== "auto") {
    throw new Error(`The option \`capture\` must be true, false or "auto", got "${capture}".`);
  }
  return (capture === true || capture === "auto") && currentBackend() === "webgpu";
}

/** The resumable position of a run after a completed step. */
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
 *   good state is checkpointed); TensorLeakError when tensors leak; Error on invalid options, on a data source
 *   that gives no batch, and on a token id outside the model's vocabulary (naming the id and the vocabulary size).
 * @example
 * ```ts
 * import { train } from "./trainer.ts";
 * import { ArrayBatchSource } from "./batch_source.ts";
 * import { Rng } from "../rng.ts";
 * // const rng = new Rng(1337);
 * // const data = new ArrayBatchSource(tokens, { batch: 16, seqLen: 256, rng, name: "train.bin" });
 * // const history = await train({ model, data, epochs: 10, lr: 3e-4, weightDecay: 0.1, gradClip: 1,
 * //   evalEvery: 500, saveEvery: 1000, outDir: "runs/baseline", rng, resume: true });
 * ```
 */
export async function train(opts: TrainOptions): Promise<StepRecord[]> {
  validateTrainConfig(opts);
  if (opts.saveAtWords?.length && !opts.outDir) {
    throw new Error("train: saveAtWords needs outDir, the run folder that the chck_* checkpoints go to.");
  }
  if (opts.wordsPerToken !== undefined && !(opts.wordsPerToken > 0)) {
    throw new Error(`train: wordsPerToken must be a positive number, got "${opts.wordsPerToken}".`);
  }
  if (!opts.model || !(opts.model.weights instanceof Map)) {
    throw new Error("train: `model` must be a LanguageModel.");
  }
  const run = new TrainingRun(opts);
  try {
    await run.resume();
  } catch (e) {
    run.dispose();
    throw e;
  }
  try {
    await run.loop();
    await run.finish();
    return run.history;
  } catch (e) {
    await run.saveAfterError(e);
    throw e;
  } finally {
    run.dispose();
    run.progress.end();
    opts.model.setTraining?.(false);
  }
}

/** One call of {@linkcode train}: its resolved options and its state between steps. */
class TrainingRun {
  readonly model: LanguageModel;
  readonly data: PullSource;
  readonly lr: number;
  readonly accumulate: number;
  readonly gradClip: number | null;
  readonly seed: number;
  readonly gens: Record<string, Stateful>;
  readonly total: number | null;
  readonly schedule: Schedule;
  readonly progress: ProgressReporter;
  readonly step: TrainStep;
  /** The captured step (webgpu with `capture` on), which runs {@linkcode TrainingRun.step}; else null. */
  readonly captured: CapturedStep | null;
  stepNo = 0;
  bestValLoss: number | null = null;
  history: StepRecord[] = [];
  lastSaved = -1;
  lastEvalStep = -1;
  sessionSteps = 0;
  /** Tokens of every completed step (checkpointed as `state.tokensSeen`, for the word milestones). */
  tokensSeen = 0;
  /** Tokens of the last step. */
  lastStepTokens = 0;
  clean: Snapshot;
  /** When this session's loop started (for the progress display's elapsed time). */
  t0 = 0;

  constructor(readonly opts: TrainOptions) {
    this.model = opts.model;
    this.data = toBatchSource(opts.data, "train: `data`");
    this.lr = opts.lr ?? 3e-4;
    this.accumulate = opts.accumulate ?? 1;
    this.gradClip = opts.gradClip === undefined ? 1.0 : opts.gradClip;
    this.seed = opts.seed ?? 1337;
    const rng = opts.rng ?? new Rng(this.seed);
    this.gens = { main: rng as unknown as Stateful, ...(opts.rngs ?? {}) };
    const perEpoch = this.data.length;
    this.total = opts.steps ?? (perEpoch ? Math.ceil((opts.epochs! * perEpoch) / this.accumulate) : null);
    this.schedule = makeSchedule(opts.schedule, this.lr, this.total);
    this.progress = createProgress(opts.progress ?? "auto", { logEvery: opts.logEvery });
    this.step = new TrainStep(this.model, {
      optimizer: {
        lr: this.lr,
        weightDecay: opts.weightDecay ?? 0.1,
        beta1: opts.beta1,
        beta2: opts.beta2,
        eps: opts.eps,
        noDecayPatterns: opts.noDecay,
        frozen: opts.frozen,
      },
      gradClip: this.gradClip,
      leakCheck: opts.leakCheck,
    });
    this.captured = captureActive(opts.capture ?? "auto")
      ? new CapturedStep(this.step, { leakCheck: opts.leakCheck })
      : null;
    this.clean = this.snapshot();
  }

  /** One checked step, captured when the run captures (same contract: nothing applied on NaN/Inf). */
  #run(input: StepInput): Promise<StepStats> {
    return this.captured ? this.captured.run(input) : this.step.run(input);
  }

  /** Make the variables current (every submitted replay done) before they are read, evaluated or saved. */
  async syncWeights(): Promise<void> {
    await this.captured?.sync();
  }

  // ---- resume ----

  /** Continue from a checkpoint when `resume` asks for one; then check that something is trainable. */
  async resume(): Promise<void> {
    const { opts } = this;
    let from: string | null = null;
    if (typeof opts.resume === "string") from = await resolveCheckpoint(opts.resume);
    else if (opts.resume === true) from = await latestCheckpoint(opts.outDir!);
    if (from) await this.#restore(from);
    if (this.step.optimizer.trainableNames().length === 0) {
      throw new Error("train: every parameter is frozen; nothing to train.");
    }
    this.clean = this.snapshot();
  }

  async #restore(from: string): Promise<void> {
    const ck = await loadCheckpoint(from);
    const diff = diffConfigs(ck.config, this.model.config);
    if (diff.length) {
      throw new Error(`Cannot resume from "${ck.path}": the model config differs (${diff.join("; ")}).`);
    }
    restoreModel(this.model, ck);
    if (ck.optimizer) this.step.optimizer.setState(ck.optimizer);
    this.data.setState(ck.state.data);
    for (const [k, g] of Object.entries(this.gens)) {
      if (ck.state.rng?.[k] === undefined) {
        throw new Error(`Cannot resume from "${ck.path}": it has no state for generator "${k}".`);
      }
      g.setState(ck.state.rng[k]);
    }
    this.stepNo = ck.state.step;
    this.bestValLoss = ck.state.bestValLoss ?? null;
    this.history = (ck.history as StepRecord[] | null) ?? [];
    this.lastSaved = this.stepNo;
    this.tokensSeen = ck.state.tokensSeen ?? 0;
  }

  // ---- the loop ----

  #epochsDone(): boolean {
    return this.opts.epochs !== undefined && this.data.epoch >= this.opts.epochs;
  }

  /** Train until `steps` or `epochs` is reached. */
  async loop(): Promise<void> {
    this.t0 = performance.now();
    this.progress.start(this.total, this.stepNo);
    this.model.setTraining?.(true);
    while ((this.opts.steps === undefined || this.stepNo < this.opts.steps) && !this.#epochsDone()) {
      const rec = await this.#trainStep();
      if (!rec) break; // the epoch limit was reached exactly at a step boundary
      await this.#afterStep(rec);
    }
  }

  /** The micro-batches of the next step and the epoch of the last one; null when the epoch limit is reached. */
  async #pull(): Promise<{ batches: Batch[]; epoch: number } | null> {
    const batches: Batch[] = [];
    let epoch = this.data.epoch;
    for (let k = 0; k < this.accumulate; k++) {
      let b = await this.data.next();
      if (b === null) {
        if (this.#epochsDone()) break;
        const started = this.data.epoch;
        b = await this.data.next();
        if (b === null) {
          const name = this.data.name ? ` "${this.data.name}"` : "";
          throw new Error(
            `train: the data source${name} gave no batch in epoch ${started}; expected at least one ` +
              `batch per epoch (is it empty, or a generator that can be iterated only once?).`,
          );
        }
      }
      epoch = this.data.epoch;
      batches.push(b);
    }
    return batches.length ? { batches, epoch } : null;
  }

  /** One optimizer step over the next micro-batches; its record, or null when the epoch limit is reached. */
  async #trainStep(): Promise<StepRecord | null> {
    const ts = performance.now();
    const pulled = await this.#pull();
    if (!pulled) return null;
    const stepNo = this.stepNo + 1;
    const micro = this.#upload(pulled.batches, stepNo);
    const lr = this.schedule(this.stepNo);
    let loss: number, gradNorm: number;
    try {
      ({ loss, gradNorm } = await this.#run({ micro, lr, step: stepNo }));
    } finally {
      tf.dispose(micro.flatMap((m) => [m.ids, m.targets]));
    }
    this.stepNo = stepNo;
    this.sessionSteps++;
    const tokens = pulled.batches.reduce((s, b) => s + b.batch * b.seqLen, 0);
    this.tokensSeen += tokens;
    this.lastStepTokens = tokens;
    const rec: StepRecord = {
      step: stepNo,
      loss,
      lr,
      gradNorm,
      tokensPerSec: tokens / Math.max(1e-9, (performance.now() - ts) / 1000),
      epoch: pulled.epoch,
    };
    this.history.push(rec);
    this.clean = this.snapshot();
    return rec;
  }

  /** The batches as device tensors, their ids checked against the model's vocabulary. */
  #upload(batches: Batch[], stepNo: number): MicroBatch[] {
    const out: MicroBatch[] = [];
    const vocabSize = this.model.config.vocabSize;
    try {
      for (const [k, b] of batches.entries()) {
        const where = `train: micro-batch ${k} of step ${stepNo}${
          this.data.name ? ` (from "${this.data.name}")` : ""
        }`;
        out.push(microBatch(b, { vocabSize, where }));
      }
    } catch (e) {
      tf.dispose(out.flatMap((m) => [m.ids, m.targets]));
      throw e;
    }
    return out;
  }

  /** Evaluation, checkpoint, progress and the caller's callback after a completed step. */
  async #afterStep(rec: StepRecord): Promise<void> {
    const { opts, stepNo: step } = this;
    if (opts.valData && opts.evalEvery && step % opts.evalEvery === 0) {
      rec.valLoss = await this.#evaluateAt(step);
    }
    if (opts.outDir && opts.saveEvery && step % opts.saveEvery === 0) {
      await this.save(this.clean, this.history);
    }
    await this.#saveMilestones();
    this.progress.update({
      step,
      total: this.total,
      loss: rec.loss,
      lr: rec.lr,
      tokensPerSec: rec.tokensPerSec,
      epoch: rec.epoch,
      valLoss: rec.valLoss,
      elapsedSec: (performance.now() - this.t0) / 1000,
      sessionSteps: this.sessionSteps,
    });
    await opts.onStep?.(rec);
  }

  /** Checkpoint `chck_*` for each word milestone crossed by the last step (words = tokens × wordsPerToken). */
  async #saveMilestones(): Promise<void> {
    const { opts } = this;
    if (!opts.outDir || !opts.saveAtWords?.length) return;
    const ratio = opts.wordsPerToken ?? 1;
    const before = (this.tokensSeen - this.lastStepTokens) * ratio;
    const now = this.tokensSeen * ratio;
    for (const w of opts.saveAtWords) {
      if (w > before && w <= now) await this.save(this.clean, this.history, milestoneName(w));
    }
  }

  /** The final evaluation (unless the last step had one) and the final checkpoint. */
  async finish(): Promise<void> {
    const { opts, stepNo: step } = this;
    if (opts.valData && step > 0 && this.lastEvalStep !== step && this.sessionSteps > 0) {
      const v = await this.#evaluateAt(step);
      const last = this.history[this.history.length - 1];
      if (last && last.step === step) last.valLoss = v;
    }
    if (opts.outDir && this.lastSaved !== step) await this.save(this.snapshot(), this.history);
    await this.syncWeights();
  }

  // ---- evaluate ----

  /** Validation loss at `step`: tracked as best, shown, and passed to `onEval`. */
  async #evaluateAt(step: number): Promise<number> {
    const v = await this.evaluate();
    this.lastEvalStep = step;
    if (this.bestValLoss === null || v < this.bestValLoss) this.bestValLoss = v;
    this.progress.message(`step ${step}: val loss ${v.toFixed(4)} (ppl ${Math.exp(v).toFixed(2)})`);
    await this.opts.onEval?.({ step, valLoss: v });
    return v;
  }

  /** Mean `model.loss` over one epoch of a fresh validation source (one host read per evaluation). */
  async evaluate(): Promise<number> {
    await this.syncWeights();
    try {
      const { values } = await batchLosses(this.model, this.opts.valData!(), {
        source: "loss",
        capture: this.opts.capture ?? "auto",
        maxBatches: this.opts.evalBatches || undefined,
        what: "the validation data (valData)",
      });
      let sum = 0;
      for (const v of values) sum += v;
      return sum / values.length;
    } finally {
      this.model.setTraining?.(true);
    }
  }

  // ---- checkpointing ----

  /** The run's position now (a deep copy). */
  snapshot(): Snapshot {
    return {
      step: this.stepNo,
      epoch: this.data.epoch,
      data: structuredClone(this.data.getState()),
      rng: Object.fromEntries(Object.entries(this.gens).map(([k, g]) => [k, structuredClone(g.getState())])),
    };
  }

  /** Write a checkpoint of `snap` with history `hist` (atomically, `checkpoint.ts`). */
  async save(snap: Snapshot, hist: StepRecord[], name?: string): Promise<string> {
    const { opts } = this;
    await this.syncWeights();
    const optimizer = this.step.optimizer;
    const state: TrainState = {
      step: snap.step,
      epoch: snap.epoch,
      data: snap.data,
      rng: snap.rng,
      schedule: {
        spec: typeof opts.schedule === "function" ? "custom" : opts.schedule ?? "constant",
        lr: this.lr,
        position: snap.step,
      },
      bestValLoss: this.bestValLoss,
      seed: this.seed,
      tokensSeen: this.tokensSeen,
      backend: currentBackend(),
      versions: describeEnvironment() as unknown as Record<string, unknown>,
      train: {
        lr: this.lr,
        weightDecay: optimizer.hyper.weightDecay,
        gradClip: this.gradClip,
        accumulate: this.accumulate,
        steps: opts.steps ?? null,
        epochs: opts.epochs ?? null,
        frozen: optimizer.frozenNames(),
      },
    };
    const path = await saveCheckpoint(opts.outDir!, {
      model: this.model,
      optimizer,
      state,
      history: hist,
      keepLast: opts.keepLast,
      ...(name ? { name, updateLatest: false } : {}),
    });
    if (name) return path;
    this.lastSaved = snap.step;
    return path;
  }

  /** After an exception: save the last completed step if it is not on disk (and no update was half-applied). */
  async saveAfterError(e: unknown): Promise<void> {
    const { clean } = this;
    if (
      this.opts.saveOnError === false || !this.opts.outDir || this.step.midUpdate || clean.step === 0 ||
      clean.step === this.lastSaved
    ) return;
    try {
      const p = await this.save(clean, this.history.filter((r) => r.step <= clean.step));
      if (e instanceof Error) e.message += ` Saved the last completed step (${clean.step}) to "${p}".`;
    } catch (e2) {
      if (e instanceof Error) {
        e.message += ` (Saving the last completed step also failed: ${(e2 as Error).message})`;
      }
    }
  }

  dispose(): void {
    this.captured?.dispose();
    this.step.dispose();
  }
}
