/**
 * The pieces of the BLiMP notebook (`notebooks/05_blimp_eval.ipynb`): published anchors, a tiny character model
 * trained in seconds with word-milestone checkpoints, n-gram baselines, comparison tables and charts.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { createModel, modelConfig } from "../models/registry.ts";
import { getTokenizer } from "../tokenizers/types.ts";
import { tokenizeLines } from "../data/batches.ts";
import { ArrayBatchSource } from "../train/batch_source.ts";
import { train } from "../train/trainer.ts";
import { heatmapChart, lineChart, VEGA_LITE_SCHEMA, type VegaLiteSpec } from "../results/charts.ts";
import type { DataFrame, Row } from "../results/frames.ts";
import { toFrame } from "../results/frames.ts";
import { BLIMP_PHENOMENON_NAMES } from "../data/blimp.ts";
import { type BlimpEvalPair, type BlimpResult, type BlimpVariant, evaluateBlimp } from "./blimp.ts";
import { writeBabyLMBlimp } from "./blimp_babylm.ts";
import { wordsPerToken } from "./blimp_milestones.ts";
import { listMilestones, loadEvalCheckpoint } from "./blimp_run.ts";
import { saveRunTokenizer } from "../cli/tokenizer.ts";

/** A published BLiMP score to compare against (BabyLM strict-small, 10 M words, unless noted). */
export interface BlimpAnchor {
  /** Model. */
  model: string;
  /** BLiMP accuracy in %. */
  blimp: number;
  /** Which BLiMP set and scorer the number uses. */
  scoring: string;
  /** Where the number is published. */
  source: string;
}

/**
 * Published anchors (docs/blimp.md#published-reference-points). The BabyLM numbers are on filtered BLiMP; the
 * 2025/2026 pipeline scores with `"first-token-unscored"`, the 2024 lm-eval pipeline with `"eos-prefixed"`.
 */
export const BLIMP_ANCHORS: readonly BlimpAnchor[] = [
  {
    model: "GPT-2 baseline (BabyLM 2026)",
    blimp: 65.08,
    scoring: "filtered, first-token-unscored",
    source: "babylm-eval README (2026)",
  },
  {
    model: "BabyLlama (BabyLM 2024)",
    blimp: 69.8,
    scoring: "filtered, eos-prefixed (lm-eval)",
    source: "evaluation-pipeline-2024 README",
  },
  {
    model: "LTG-BERT (BabyLM 2024)",
    blimp: 60.6,
    scoring: "filtered, eos-prefixed (lm-eval)",
    source: "evaluation-pipeline-2024 README",
  },
  {
    model: "character model (blog post)",
    blimp: 55,
    scoring: "about 55 %, as the post reports",
    source: "the character-curriculum post",
  },
];

/** Options of {@linkcode trainTinyBlimpModel}. */
export interface TinyBlimpModelOptions {
  /** Training lines (e.g. `loadBabyLM({ dir: "data/samples/babylm" }).lines`). */
  lines: readonly string[];
  /** Run folder: checkpoints `chck_*` and the final one, plus tokenizer.json. */
  outDir: string;
  /** Model kind (default "baseline"); its "tiny" preset is used with the ASCII tokenizer. */
  kind?: string;
  /** Optimizer steps (default 60). */
  steps?: number;
  /** Word milestones (default: 4 evenly spaced up to the words the run sees). */
  saveAtWords?: number[];
  /** Seed (default 1337). */
  seed?: number;
}

/**
 * Train a tiny character-level model (ASCII tokenizer, `tiny` preset) for a few seconds, saving word-milestone
 * checkpoints and `tokenizer.json`, so every later step reads it like any saved checkpoint.
 *
 * @example
 * ```ts
 * // const run = await trainTinyBlimpModel({ lines: corpus.lines, outDir: "results/blimp_nb/tiny" });
 * ```
 */
