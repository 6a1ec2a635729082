/**
 * One training step, the unit that the trainer, the throughput benchmark and the GPU benches all run:
 * forward and loss, backward, gradient accumulation over micro-batches, the global gradient norm, clipping and
 * the AdamW update, and one host read of the loss and the norm together.
 *
 * A step's inputs are explicit ({@linkcode StepInput}: token ids and targets per micro-batch, the learning
 * rate, the step number), so a step can be captured and replayed. Two ways to run it:
 *
 * - {@linkcode TrainStep.run} (checked, what the trainer does): the micro-batch losses and the gradient norm are
 *   read in one host read *before* the update, so a NaN/Inf loss or norm stops the step with
 *   {@linkcode NonFiniteError} and nothing is applied;
 * - {@linkcode TrainStep.issue} (deferred, what the benchmarks do): the update is applied without any host read;
 *   the losses and norms stay on the device until {@linkcode TrainStep.flush} reads every pending step in one
 *   host read (and then applies the same NaN guard, reporting the first bad step as applied).
 *
 * Gradient accumulation averages the gradients of the micro-batches (the flat gradient is divided by their
 * number); the reported loss is the mean of the micro-batch losses. Clipping follows PyTorch's
 * `clip_grad_norm_`: scale = min(1, clip / (norm + 1e-6)), fused into the update. The optimizer is
 * {@linkcode AdamW} (flat state; the fused webgpu step unless `gpuFused: false`; decay exclusions from the
 * model's `noDecay` set plus patterns; frozen parameters get no gradient and no update).
 *
 * Leak guard: before each step the live tensor count (less the step's own inputs and the statistics kept for a
 * deferred read) is compared with the count before the second step; growth throws {@linkcode TensorLeakError}
 * naming the step that leaked. Checking *before* a step means an error never interrupts a half-applied step.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { TrainStep } from "./step.ts";
 * // const step = new TrainStep(model, { optimizer: { weightDecay: 0.1 }, gradClip: 1 });
 * // const ids = tf.tensor2d(xs, [8, 256], "int32"), targets = tf.tensor2d(ys, [8, 256], "int32");
 * // const s = await step.run({ micro: [{ ids, targets }], lr: 3e-4, step: 1 }); // { loss, gradNorm, … }
 * // step.dispose(); tf.dispose([ids, targets]);
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../models/types.ts";
import { AdamW, type AdamWOptions, type PreparedGradients } from "./optim.ts";
import { assertFinite, TensorLeakGuard } from "./guards.ts";
import type { Batch } from "./batch_source.ts";
import { checkBatch, checkTokenIds } from "./batch_input.ts";

/** What a training step needs of a model. */
export type StepModel = Pick<LanguageModel, "loss" | "weights" | "noDecay" | "config">;

/** One micro-batch on the device: token ids and next-token targets, both [B, T] int32 (targets −100 = ignored). */
export interface MicroBatch {
  /** Token ids [B, T] int32. */
  ids: tf.Tensor2D;
  /** Next-token targets [B, T] int32 (−100 = ignored). */
  targets: tf.Tensor2D;
}

/** The explicit inputs of one step. The caller owns (and disposes) the tensors. */
export interface StepInput {
  /** One or more micro-batches; their gradients are averaged (gradient accumulation). */
  micro: readonly MicroBatch[];
  /** Learning rate of this step. */
  lr: number;
  /** 1-based step number (named by the NaN and leak guards). */
  step: number;
}

/** What one step reports. */
export interface StepStats {
  /** 1-based step number. */
  step: number;
  /** Mean of the micro-batch losses. */
  loss: number;
  /** Global L2 norm of the averaged gradient, before clipping. */
  gradNorm: number;
  /** Learning rate used. */
  lr: number;
  /** Number of micro-batches. */
  microBatches: number;
}

/** The phases of a step, for callers that sample memory between them. */
export type StepPhase = "forward" | "backward" | "update";

/** Options of {@linkcode TrainStep}. */
export interface TrainStepOptions {
  /**
   * The optimizer: an {@linkcode AdamW} to use (the caller keeps ownership), or the options of a new one
   * (owned and disposed by the step; the model's `noDecay` set is added to its exclusions).
   */
  optimizer?: AdamW | AdamWOptions;
  /** Global-norm clip (default 1.0; null = none, the norm is still computed and reported). */
  gradClip?: number | null;
  /** Throw if the live tensor count grows from step to step (default true; a number = tolerance). */
  leakCheck?: boolean | number;
  /** Called after the forward pass, the backward pass and the update of every micro-batch/step. */
  onPhase?: (phase: StepPhase) => void;
}

/** Device-side statistics of a step not read yet. */
/** A step whose loss(es) and gradient norm are still on the device. */
export interface PendingStats {
  step: number;
  lr: number;
  losses: tf.Scalar[];
  norm: tf.Scalar;
}

