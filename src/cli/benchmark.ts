/**
 * `ssmlab benchmark`: training throughput, peak memory and (optionally) validation perplexity of a checkpoint
 * (with the tokenizer it was trained with) or of a freshly initialised model of any registered kind.
 *
 * @module
 */
import { initBackend } from "../backend.ts";
import { evaluatePerplexity } from "../eval/perplexity.ts";
import { measureThroughput } from "../eval/throughput.ts";
import { createModel } from "../models/registry.ts";
import type { LanguageModel } from "../models/types.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { ArrayBatchSource } from "../train/batch_source.ts";
import { checkTrainingFits } from "../train/memory_estimate.ts";
import { loadCheckpointModel } from "./checkpoint_model.ts";
import {
  BACKEND_OPTION,
  type CliOption,
  configFromFlags,
  HELP_OPTION,
  helpText,
  type ModelChoice,
  modelChoice,
  parse,
  tokenizerOverride,
  withModelFlags,
} from "./options.ts";
import { linesToIds, loadTextLines } from "./text_data.ts";
import { trainingTokenizer } from "./tokenizer.ts";

/** Options of `benchmark` (model flags are added when --model is given). */
export const BENCHMARK_OPTIONS: Record<string, CliOption> = {
  ckpt: { type: "string", help: "Checkpoint folder, or a run folder with a `latest` pointer." },
  model: {
    type: "string",
    help: "Benchmark a freshly initialised model of this kind instead of a checkpoint.",
  },
  preset: { type: "string", value: "published", help: "Preset of --model." },
  batch_size: { type: "int", min: 1, value: 16, help: "Sequences per batch." },
  seq_len: { type: "int", min: 1, help: "Sequence length (default: the model's maxLen, or 256)." },
  steps: { type: "int", min: 1, value: 50, help: "Timed training steps." },
  warmup: { type: "int", min: 0, value: 10, help: "Untimed warm-up steps." },
  ppl_eval: { type: "boolean", value: false, help: "Also evaluate validation perplexity." },
  ppl_batches: { type: "int", min: 1, value: 50, help: "Validation batches for --ppl_eval." },
  data: {
    type: "string",
    help: "WikiText folder or text file for --ppl_eval (default: the Hub's WikiText-2).",
  },
  split: {
    type: "string",
    choices: ["train", "validation", "test"],
    value: "validation",
    help: "Split of the --data folder for --ppl_eval.",
  },
  tokenizer: {
    type: "string",
    choices: ["gpt2", "ascii", "vocab20k"],
    help: "Tokenizer (default: the checkpoint's own; gpt2 with --model).",
  },
  tokenizer_file: { type: "string", help: "vocab20k vocabulary file with --tokenizer vocab20k." },
  seed: { type: "int", value: 1337, help: "Seed of the model and the random batch." },
  skip_size_check: {
    type: "boolean",
    value: false,
    help: "Run even when the memory estimate exceeds the limit.",
  },
  backend: BACKEND_OPTION,
  help: HELP_OPTION,
};

/** The model to benchmark and its tokenizer: restored from --ckpt, or fresh from --model, its preset and flags. */
async function benchmarkModel(
  f: Record<string, unknown>,
  model?: ModelChoice,
): Promise<{ m: LanguageModel; tok: Tokenizer }> {
  if (f.ckpt) {
    const r = await loadCheckpointModel(f.ckpt as string, {
      seed: f.seed as number,
      ...tokenizerOverride(f),
    });
    return { m: r.model, tok: r.tokenizer };
  }
  const tok = await trainingTokenizer((f.tokenizer as string | undefined) ?? "gpt2", () => {
    throw new Error("Option --tokenizer vocab20k needs --tokenizer_file (a saved vocabulary) with --model.");
  }, { file: f.tokenizer_file as string | undefined });
  return { m: createModel(configFromFlags(model!, f, tok.vocabSize), f.seed as number), tok };
}

/** Run `ssmlab benchmark` with its arguments. */
export async function runBenchmark(argv: string[]): Promise<void> {
  const model = modelChoice(argv, undefined);
  const f = parse(argv, withModelFlags(BENCHMARK_OPTIONS, model?.flags));
  if (f.help) {
    return console.log(
      helpText(
        "ssmlab benchmark (--ckpt RUN_OR_CHECKPOINT | --model KIND) [options]",
        BENCHMARK_OPTIONS,
        model,
      ),
    );
  }
  if (!f.ckpt && !model) {
    throw new Error(
      "Option --ckpt is required: a checkpoint folder or a run folder with a `latest` pointer " +
        "(or --model KIND to benchmark a freshly initialised model).",
    );
  }
  if (f.ckpt && model) throw new Error("Options --ckpt and --model exclude each other: pass one.");
  const backend = await initBackend({ backend: f.backend as string });
  const { m, tok } = await benchmarkModel(f, model);
  try {
    const seqLen = (f.seq_len as number | undefined) ?? m.config.maxLen ?? 256;
    const batch = f.batch_size as number;
    if (!f.skip_size_check) checkTrainingFits(m.config, { batch, seqLen }, backend);
    m.setTraining?.(true);
    const t = await measureThroughput(m, {
      batch,
      seqLen,
      warmup: f.warmup as number,
      steps: f.steps as number,
      restoreWeights: true,
    });
    const result: Record<string, unknown> = {
      backend,
      kind: m.config.kind,
      tokenizer: tok.name,
      tokens_per_sec: t.tokensPerSec,
      peak_mib: t.peakBytes / 2 ** 20,
      peak_measure: t.peakMeasure,
    };
    if (f.ppl_eval) {
      const text = await loadTextLines(f.data as string | undefined, f.split as string);
      const src = new ArrayBatchSource(linesToIds(text.lines, tok), { batch, seqLen, shuffle: false });
      const p = await evaluatePerplexity(m, src, { maxBatches: f.ppl_batches as number, source: "loss" });
      Object.assign(result, { val_loss: p.loss, ppl: p.ppl, ppl_batches: p.batches, ppl_data: text.source });
    }
    console.log(JSON.stringify(result, null, 2));
  } finally {
    m.dispose();
  }
}
