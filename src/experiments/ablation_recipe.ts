/**
 * The training recipe of the mHC ablation: the reference training script's defaults (`python -m mhc_slm.train`,
 * docs/models/mhc.md) and the one function that turns the ablation's options into the options of `train()`.
 * `runMhcAblation` and the training-parity test (`tests/training_parity_test.ts`) both call
 * {@linkcode ablationTrainOptions}, so the test exercises the runner's code path, not a parallel one.
 *
 * What the recipe is, as the reference does it: AdamW (β 0.9/0.999, ε 1e-8, decoupled decay on every parameter)
 * at a constant learning rate with no warm-up, `clip_grad_norm_` on the global L2 norm, one micro-batch per step,
 * training windows x = tok[iT … iT+T], y shifted by one, in a fresh shuffled order every epoch with the last
 * partial batch dropped, and evaluation on the whole validation set in order (batch = training batch, the last
 * partial batch weighted like the others) every `evalEvery` steps and at the end.
 *
 * @module
 */
import type { LanguageModel } from "../models/types.ts";
import { Rng } from "../rng.ts";
import { ArrayBatchSource } from "../train/batch_source.ts";
import type { TrainOptions } from "../train/trainer.ts";

/** The reference's training defaults (the `mhc_slm.train` flags); the ablation's defaults are these. */
export const MHC_REFERENCE_RECIPE = {
  lr: 3e-4,
  weightDecay: 0.1,
  gradClip: 1.0,
  batchSize: 16,
  seqLen: 256,
  epochs: 10,
  seed: 1337,
  evalEvery: 500,
  /** The script saves a checkpoint every 1000 steps. */
  saveEvery: 1000,
  /** PyTorch AdamW defaults. */
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
} as const;

/** The subset of the ablation's options that decide how a variant is trained. */
export interface AblationTrainSpec {
  /** Training ids (EOS after every line). */
  train: Int32Array;
  /** Validation ids (evaluated in order, whole, every `evalEvery` steps and at the end). */
  valid: Int32Array;
  /** Batch size (16) and sequence length (256). */
  batchSize?: number;
  /** Sequence length (256). */
  seqLen?: number;
  /** Optimizer steps; when undefined, `epochs` (10) bound the run. */
  steps?: number;
  /** Epochs over the training ids when `steps` is undefined (10). */
  epochs?: number;
  /** AdamW learning rate, constant (3e-4). */
  lr?: number;
  /** AdamW decoupled weight decay on every parameter (0.1). */
  weightDecay?: number;
  /** Global gradient-norm clip (1.0). */
  gradClip?: number;
  /** Seed of the data order and dropout (1337; `runMhcAblation` seeds the weights with it too). */
  seed?: number;
  /** Validation every N steps (500) over at most `evalBatches` batches (default: the whole set, as the reference). */
  evalEvery?: number;
  /** At most this many validation batches per evaluation (default: all). */
  evalBatches?: number;
  /** Checkpoint folder root; none = no checkpoints. */
  outDir?: string;
  /** With `outDir`: a checkpoint every N steps (1000, as the reference; 0 = only at the end). */
  saveEvery?: number;
  /** With `outDir`: keep only the newest N `step-*` checkpoints (default: all). */
  keepLast?: number;
  /** With `outDir`: continue from its latest checkpoint when there is one (a killed run loses ≤ saveEvery steps). */
  resume?: boolean;
  /** With `outDir`: also save `chck_<words>` checkpoints at these words seen (BabyLM milestones). */
  saveAtWords?: number[];
  /** Words per training token, to place `saveAtWords` (see `wordsPerToken`). */
  wordsPerToken?: number;
}

/** A model the ablation trains: a language model whose generators (dropout) the checkpoints carry. */
export type AblationModel = LanguageModel;

/**
 * The options `runMhcAblation` passes to `train()` for one variant (without the logging callbacks): the data
 * source (shuffled per epoch by `new Rng(seed)`, last partial batch dropped), the validation source (in order,
 * batch = training batch, partial last batch kept), and the reference's optimizer, clip, schedule and cadence.
 *
 * @param spec the ablation's options (defaults: {@linkcode MHC_REFERENCE_RECIPE})
 * @param model the variant's model
 * @param runName sub-folder of `outDir` for this run's checkpoints
 * @example
 * ```ts
 * import { ablationTrainOptions } from "./ablation_recipe.ts";
 * // const history = await train({ ...ablationTrainOptions({ train, valid, steps: 50 }, model, "mhc-seed1337"),
 * //   progress: "none" });
 * ```
 */
export function ablationTrainOptions(
  spec: AblationTrainSpec,
  model: AblationModel,
  runName: string,
): TrainOptions {
  const R = MHC_REFERENCE_RECIPE;
  const batch = spec.batchSize ?? R.batchSize;
  const seqLen = spec.seqLen ?? R.seqLen;
  const seed = spec.seed ?? R.seed;
  const data = new ArrayBatchSource(spec.train, { batch, seqLen, rng: new Rng(seed), dropLast: true });
  return {
    model,
    data,
    valData: () => new ArrayBatchSource(spec.valid, { batch, seqLen, shuffle: false }),
    steps: spec.steps,
    epochs: spec.steps === undefined ? (spec.epochs ?? R.epochs) : undefined,
    lr: spec.lr ?? R.lr,
    schedule: "constant",
    weightDecay: spec.weightDecay ?? R.weightDecay,
    beta1: R.beta1,
    beta2: R.beta2,
    eps: R.eps,
    gradClip: spec.gradClip ?? R.gradClip,
    accumulate: 1,
    seed,
    evalEvery: spec.evalEvery ?? R.evalEvery,
    evalBatches: spec.evalBatches,
    outDir: spec.outDir ? `${spec.outDir}/${runName}` : undefined, // = variantCheckpointDir(outDir, variant, seed)
    saveEvery: spec.saveEvery ?? R.saveEvery,
    keepLast: spec.keepLast,
    resume: spec.outDir ? spec.resume : undefined,
    saveAtWords: spec.saveAtWords,
    wordsPerToken: spec.wordsPerToken,
    rngs: model.rngs,
    progress: "none",
  };
}