/** A training step over one model and one optimizer; see the module notes. */
export class TrainStep {
  /** The model trained (the caller's: never disposed here). */
  readonly model: StepModel;
  /** The optimizer (disposed by {@linkcode TrainStep.dispose} only when the step created it). */
  readonly optimizer: AdamW;
  /** Global-norm clip, or null for none. */
  readonly gradClip: number | null;
  readonly #ownsOptimizer: boolean;
  readonly #leak: TensorLeakGuard | null;
  readonly #onPhase?: (phase: StepPhase) => void;
  #pending: PendingStats[] = [];
  #lastStep = 0;
  #midUpdate = false;

  /**
   * A step over `model`, with a new {@linkcode AdamW} (or the one given) and the clip.
   * @param model what is trained: its `loss`, `weights`, `noDecay` and `config`
   * @param opts see {@linkcode TrainStepOptions}
   * @throws Error when the clip is not positive.
   */
  constructor(model: StepModel, opts: TrainStepOptions = {}) {
    this.model = model;
    const gradClip = opts.gradClip === undefined ? 1.0 : opts.gradClip;
    if (gradClip !== null && !(gradClip > 0)) {
      throw new Error(`TrainStep: gradClip must be a positive number or null, got "${gradClip}".`);
    }
    this.gradClip = gradClip;
    this.#ownsOptimizer = !(opts.optimizer instanceof AdamW);
    this.optimizer = opts.optimizer instanceof AdamW ? opts.optimizer : new AdamW(model.weights, {
      ...opts.optimizer,
      noDecay: [...(model.noDecay ?? []), ...(opts.optimizer?.noDecay ?? [])],
    });
    const lc = opts.leakCheck ?? true;
    this.#leak = lc === false ? null : new TensorLeakGuard(typeof lc === "number" ? lc : 0);
    this.#onPhase = opts.onPhase;
  }

  /** Steps issued but not read yet ({@linkcode TrainStep.flush} reads them). */
  get pending(): number {
    return this.#pending.length;
  }

  /** True when the last update threw part-way: the weights may be half-updated (do not checkpoint them). */
  get midUpdate(): boolean {
    return this.#midUpdate;
  }

  /**
   * Forward and backward over the micro-batches: the losses and the gradients summed over them, by weight name
   * (frozen weights get none). The caller disposes both. Nothing is read or applied.
   *
   * @throws Error when every parameter is frozen.
   */
  gradients(micro: readonly MicroBatch[]): { losses: tf.Scalar[]; grads: Map<string, tf.Tensor> } {
    const names = this.optimizer.trainableNames();
    if (names.length === 0) throw new Error("TrainStep: every parameter is frozen; nothing to train.");
    const vars = names.map((n) => this.model.weights.get(n)!);
    const keyOf = new Map(names.map((n, i) => [vars[i].name, n]));
    const losses: tf.Scalar[] = [];
    const grads = new Map<string, tf.Tensor>();
    try {
      for (const { ids, targets } of micro) {
        const { value, grads: g } = tf.tidy(() =>
          tf.variableGrads(() => {
            const l = this.model.loss(ids, targets);
            this.#onPhase?.("forward");
            return l;
          }, vars)
        );
        this.#onPhase?.("backward");
        losses.push(value);
        accumulate(grads, g, keyOf);
      }
    } catch (e) {
      tf.dispose([...losses, ...grads.values()]);
      throw e;
    }
    return { losses, grads };
  }

  /**
   * One checked step: gradients, their norm, one host read of the losses and the norm together, the NaN guard,
   * then the clipped update. Nothing is applied when it throws before the update.
   *
   * @throws NonFiniteError when the loss or the norm is not finite (no update applied); TensorLeakError when
   *   the previous step leaked tensors; Error when steps are still pending from {@linkcode TrainStep.issue}.
   */
  async run(input: StepInput): Promise<StepStats> {
    if (this.#pending.length) {
      throw new Error(
        `TrainStep.run: ${this.#pending.length} issued step(s) are not read yet; call flush() first.`,
      );
    }
    const { p, losses } = this.#prepare(input);
    let stats: StepStats;
    try {
      [stats] = await readStats([{ step: input.step, lr: input.lr, losses, norm: p.norm }]);
      assertFinite(input.step, stats.loss, stats.gradNorm);
      this.#apply(p, input.lr);
    } finally {
      p.dispose();
      tf.dispose(losses);
    }
    return stats;
  }

  /**
   * One deferred step: gradients, norm and the clipped update, with no host read; the loss and the norm stay on
   * the device until {@linkcode TrainStep.flush}. Synchronous (nothing waits on the device).
   *
   * @throws TensorLeakError when the previous step leaked tensors.
   */
  issue(input: StepInput): void {
    const { p, losses } = this.#prepare(input);
    try {
      this.#apply(p, input.lr);
      this.#pending.push({ step: input.step, lr: input.lr, losses, norm: p.takeNorm()! });
    } catch (e) {
      tf.dispose(losses);
      throw e;
    } finally {
      p.dispose();
    }
  }

