/**
 * The one interface every language model in ssmlab offers, so trainers and evaluators stay generic.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** Plain-JSON model configuration, saved beside every checkpoint. `kind` names the model family. */
export interface ModelConfig {
  /** Model family, e.g. "baseline", "mhc", "h3", "hssm", "char_curriculum". */
  kind: string;
  /** Vocabulary size V. */
  vocabSize: number;
  /** Longest sequence the model accepts (learned positions), or null for unbounded. */
  maxLen: number | null;
  // deno-lint-ignore no-explicit-any
  /** Family-specific fields (documented by each family's config type). */
  [field: string]: any;
}

/**
 * A next-token language model.
 *
 * @example
 * ```ts
 * // const lp = model.logProbs(ids);              // [B, T, V]
 * // const loss = model.loss(ids, targets);        // scalar, mean CE (+ auxiliary terms)
 * ```
 */
export interface LanguageModel {
  /** Plain JSON; enough to rebuild the model with the same shapes. */
  readonly config: ModelConfig;
  /** Trainable and frozen tensors under their checkpoint names (docs/models/ lists them per family). */
  readonly weights: Map<string, tf.Variable>;
  /**
   * Next-token log-probabilities.
   * @param ids [B, T] int32 token ids
   * @returns [B, T, V] log p(x_{t+1} | x_{≤t})
   */
  logProbs(ids: tf.Tensor2D): tf.Tensor3D;
  /**
   * Training loss: mean token cross-entropy over targets ≠ −100, plus any auxiliary terms.
   * @param ids [B, T] int32
   * @param targets [B, T] int32 (−100 = ignored)
   */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar;
  /** Switch dropout and other train-only behaviour on or off (default: eval). */
  setTraining?(training: boolean): void;
  /** Names of weights that AdamW should not decay (the trainer's exclusion list adds to it). */
  noDecay?: Set<string>;
  /** Release all weights. */
  dispose(): void;
}
