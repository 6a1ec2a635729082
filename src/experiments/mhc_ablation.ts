/**
 * The mHC-SSM ablation (docs/models/mhc.md): baseline vs static mHC vs mHC + stream-specialized adapters, trained
 * with the reference's recipe, then benchmarked as the reference's `benchmark.py` does (throughput on a fixed
 * random batch with the weights restored afterwards, then perplexity over the first `pplBatches` validation batches).
 *
 * Pure computation: returns plain rows (no Polars), so it runs in a bundled GPU entry as well as in notebooks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createModel, modelConfig } from "../models/registry.ts";
import { type LanguageModel, type ModelConfig, parameterCount } from "../models/types.ts";
import { MHC_VARIANTS, type MhcVariant } from "./reference_numbers.ts";
import { ArrayBatchSource } from "../train/batch_source.ts";
import { type StepRecord, train } from "../train/trainer.ts";
import { measureThroughput } from "../eval/throughput.ts";
import { evaluatePerplexity, type TokenBatch } from "../eval/perplexity.ts";
import { currentBackend } from "../backend.ts";
import { ablationTrainOptions, type AblationTrainSpec } from "./ablation_recipe.ts";

export { MHC_VARIANTS, type MhcVariant, PUBLISHED_MHC_TABLE } from "./reference_numbers.ts";

/** One row of an ablation: a name, a registered model kind, and the config fields that set it apart. */
export interface AblationVariant {
  /** Row name in tables, curves and checkpoint folders. */
  name: string;
  /** A registered model kind (`modelKinds()`). */
  kind: string;
  /** Config fields of this row, laid over the shared overrides. */
  overrides?: Record<string, unknown>;
}

/** The published mHC ablation as data: which kind and fields each row uses. */
export const MHC_ABLATION: Record<MhcVariant, AblationVariant> = {
  baseline: { name: "baseline", kind: "baseline" },
  mhc: { name: "mhc", kind: "mhc", overrides: { streamAdapters: false } },
  mhc_adapters: { name: "mhc_adapters", kind: "mhc", overrides: { streamAdapters: true } },
};

/** A variant given by its name in {@linkcode MHC_ABLATION}, or spelled out. */
export function ablationVariant(v: MhcVariant | AblationVariant): AblationVariant {
  if (typeof v !== "string") return v;
  const found = MHC_ABLATION[v];
  if (!found) {
    throw new Error(`Unknown mHC variant "${v}": expected one of ${Object.keys(MHC_ABLATION).join(", ")}.`);
  }
  return found;
}

/** The full config of one variant: its kind's defaults, the preset, the shared overrides, then its own fields. */
export function variantConfig(
  v: MhcVariant | AblationVariant,
  overrides: Record<string, unknown>,
  preset: string,
): ModelConfig {
  const av = ablationVariant(v);
  return modelConfig(av.kind, { ...overrides, ...(av.overrides ?? {}) }, preset);
}

/** Options of {@linkcode runMhcAblation}; defaults are the reference's. */
/**
 * Options of {@linkcode runMhcAblation}: the training recipe of {@linkcode AblationTrainSpec} (the reference's
 * defaults: data, batch 16 × 256, 10 epochs, lr 3e-4, decay 0.1, clip 1.0, seed 1337, evaluation every 500 steps)
 * plus the rows, the benchmark and the callbacks.
 */
export interface MhcAblationOptions extends AblationTrainSpec {
  /**
   * A second, out-of-domain validation set (e.g. WikiText-2 valid when training on another corpus; see
   * `loadAblationData`): its perplexity is measured like `valid`'s and reported as `val_loss_ood` / `ppl_ood`.
   */
  validOutOfDomain?: Int32Array | null;
  /** Which rows to run: names of {@linkcode MHC_ABLATION} or any registered kinds with overrides (all three). */
  variants?: (MhcVariant | AblationVariant)[];
  /** Model preset ("published") and config overrides shared by every row (e.g. vocabSize for a small tokenizer). */
  preset?: string;
  /** Config overrides shared by every row. */
  model?: Record<string, unknown>;
  /** Training time budget per variant in seconds (steps sized from the measured throughput; instead of `steps`). */
  trainSeconds?: number;
  /** Perplexity: first `pplBatches` (62) validation batches of `pplBatchSize` (8). */
  pplBatches?: number;
  /** Batch size of the perplexity evaluation (8). */
  pplBatchSize?: number;
  /** Throughput benchmark on a fixed random batch: batch 8, 10 warm-up + 50 timed steps (reference). */
  throughput?: { batch?: number; warmup?: number; steps?: number } | false;
  /** Called with progress lines. */
  log?: (line: string) => void;
  /** Called after every optimizer step with the variant name. */
  onStep?: (variant: string, rec: StepRecord) => void | Promise<void>;
}

