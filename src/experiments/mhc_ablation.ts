/**
 * The mHC-SSM ablation (SPEC §1.7–§1.9): baseline vs static mHC vs mHC + stream-specialized adapters, trained
 * with the reference's recipe, then benchmarked as the reference's `benchmark.py` does (throughput on a fixed
 * random batch with the weights restored afterwards, then perplexity over the first `pplBatches` validation batches).
 *
 * Pure computation: returns plain rows (no Polars), so it runs in a bundled GPU entry as well as in notebooks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BaselineSLM, type MhcConfig, mhcConfig } from "../models/diag_ssm.ts";
import { MhcSLM } from "../models/mhc_ssm.ts";
import { ArrayBatchSource } from "../train/batch_source.ts";
import { type StepRecord, train } from "../train/trainer.ts";
import { measureThroughput } from "../eval/throughput.ts";
import { evaluatePerplexity, type TokenBatch } from "../eval/perplexity.ts";
import { currentBackend } from "../backend.ts";
import { ablationTrainOptions } from "./ablation_recipe.ts";

/** The three rows of the published table. */
export const MHC_VARIANTS = ["baseline", "mhc", "mhc_adapters"] as const;
export type MhcVariant = typeof MHC_VARIANTS[number];

/** SPEC §1.9: the reference README's final-checkpoint benchmark (GPU not stated, AMP on, one run each). */
export const PUBLISHED_MHC_TABLE: {
  variant: MhcVariant;
  val_loss: number;
  ppl: number;
  tokens_per_sec: number;
  peak_mb: number;
}[] = [
  { variant: "baseline", val_loss: 6.3507, ppl: 572.91, tokens_per_sec: 1025.52, peak_mb: 2365 },
  { variant: "mhc", val_loss: 6.2448, ppl: 515.35, tokens_per_sec: 964.81, peak_mb: 2568 },
  { variant: "mhc_adapters", val_loss: 6.1353, ppl: 461.88, tokens_per_sec: 938.90, peak_mb: 3092 },
];

/** Options of {@linkcode runMhcAblation}; defaults are the reference's. */
export interface MhcAblationOptions {
  /** Training ids (already tokenized, EOS after every line). */
  train: Int32Array;
  /** Validation ids. */
  valid: Int32Array;
  /**
   * A second, out-of-domain validation set (e.g. WikiText-2 valid when training on another corpus; see
   * `loadAblationData`): its perplexity is measured like `valid`'s and reported as `val_loss_ood` / `ppl_ood`.
   */
  validOutOfDomain?: Int32Array | null;
  /** Which rows to run (all three). */
  variants?: MhcVariant[];
  /** Model preset ("published") and overrides (e.g. vocabSize for a small tokenizer). */
  preset?: string;
  model?: Partial<MhcConfig>;
  /** Training batch size (16) and sequence length (the preset's maxLen, 256). */
  batchSize?: number;
  seqLen?: number;
  /** Optimizer steps per variant; or `trainSeconds` to size the run from the measured throughput. */
  steps?: number;
  trainSeconds?: number;
  /** Epochs (used when neither steps nor trainSeconds is given; reference: 10). */
  epochs?: number;
  lr?: number;
  weightDecay?: number;
  gradClip?: number;
  seed?: number;
  /**
   * Validation loss every N steps (reference 500) over at most `evalBatches` batches of `batchSize` (default: the
   * whole validation set, as the reference).
   */
  evalEvery?: number;
  evalBatches?: number;
  /** Perplexity: first `pplBatches` (62) validation batches of `pplBatchSize` (8). */
  pplBatches?: number;
  pplBatchSize?: number;
  /** Throughput benchmark on a fixed random batch: batch 8, 10 warm-up + 50 timed steps (reference). */
  throughput?: { batch?: number; warmup?: number; steps?: number } | false;
  /** Checkpoint folder root (one sub-folder per variant and seed); none = no checkpoints. */
  outDir?: string;
  /** Called with progress lines. */
  log?: (line: string) => void;
  onStep?: (variant: MhcVariant, rec: StepRecord) => void | Promise<void>;
}

/** One row of the ablation table. */
export interface MhcAblationRow {
  variant: MhcVariant;
  seed: number;
  params: number;
  steps: number;
  tokens_trained: number;
  train_seconds: number;
  final_train_loss: number;
  val_loss: number;
  ppl: number;
  ppl_batches: number;
  /** Out-of-domain validation (null without `validOutOfDomain`). */
  val_loss_ood?: number | null;
  ppl_ood?: number | null;
  tokens_per_sec: number | null;
  peak_mb: number | null;
  peak_measure: string | null;
  backend: string;
}

/** One point of a loss curve. */
export interface MhcCurvePoint {
  variant: MhcVariant;
  seed: number;
  step: number;
  tokens: number;
  split: "train" | "valid";
  loss: number;
}

/** Build the model of one ablation row. */
export function makeMhcVariant(
  variant: MhcVariant,
  cfg: Partial<MhcConfig>,
  preset: string,
  seed: number,
): BaselineSLM | MhcSLM {
  switch (variant) {
    case "baseline":
      return new BaselineSLM(mhcConfig({ ...cfg, kind: "baseline" }, preset), seed);
    case "mhc":
      return new MhcSLM(mhcConfig({ ...cfg, kind: "mhc", streamAdapters: false }, preset), seed);
    case "mhc_adapters":
      return new MhcSLM(mhcConfig({ ...cfg, kind: "mhc", streamAdapters: true }, preset), seed);
    default:
      throw new Error(`Unknown mHC variant "${variant}": expected one of ${MHC_VARIANTS.join(", ")}.`);
  }
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
  const base = mhcConfig(opts.model ?? {}, preset);
  const seqLen = opts.seqLen ?? base.maxLen;
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
  for (const variant of opts.variants ?? [...MHC_VARIANTS]) {
    const model = makeMhcVariant(
      variant,
      { ...(opts.model ?? {}), maxLen: Math.max(seqLen, base.maxLen) },
      preset,
      seed,
    );
    // Training mode: adapter dropout as in train.py; the benchmark below uses eval mode for perplexity.
    let tput: Awaited<ReturnType<typeof measureThroughput>> | null = null;
    if (opts.throughput !== false) {
      const t = opts.throughput ?? {};
      model.setTraining(true);
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
    model.setTraining(true);
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
    model.setTraining(false);
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
      params: model.numParams(),
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
