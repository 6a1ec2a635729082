/**
 * BLiMP for any saved checkpoint or n-gram baseline, as the `ssmlab blimp` command and the BLiMP notebook run it
 * (docs/blimp.md): the checkpoint's tokenizer, the BabyLM fast subset, word-milestone checkpoints (`chck_1M` …)
 * and learning curves by words seen.
 *
 * A checkpoint's tokenizer is read, as by every command that takes a checkpoint, from the run record of
 * `src/cli/tokenizer.ts` (`tokenizer.json` in the checkpoint or run folder, else `run.json`'s `flags.tokenizer`).
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { checkpointTokenizer } from "../cli/tokenizer.ts";
import type { LanguageModel } from "../models/types.ts";
import { createModel } from "../models/registry.ts";
import { loadCheckpoint, resolveCheckpoint, restoreModel } from "../train/checkpoint.ts";
import { getTokenizer, type Tokenizer } from "../tokenizers/types.ts";
import { type BlimpPair, loadBlimp } from "../data/blimp.ts";
import { type DataFrame, type Row, toFrame } from "../results/frames.ts";
import {
  type BlimpEvalPair,
  type BlimpResult,
  blimpResultFromScores,
  type BlimpVariant,
  evaluateBlimp,
} from "./blimp.ts";
import { type NgramModel, parseNgramSpec, trainNgram } from "./ngram.ts";
import { writeBabyLMBlimp } from "./blimp_babylm.ts";
import { blimpFastSubset, listMilestones, milestoneWords } from "./blimp_milestones.ts";

export {
  blimpFastSubset,
  listMilestones,
  milestoneName,
  milestoneWords,
  wordsPerToken,
} from "./blimp_milestones.ts";

/** A checkpoint ready to score: its model (weights restored), tokenizer and names. */
export interface EvalCheckpoint {
  /** The model, in eval mode. */
  model: LanguageModel;
  /** Its tokenizer. */
  tokenizer: Tokenizer;
  /** The checkpoint folder. */
  path: string;
  /** The run folder's name (the model name of the BabyLM layout). */
  runName: string;
  /** The checkpoint folder's name (`chck_1M`, `step-500`, …). */
  name: string;
}

/**
 * Load a checkpoint (or a run folder with a `latest` pointer) for evaluation: rebuild the model from its config,
 * restore the weights, find its tokenizer (or use `tokenizer`).
 */
export async function loadEvalCheckpoint(path: string, tokenizer?: Tokenizer): Promise<EvalCheckpoint> {
  const dir = await resolveCheckpoint(path);
  const ck = await loadCheckpoint(dir);
  const tok = tokenizer ?? await checkpointTokenizer(dir, ck.config.vocabSize);
  const model = createModel(ck.config, 0);
  restoreModel(model, ck);
  model.setTraining?.(false);
  if (tok.vocabSize > ck.config.vocabSize) {
    model.dispose?.();
    throw new Error(
      `The tokenizer "${tok.name}" has ${tok.vocabSize} ids but the checkpoint "${dir}" has vocabSize ${ck.config.vocabSize}.`,
    );
  }
  return {
    model,
    tokenizer: tok,
    path: dir,
    runName: basename(dirname(resolve(dir))),
    name: basename(resolve(dir)),
  };
}

/** Options of {@linkcode evaluateBlimpNgram}. */
export interface NgramBlimpOptions {
  /** Scoring variant (default "first-token-unscored"). */
  variant?: BlimpVariant;
  /** Keep per-pair scores (default false). */
  returnScores?: boolean;
}

/**
 * Score BLiMP pairs with an n-gram model (same decision and aggregation as `evaluateBlimp`).
 *
 * @example
 * ```ts
 * // const m = trainNgram(lines, { unit: "word", order: 5, restrictTo: pairs.flatMap((p) => [p.good, p.bad]) });
 * // const r = evaluateBlimpNgram(m, pairs, { variant: "first-token-unscored" });
 * ```
 */
export function evaluateBlimpNgram(
  model: NgramModel,
  pairs: readonly BlimpEvalPair[],
  opts: NgramBlimpOptions = {},
): BlimpResult {
  if (pairs.length === 0) throw new Error(`No BLiMP pairs to evaluate: the pair list is empty.`);
  const variant = opts.variant ?? "first-token-unscored";
  const scores = model.scoreSentences(pairs.flatMap((p) => [p.good, p.bad]), variant);
  return blimpResultFromScores(pairs, scores, variant, { returnScores: opts.returnScores });
}

// ---- word milestones and learning curves ----

