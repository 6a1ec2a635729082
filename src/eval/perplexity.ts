/**
 * Validation loss and perplexity with the benchmark protocol of the reference's `benchmark.py`: evaluation
 * mode, at most `maxBatches` batches, loss = mean of the per-batch mean cross-entropies (a final partial batch
 * counts like any other), perplexity = exp(loss).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../models/types.ts";
import type { Batch } from "../train/batch_source.ts";
import { type Batches, checkTokenIds, epochBatches } from "../train/batch_input.ts";

/** The ignore index of targets (PyTorch's default). */
const IGNORE = -100;

/**
 * One batch of token ids, row-major: `x` and `y` hold `batch × seqLen` ids; `y` = −100 marks ignored targets.
 * The library's one batch type ({@linkcode Batch}), under the name this module used before.
 */
export type TokenBatch = Batch;

/** Options of {@linkcode evaluatePerplexity}. */
export interface PerplexityOptions {
  /** Stop after this many batches (the reference's benchmark uses 62); default: all. */
  maxBatches?: number;
  /**
   * How the per-batch loss is computed:
   * - `"logprobs"` (default): pure cross-entropy from `model.logProbs` — auxiliary training terms (e.g. an MoE
   *   load-balance loss) are left out, so the number is a true perplexity;
   * - `"loss"`: `model.loss(x, y)`, exactly what the model trains on (the reference benchmark's choice).
   */
  source?: "logprobs" | "loss";
}

/** The result of {@linkcode evaluatePerplexity}. */
export interface PerplexityResult {
  /** Mean of the per-batch mean losses (nats). */
  loss: number;
  /** exp(loss). */
  ppl: number;
  /** Number of batches evaluated. */
  batches: number;
  /** Number of predicted (non-ignored) target tokens. */
  tokens: number;
}

/** Mean cross-entropy of one batch from log-probs, over targets ≠ −100 (0 when all are ignored). */
function batchCrossEntropy(model: LanguageModel, x: tf.Tensor2D, y: Int32Array): tf.Scalar {
  const lp = model.logProbs(x);
  const [b, t, v] = lp.shape;
  const idx = new Int32Array(b * t);
  const mask = new Float32Array(b * t);
  let kept = 0;
  for (let i = 0; i < idx.length; i++) {
    if (y[i] === IGNORE) continue;
    idx[i] = i * v + y[i];
    mask[i] = 1;
    kept++;
  }
  // Forward-only gather over the flattened log-probs (no gradient is needed, so wasm is fine).
  const picked = tf.gather(lp.reshape([b * t * v]), tf.tensor1d(idx, "int32"));
  return picked.mul(tf.tensor1d(mask)).sum().neg().div(Math.max(kept, 1)) as tf.Scalar;
}

/** Options of {@linkcode batchLosses}. */
export interface BatchLossOptions extends PerplexityOptions {
  /** The source's name in error messages (default "the batch stream"). */
  what?: string;
}

/** The per-batch losses of {@linkcode batchLosses}. */
export interface BatchLosses {
  /** One mean loss per batch, in order. */
  values: Float32Array;
  /** Number of predicted (non-ignored) target tokens. */
  tokens: number;
}

/**
 * The loss of every batch of one epoch of `batches` (at most `maxBatches`), in evaluation mode. The losses stay
 * on the device until the end: one host read per call. Used by {@linkcode evaluatePerplexity} and by the
 * trainer's validation.
 *
 * @example
 * ```ts
 * // const { values } = await batchLosses(model, valSource, { source: "loss", maxBatches: 62 });
 * ```
 * @throws Error when a batch is malformed, holds an id outside the vocabulary, or no batch was given.
 */
export async function batchLosses(
  model: LanguageModel,
  batches: Batches,
  opts: BatchLossOptions = {},
): Promise<BatchLosses> {
  const maxBatches = opts.maxBatches ?? Infinity;
  if (!(maxBatches > 0)) throw new Error(`maxBatches must be positive, got "${opts.maxBatches}".`);
  const source = opts.source ?? "logprobs";
  if (source !== "logprobs" && source !== "loss") {
    throw new Error(`Unknown perplexity source "${source}": expected "logprobs" or "loss".`);
  }
  const what = opts.what ?? "the batch stream";
  const V = model.config.vocabSize;
  model.setTraining?.(false);
  const losses: tf.Scalar[] = [];
  let tokens = 0;
  try {
    for await (const b of epochBatches(batches, what)) {
      checkTokenIds(b, V, `Batch ${losses.length} of ${what}`);
      losses.push(tf.tidy(() => {
        const x = tf.tensor2d(b.x, [b.batch, b.seqLen], "int32");
        if (source === "loss") return model.loss(x, tf.tensor2d(b.y, [b.batch, b.seqLen], "int32"));
        return batchCrossEntropy(model, x, b.y);
      }));
      for (let i = 0; i < b.y.length; i++) if (b.y[i] !== IGNORE) tokens++;
      if (losses.length >= maxBatches) break;
    }
    if (losses.length === 0) throw new Error(`No batch was evaluated: ${what} was empty.`);
    const all = tf.stack(losses);
    try {
      return { values: await all.data() as Float32Array, tokens };
    } finally {
      all.dispose();
    }
  } finally {
    tf.dispose(losses);
  }
}

/**
 * Mean validation loss and perplexity of a language model over one epoch of a source of batches.
 *
 * The model is put in evaluation mode (`setTraining(false)`); each batch runs inside `tf.tidy`, and the losses
 * are read together with one `await data()` at the end, so nothing leaks and the webgpu backend is never blocked
 * on `dataSync`.
 *
 * @param model any {@linkcode LanguageModel}
 * @param batches any of {@linkcode Batches}: a `BatchSource` such as `ArrayBatchSource` (until its epoch end),
 *   a `BatchIterator`, or an (async) iterable of {@linkcode TokenBatch}
 * @param opts see {@linkcode PerplexityOptions}
 * @example
 * ```ts
 * // const r = await evaluatePerplexity(model, new ArrayBatchSource(validIds, { batch: 8, seqLen: 256, shuffle: false }), { maxBatches: 62 });
 * // console.log(r.loss, r.ppl, r.tokens);
 * ```
 * @throws Error when a batch is malformed, holds an id outside the vocabulary, gives a non-finite loss, or no
 *   batch was evaluated.
 */
export async function evaluatePerplexity(
  model: LanguageModel,
  batches: Batches,
  opts: PerplexityOptions = {},
): Promise<PerplexityResult> {
  const { values, tokens } = await batchLosses(model, batches, opts);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`Batch ${i} gave a non-finite loss "${values[i]}".`);
    sum += values[i];
  }
  const mean = sum / values.length;
  return { loss: mean, ppl: Math.exp(mean), batches: values.length, tokens };
}
