/**
 * A model and its tokenizer from a checkpoint, for the commands that take `--ckpt` (benchmark, eval, generate):
 * the config comes from the checkpoint's `config.json`, the weights from its `model.safetensors`, the tokenizer
 * from the run's `tokenizer.json` (see ./tokenizer.ts) unless `--tokenizer` overrides it.
 *
 * @example
 * ```ts
 * import { loadCheckpointModel } from "./checkpoint_model.ts";
 * // const { model, tokenizer, dir } = await loadCheckpointModel("runs/mhc_slm/mhc");
 * // model.dispose();
 * ```
 *
 * @module
 */
import { createModel } from "../models/registry.ts";
import type { LanguageModel } from "../models/types.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { loadCheckpoint, restoreModel } from "../train/checkpoint.ts";
import { checkpointTokenizer } from "./tokenizer.ts";

/** A restored checkpoint. */
export interface CheckpointModel {
  /** The model with the checkpoint's weights (the caller disposes it). */
  model: LanguageModel;
  /** The tokenizer it was trained with. */
  tokenizer: Tokenizer;
  /** The resolved checkpoint folder. */
  dir: string;
  /** Optimizer steps the checkpoint had completed. */
  step: number;
}

/** Options of {@linkcode loadCheckpointModel}. */
export interface CheckpointModelOptions {
  /** Seed of the (overwritten) initialisation and of the model's dropout generator (default 1337). */
  seed?: number;
  /** `--tokenizer`: replaces the recorded tokenizer. */
  tokenizer?: string;
  /** `--tokenizer_file`: the vocab20k vocabulary with `tokenizer: "vocab20k"`. */
  tokenizerFile?: string;
}

/**
 * Read a checkpoint folder (or a run folder with a `latest` pointer) into a model and its tokenizer.
 * @throws Error naming the missing file (model.safetensors, config.json, state.json, tokenizer.json) or the
 *   mismatching tensors.
 */
export async function loadCheckpointModel(
  ckpt: string,
  opts: CheckpointModelOptions = {},
): Promise<CheckpointModel> {
  const ck = await loadCheckpoint(ckpt);
  const tokenizer = await checkpointTokenizer(ck.path, ck.config.vocabSize, {
    name: opts.tokenizer,
    file: opts.tokenizerFile,
  });
  const model = createModel(ck.config, opts.seed ?? 1337);
  try {
    restoreModel(model, ck);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, tokenizer, dir: ck.path, step: Number(ck.state?.step ?? 0) };
}