/** One row of the ablation table (a type literal, so rows are frame rows as they are). */
export type MhcAblationRow = {
  variant: string;
  seed: number;
  /** Number of parameters. */
  params: number;
  /** Optimizer steps trained. */
  steps: number;
  /** Training tokens seen (steps · B · T). */
  tokens_trained: number;
  /** Wall time of the training, seconds. */
  train_seconds: number;
  /** Training loss of the last step. */
  final_train_loss: number;
  /** Validation loss: mean of the per-batch mean cross-entropies over the perplexity batches. */
  val_loss: number;
  /** Perplexity, exp(val_loss). */
  ppl: number;
  /** Validation batches that val_loss averaged. */
  ppl_batches: number;
  /** Out-of-domain validation (null without `validOutOfDomain`). */
  val_loss_ood?: number | null;
  ppl_ood?: number | null;
  /** Training tokens/s of the throughput benchmark, or null when it was skipped. */
  tokens_per_sec: number | null;
  /** Peak memory of the throughput benchmark in MiB, or null. */
  peak_mb: number | null;
  /** How the peak was measured (see `measureThroughput`), or null. */
  peak_measure: string | null;
  /** The tfjs backend that ran. */
  backend: string;
};

/** One point of a loss curve. */
export interface MhcCurvePoint {
  /** Variant name. */
  variant: string;
  /** Seed of the run. */
  seed: number;
  /** Optimizer step. */
  step: number;
  /** Tokens trained so far. */
  tokens: number;
  /** Training or held-out loss. */
  split: "train" | "valid";
  /** Mean cross-entropy (nats per token). */
  loss: number;
}

/**
 * Build the model of one ablation row through the registry.
 *
 * @example
 * ```ts
 * import { makeMhcVariant } from "./mhc_ablation.ts";
 * const m = makeMhcVariant("mhc_adapters", { dim: 16 }, "tiny", 1337);
 * m.dispose();
 * ```
 */
export function makeMhcVariant(
  variant: MhcVariant | AblationVariant,
  overrides: Record<string, unknown>,
  preset: string,
  seed: number,
): LanguageModel {
  return createModel(variantConfig(variant, overrides, preset), seed);
}

/** The checkpoint folder of one variant and seed under an ablation's `outDir`: `<outDir>/<variant>-seed<seed>`. */
export function variantCheckpointDir(outDir: string, variant: string, seed: number): string {
  return `${outDir}/${variant}-seed${seed}`;
}

/** Throw a clear error when an id is outside [0, vocabSize) (tfjs would fail deep inside a gather). */
export function checkIds(ids: ArrayLike<number>, vocabSize: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (!(v >= 0 && v < vocabSize)) {
      throw new Error(
        `Token id ${v} at position ${i} of ${what} is outside the model's vocabulary [0, ${vocabSize}): ` +
          `was the data tokenized with a different tokenizer than the model's vocabSize assumes?`,
      );
    }
  }
}

function* batches(src: ArrayBatchSource, max = Infinity): Generator<TokenBatch> {
  for (let i = 0; i < max; i++) {
    const b = src.next();
    if (!b) return;
    yield b;
  }
}

/**
 * Train and benchmark each variant; returns the table rows and the loss curves.
 *
 * @example
 * ```ts
 * // const { rows, curves } = await runMhcAblation({ train, valid, preset: "tiny", steps: 20 });
 * ```
 */
