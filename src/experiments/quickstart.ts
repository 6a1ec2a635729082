/**
 * The quickstart: the whole ssmlab path on a shipped sample, small enough for a 2-core CPU in about a minute.
 *
 * Load WikiText-2 raw lines (the sample under `data/samples/`, or any folder / the Hub through the same loader) →
 * ASCII character tokenizer → pack [B, T] batches (docs/data.md) → train the tiny baseline, static mHC and
 * mHC + adapters models → perplexity / bits per character on held-out lines → BLiMP on the shipped pairs (both
 * scoring variants) → a greedy text sample → a results table (CSV + Parquet) and a loss-curve chart (SVG + PNG)
 * under `results/quickstart/<run>/`, with the config, seed, backend and versions.
 *
 * @module
 */
import { describeEnvironment, initBackend } from "../backend.ts";
import { loadWikitext2 } from "../data/corpora.ts";
import { loadBlimp } from "../data/blimp.ts";
import { tokenizeLines } from "../data/batches.ts";
import { AsciiTokenizer } from "../tokenizers/ascii.ts";
import { evaluateBlimp } from "../eval/blimp.ts";
import { generate } from "../eval/generate.ts";
import { type MhcAblationRow, type MhcCurvePoint, runMhcAblation } from "./mhc_ablation.ts";
import { createRun, type Run } from "../results/run_dir.ts";
import { barChart, lineChart } from "../results/charts.ts";
import { toFrame } from "../results/frames.ts";
import { makeMhcVariant } from "./mhc_ablation.ts";

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
  /** The run folder the results were written to. */
  run: Run;
  /**
   * One row per variant: the ablation columns plus bits per character and BLiMP accuracy in both scoring
   * variants.
   */
  rows: (MhcAblationRow & {
    bits_per_char: number;
    blimp_first_token_unscored: number;
    blimp_eos_prefixed: number;
  })[];
  /** Training and validation loss curves. */
  curves: MhcCurvePoint[];
  /** A greedy text sample from the last model. */
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
  const steps = opts.steps ?? 150;
  const backend = await initBackend({ backend: opts.backend });
  const root = new URL("../../", import.meta.url).pathname;
  const dataDir = opts.dataDir ?? `${root}data/samples/wikitext-2`;
  const blimpDir = opts.blimpDir ?? `${root}data/samples/blimp`;
  log(`backend ${backend}; data ${dataDir}`);

  const corpus = await loadWikitext2({ split: "test", dir: dataDir });
  const cut = Math.floor(corpus.lines.length * 0.9);
  const tok = new AsciiTokenizer();
  const train = tokenizeLines(corpus.lines.slice(0, cut), tok) as Int32Array;
  const valid = tokenizeLines(corpus.lines.slice(cut), tok) as Int32Array;
  log(`${corpus.lines.length} lines → ${train.length} training and ${valid.length} held-out characters`);

  const config = {
    experiment: "quickstart",
    seed,
    steps,
    data: {
      dir: dataDir,
      split: "test",
      train_chars: train.length,
      valid_chars: valid.length,
      tokenizer: "ascii",
    },
    model: { preset: "tiny", vocabSize: tok.vocabSize, dim: 32, layers: 2, maxLen: 64 },
    train: { batchSize: 8, seqLen: 64, lr: 3e-3, weightDecay: 0.1, gradClip: 1.0 },
  };
  const run = createRun("quickstart", opts.runName, { root: opts.resultsRoot, seed });
  await run.writeConfig(config);

  const { rows, curves } = await runMhcAblation({
    train,
    valid,
    preset: "tiny",
    model: { vocabSize: tok.vocabSize, dim: 32, layers: 2, maxLen: 64, adapterRank: 8, adapterDropout: 0 },
    batchSize: 8,
    seqLen: 64,
    steps,
    lr: 3e-3,
    seed,
    evalEvery: Math.max(1, Math.floor(steps / 6)),
    evalBatches: 4,
    pplBatches: 16,
    throughput: { batch: 8, warmup: 2, steps: 5 },
    outDir: `${run.dir}/checkpoints`,
    log,
  });

  // BLiMP (both scoring variants) and a text sample, on models retrained from their final checkpoints.
  const { loadCheckpoint, restoreModel } = await import("../train/checkpoint.ts");
  const pairs = await loadBlimp({ dir: blimpDir });
  const out: QuickstartResult["rows"] = [];
  let sample = "";
  for (const r of rows) {
    const model = makeMhcVariant(
      r.variant,
      { vocabSize: tok.vocabSize, dim: 32, layers: 2, maxLen: 64, adapterRank: 8 },
      "tiny",
      seed,
    );
    restoreModel(model, await loadCheckpoint(`${run.dir}/checkpoints/${r.variant}-seed${seed}`));
    const a = await evaluateBlimp(model, tok, pairs, {
      variant: "first-token-unscored",
      overflow: "truncate",
    });
    const b = await evaluateBlimp(model, tok, pairs, { variant: "eos-prefixed", overflow: "truncate" });
    if (r.variant === "mhc_adapters") {
      const ids = await generate(model, tok.encode(" The "), {
        maxNewTokens: 48,
        greedy: true,
        noRepeatNgramSize: 4,
      });
      sample = tok.decode(ids);
    }
    out.push({
      ...r,
      bits_per_char: r.val_loss / Math.LN2,
      blimp_first_token_unscored: a.overall,
      blimp_eos_prefixed: b.overall,
    });
    model.dispose();
    log(
      `${r.variant}: bits/char ${(r.val_loss / Math.LN2).toFixed(3)}, BLiMP ${
        (a.overall * 100).toFixed(1)
      }% / ${(b.overall * 100).toFixed(1)}% (${pairs.length} pairs)`,
    );
  }
  log(`sample (mHC + adapters, greedy): ${JSON.stringify(sample)}`);

  await run.writeFrame("table", toFrame(out.map((r) => ({ ...r }))));
  await run.writeFrame("curves", toFrame(curves.map((c) => ({ ...c }))));
  await run.writeChart(
    "loss_curves",
    lineChart({
      data: curves.map((c) => ({ ...c, series: `${c.variant} (${c.split})` })),
      x: "step",
      y: "loss",
      color: "series",
      title: "Quickstart: training and held-out loss (nats/char)",
    }),
  );
  await run.writeChart(
    "bits_per_char",
    barChart({
      data: out.map((r) => ({ variant: r.variant, bits_per_char: r.bits_per_char })),
      x: "variant",
      y: "bits_per_char",
      title: "Held-out bits per character",
    }),
  );
  await run.writeJson("summary", { rows: out, sample, environment: describeEnvironment() });
  log(`results written to ${run.dir}`);
  return { run, rows: out, curves, sample };
}
