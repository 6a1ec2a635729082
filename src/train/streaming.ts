/**
 * Streaming pretraining (the HSSM card's recipe: "streaming pretraining pipeline, first N samples, 1 epoch"):
 * train the 20k tokenizer on the start of the stream and save it beside the checkpoints, build the model with
 * that vocabulary, and run `train()` for one epoch over the first N samples read in order, with checkpoints every
 * `saveEvery` steps and exact resume in the middle of the stream. At every evaluation (held-out loss) the MoE's
 * expert-load histogram and router entropy are appended to `routing.jsonl` when the model reports them.
 *
 * Run folder: `tokenizer.json` (the tokenizer), `step-*` / `latest` (checkpoints of `train()`), `history.jsonl`
 * (one line per step), `routing.jsonl` (one line per evaluation).
 *
 * @module
 */
import { createModel, type ModelConfigInput } from "../models/registry.ts";
import type { LanguageModel } from "../models/types.ts";
import {
  type SampleUnit,
  StreamingBatchSource,
  TextSampleStream,
  trainTokenizerOnStream,
} from "../data/stream.ts";
import { Vocab20kTokenizer } from "../tokenizers/vocab20k.ts";
import { type StepRecord, train, type TrainOptions } from "./trainer.ts";
import { checkTokenizerFits } from "../eval/generate.ts";

/** Options of {@linkcode pretrainStreaming}. */
export interface StreamingPretrainOptions {
  /** The text corpus (UTF-8). */
  corpus: string;
  /** How samples are cut: `"paragraph"` (default) or `"line"`. */
  unit?: SampleUnit;
  /** Train on the first N samples (default: the whole file). */
  maxSamples?: number;
  /** Held-out samples: the `valSamples` samples that follow the training range (default 0: no evaluation). */
  valSamples?: number;
  /** Samples at the start of the stream the tokenizer is trained on (default 20000). */
  tokenizerSamples?: number;
  /** Tokenizer size (default 20000). */
  vocabSize?: number;
  /** Model: kind and fields (vocabSize is set from the tokenizer). */
  model: ModelConfigInput;
  /** Init seed (default 1337). */
  seed?: number;
  /** Rows per batch (default 16). */
  batch?: number;
  /** Tokens per row (default 256). */
  seqLen?: number;
  /** Run folder (tokenizer, checkpoints, logs). */
  outDir: string;
  /** Continue from `outDir/latest` when it exists (default true). */
  resume?: boolean;
  /** Everything else of `train()` (lr, schedule, steps, saveEvery, evalEvery, progress, …). */
  train?: Partial<Omit<TrainOptions, "model" | "data" | "valData" | "outDir" | "resume">>;
}

/** Result of {@linkcode pretrainStreaming}. */
export interface StreamingPretrainResult {
  /** The trained model (dispose it when done). */
  model: LanguageModel;
  /** The tokenizer saved in the run folder. */
  tokenizer: Vocab20kTokenizer;
  /** Per-step records of `train()`. */
  history: StepRecord[];
  /** Samples of the stream consumed by the last step. */
  samplesRead: number;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The tokenizer of a run folder: loaded when saved there, else trained on the start of the stream and saved. */
async function runTokenizer(o: StreamingPretrainOptions): Promise<Vocab20kTokenizer> {
  const path = `${o.outDir}/tokenizer.json`;
  if (await exists(path)) return await Vocab20kTokenizer.load(path);
  const tok = trainTokenizerOnStream(o.corpus, {
    samples: o.tokenizerSamples ?? 20000,
    vocabSize: o.vocabSize ?? 20000,
    unit: o.unit,
  });
  await Deno.mkdir(o.outDir, { recursive: true });
  await tok.save(path);
  return tok;
}

/** Held-out batches: the samples right after the training range (their start is found once and cached). */
function heldOut(
  o: StreamingPretrainOptions,
  tok: Vocab20kTokenizer,
  B: number,
  T: number,
): () => StreamingBatchSource {
  const n = o.maxSamples ?? Infinity;
  if (!Number.isFinite(n)) {
    throw new Error(
      `Option "valSamples" needs "maxSamples": the held-out samples are the ones after the first N.`,
    );
  }
  let start: { sample: number; byte: number } | null = null;
  return () => {
    const s = new TextSampleStream(o.corpus, { unit: o.unit, maxSamples: n + (o.valSamples ?? 0) });
    if (!start) {
      for (let i = 0; i < n && s.next() !== null; i++);
      start = s.position;
    }
    s.seek(start);
    return new StreamingBatchSource(s, tok, { batch: B, seqLen: T, name: `${o.corpus} (held-out)` });
  };
}

/**
 * Pretrain a model by streaming a text corpus: tokenizer on the start of the stream, one epoch over the first N
 * samples in order, checkpoints and exact resume.
 *
 * @param o corpus, sample counts, model, batch shape, run folder, train options
 * @returns the model, tokenizer, history and the stream position
 * @example
 * ```ts
 * // const { model, history } = await pretrainStreaming({
 * //   corpus: "corpus.txt", maxSamples: 1_500_000, valSamples: 2000, model: { kind: "hssm" },
 * //   outDir: "runs/hssm", train: { lr: 3e-4, saveEvery: 500, evalEvery: 500, epochs: 1 },
 * // });
 * ```
 */
export async function pretrainStreaming(o: StreamingPretrainOptions): Promise<StreamingPretrainResult> {
  const tokenizer = await runTokenizer(o);
  const model = createModel({ ...o.model, vocabSize: tokenizer.vocabSize }, o.seed ?? 1337);
  checkTokenizerFits(tokenizer, model.config.vocabSize, `${o.outDir}/tokenizer.json`);
  const B = o.batch ?? 16, T = o.seqLen ?? 256;
  const stream = new TextSampleStream(o.corpus, { unit: o.unit, maxSamples: o.maxSamples });
  const data = new StreamingBatchSource(stream, tokenizer, { batch: B, seqLen: T });
  const routed = model as LanguageModel & { routingStats?: () => Promise<unknown> };
  const t = o.train ?? {};
  try {
    const history = await train({
      epochs: 1,
      ...t,
      model,
      data,
      valData: o.valSamples ? heldOut(o, tokenizer, B, T) : undefined,
      outDir: o.outDir,
      resume: o.resume ?? true,
      onStep: async (rec) => {
        await Deno.writeTextFile(
          `${o.outDir}/history.jsonl`,
          JSON.stringify({ ...rec, samples: data.samplesRead }) + "\n",
          { append: true },
        );
        await t.onStep?.(rec);
      },
      onEval: async (rec) => {
        if (routed.routingStats) {
          const line = { ...rec, ...(await routed.routingStats()) as object };
          await Deno.writeTextFile(`${o.outDir}/routing.jsonl`, JSON.stringify(line) + "\n", {
            append: true,
          });
        }
        await t.onEval?.(rec);
      },
    });
    return { model, tokenizer, history, samplesRead: data.samplesRead };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    stream.close();
  }
}
