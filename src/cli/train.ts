/**
 * `ssmlab train`: train any registered model kind with the reference's flags and defaults, its model flags
 * generated from the kind's `ModelSpec`. Order of operations: parse every flag → start the backend → read the
 * text → build (or train) the tokenizer → config → size guard → tokenize → write `run.json` and the tokenizer →
 * train. A run that fails before its first checkpoint leaves nothing behind.
 *
 * @module
 */
import { describeEnvironment, initBackend } from "../backend.ts";
import { checkIds } from "../experiments/mhc_ablation.ts";
import { createModel, modelSpec } from "../models/registry.ts";
import { parameterCount } from "../models/types.ts";
import { validateName } from "../results/run_dir.ts";
import { writeTextAtomic } from "../results/atomic.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { ArrayBatchSource } from "../train/batch_source.ts";
import { latestCheckpoint } from "../train/checkpoint.ts";
import { checkTrainingFits } from "../train/memory_estimate.ts";
import { train } from "../train/trainer.ts";
import { OutputGuard } from "./cleanup.ts";
import {
  BACKEND_OPTION,
  type CliOption,
  configFromFlags,
  HELP_OPTION,
  helpText,
  type ModelChoice,
  modelChoice,
  parse,
  peekFlag,
  withModelFlags,
} from "./options.ts";
import { linesToIds, trainingText } from "./text_data.ts";
import { checkpointTokenizer, saveRunTokenizer, TOKENIZER_FILE, trainingTokenizer } from "./tokenizer.ts";

/** Options of `train` that are not model fields (the reference's training flags, then ssmlab's). */
export const TRAIN_OPTIONS: Record<string, CliOption> = {
  model: { type: "string", value: "mhc", help: "Model kind (see the list above)." },
  preset: {
    type: "string",
    value: "published",
    help: "Preset of the kind that the model flags' defaults come from.",
  },
  batch_size: { type: "int", min: 1, value: 16, help: "Sequences per batch." },
  epochs: { type: "int", min: 1, value: 10, help: "Epochs over the training ids (unless --steps)." },
  lr: { type: "number", min: 0, minExclusive: true, value: 3e-4, help: "AdamW learning rate." },
  weight_decay: { type: "number", min: 0, value: 0.1, help: "AdamW decoupled weight decay." },
  grad_clip: { type: "number", min: 0, value: 1.0, help: "Global gradient-norm clip (0 = off)." },
  seed: { type: "int", value: 1337, help: "Seed of the initial weights, data order and dropout." },
  eval_every: {
    type: "int",
    min: 0,
    value: 500,
    help: "Validation loss every N steps (0 = only at the end).",
  },
  save_every: { type: "int", min: 0, value: 1000, help: "Checkpoint every N steps (0 = only at the end)." },
  keep_last: {
    type: "int",
    min: 0,
    value: 0,
    help: "Keep only the newest N step-* checkpoints (0 = keep all).",
  },
  out_dir: { type: "string", value: "runs/mhc_slm", help: "Root folder of the runs." },
  run_name: {
    type: "string",
    value: "",
    help: "Run folder name (default: the model's label, e.g. mhc_adapters).",
  },
  tokenizer: {
    type: "string",
    choices: ["gpt2", "ascii", "vocab20k"],
    value: "gpt2",
    help: "Tokenizer; sets vocabSize. vocab20k is trained on the training text unless --tokenizer_file.",
  },
  tokenizer_file: { type: "string", help: "A saved vocab20k vocabulary (JSON) for --tokenizer vocab20k." },
  tokenizer_vocab_size: {
    type: "int",
    min: 101,
    value: 20000,
    help: "Most entries of a vocab20k vocabulary trained here.",
  },
  data: {
    type: "string",
    help: "WikiText folder or a text file (default: WikiText-2 from the Hugging Face Hub).",
  },
  train_split: {
    type: "string",
    choices: ["train", "validation", "test"],
    value: "train",
    help: "Split of a --data folder to train on.",
  },
  valid_data: { type: "string", help: "Validation folder or text file (default: --data)." },
  valid_split: {
    type: "string",
    choices: ["train", "validation", "test"],
    value: "validation",
    help: "Split of the validation folder.",
  },
  valid_fraction: {
    type: "number",
    min: 0,
    max: 1,
    minExclusive: true,
    maxExclusive: true,
    value: 0.1,
    help: "Tail of a --data text file held out for validation when --valid_data is not given.",
  },
  steps: { type: "int", min: 1, help: "Optimizer steps (overrides --epochs)." },
  eval_batches: { type: "int", min: 1, help: "At most this many validation batches per evaluation." },
  resume: { type: "boolean", value: false, help: "Resume from the run folder's latest checkpoint." },
  skip_size_check: {
    type: "boolean",
    value: false,
    help: "Train even when the memory estimate exceeds the backend's limit.",
  },
  backend: BACKEND_OPTION,
  help: HELP_OPTION,
};

/** The command's options for a kind (a family without a sequence-length field gets `--seq_len`). */
function trainOptions(model: ModelChoice): Record<string, CliOption> {
  if (model.flags.has("seq_len")) return TRAIN_OPTIONS;
  return {
    ...TRAIN_OPTIONS,
    seq_len: { type: "int", min: 1, value: 256, help: "Training sequence length." },
  };
}

/**
 * The run's tokenizer when it is known without the training text: the one a resumed run recorded (a different
 * `--tokenizer` given explicitly is refused), a named
 * one, or a saved vocab20k vocabulary; null when a vocab20k vocabulary is to be trained on the text.
 */
