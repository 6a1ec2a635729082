/**
 * Validation loss and perplexity with the benchmark protocol of the reference's `benchmark.py`: evaluation
 * mode, at most `maxBatches` batches, loss = mean of the per-batch mean cross-entropies (a final partial batch
 * counts like any other), perplexity = exp(loss).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../models/types.ts";

/** The ignore index of targets (PyTorch's default). */
const IGNORE = -100;

/** One batch of token ids, row-major: `x` and `y` hold `batch × seqLen` ids; `y` = −100 marks ignored targets. */
export interface TokenBatch {
  /** Input ids, `batch × seqLen`. */
  x: Int32Array;
  /** Target ids, `batch × seqLen` (−100 = ignored). */
  y: Int32Array;
  /** Rows B. */
  batch: number;
  /** Columns T. */
  seqLen: number;
}

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

function checkBatch(b: TokenBatch, i: number): void {
  const n = b.batch * b.seqLen;
  if (!Number.isInteger(b.batch) || b.batch <= 0 || !Number.isInteger(b.seqLen) || b.seqLen <= 0) {
    throw new Error(`Batch ${i} has an invalid shape "${b.batch}×${b.seqLen}": expected positive integers.`);
  }
  if (b.x.length !== n || b.y.length !== n) {
    throw new Error(
      `Batch ${i} holds "${b.x.length}" inputs and "${b.y.length}" targets, but its shape ${b.batch}×${b.seqLen} needs ${n} of each.`,
    );
  }
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
    if (y[i] < 0 || y[i] >= v) throw new Error(`Target id "${y[i]}" at position ${i} is outside [0, ${v}).`);
    idx[i] = i * v + y[i];
    mask[i] = 1;
    kept++;
  }
  // Forward-only gather over the flattened log-probs (no gradient is needed, so wasm is fine).
  const picked = tf.gather(lp.reshape([b * t * v]), tf.tensor1d(idx, "int32"));
  return picked.mul(tf.tensor1d(mask)).sum().neg().div(Math.max(kept, 1)) as tf.Scalar;
}

/**
 * Mean validation loss and perplexity of a language model over a stream of batches.
 *
 * The model is put in evaluation mode (`setTraining(false)`); each batch runs inside `tf.tidy` and its loss is
 * read with `await data()`, so nothing leaks and the webgpu backend is never blocked on `dataSync`.
 *
 * @param model any {@linkcode LanguageModel}
 * @param batches an iterable (or async iterable) of {@linkcode TokenBatch}
 * @param opts see {@linkcode PerplexityOptions}
 * @example
 * ```ts
 * // const r = await evaluatePerplexity(model, valBatches, { maxBatches: 62 });
 * // console.log(r.loss, r.ppl, r.tokens);
 * ```
 * @throws Error when a batch is malformed or no batch was evaluated.
 */
export async function evaluatePerplexity(
  model: LanguageModel,
  batches: Iterable<TokenBatch> | AsyncIterable<TokenBatch>,
  opts: PerplexityOptions = {},
): Promise<PerplexityResult> {
  const maxBatches = opts.maxBatches ?? Infinity;
  if (!(maxBatches > 0)) throw new Error(`maxBatches must be positive, got "${opts.maxBatches}".`);
  const source = opts.source ?? "logprobs";
  if (source !== "logprobs" && source !== "loss") {
    throw new Error(`Unknown perplexity source "${source}": expected "logprobs" or "loss".`);
  }
  model.setTraining?.(false);
  let sum = 0;
  let n = 0;
  let tokens = 0;
  for await (const b of batches as AsyncIterable<TokenBatch>) {
    if (n >= maxBatches) break;
    checkBatch(b, n);
    const loss = tf.tidy(() => {
      const x = tf.tensor2d(b.x, [b.batch, b.seqLen], "int32");
      if (source === "loss") return model.loss(x, tf.tensor2d(b.y, [b.batch, b.seqLen], "int32"));
      return batchCrossEntropy(model, x, b.y);
    });
    try {
      const v = (await loss.data())[0];
      if (!Number.isFinite(v)) throw new Error(`Batch ${n} gave a non-finite loss "${v}".`);
      sum += v;
    } finally {
      loss.dispose();
    }
    for (let i = 0; i < b.y.length; i++) if (b.y[i] !== IGNORE) tokens++;
    n++;
  }
  if (n === 0) throw new Error(`No batch was evaluated: the batch stream was empty.`);
  const mean = sum / n;
  return { loss: mean, ppl: Math.exp(mean), batches: n, tokens };
}