  /**
   * Read the statistics of every issued step in one host read, oldest first; then the NaN guard.
   * @throws NonFiniteError naming the first step whose loss or norm is not finite (its update was applied).
   */
  async flush(): Promise<StepStats[]> {
    const pending = this.#pending;
    this.#pending = [];
    if (pending.length === 0) return [];
    try {
      const stats = await readStats(pending);
      for (const s of stats) assertFinite(s.step, s.loss, s.gradNorm, true);
      return stats;
    } finally {
      for (const p of pending) tf.dispose([...p.losses, p.norm]);
    }
  }

  /** Release pending statistics and the optimizer if this step created it (the model is the caller's). */
  dispose(): void {
    for (const p of this.#pending) tf.dispose([...p.losses, p.norm]);
    this.#pending = [];
    if (this.#ownsOptimizer) this.optimizer.dispose();
  }

  /** Leak check, gradients, the flat averaged gradient and its norm. */
  #prepare(input: StepInput): { p: PreparedGradients; losses: tf.Scalar[] } {
    checkInput(input);
    this.#checkLeaks(input);
    this.#midUpdate = false;
    const { losses, grads } = this.gradients(input.micro);
    try {
      return { p: this.optimizer.prepareGradients(grads, { divisor: input.micro.length }), losses };
    } catch (e) {
      tf.dispose(losses);
      throw e;
    } finally {
      tf.dispose([...grads.values()]);
    }
  }

  #apply(p: PreparedGradients, lr: number): void {
    this.#midUpdate = true;
    this.optimizer.applyPrepared(p, lr, { clipNorm: this.gradClip });
    this.#midUpdate = false;
    this.#onPhase?.("update");
  }

  /** Compare the live tensors before this step with those before the previous one (see the module notes). */
  #checkLeaks(input: StepInput): void {
    if (this.#leak && this.#lastStep > 0) {
      const inputs = new Set(input.micro.flatMap((m) => [m.ids.id, m.targets.id])).size;
      const kept = this.#pending.reduce((s, p) => s + p.losses.length + 1, 0);
      this.#leak.check(this.#lastStep, inputs + kept);
    }
    this.#lastStep = input.step;
  }
}

/** Add `g` (by variable name) into `sum` (by weight name), disposing what is consumed. */
function accumulate(
  sum: Map<string, tf.Tensor>,
  g: Record<string, tf.Tensor>,
  keyOf: Map<string, string>,
): void {
  for (const [vn, t] of Object.entries(g)) {
    if (!t) continue;
    const key = keyOf.get(vn) ?? vn;
    const prev = sum.get(key);
    if (!prev) {
      sum.set(key, t);
      continue;
    }
    sum.set(key, tf.tidy(() => prev.add(t)));
    tf.dispose([prev, t]);
  }
}

/** One host read of the stacked losses and norms of `pending`; loss = mean of each step's micro-batch losses. */
export async function readStats(pending: PendingStats[]): Promise<StepStats[]> {
  const all = tf.stack(pending.flatMap((p) => [...p.losses, p.norm]));
  let vals: Float32Array;
  try {
    vals = await all.data() as Float32Array;
  } finally {
    all.dispose();
  }
  const out: StepStats[] = [];
  let i = 0;
  for (const p of pending) {
    let sum = 0;
    for (let k = 0; k < p.losses.length; k++) sum += vals[i++];
    out.push({
      step: p.step,
      loss: sum / p.losses.length,
      gradNorm: vals[i++],
      lr: p.lr,
      microBatches: p.losses.length,
    });
  }
  return out;
}

function checkInput(input: StepInput): void {
  if (!input.micro || input.micro.length === 0) {
    throw new Error(`Step ${input.step}: no micro-batch was given; expected at least one { ids, targets }.`);
  }
  if (!(input.lr > 0) || !Number.isFinite(input.lr)) {
    throw new Error(`Step ${input.step}: the learning rate must be a positive number, got "${input.lr}".`);
  }
}

/** Options of {@linkcode microBatch}. */
export interface MicroBatchOptions {
  /** Check that inputs are in [0, vocabSize) and targets in [0, vocabSize) or −100. */
  vocabSize?: number;
  /** Where the batch comes from, for error messages (default "batch"). */
  where?: string;
}

/**
 * Upload a host batch as a {@linkcode MicroBatch}, after checking its shape and (with `vocabSize`) its ids, so
 * an out-of-vocabulary id is reported by value, position and vocabulary size rather than by a gather kernel.
 *
 * @example
 * ```ts
 * import { microBatch } from "./step.ts";
 * const m = microBatch({ x: Int32Array.of(1, 2), y: Int32Array.of(2, 3), batch: 1, seqLen: 2 }, { vocabSize: 4 });
 * m.ids.dispose(); m.targets.dispose();
 * ```
 * @throws Error naming the id, its position and the vocabulary size, or the malformed shape.
 */
export function microBatch(b: Batch, opts: MicroBatchOptions = {}): MicroBatch {
  const where = opts.where ?? "batch";
  checkBatch(b, where);
  if (opts.vocabSize !== undefined) checkTokenIds(b, opts.vocabSize, where);
  return {
    ids: tf.tensor2d(b.x, [b.batch, b.seqLen], "int32"),
    targets: tf.tensor2d(b.y, [b.batch, b.seqLen], "int32"),
  };
}