/** Options of {@linkcode blimpLearningCurve}. */
export interface LearningCurveOptions {
  /** Scoring variant (default "first-token-unscored"). */
  variant?: BlimpVariant;
  /** Model label in the frame (default: the run folder's name). */
  model?: string;
  /** Tokenizer (default: the checkpoint's). */
  tokenizer?: Tokenizer;
  /** What to do with sentences longer than a fixed-context model's maxLen (default "truncate"). */
  overflow?: "error" | "truncate";
  /** Also write each milestone's BabyLM files under this root (dataset `blimp_fast`). */
  outDir?: string;
}

/**
 * BLiMP of every word-milestone checkpoint (`chck_*`) of a run folder, as a frame with one row per checkpoint:
 * model, checkpoint, words, variant, overall and one column per phenomenon (accuracies in [0, 1]).
 *
 * @example
 * ```ts
 * // const pairs = blimpFastSubset(await loadBlimp({ dir: "data/samples/blimp" }), 20);
 * // const curve = await blimpLearningCurve("runs/tiny", pairs);
 * ```
 */
export async function blimpLearningCurve(
  runDir: string,
  pairs: readonly BlimpEvalPair[],
  opts: LearningCurveOptions = {},
): Promise<DataFrame> {
  const ms = await listMilestones(runDir);
  if (!ms.length) {
    throw new Error(`The run folder "${runDir}" has no word-milestone checkpoints (chck_1M, …).`);
  }
  const rows: Row[] = [];
  for (const m of ms) {
    const ck = await loadEvalCheckpoint(m.path, opts.tokenizer);
    try {
      const r = await evaluateBlimp(ck.model, ck.tokenizer, pairs, {
        variant: opts.variant,
        overflow: opts.overflow ?? "truncate",
        returnScores: !!opts.outDir,
      });
      if (opts.outDir) {
        await writeBabyLMBlimp(r, pairs, {
          outDir: opts.outDir,
          model: opts.model ?? ck.runName,
          revision: m.name,
          dataset: "blimp_fast",
        });
      }
      const row: Row = {
        model: opts.model ?? ck.runName,
        checkpoint: m.name,
        words: m.words,
        variant: r.variant,
        overall: r.overall,
      };
      for (const p of r.perPhenomenon) row[p.phenomenon] = p.accuracy;
      rows.push(row);
    } finally {
      ck.model.dispose?.();
    }
  }
  return toFrame(rows);
}

// ---- one evaluation, as the CLI runs it ----

/** The BLiMP sets. */
export type BlimpSet = "original" | "filtered";

/** Options of {@linkcode runBlimp}. */
export interface RunBlimpOptions {
  /** A checkpoint folder or run folder (exclusive with `ngram`). */
  ckpt?: string;
  /** An n-gram baseline "word:5" / "char:10" trained on `data` (exclusive with `ckpt`). */
  ngram?: string;
  /** The n-gram's training text: a file, or a folder whose `*.txt` / `*.train` files are read. */
  data?: string;
  /** "original" (default) or "filtered". */
  set?: BlimpSet;
  /** The BLiMP folder of jsonl files (default: the Hub dataset for "original"; required for "filtered"). */
  blimpDir?: string;
  /** Scoring variant (default "first-token-unscored"). */
  variant?: BlimpVariant;
  /** Only these paradigms. */
  paradigms?: string[];
  /** Keep the first N pairs of each paradigm (the fast subset; dataset name `blimp_fast`). */
  fast?: number;
  /** Write the BabyLM files under this folder. */
  out?: string;
  /** Model name of the BabyLM layout (default: run folder name, or e.g. "ngram_word5"). */
  model?: string;
  /** Revision of the BabyLM layout (default: a `chck_*` checkpoint's name, else "main"). */
  revision?: string;
  /** Tokenizer name overriding the checkpoint's. */
  tokenizer?: string;
  /** "error" or "truncate" (default) for sentences longer than a fixed-context model's maxLen. */
  overflow?: "error" | "truncate";
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What {@linkcode runBlimp} returns. */
export interface RunBlimpResult {
  /** The evaluation result (with per-pair scores). */
  result: BlimpResult;
  /** Model name used in the outputs. */
  model: string;
  /** The BabyLM folder written, when `out` was given. */
  dir?: string;
  /** Seconds for training (n-gram) and scoring. */
  seconds: { train: number; score: number };
}

/** Read a training text file, or every `*.txt` / `*.train` file of a folder (sorted), as lines. */
export async function readTextLines(path: string): Promise<string[]> {
  let files: string[];
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new Error(`Cannot read the training text "${path}": ${(e as Error).message}`);
  }
  if (info.isDirectory) {
    files = [];
    for await (const e of Deno.readDir(path)) {
      if (e.isFile && /\.(txt|train)$/.test(e.name)) files.push(join(path, e.name));
    }
    files.sort();
    if (!files.length) throw new Error(`The folder "${path}" has no *.txt or *.train files to train on.`);
  } else files = [path];
  const lines: string[] = [];
  for (const f of files) {
    for (const l of (await Deno.readTextFile(f)).split(/\r?\n/)) if (l.trim()) lines.push(l);
  }
  return lines;
}

