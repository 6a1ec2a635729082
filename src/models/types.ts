/**
 * The interfaces every model in ssmlab offers, so trainers and evaluators stay generic.
 *
 * - {@linkcode Trainable}: what the trainer needs (weights, a scalar loss, training mode, RNG streams, size).
 *   Any trainable network is one, e.g. an encoder trained by a denoising loss.
 * - {@linkcode LanguageModel}: a `Trainable` that also gives next-token log-probabilities, which perplexity,
 *   BLiMP and generation need.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Rng } from "../rng.ts";

/**
 * Plain-JSON model configuration, saved beside every checkpoint: the fields every family shares. Each family
 * extends it with its own typed fields (e.g. `MhcConfig`) and describes them in its `ModelSpec`.
 */
export interface ModelConfig {
  /** Model family, the `kind` of a registered `ModelSpec` (e.g. "baseline", "mhc"). */
  kind: string;
  /** Vocabulary size V. */
  vocabSize: number;
  /** Longest sequence the model accepts (learned positions), or null for unbounded. */
  maxLen: number | null;
}

/**
 * What the trainer needs of a model: named weights, a scalar training loss, a training-mode switch, the random
 * generators to checkpoint, and its size.
 *
 * @example
 * ```ts
 * // const loss = model.loss(ids, targets);        // scalar, mean CE (+ auxiliary terms)
 * // model.setTraining?.(true);                    // dropout on
 * // train({ model, rngs: model.rngs, … });        // the model's generators are checkpointed with the run
 * ```
 */
export interface Trainable<C extends ModelConfig = ModelConfig> {
  /** Plain JSON; enough to rebuild the model with the same shapes (`createModel(config, seed)`). */
  readonly config: C;
  /** Trainable and frozen tensors under their checkpoint names (the reference's `state_dict` names for mHC). */
  readonly weights: Map<string, tf.Variable>;
  /**
   * Training loss: mean token cross-entropy over targets ≠ −100, plus any auxiliary terms (one scalar).
   * @param ids [B, T] int32
   * @param targets [B, T] int32 (−100 = ignored)
   */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar;
  /** Switch dropout and other train-only behaviour on or off (default: eval). */
  setTraining?(training: boolean): void;
  /** Names of weights that AdamW should not decay (the trainer's exclusion list adds to it). */
  noDecay?: Set<string>;
  /** Number of parameters (a tied head counted once). Without it, count the elements of `weights`. */
  numParams?(): number;
  /** The model's own random generators by name (e.g. `dropout`), to checkpoint and restore with a run. */
  readonly rngs?: Record<string, Rng>;
  /**
   * The auxiliary loss terms (already weighted) that the last `loss` call added to the cross-entropy, by name,
   * e.g. `{ stream_diversity: 0.012 }`; reading them costs one host read. Empty when there are none.
   */
  lastAux?(): Record<string, number>;
  /** Release all weights. */
  dispose(): void;
}

/**
 * A next-token language model: a {@linkcode Trainable} with log-probabilities.
 *
 * @example
 * ```ts
 * // const lp = model.logProbs(ids);              // [B, T, V]
 * // const loss = model.loss(ids, targets);        // scalar, mean CE (+ auxiliary terms)
 * ```
 */
export interface LanguageModel<C extends ModelConfig = ModelConfig> extends Trainable<C> {
  /**
   * Next-token log-probabilities.
   * @param ids [B, T] int32 token ids
   * @returns [B, T, V] log p(x_{t+1} | x_{≤t})
   */
  logProbs(ids: tf.Tensor2D): tf.Tensor3D;
  /**
   * Unnormalised next-token logits (generation uses them when present, saving a log-softmax).
   * @param ids [B, T] int32
   * @returns [B, T, V]
   */
  logits?(ids: tf.Tensor2D): tf.Tensor3D;
}

/**
 * Parameter count of any {@linkcode Trainable}: its `numParams()`, or the element count of its weights.
 *
 * @example
 * ```ts
 * // parameterCount(model) → 33_254_596 for the published static mHC
 * ```
 */
export function parameterCount(model: Trainable): number {
  if (model.numParams) return model.numParams();
  let n = 0;
  for (const v of model.weights.values()) n += v.size;
  return n;
}