async function knownTokenizer(
  f: Record<string, unknown>,
  outDir: string,
  explicit: boolean,
): Promise<Tokenizer | null> {
  const recorded = `${outDir}/${TOKENIZER_FILE}`;
  if (f.resume && await Deno.stat(recorded).then(() => true, () => false)) {
    const tok = await checkpointTokenizer(outDir, Number.MAX_SAFE_INTEGER);
    if (explicit && tok.name !== f.tokenizer) {
      throw new Error(
        `Option --tokenizer is "${f.tokenizer}" but the run being resumed was trained with "${tok.name}" ` +
          `("${recorded}").`,
      );
    }
    return tok;
  }
  if (f.tokenizer === "vocab20k" && !f.tokenizer_file) return null;
  return await trainingTokenizer(f.tokenizer as string, () => Promise.resolve([]), {
    file: f.tokenizer_file as string | undefined,
  });
}

/** Run `ssmlab train` with its arguments (after the command name). */
export async function runTrain(argv: string[]): Promise<void> {
  const model = modelChoice(argv, "mhc")!;
  const own = trainOptions(model);
  const f = parse(argv, withModelFlags(own, model.flags));
  if (f.help) return console.log(helpText("ssmlab train --model KIND [options]", own, model));
  if (f.run_name) validateName(f.run_name as string, "run (--run_name)");
  const spec = modelSpec(model.kind);
  // The run folder's name needs the config, whose vocabSize needs the tokenizer: name it with any vocabulary.
  const outDir = `${f.out_dir}/${
    (f.run_name as string) || (spec.label?.(configFromFlags(model, f, 256)) ?? model.kind)
  }`;
  const backend = await initBackend({ backend: f.backend as string });
  const known = await knownTokenizer(f, outDir, peekFlag(argv, "tokenizer") !== undefined);
  const batch = f.batch_size as number;
  // Size guard before reading any data; a vocab20k vocabulary to be trained counts at its largest size.
  const early = configFromFlags(model, f, known?.vocabSize ?? (f.tokenizer_vocab_size as number));
  const seqLen = (model.flags.has("seq_len") ? early.maxLen : f.seq_len) as number;
  if (!f.skip_size_check) checkTrainingFits(early, { batch, seqLen }, backend);
  const text = await trainingText({
    data: f.data as string | undefined,
    validData: f.valid_data as string | undefined,
    trainSplit: f.train_split as string,
    validSplit: f.valid_split as string,
    validFraction: f.valid_fraction as number,
  });
  const tok = known ?? await trainingTokenizer("vocab20k", () => Promise.resolve(text.train.lines), {
    vocabSize: f.tokenizer_vocab_size as number,
  });
  const cfg = configFromFlags(model, f, tok.vocabSize);
  const trainIds = linesToIds(text.train.lines, tok);
  const validIds = linesToIds(text.valid.lines, tok);
  checkIds(trainIds, cfg.vocabSize, `the training ids (${text.train.source})`);
  if (trainIds.length < batch * seqLen + 1) {
    throw new Error(
      `The training text (${text.train.source}) has ${trainIds.length} tokens, fewer than one batch of ` +
        `--batch_size ${batch} × --seq_len ${seqLen} (+1): pass more text or a smaller batch.`,
    );
  }
  if (validIds.length < seqLen + 1) {
    throw new Error(
      `The validation text (${text.valid.source}) has ${validIds.length} tokens, fewer than one sequence of ` +
        `--seq_len ${seqLen} (+1): pass more validation text (--valid_data) or a smaller --seq_len.`,
    );
  }
  const guard = await OutputGuard.open(outDir);
  try {
    await writeTextAtomic(
      guard.track(`${outDir}/run.json`),
      JSON.stringify(
        {
          flags: { ...f, tokenizer: tok.name },
          config: cfg,
          seed: f.seed,
          data: [text.train.source, text.valid.source],
          environment: describeEnvironment(),
        },
        null,
        2,
      ) + "\n",
    );
    for (const p of await saveRunTokenizer(outDir, tok)) guard.track(p);
    await trainModel(f, cfg, {
      outDir,
      backend,
      trainIds,
      validIds,
      batch,
      seqLen,
      label: spec.label?.(cfg) ?? model.kind,
    });
  } catch (e) {
    if (!(await latestCheckpoint(outDir).catch(() => null))) await guard.rollback();
    throw e;
  }
}

async function trainModel(
  f: Record<string, unknown>,
  cfg: ReturnType<typeof configFromFlags>,
  r: {
    outDir: string;
    backend: string;
    trainIds: Int32Array;
    validIds: Int32Array;
    batch: number;
    seqLen: number;
    label: string;
  },
): Promise<void> {
  const seed = f.seed as number;
  const model = createModel(cfg, seed);
  try {
    console.log(
      `training ${r.label} (${parameterCount(model).toLocaleString("en")} parameters) on ${r.backend}; ` +
        `${r.trainIds.length} training tokens`,
    );
    await train({
      model,
      data: new ArrayBatchSource(r.trainIds, { batch: r.batch, seqLen: r.seqLen, rng: seed, dropLast: true }),
      valData: () => new ArrayBatchSource(r.validIds, { batch: r.batch, seqLen: r.seqLen, shuffle: false }),
      steps: f.steps as number | undefined,
      epochs: f.steps ? undefined : f.epochs as number,
      lr: f.lr as number,
      weightDecay: f.weight_decay as number,
      gradClip: f.grad_clip as number,
      seed,
      evalEvery: f.eval_every as number,
      evalBatches: f.eval_batches as number | undefined,
      saveEvery: f.save_every as number,
      keepLast: (f.keep_last as number) || undefined,
      outDir: r.outDir,
      resume: f.resume as boolean,
      rngs: model.rngs,
      progress: "auto",
    });
  } finally {
    model.dispose();
  }
  console.log(`done: checkpoints in ${r.outDir}`);
}
