/**
 * Guards that stop a training run early with a clear message: non-finite loss or gradient norm, tensors
 * leaking across steps, and invalid configuration.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { SCHEDULE_NAMES } from "./schedule.ts";

/**
 * Thrown when the loss or the gradient norm is NaN or ±Infinity; no update was applied for `step`.
 * @example
 * ```ts
 * import { NonFiniteError } from "./guards.ts";
 * new NonFiniteError(3, "loss", NaN).message; // "Training stopped at step 3: the loss is NaN …"
 * ```
 */
export class NonFiniteError extends Error {
  /**
   * The error for `step`, naming the statistic and its value.
   * @param step the 1-based step whose statistics were not finite
   * @param what which statistic
   * @param value its value
   * @param applied true when the update was applied before the value was read (a deferred read, see
   *   `TrainStep.issue` in `step.ts`); the message then says so
   */
  constructor(
    readonly step: number,
    readonly what: "loss" | "gradient norm",
    readonly value: number,
    readonly applied = false,
  ) {
    super(
      `Training stopped at step ${step}: the ${what} is ${value} (not finite). ` +
        (applied
          ? `The update for step ${step} was applied before its statistics were read (a deferred read); ` +
            `the weights are not trustworthy from that step on.`
          : `The update for step ${step} was not applied; the last checkpoint holds the weights from before it.`),
    );
    this.name = "NonFiniteError";
  }
}

/**
 * Throw {@linkcode NonFiniteError} if the loss or the gradient norm is not finite.
 * @param step the 1-based step being computed
 * @example
 * ```ts
 * import { assertFinite } from "./guards.ts";
 * assertFinite(3, 2.5, 0.7); // fine
 * // assertFinite(3, NaN, 0.7); // throws "Training stopped at step 3: the loss is NaN …"
 * ```
 */
export function assertFinite(step: number, loss: number, gradNorm: number, applied = false): void {
  if (!Number.isFinite(loss)) throw new NonFiniteError(step, "loss", loss, applied);
  if (!Number.isFinite(gradNorm)) throw new NonFiniteError(step, "gradient norm", gradNorm, applied);
}

/**
 * Thrown when the number of live tensors grows from one step to the next.
 * @example
 * ```ts
 * import { TensorLeakError } from "./guards.ts";
 * new TensorLeakError(2, 105, 100, 1).message; // "Tensor leak at step 2: 105 tensors …"
 * ```
 */
export class TensorLeakError extends Error {
  /**
   * The error for `step`, with the counts compared.
   * @param step the step that leaked
   * @param count live tensors after it
   * @param baseline live tensors after `baselineStep`
   * @param baselineStep the step whose count is the baseline
   */
  constructor(
    readonly step: number,
    readonly count: number,
    readonly baseline: number,
    readonly baselineStep: number,
  ) {
    super(
      `Tensor leak at step ${step}: ${count} tensors are alive after it, ${count - baseline} more than the ` +
        `${baseline} after step ${baselineStep}. Wrap the model's computation in tf.tidy and dispose ` +
        `tensors kept outside it.`,
    );
    this.name = "TensorLeakError";
  }
}

/**
 * Checks that `tf.memory().numTensors` stays constant across training steps. The count after the first
 * checked step is the baseline (lazily created caches settle there).
 *
 * @example
 * ```ts
 * import { TensorLeakGuard } from "./guards.ts";
 * const guard = new TensorLeakGuard();
 * guard.check(1); // baseline
 * guard.check(2); // throws TensorLeakError if tensors were leaked during step 2
 * ```
 */
export class TensorLeakGuard {
  #baseline: number | null = null;
  #baselineStep = 0;
  /**
   * A guard with no baseline yet.
   * @param tolerance tensors allowed above the baseline (default 0)
   */
  constructor(readonly tolerance = 0) {}

