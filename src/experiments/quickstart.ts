/**
 * The quickstart: the whole ssmlab path on a shipped sample, small enough for a 2-core CPU in about a minute.
 *
 * Load WikiText-2 raw lines (the sample under `data/samples/`, or any folder / the Hub through the same loader) →
 * ASCII character tokenizer → pack [B, T] batches → train the tiny baseline, static mHC and mHC + adapters
 * models → perplexity / bits per character on held-out lines → BLiMP on the shipped pairs (both scoring variants)
 * → a greedy text sample → a results table (CSV + Parquet) and charts (SVG + PNG) under
 * `results/quickstart/<run>/`, with the config, seed, backend and versions.
 *
 * Each step is an exported function ({@linkcode quickstartData}, {@linkcode trainQuickstart},
 * {@linkcode evaluateVariants}, {@linkcode quickstartCharts}, {@linkcode saveQuickstart}); {@linkcode quickstart}
 * runs them in order, and notebook 00 calls them one per cell.
 *
 * @module
 */
import { describeEnvironment, initBackend } from "../backend.ts";
import { loadWikitext2 } from "../data/corpora.ts";
import { type BlimpPair, loadBlimp } from "../data/blimp.ts";
import { tokenizeLines } from "../data/batches.ts";
import { AsciiTokenizer } from "../tokenizers/ascii.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { evaluateBlimp } from "../eval/blimp.ts";
import { generate } from "../eval/generate.ts";
import { createModel, modelSpec } from "../models/registry.ts";
import {
  type AblationVariant,
  ablationVariant,
  type MhcAblationOptions,
  type MhcAblationRow,
  type MhcCurvePoint,
  runMhcAblation,
  variantCheckpointDir,
  variantConfig,
} from "./mhc_ablation.ts";
import { MHC_VARIANTS, type MhcVariant } from "./reference_numbers.ts";
import { createRun, type Run } from "../results/run_dir.ts";
import { barChart, lineChart, type VegaLiteSpec } from "../results/charts.ts";
import { toFrame } from "../results/frames.ts";
import { loadCheckpoint, restoreModel } from "../train/checkpoint.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Tokenized quickstart data: training and held-out ids and the lines they came from. */
export interface QuickstartData {
  /** The tokenizer of both parts. */
  tokenizer: Tokenizer;
  /** Every line read. */
  lines: string[];
  /** Lines before the cut. */
  trainLines: string[];
  /** The held-out lines. */
  validLines: string[];
  /** Training ids (EOS after every line). */
  train: Int32Array;
  /** Held-out ids. */
  valid: Int32Array;
  /** Where the lines came from. */
  dir: string;
}

/**
 * Load WikiText-2 lines (split "test" of `dir`, default the shipped sample), hold out the last `holdout` fraction
 * of lines and tokenize both parts with the ASCII character tokenizer (EOS after every line).
 *
 * @example
 * ```ts
 * // const data = await quickstartData(); // data.train.length ≈ 0.9 × the sample's characters
 * ```
 */
export async function quickstartData(
  opts: { dir?: string; holdout?: number; tokenizer?: Tokenizer } = {},
): Promise<QuickstartData> {
  const dir = opts.dir ?? `${ROOT}data/samples/wikitext-2`;
  const holdout = opts.holdout ?? 0.1;
  if (!(holdout > 0 && holdout < 1)) {
    throw new Error(`quickstartData: holdout must be in (0, 1), got ${holdout}.`);
  }
  const tokenizer = opts.tokenizer ?? new AsciiTokenizer();
  const corpus = await loadWikitext2({ split: "test", dir });
  const cut = Math.floor(corpus.lines.length * (1 - holdout));
  const trainLines = corpus.lines.slice(0, cut), validLines = corpus.lines.slice(cut);
  return {
    tokenizer,
    lines: corpus.lines,
    trainLines,
    validLines,
    train: tokenizeLines(trainLines, tokenizer) as Int32Array,
    valid: tokenizeLines(validLines, tokenizer) as Int32Array,
    dir,
  };
}