export async function trainTinyBlimpModel(
  opts: TinyBlimpModelOptions,
): Promise<{ dir: string; wordsPerToken: number; milestones: number[] }> {
  const tok = getTokenizer("ascii");
  const seed = opts.seed ?? 1337;
  const cfg = modelConfig(opts.kind ?? "baseline", { vocabSize: tok.vocabSize, maxLen: 256 }, "tiny");
  const model = createModel(cfg, seed);
  const ids = tokenizeLines(opts.lines, tok) as Int32Array;
  const ratio = wordsPerToken(opts.lines, tok);
  const steps = opts.steps ?? 60;
  const batch = 8, seqLen = 64;
  const totalWords = steps * batch * seqLen * ratio;
  const milestones = opts.saveAtWords ??
    [1, 2, 3, 4].map((k) => Math.max(1, Math.floor((k * totalWords) / 4 / 100) * 100));
  await saveRunTokenizer(opts.outDir, getTokenizer("ascii"));
  try {
    await train({
      model,
      data: new ArrayBatchSource(ids, { batch, seqLen, rng: seed, dropLast: true }),
      steps,
      lr: 3e-3,
      seed,
      outDir: opts.outDir,
      saveAtWords: milestones,
      wordsPerToken: ratio,
      progress: "none",
    });
  } finally {
    model.dispose();
  }
  return { dir: opts.outDir, wordsPerToken: ratio, milestones };
}

/** One evaluated model for {@linkcode blimpComparison}. */
export interface NamedBlimpResult {
  /** Label in tables and charts. */
  model: string;
  /** Its BLiMP result. */
  result: BlimpResult;
}

/** Tables and charts comparing models on BLiMP. */
export interface BlimpComparison {
  /** One row per model and paradigm (accuracy in %). */
  perParadigm: DataFrame;
  /** One row per phenomenon, one column per model (accuracy in %), and an "overall" row. */
  perPhenomenon: DataFrame;
  /** Phenomena × models heatmap (%). */
  heatmap: VegaLiteSpec;
  /** Overall accuracy of each model beside the published anchors (%), the scoring variant in the title. */
  anchors: VegaLiteSpec;
}

/**
 * Comparison tables and charts of several models' BLiMP results (all with the same variant).
 *
 * @throws Error when the results use different scoring variants.
 */
export function blimpComparison(
  results: readonly NamedBlimpResult[],
  opts: { set?: string; anchors?: readonly BlimpAnchor[] } = {},
): BlimpComparison {
  const variants = new Set(results.map((r) => r.result.variant));
  if (variants.size !== 1) {
    throw new Error(`blimpComparison needs results of one scoring variant, got ${[...variants].join(", ")}.`);
  }
  const variant = [...variants][0] as BlimpVariant;
  const set = opts.set ?? "BLiMP";
  const pct = (a: number) => Math.round(a * 1000) / 10;
  const paradigms: Row[] = results.flatMap(({ model, result }) =>
    result.perParadigm.map((p) => ({
      model,
      phenomenon: p.phenomenon,
      paradigm: p.uid,
      accuracy: pct(p.accuracy),
      n: p.n,
    }))
  );
  const names = [...new Set(results.flatMap((r) => r.result.perPhenomenon.map((p) => p.phenomenon)))];
  names.sort((a, b) => order(a) - order(b));
  const cells: Row[] = [];
  const wide: Row[] = [...names, "overall"].map((phenomenon) => {
    const row: Row = { phenomenon };
    for (const { model, result } of results) {
      const acc = phenomenon === "overall"
        ? result.overall
        : result.perPhenomenon.find((p) => p.phenomenon === phenomenon)?.accuracy;
      row[model] = acc === undefined ? null : pct(acc);
      if (acc !== undefined) cells.push({ model, phenomenon, accuracy: pct(acc) });
    }
    return row;
  });
  const bars: Row[] = [
    ...results.map(({ model, result }) => ({
      model,
      accuracy: pct(result.overall),
      kind: `ssmlab (${set})`,
    })),
    ...(opts.anchors ?? BLIMP_ANCHORS).map((a) => ({
      model: a.model,
      accuracy: a.blimp,
      kind: `published: ${a.scoring}`,
    })),
  ];
  return {
    perParadigm: toFrame(paradigms),
    perPhenomenon: toFrame(wide),
    heatmap: heatmapChart({
      data: cells,
      x: "model",
      y: "phenomenon",
      value: "accuracy",
      domain: [0, 100],
      title: `${set} accuracy (%) by phenomenon · ${variant}`,
      width: Math.max(160, 90 * results.length),
      height: 22 * (names.length + 1),
    }),
    anchors: anchorChart(bars, `${set} overall (%) · ssmlab models scored ${variant} · anchors as published`),
  };
}