  /**
   * Record or compare the live tensor count after `step`.
   * @param exclude live tensors not to count (e.g. statistics deliberately kept on the device)
   */
  check(step: number, exclude = 0): void {
    const n = tf.memory().numTensors - exclude;
    if (this.#baseline === null) {
      this.#baseline = n;
      this.#baselineStep = step;
    } else if (n > this.#baseline + this.tolerance) {
      throw new TensorLeakError(step, n, this.#baseline, this.#baselineStep);
    }
  }

  /** Forget the baseline (e.g. after an evaluation that legitimately builds caches). */
  reset(): void {
    this.#baseline = null;
  }
}

/** The fields of the trainer's options that {@linkcode validateTrainConfig} checks (see `TrainOptions`). */
export interface TrainConfigLike {
  /** Optimizer steps (integer ≥ 1). */
  steps?: number;
  /** Data epochs (integer ≥ 1). */
  epochs?: number;
  /** Peak learning rate (> 0). */
  lr?: number;
  /** Decoupled weight decay (≥ 0). */
  weightDecay?: number;
  /** Global-norm clip (> 0) or null. */
  gradClip?: number | null;
  /** Micro-batches per step (integer ≥ 1). */
  accumulate?: number;
  /** Evaluation interval (integer ≥ 0). */
  evalEvery?: number;
  /** Checkpoint interval (integer ≥ 0). */
  saveEvery?: number;
  /** Checkpoints kept (integer ≥ 1). */
  keepLast?: number;
  /** Seed (finite). */
  seed?: number;
  /** A schedule name, spec or function. */
  schedule?: unknown;
  /** A progress mode or reporter. */
  progress?: unknown;
  /** true, false or a checkpoint path. */
  resume?: unknown;
  /** Run folder. */
  outDir?: string;
}

/**
 * Validate trainer options; throws one error listing every problem, each with its offending value quoted.
 * @example
 * ```ts
 * import { validateTrainConfig } from "./guards.ts";
 * validateTrainConfig({ steps: 10, lr: 1e-3 }); // ok
 * // validateTrainConfig({ steps: 10, lr: 0 }); // throws: lr must be a positive number, got "0"
 * ```
 */
export function validateTrainConfig(c: TrainConfigLike): void {
  const p: string[] = [];
  const posInt = (k: keyof TrainConfigLike, v: unknown, min = 1) => {
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < min)) {
      p.push(`${k} must be an integer ≥ ${min}, got "${v}"`);
    }
  };
  if (c.steps === undefined && c.epochs === undefined) p.push("give steps or epochs (both are missing)");
  posInt("steps", c.steps);
  posInt("epochs", c.epochs);
  if (c.lr !== undefined && (!(c.lr > 0) || !Number.isFinite(c.lr))) {
    p.push(`lr must be a positive number, got "${c.lr}"`);
  }
  if (c.weightDecay !== undefined && (!(c.weightDecay >= 0) || !Number.isFinite(c.weightDecay))) {
    p.push(`weightDecay must be ≥ 0, got "${c.weightDecay}"`);
  }
  if (c.gradClip !== undefined && c.gradClip !== null && !(c.gradClip > 0)) {
    p.push(`gradClip must be a positive number or null, got "${c.gradClip}"`);
  }
  posInt("accumulate", c.accumulate);
  posInt("evalEvery", c.evalEvery, 0);
  posInt("saveEvery", c.saveEvery, 0);
  posInt("keepLast", c.keepLast);
  if (c.seed !== undefined && !Number.isFinite(c.seed)) {
    p.push(`seed must be a finite number, got "${c.seed}"`);
  }
  const sname = typeof c.schedule === "string"
    ? c.schedule
    : c.schedule && typeof c.schedule === "object"
    ? (c.schedule as { name?: unknown }).name
    : undefined;
  if (
    c.schedule !== undefined && typeof c.schedule !== "function" &&
    !(SCHEDULE_NAMES as readonly unknown[]).includes(sname)
  ) {
    p.push(`unknown schedule "${String(sname)}" (expected one of ${SCHEDULE_NAMES.join(", ")})`);
  }
  if (
    c.progress !== undefined && typeof c.progress !== "object" &&
    !["auto", "bar", "log", "jupyter", "none"].includes(c.progress as string)
  ) {
    p.push(`unknown progress mode "${c.progress}" (expected auto, bar, log, jupyter or none)`);
  }
  if (c.resume !== undefined && typeof c.resume !== "boolean" && typeof c.resume !== "string") {
    p.push(`resume must be true, false or a checkpoint path, got "${String(c.resume)}"`);
  }
  if (c.resume === true && !c.outDir) p.push(`resume: true needs outDir (where checkpoints are looked for)`);
  if (p.length) throw new Error(`Invalid training configuration: ${p.join("; ")}.`);
}