/** Model overrides and training options of one quickstart size. */
export interface QuickstartSettings {
  /** Preset the model overrides are laid over. */
  preset: string;
  /** Config overrides shared by every variant (vocabSize is set from the tokenizer). */
  model: Record<string, unknown>;
  /** Training options. */
  train: { batchSize: number; seqLen: number; steps: number; lr: number };
}

/** `small`: the CLI quickstart and `SSMLAB_SMALL=1` notebooks (about a minute on 2 CPU cores); `full`: longer. */
export const QUICKSTART_SETTINGS: Record<"small" | "full", QuickstartSettings> = {
  small: {
    preset: "tiny",
    model: { dim: 32, layers: 2, maxLen: 64, adapterRank: 8, adapterDropout: 0 },
    train: { batchSize: 8, seqLen: 64, steps: 150, lr: 3e-3 },
  },
  full: {
    preset: "tiny",
    model: { dim: 64, layers: 4, maxLen: 128, adapterRank: 16, adapterDropout: 0 },
    train: { batchSize: 16, seqLen: 128, steps: 1500, lr: 2e-3 },
  },
};

/**
 * Parameter counts of the variants at a config, without allocating weights (each kind's `spec.paramCount`).
 *
 * @example
 * ```ts
 * import { variantParams } from "./quickstart.ts";
 * variantParams(["baseline", "mhc"], { vocabSize: 128 }, "tiny"); // [{ variant: "baseline", params: … }, …]
 * ```
 */
export function variantParams(
  variants: readonly (MhcVariant | AblationVariant)[],
  overrides: Record<string, unknown>,
  preset: string,
): { variant: string; kind: string; params: number }[] {
  return variants.map((v) => {
    const av = ablationVariant(v);
    const cfg = variantConfig(av, overrides, preset);
    return { variant: av.name, kind: av.kind, params: modelSpec(av.kind).paramCount(cfg) };
  });
}

/** Options of {@linkcode trainQuickstart}. */
export interface TrainQuickstartOptions {
  /** Model and training settings (`QUICKSTART_SETTINGS.small`). */
  settings?: QuickstartSettings;
  /** Training steps per model (default: the settings'). */
  steps?: number;
  /** Seed (1337). */
  seed?: number;
  /** Checkpoint root (one folder per variant). */
  outDir: string;
  /** Rows to train (the three of the mHC ablation). */
  variants?: (MhcVariant | AblationVariant)[];
  /** Progress lines. */
  log?: (line: string) => void;
  /** Called after every step. */
  onStep?: MhcAblationOptions["onStep"];
}

/**
 * Train and benchmark each variant on the quickstart data ({@linkcode runMhcAblation} with the quickstart's
 * options): held-out loss every steps/6, perplexity over 16 held-out batches, a short throughput measurement.
 */
export function trainQuickstart(
  data: QuickstartData,
  opts: TrainQuickstartOptions,
): Promise<{ rows: MhcAblationRow[]; curves: MhcCurvePoint[] }> {
  const s = opts.settings ?? QUICKSTART_SETTINGS.small;
  const steps = opts.steps ?? s.train.steps;
  return runMhcAblation({
    train: data.train,
    valid: data.valid,
    variants: opts.variants,
    preset: s.preset,
    model: { ...s.model, vocabSize: data.tokenizer.vocabSize },
    ...s.train,
    steps,
    seed: opts.seed ?? 1337,
    evalEvery: Math.max(1, Math.floor(steps / 6)),
    evalBatches: 4,
    pplBatches: 16,
    throughput: { batch: 8, warmup: 2, steps: 5 },
    outDir: opts.outDir,
    log: opts.log,
    onStep: opts.onStep,
  });
}

/** A quickstart row: the ablation's plus bits per character and BLiMP accuracy (both scoring variants). */
export type QuickstartRow = MhcAblationRow & {
  bits_per_char: number;
  blimp_first_token_unscored: number;
  blimp_eos_prefixed: number;
};

