/**
 * Learning-rate schedules as pure functions of the 0-based optimizer step. The reference's `train.py`
 * uses a constant LR; warm-up and cosine are offered for experiments.
 *
 * @module
 */

/** A learning-rate schedule: the LR used for the update with 0-based index `step`. */
export type Schedule = (step: number) => number;

/** Names accepted by {@linkcode makeSchedule}. */
export const SCHEDULE_NAMES = ["constant", "linear_warmup", "cosine"] as const;
/** A schedule name. */
export type ScheduleName = typeof SCHEDULE_NAMES[number];

/** A serialisable schedule description (saved in checkpoints). */
export interface ScheduleSpec {
  /** Which schedule. */
  name: ScheduleName;
  /** Warm-up steps (linear from lr/warmup to lr); default 0. */
  warmup?: number;
  /** Final LR of the cosine decay; default 0. */
  minLr?: number;
  /** Steps over which the cosine decays (default: the run's total steps). */
  totalSteps?: number;
}

/**
 * Constant LR.
 * @example
 * ```ts
 * import { constantLr } from "./schedule.ts";
 * constantLr(3e-4)(1000); // 3e-4
 * ```
 */
export function constantLr(lr: number): Schedule {
  checkLr(lr);
  return () => lr;
}

/**
 * Linear warm-up: lr·(step+1)/warmup for the first `warmup` steps, then lr.
 * @example
 * ```ts
 * import { linearWarmup } from "./schedule.ts";
 * linearWarmup(1e-3, 10)(0); // 1e-4
 * ```
 */
export function linearWarmup(lr: number, warmup: number): Schedule {
  checkLr(lr);
  checkCount("warmup", warmup);
  return (step) => (step < warmup ? (lr * (step + 1)) / warmup : lr);
}

/**
 * Linear warm-up then cosine decay from lr (at step `warmup`) to minLr (at the last step, `totalSteps − 1`),
 * held at minLr afterwards.
 * @example
 * ```ts
 * import { cosineSchedule } from "./schedule.ts";
 * const f = cosineSchedule(1e-3, { totalSteps: 100, warmup: 10, minLr: 1e-5 });
 * f(99); // ≈ 1e-5
 * ```
 */
export function cosineSchedule(
  lr: number,
  opts: { totalSteps: number; warmup?: number; minLr?: number },
): Schedule {
  checkLr(lr);
  const warmup = opts.warmup ?? 0;
  const minLr = opts.minLr ?? 0;
  checkCount("warmup", warmup);
  if (!(opts.totalSteps > 0) || !Number.isInteger(opts.totalSteps)) {
    throw new Error(`Cosine schedule: totalSteps must be a positive integer, got "${opts.totalSteps}".`);
  }
  if (!(minLr >= 0 && minLr <= lr)) {
    throw new Error(`Cosine schedule: minLr must be in [0, lr], got "${minLr}".`);
  }
  const span = Math.max(1, opts.totalSteps - warmup - 1);
  return (step) => {
    if (step < warmup) return (lr * (step + 1)) / warmup;
    const t = Math.min(1, (step - warmup) / span);
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t));
  };
}

/**
 * Build a schedule from a name, a spec or a function.
 *
 * @param totalSteps the run's length, used by `cosine` when the spec gives none
 * @throws Error on an unknown schedule name (listing the known ones) or invalid values.
 * @example
 * ```ts
 * import { makeSchedule } from "./schedule.ts";
 * const f = makeSchedule({ name: "cosine", warmup: 5 }, 1e-3, 100);
 * ```
 */
export function makeSchedule(
  spec: ScheduleName | ScheduleSpec | Schedule | undefined,
  lr: number,
  totalSteps?: number | null,
): Schedule {
  if (typeof spec === "function") return spec;
  const s: ScheduleSpec = typeof spec === "string" ? { name: spec } : spec ?? { name: "constant" };
  switch (s.name) {
    case "constant":
      return constantLr(lr);
    case "linear_warmup":
      return linearWarmup(lr, s.warmup ?? 0);
    case "cosine": {
      const total = s.totalSteps ?? totalSteps;
      if (!total) {
        throw new Error(
          `Cosine schedule needs totalSteps (give steps, or epochs with a data source that knows its length).`,
        );
      }
      return cosineSchedule(lr, { totalSteps: total, warmup: s.warmup, minLr: s.minLr });
    }
    default:
      throw new Error(
        `Unknown schedule "${(s as { name: unknown }).name}": expected one of ${SCHEDULE_NAMES.join(", ")}.`,
      );
  }
}

function checkLr(lr: number): void {
  if (!(lr > 0) || !Number.isFinite(lr)) {
    throw new Error(`Learning rate must be a positive number, got "${lr}".`);
  }
}

function checkCount(what: string, n: number): void {
  if (!(n >= 0) || !Number.isInteger(n)) {
    throw new Error(`${what} must be a non-negative integer, got "${n}".`);
  }
}