/**
 * Evaluate a checkpoint or an n-gram baseline on BLiMP and (with `out`) write the BabyLM files.
 *
 * @example
 * ```ts
 * // await runBlimp({ ngram: "word:5", data: "data/samples/babylm", blimpDir: "data/samples/blimp", out: "results/blimp" });
 * ```
 */
export async function runBlimp(o: RunBlimpOptions): Promise<RunBlimpResult> {
  if (!!o.ckpt === !!o.ngram) {
    throw new Error("Give exactly one of --ckpt (a checkpoint) and --ngram (word:N or char:N).");
  }
  const set = o.set ?? "original";
  if (set !== "original" && set !== "filtered") {
    throw new Error(`Option --set must be "original" or "filtered", got "${set}".`);
  }
  if (set === "filtered" && !o.blimpDir) {
    throw new Error(
      "Option --blimp (a folder of BabyLM's blimp_filtered *.jsonl files) is required with --set filtered.",
    );
  }
  const log = o.log ?? (() => {});
  let pairs: BlimpPair[] = await loadBlimp({ dir: o.blimpDir, paradigms: o.paradigms });
  if (o.fast) pairs = blimpFastSubset(pairs, o.fast);
  const dataset = o.fast ? "blimp_fast" : set === "filtered" ? "blimp_filtered" : "blimp_original";
  log(`${pairs.length} pairs in ${new Set(pairs.map((p) => p.uid)).size} paradigms (${dataset})`);
  const variant = o.variant ?? "first-token-unscored";
  let result: BlimpResult, model: string, revision = o.revision;
  const t0 = performance.now();
  let t1 = t0;
  if (o.ngram) {
    const spec = parseNgramSpec(o.ngram);
    if (!o.data) throw new Error("Option --data (a training text file or folder) is required with --ngram.");
    const lines = await readTextLines(o.data);
    const m = trainNgram(lines, { ...spec, restrictTo: pairs.flatMap((p) => [p.good, p.bad]) });
    t1 = performance.now();
    log(
      `trained a ${m.label} on ${m.tokens.toLocaleString("en")} tokens in ${
        ((t1 - t0) / 1000).toFixed(1)
      } s; discounts ${m.discounts.map((d) => d.toFixed(3)).join(", ")}`,
    );
    result = evaluateBlimpNgram(m, pairs, { variant, returnScores: true });
    model = o.model ?? `ngram_${spec.unit}${spec.order}`;
  } else {
    const ck = await loadEvalCheckpoint(o.ckpt!, o.tokenizer ? getTokenizer(o.tokenizer) : undefined);
    try {
      log(`checkpoint ${ck.path}: ${ck.model.config.kind}, tokenizer ${ck.tokenizer.name}`);
      result = await evaluateBlimp(ck.model, ck.tokenizer, pairs, {
        variant,
        overflow: o.overflow ?? "truncate",
        returnScores: true,
      });
    } finally {
      ck.model.dispose?.();
    }
    model = o.model ?? ck.runName;
    revision ??= milestoneWords(ck.name) !== null ? ck.name : "main";
  }
  const score = (performance.now() - t1) / 1000;
  let dir: string | undefined;
  if (o.out) ({ dir } = await writeBabyLMBlimp(result, pairs, { outDir: o.out, model, revision, dataset }));
  return { result, model, dir, seconds: { train: (t1 - t0) / 1000, score } };
}

/** The rows of a result per paradigm and per phenomenon (accuracies in [0, 1]) for tables and charts. */
export function blimpRows(
  r: BlimpResult,
  model: string,
): { paradigms: Row[]; phenomena: Row[] } {
  return {
    paradigms: r.perParadigm.map((p) => ({
      model,
      variant: r.variant,
      phenomenon: p.phenomenon,
      paradigm: p.uid,
      accuracy: p.accuracy,
      n: p.n,
    })),
    phenomena: [
      ...r.perPhenomenon.map((p) => ({
        model,
        variant: r.variant,
        phenomenon: p.phenomenon,
        accuracy: p.accuracy,
        paradigms: p.paradigms,
      })),
      {
        model,
        variant: r.variant,
        phenomenon: "overall",
        accuracy: r.overall,
        paradigms: r.perParadigm.length,
      },
    ],
  };
}