export async function runMhcAblation(
  opts: MhcAblationOptions,
): Promise<{ rows: MhcAblationRow[]; curves: MhcCurvePoint[] }> {
  const preset = opts.preset ?? "published";
  const variants = (opts.variants ?? [...MHC_VARIANTS]).map(ablationVariant);
  const base = variantConfig(variants[0], opts.model ?? {}, preset);
  const seqLen = opts.seqLen ?? base.maxLen ?? 256;
  const batch = opts.batchSize ?? 16;
  const seed = opts.seed ?? 1337;
  const log = opts.log ?? (() => {});
  for (const [name, ids] of [["train", opts.train], ["valid", opts.valid]] as const) {
    checkIds(ids, base.vocabSize, `the ${name} ids`);
  }
  if (opts.validOutOfDomain) {
    checkIds(opts.validOutOfDomain, base.vocabSize, "the out-of-domain validation ids");
  }
  const rows: MhcAblationRow[] = [];
  const curves: MhcCurvePoint[] = [];
  for (const v of variants) {
    const variant = v.name;
    const maxLen = base.maxLen === null ? {} : { maxLen: Math.max(seqLen, base.maxLen) };
    const model = makeMhcVariant(v, { ...(opts.model ?? {}), ...maxLen }, preset, seed);
    // Training mode: adapter dropout as in train.py; the benchmark below uses eval mode for perplexity.
    let tput: Awaited<ReturnType<typeof measureThroughput>> | null = null;
    if (opts.throughput !== false) {
      const t = opts.throughput ?? {};
      model.setTraining?.(true);
      tput = await measureThroughput(model, {
        batch: t.batch ?? 8,
        seqLen,
        warmup: t.warmup ?? 10,
        steps: t.steps ?? 50,
        seed,
        restoreWeights: true,
      });
      log(
        `${variant}: ${Math.round(tput.tokensPerSec ?? 0)} training tokens/s, peak ${
          (tput.peakBytes / 2 ** 20).toFixed(0)
        } MiB (${tput.peakMeasure})`,
      );
    }
    let steps = opts.steps;
    if (steps === undefined && opts.trainSeconds !== undefined) {
      const rate = tput?.tokensPerSec ?? 1000;
      steps = Math.max(1, Math.floor((opts.trainSeconds * rate) / (batch * seqLen)));
    }
    const valSource = () =>
      new ArrayBatchSource(opts.valid, { batch: opts.pplBatchSize ?? 8, seqLen, shuffle: false });
    const t0 = performance.now();
    model.setTraining?.(true);
    // The reference's recipe, shared with tests/training_parity_test.ts (src/experiments/ablation_recipe.ts).
    const history = await train({
      ...ablationTrainOptions(
        { ...opts, batchSize: batch, seqLen, seed, steps },
        model,
        `${variant}-seed${seed}`,
      ),
      onStep: (r) => opts.onStep?.(variant, r),
      onEval: (r) => log(`${variant}: step ${r.step} val_loss ${r.valLoss.toFixed(4)}`),
    });
    const trainSeconds = (performance.now() - t0) / 1000;
    for (const r of history) {
      curves.push({
        variant,
        seed,
        step: r.step,
        tokens: r.step * batch * seqLen,
        split: "train",
        loss: r.loss,
      });
      if (r.valLoss !== undefined) {
        curves.push({
          variant,
          seed,
          step: r.step,
          tokens: r.step * batch * seqLen,
          split: "valid",
          loss: r.valLoss,
        });
      }
    }
    model.setTraining?.(false);
    const ppl = await evaluatePerplexity(model, batches(valSource(), opts.pplBatches ?? 62), {
      maxBatches: opts.pplBatches ?? 62,
      source: "loss",
    });
    const ood = opts.validOutOfDomain
      ? await evaluatePerplexity(
        model,
        batches(
          new ArrayBatchSource(opts.validOutOfDomain, {
            batch: opts.pplBatchSize ?? 8,
            seqLen,
            shuffle: false,
          }),
          opts.pplBatches ?? 62,
        ),
        { maxBatches: opts.pplBatches ?? 62, source: "loss" },
      )
      : null;
    const last = history[history.length - 1];
    rows.push({
      variant,
      seed,
      params: parameterCount(model),
      steps: last?.step ?? 0,
      tokens_trained: (last?.step ?? 0) * batch * seqLen,
      train_seconds: Math.round(trainSeconds * 10) / 10,
      final_train_loss: last?.loss ?? NaN,
      val_loss: ppl.loss,
      ppl: ppl.ppl,
      ppl_batches: ppl.batches,
      val_loss_ood: ood?.loss ?? null,
      ppl_ood: ood?.ppl ?? null,
      tokens_per_sec: tput?.tokensPerSec ?? null,
      peak_mb: tput ? Math.round(tput.peakBytes / 2 ** 20) : null,
      peak_measure: tput?.peakMeasure ?? null,
      backend: currentBackend(),
    });
    log(
      `${variant}: val_loss ${ppl.loss.toFixed(4)} ppl ${ppl.ppl.toFixed(2)} after ${last?.step} steps (${
        trainSeconds.toFixed(0)
      } s)`,
    );
    model.dispose();
    if (tf.memory().numTensors > 10_000) log(`warning: ${tf.memory().numTensors} tensors alive`);
  }
  return { rows, curves };
}