/** Options of {@linkcode evaluateVariants}. */
export interface EvaluateVariantsOptions {
  /** Checkpoint root the variants were trained into (as given to {@linkcode trainQuickstart}). */
  ckptDir: string;
  /** Seed the checkpoints were trained with (1337). */
  seed?: number;
  /** Tokenizer of the training data. */
  tokenizer: Tokenizer;
  /** BLiMP pairs (default: the shipped sample). */
  pairs?: BlimpPair[];
  /** Prompt of the greedy sample (" The "), its length (48) and which variants generate one (all). */
  prompt?: string;
  /** Length of the greedy sample (48). */
  maxNewTokens?: number;
  /** Variants that generate a sample (all). */
  sampleFrom?: readonly string[];
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * Reload each trained variant from its final checkpoint (any registered kind: the model is rebuilt from the
 * checkpoint's config) and add bits per character and BLiMP accuracy to its row; greedy samples beside.
 */
export async function evaluateVariants(
  rows: readonly MhcAblationRow[],
  opts: EvaluateVariantsOptions,
): Promise<{ table: QuickstartRow[]; samples: { variant: string; sample: string }[] }> {
  const seed = opts.seed ?? 1337;
  const log = opts.log ?? (() => {});
  const tok = opts.tokenizer;
  const pairs = opts.pairs ?? await loadBlimp({ dir: `${ROOT}data/samples/blimp` });
  const table: QuickstartRow[] = [];
  const samples: { variant: string; sample: string }[] = [];
  for (const r of rows) {
    const ck = await loadCheckpoint(variantCheckpointDir(opts.ckptDir, r.variant, seed));
    const model = createModel(ck.config, seed);
    try {
      restoreModel(model, ck);
      model.setTraining?.(false);
      const a = await evaluateBlimp(model, tok, pairs, {
        variant: "first-token-unscored",
        overflow: "truncate",
      });
      const b = await evaluateBlimp(model, tok, pairs, { variant: "eos-prefixed", overflow: "truncate" });
      if (!opts.sampleFrom || opts.sampleFrom.includes(r.variant)) {
        const ids = await generate(model, tok.encode(opts.prompt ?? " The "), {
          maxNewTokens: opts.maxNewTokens ?? 48,
          greedy: true,
          noRepeatNgramSize: 4,
        });
        samples.push({ variant: r.variant, sample: tok.decode(ids) });
      }
      const bpc = r.val_loss / Math.LN2;
      table.push({
        ...r,
        bits_per_char: bpc,
        blimp_first_token_unscored: a.overall,
        blimp_eos_prefixed: b.overall,
      });
      log(
        `${r.variant}: bits/char ${bpc.toFixed(3)}, BLiMP ${(a.overall * 100).toFixed(1)}% / ${
          (b.overall * 100).toFixed(1)
        }% (${pairs.length} pairs)`,
      );
    } finally {
      model.dispose();
    }
  }
  return { table, samples };
}

/** The quickstart's charts: loss curves (train and held-out), held-out bits per character, BLiMP accuracy. */
export function quickstartCharts(
  table: readonly QuickstartRow[],
  curves: readonly MhcCurvePoint[],
  opts: { logY?: boolean } = {},
): { loss_curves: VegaLiteSpec; bits_per_char: VegaLiteSpec; blimp: VegaLiteSpec } {
  return {
    loss_curves: lineChart({
      data: curves.map((c) => ({ ...c, series: `${c.variant} (${c.split})` })),
      x: "step",
      y: "loss",
      color: "series",
      logY: opts.logY,
      title: "Training and held-out loss (nats/char)",
    }),
    bits_per_char: barChart({
      data: table.map((r) => ({ variant: r.variant, bits_per_char: r.bits_per_char })),
      x: "variant",
      y: "bits_per_char",
      title: "Held-out bits per character",
    }),
    blimp: barChart({
      data: table.flatMap((r) => [
        { variant: r.variant, scoring: "first-token-unscored", accuracy: r.blimp_first_token_unscored },
        { variant: r.variant, scoring: "eos-prefixed", accuracy: r.blimp_eos_prefixed },
      ]),
      x: "variant",
      y: "accuracy",
      color: "scoring",
      title: "BLiMP accuracy (sample, chance = 0.5)",
    }),
  };
}

/** Write the table and curves (CSV + Parquet), the charts (spec, SVG, PNG) and a summary JSON into a run folder. */
export async function saveQuickstart(
  run: Run,
  r: {
    table: readonly QuickstartRow[];
    curves: readonly MhcCurvePoint[];
    charts: Record<string, VegaLiteSpec>;
    samples: readonly { variant: string; sample: string }[];
  },
): Promise<void> {
  await run.writeFrame("table", toFrame(r.table.map((x) => ({ ...x }))));
  await run.writeFrame("curves", toFrame(r.curves.map((c) => ({ ...c }))));
  for (const [name, spec] of Object.entries(r.charts)) await run.writeChart(name, spec);
  await run.writeJson("summary", { rows: r.table, samples: r.samples, environment: describeEnvironment() });
}

/** Options of {@linkcode quickstart}. */
export interface QuickstartOptions {
  /** Folder holding `wiki.test.raw` (default: the shipped sample `data/samples/wikitext-2`). */
  dataDir?: string;
  /** Folder of BLiMP jsonl files (default: the shipped sample `data/samples/blimp`). */
  blimpDir?: string;
  /** Training steps per model (default 150). */
  steps?: number;
  /** tfjs backend (default: SSMLAB_BACKEND or auto). */
  backend?: string;
  /** Seed (1337). */
  seed?: number;
  /** Results root (default: SSMLAB_RESULTS or `results`). */
  resultsRoot?: string;
  /** Run name (default: a timestamp). */
  runName?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What {@linkcode quickstart} returns. */
export interface QuickstartResult {
  /** The run folder written. */
  run: Run;
  /** One row per variant. */
  rows: QuickstartRow[];
  /** Loss curves of every variant. */
  curves: MhcCurvePoint[];
  /** Greedy sample of mHC + adapters. */
  sample: string;
}

/**
 * Run the quickstart end to end and write its results.
 *
 * @example
 * ```ts
 * // const { run, rows } = await quickstart({ steps: 60 });
 * // console.log(run.dir); // results/quickstart/<timestamp>
 * ```
 */
export async function quickstart(opts: QuickstartOptions = {}): Promise<QuickstartResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const seed = opts.seed ?? 1337;
  const settings = QUICKSTART_SETTINGS.small;
  const steps = opts.steps ?? settings.train.steps;
  const backend = await initBackend({ backend: opts.backend });
  const data = await quickstartData({ dir: opts.dataDir });
  log(`backend ${backend}; data ${data.dir}`);
  log(
    `${data.lines.length} lines → ${data.train.length} training and ${data.valid.length} held-out characters`,
  );

  const run = createRun("quickstart", opts.runName, { root: opts.resultsRoot, seed });
  await run.writeConfig({
    experiment: "quickstart",
    seed,
    steps,
    variants: [...MHC_VARIANTS],
    data: {
      dir: data.dir,
      split: "test",
      train_chars: data.train.length,
      valid_chars: data.valid.length,
      tokenizer: "ascii",
    },
    model: { preset: settings.preset, vocabSize: data.tokenizer.vocabSize, ...settings.model },
    train: { ...settings.train, steps, weightDecay: 0.1, gradClip: 1.0 },
  });
  const ckptDir = `${run.dir}/checkpoints`;
  const { rows, curves } = await trainQuickstart(data, { settings, steps, seed, outDir: ckptDir, log });
  const pairs = await loadBlimp({ dir: opts.blimpDir ?? `${ROOT}data/samples/blimp` });
  const { table, samples } = await evaluateVariants(rows, {
    ckptDir,
    seed,
    tokenizer: data.tokenizer,
    pairs,
    sampleFrom: ["mhc_adapters"],
    log,
  });
  const sample = samples[0]?.sample ?? "";
  log(`sample (mHC + adapters, greedy): ${JSON.stringify(sample)}`);
  const charts = quickstartCharts(table, curves);
  await saveQuickstart(run, { table, curves, charts, samples });
  log(`results written to ${run.dir}`);
  return { run, rows: table, curves, sample };
}
