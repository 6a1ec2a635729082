/**
 * The steps of notebook 02 (HSSM pretraining): the small CPU run, loading a committed GPU run, and the charts and
 * tables both show. The notebook only sets options and calls these.
 *
 * @module
 */
import type { StepRecord } from "../train/trainer.ts";
import { pretrainStreaming, type StreamingPretrainResult } from "../train/streaming.ts";
import { modelConfig } from "../models/registry.ts";
import { lineChart, type VegaLiteSpec } from "../results/charts.ts";
import type { Row } from "../results/frames.ts";

/** One evaluation of a streaming run (`routing.jsonl`): held-out loss, expert load and router entropy per block. */
export interface HssmRoutingRecord {
  /** Optimizer step. */
  step: number;
  /** Held-out loss. */
  valLoss: number;
  /** Share of routed tokens per expert, per block: [blocks][experts]. */
  load: number[][];
  /** Router entropy per block (nats). */
  entropy: number[];
}

/** A pretraining run to show: its step records and evaluations, and (small mode) the live model and tokenizer. */
export interface HssmRun {
  /** Step records (the last one of each step). */
  history: StepRecord[];
  /** Evaluations. */
  routing: HssmRoutingRecord[];
  /** The trained model (small mode only; dispose it). */
  model?: StreamingPretrainResult["model"];
  /** Its tokenizer (small mode only). */
  tokenizer?: StreamingPretrainResult["tokenizer"];
  /** Other files of a committed run (throughput.json, samples.json, blimp.json …), parsed, by name. */
  files: Record<string, unknown>;
}

/** The small run's settings: the tiny model on the shipped children's-books sample, seconds on a CPU. */
export const HSSM_SMALL_SETTINGS = {
  corpus: "data/samples/babylm/gutenberg_children.train",
  unit: "line" as const,
  maxSamples: 100,
  valSamples: 20,
  tokenizerSamples: 100,
  vocabSize: 700,
  model: { dim: 32, expertDim: 64, maxLen: 64 },
  batch: 4,
  seqLen: 32,
  seed: 1,
  train: { lr: 3e-3, epochs: 1, evalEvery: 4, evalBatches: 4, progress: "none" as const },
};

function jsonLines<T>(text: string): T[] {
  return text.trim().split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

/**
 * Pretrain the tiny HSSM on the shipped sample (`root` = the project folder as seen from the caller).
 *
 * @example
 * ```ts
 * // const run = await runHssmSmall(".."); // from notebooks/
 * ```
 */
export async function runHssmSmall(root = "."): Promise<HssmRun & { samplesRead: number; outDir: string }> {
  const s = HSSM_SMALL_SETTINGS;
  const outDir = await Deno.makeTempDir({ prefix: "hssm_small_" });
  const r = await pretrainStreaming({
    ...s,
    corpus: `${root}/${s.corpus}`,
    model: { ...modelConfig("hssm", {}, "tiny"), ...s.model },
    outDir,
  });
  const routing = jsonLines<HssmRoutingRecord>(await Deno.readTextFile(`${outDir}/routing.jsonl`));
  return { ...r, routing, files: {}, outDir };
}

/**
 * A committed GPU run (`bench/hssm_device.ts --mode epoch` output, e.g. `results/hssm/`), or null when the folder
 * has no `history.jsonl` and `routing.jsonl`. A resumed run may repeat steps: the last record of each is kept.
 */
export async function loadHssmRun(dir: string): Promise<HssmRun | null> {
  const read = (f: string) => Deno.readTextFile(`${dir}/${f}`).catch(() => null);
  const [hist, rout] = [await read("history.jsonl"), await read("routing.jsonl")];
  if (!hist || !rout) return null;
  const byStep = new Map(jsonLines<StepRecord>(hist).map((r) => [r.step, r]));
  const files: Record<string, unknown> = {};
  for (const f of ["throughput.json", "samples.json", "pretokenize.json", "blimp.json"]) {
    const t = await read(f);
    if (t) files[f] = JSON.parse(t);
  }
  return { history: [...byStep.values()], routing: jsonLines<HssmRoutingRecord>(rout), files };
}

/** The run's charts (training and held-out loss; expert load of block 0) and its evaluation table. */
export function hssmRunViews(run: HssmRun): { loss: VegaLiteSpec; load: VegaLiteSpec; evals: Row[] } {
  const rows = run.history.map((r) => ({ step: r.step, loss: r.loss, series: "train" }))
    .concat(run.routing.map((r) => ({ step: r.step, loss: r.valLoss, series: "held-out" })));
  const load = run.routing.flatMap((r) =>
    r.load[0].map((v, e) => ({ step: r.step, share: v, expert: `e${e}` }))
  );
  return {
    loss: lineChart({ data: rows, x: "step", y: "loss", color: "series", title: "HSSM loss" }),
    load: lineChart({ data: load, x: "step", y: "share", color: "expert", title: "Expert load, block 0" }),
    evals: run.routing.map((r) => ({ step: r.step, valLoss: r.valLoss, entropy_block0: r.entropy[0] })),
  };
}

/** Mean training tokens/s over the last `n` steps of a run. */
export function recentTokensPerSec(run: HssmRun, n = 10): number {
  const last = run.history.slice(-n);
  return last.reduce((s, r) => s + r.tokensPerSec, 0) / Math.max(1, last.length);
}
