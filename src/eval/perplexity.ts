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
import { CapturedForward } from "../train/capture.ts";
import { currentBackend } from "../backend.ts";

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
  /**
   * Capture the forward pass of the first full batch shape and replay it for the others (`capture.ts`,
   * {@linkcode CapturedForward}): true or "auto" = on the webgpu backend (elsewhere, and for batches of another
   * shape, the plain path); false (default) = never. Values equal the plain path's to float rounding.
   */
  capture?: boolean | "auto";
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

/**
 * {@linkcode batchCrossEntropy} with the ignore mask and the gather indices computed on the device from the
 * targets tensor (nothing per batch is uploaded as a constant, so the graph can be captured and replayed).
 * x, y: [B, T] int32 → scalar.
 * @example
 * ```ts
 * // const ce = deviceCrossEntropy(model, ids, targets); // = batchCrossEntropy to float rounding
 * ```
 */
export function deviceCrossEntropy(model: LanguageModel, x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const lp = model.logProbs(x);
    const [b, t, v] = lp.shape;
    const tgt = y.reshape([b * t]);
    const keep = tgt.notEqual(tf.scalar(IGNORE, "int32"));
    const safe = tf.where(keep, tgt, tf.zerosLike(tgt));
    const idx = tf.range(0, b * t, 1, "int32").mul(tf.scalar(v, "int32")).add(safe);
    const picked = tf.gather(lp.reshape([b * t * v]), idx);
    const mask = keep.cast("float32");
    return picked.mul(mask).sum().neg().div(tf.maximum(mask.sum(), tf.scalar(1))) as tf.Scalar;
  });
}

/** The evaluation capture of `batchLosses` (null when capture is off or the backend is not webgpu). */
function evalCapture(model: LanguageModel, opts: BatchLossOptions, source: string): CapturedForward | null {
  const c = opts.capture;
  if (c !== undefined && c !== true && c !== false && c !== "auto") {
    throw new Error(`The option \`capture\` must be true, false or "auto", got "${c}".`);
  }
  if (!c || currentBackend() !== "webgpu") return null;
  return new CapturedForward(
    model.weights,
    (x, y) => source === "loss" ? model.loss(x, y) : deviceCrossEntropy(model, x, y),
  );
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
  const cap = evalCapture(model, opts, source);
  if (cap) {
    try {
      return await capturedLosses(cap, batches, V, maxBatches, what);
    } finally {
      cap.dispose();
    }
  }
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

/** {@linkcode batchLosses} through a capture: every batch issued (replayed for the captured shape), one read. */
async function capturedLosses(
  cap: CapturedForward,
  batches: Batches,
  V: number,
  maxBatches: number,
  what: string,
): Promise<BatchLosses> {
  let n = 0, tokens = 0;
  for await (const b of epochBatches(batches, what)) {
    checkTokenIds(b, V, `Batch ${n} of ${what}`);
    const x = tf.tensor2d(b.x, [b.batch, b.seqLen], "int32");
    const y = tf.tensor2d(b.y, [b.batch, b.seqLen], "int32");
    try {
      cap.issue(x, y);
    } finally {
      tf.dispose([x, y]);
    }
    for (let i = 0; i < b.y.length; i++) if (b.y[i] !== IGNORE) tokens++;
    if (++n >= maxBatches) break;
  }
  if (n === 0) throw new Error(`No batch was evaluated: ${what} was empty.`);
  const out = await cap.flush();
  return { values: Float32Array.from(out, (v) => v[0]), tokens };
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