/** Horizontal bars of overall accuracy, ssmlab models beside published anchors, with a 50 % chance line. */
function anchorChart(rows: Row[], title: string): VegaLiteSpec {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title,
    width: 420,
    height: 24 * rows.length,
    data: { values: rows },
    layer: [
      {
        mark: { type: "bar" },
        encoding: {
          y: { field: "model", type: "nominal", sort: "-x", title: null, axis: { labelLimit: 260 } },
          x: { field: "accuracy", type: "quantitative", title: "accuracy (%)", scale: { domain: [0, 100] } },
          color: {
            field: "kind",
            type: "nominal",
            title: null,
            legend: { orient: "bottom", columns: 1, labelLimit: 400 },
          },
          tooltip: [{ field: "model" }, { field: "accuracy", type: "quantitative" }, { field: "kind" }],
        },
      },
      {
        mark: { type: "text", align: "left", dx: 3, fontSize: 10 },
        encoding: {
          y: { field: "model", type: "nominal", sort: "-x" },
          x: { field: "accuracy", type: "quantitative" },
          text: { field: "accuracy", type: "quantitative", format: ".1f" },
        },
      },
      {
        data: { values: [{ chance: 50 }] },
        mark: { type: "rule", strokeDash: [4, 3] },
        encoding: { x: { field: "chance", type: "quantitative" } },
      },
    ],
    config: { background: "white", view: { stroke: null } },
  };
}

function order(phenomenon: string): number {
  const i = (BLIMP_PHENOMENON_NAMES as readonly string[]).indexOf(phenomenon);
  return i < 0 ? 100 : i;
}

/** A line chart of BLiMP overall (%) against words seen, one line per model, from learning-curve frames. */
export function learningCurveChart(
  curves: readonly DataFrame[],
  title = "BLiMP (fast subset) vs words seen",
): VegaLiteSpec {
  const rows: Row[] = curves.flatMap((c) =>
    (c.toRecords() as Row[]).map((r) => ({
      model: r.model,
      words: r.words,
      overall: Math.round((r.overall as number) * 1000) / 10,
    }))
  );
  return lineChart({
    data: rows,
    x: "words",
    y: "overall",
    color: "model",
    points: true,
    title,
    yTitle: "accuracy (%)",
    xTitle: "words seen",
  });
}

/**
 * The checkpoints under a folder (recursively): folders holding `model.safetensors` whose run folder or own folder
 * has a tokenizer (`tokenizer.json` or `run.json`). Word-milestone folders (`chck_*`) are listed too.
 */
export async function findCheckpoints(root: string, maxDepth = 6): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number) => {
    let ents: Deno.DirEntry[];
    try {
      ents = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    if (ents.some((e) => e.isFile && e.name === "model.safetensors")) {
      out.push(dir);
      return;
    }
    if (depth >= maxDepth) return;
    for (const e of ents.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory && !e.name.startsWith(".")) await walk(join(dir, e.name), depth + 1);
    }
  };
  await walk(root, 0);
  return out;
}

/** What {@linkcode evaluateRunsUnder} returns. */
export interface RunsEvaluation {
  /** One result per run folder (its `latest` checkpoint), labelled by the run folder's name. */
  results: NamedBlimpResult[];
  /** Run folders that have word-milestone checkpoints (`chck_*`), for learning curves. */
  withMilestones: string[];
  /** Run folders skipped, with the reason (e.g. no tokenizer). */
  skipped: { run: string; reason: string }[];
}

/**
 * Evaluate every run folder under `root` (a folder with a `latest` pointer, found recursively) on `pairs`;
 * with `out`, write each one's BabyLM files there. A run that cannot be evaluated is listed in `skipped`.
 */
export async function evaluateRunsUnder(
  root: string,
  pairs: readonly BlimpEvalPair[],
  opts: { variant?: BlimpVariant; out?: string; dataset?: string; log?: (l: string) => void } = {},
): Promise<RunsEvaluation> {
  const runs = [...new Set((await findCheckpoints(root)).map((c) => dirname(c)))].sort();
  const out: RunsEvaluation = { results: [], withMilestones: [], skipped: [] };
  for (const run of runs) {
    if ((await listMilestones(run)).length) out.withMilestones.push(run);
    let ck;
    try {
      ck = await loadEvalCheckpoint(run);
    } catch (e) {
      out.skipped.push({ run, reason: (e as Error).message });
      continue;
    }
    try {
      opts.log?.(`${run}: ${ck.model.config.kind}, tokenizer ${ck.tokenizer.name}`);
      const r = await evaluateBlimp(ck.model, ck.tokenizer, pairs, {
        variant: opts.variant,
        overflow: "truncate",
        returnScores: !!opts.out,
      });
      if (opts.out) {
        await writeBabyLMBlimp(r, pairs, { outDir: opts.out, model: ck.runName, dataset: opts.dataset });
      }
      out.results.push({ model: ck.runName, result: r });
    } finally {
      ck.model.dispose();
    }
  }
  return out;
}
