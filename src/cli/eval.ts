/**
 * `ssmlab eval`: perplexity of a checkpoint on a text file or a named split of a WikiText folder, with the
 * tokenizer the checkpoint was trained with, through `evaluatePerplexity` (the reference benchmark's protocol).
 *
 * @module
 */
import { initBackend } from "../backend.ts";
import { evaluatePerplexity } from "../eval/perplexity.ts";
import { ArrayBatchSource } from "../train/batch_source.ts";
import { loadCheckpointModel } from "./checkpoint_model.ts";
import {
  BACKEND_OPTION,
  type CliOption,
  HELP_OPTION,
  helpText,
  parse,
  requireCkpt,
  TOKENIZER_OVERRIDE_OPTIONS,
  tokenizerOverride,
} from "./options.ts";
import { linesToIds, loadTextLines } from "./text_data.ts";

/** Options of `eval`. */
export const EVAL_OPTIONS: Record<string, CliOption> = {
  ckpt: { type: "string", help: "Checkpoint folder, or a run folder with a `latest` pointer (required)." },
  data: { type: "string", help: "WikiText folder or a text file (default: the Hub's WikiText-2)." },
  split: {
    type: "string",
    choices: ["train", "validation", "test"],
    value: "validation",
    help: "Split of a --data folder (ignored for a text file).",
  },
  batch_size: { type: "int", min: 1, value: 8, help: "Sequences per batch." },
  seq_len: { type: "int", min: 1, help: "Sequence length (default: the model's maxLen, or 256)." },
  max_batches: { type: "int", min: 1, help: "Evaluate at most this many batches (default: all)." },
  loss: {
    type: "string",
    choices: ["logprobs", "loss"],
    value: "logprobs",
    help: "logprobs = pure cross-entropy; loss = the training loss with auxiliary terms (the reference's).",
  },
  ...TOKENIZER_OVERRIDE_OPTIONS,
  backend: BACKEND_OPTION,
  help: HELP_OPTION,
};

/** Run `ssmlab eval` with its arguments; prints one JSON object. */
export async function runEval(argv: string[]): Promise<void> {
  const f = parse(argv, EVAL_OPTIONS);
  if (f.help) {
    return console.log(
      helpText("ssmlab eval --ckpt RUN_OR_CHECKPOINT [--data DIR_OR_FILE] [options]", EVAL_OPTIONS),
    );
  }
  requireCkpt(f);
  const backend = await initBackend({ backend: f.backend as string });
  const text = await loadTextLines(f.data as string | undefined, f.split as string);
  const { model, tokenizer, dir, step } = await loadCheckpointModel(f.ckpt as string, tokenizerOverride(f));
  try {
    const seqLen = (f.seq_len as number | undefined) ?? model.config.maxLen ?? 256;
    const ids = linesToIds(text.lines, tokenizer);
    if (ids.length < seqLen + 1) {
      throw new Error(
        `The text "${text.source}" has ${ids.length} tokens, fewer than one sequence of --seq_len ${seqLen} (+1).`,
      );
    }
    const src = new ArrayBatchSource(ids, {
      batch: f.batch_size as number,
      seqLen,
      shuffle: false,
      name: text.source,
    });
    const t0 = performance.now();
    const r = await evaluatePerplexity(model, src, {
      maxBatches: f.max_batches as number | undefined,
      source: f.loss as "logprobs" | "loss",
    });
    const seconds = (performance.now() - t0) / 1000;
    console.log(JSON.stringify(
      {
        checkpoint: dir,
        step,
        data: text.source,
        tokenizer: tokenizer.name,
        backend,
        loss: r.loss,
        ppl: r.ppl,
        bits_per_token: r.loss / Math.LN2,
        batches: r.batches,
        tokens: r.tokens,
        seconds,
      },
      null,
      2,
    ));
  } finally {
    model.dispose();
  }
}
