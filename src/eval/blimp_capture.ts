/**
 * The captured scoring loop of `sequenceLogProbs` (`blimp.ts`, option `capture`): on the webgpu backend the
 * forward pass of a batch is recorded once per batch shape and replayed for the others ({@linkcode CapturedForward}
 * of `../train/capture.ts`), so scoring the ~135,000 BLiMP sentences pays tfjs's per-kernel host cost a few times
 * instead of once per batch.
 *
 * Fixed shapes: the sentences are sorted longest first (as in the plain loop); each batch is right-padded to its
 * longest length rounded up to a multiple of {@linkcode LENGTH_BUCKET} (capped at the model's `maxLen`), so the
 * full batches of one length bucket share one shape [batchSize, L]. Only the current bucket's capture is kept
 * (buckets come in decreasing order); its outputs are read in one host read when it is left. A causal model's
 * log-probabilities at the scored positions do not depend on the padding after them, so the scores equal the
 * plain loop's to float rounding (tested in `tests/capture_train_test.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../models/types.ts";
import { CapturedForward } from "../train/capture.ts";
import { currentBackend } from "../backend.ts";
import type { ScoredSequence } from "./blimp.ts";

/** Batches are padded to a multiple of this many positions, so that few shapes are recorded. */
export const LENGTH_BUCKET = 8;

/**
 * Whether `capture` (true, false or "auto") asks for the captured loop on this backend.
 * @example
 * ```ts
 * import { scoringCaptureActive } from "./blimp_capture.ts";
 * scoringCaptureActive(false); // false
 * ```
 */
export function scoringCaptureActive(capture: boolean | "auto" | undefined): boolean {
  if (capture !== undefined && capture !== true && capture !== false && capture !== "auto") {
    throw new Error(`The option \`capture\` must be true, false or "auto", got "${capture}".`);
  }
  return !!capture && currentBackend() === "webgpu";
}

/**
 * Per-position log-probabilities of the targets: log softmax(logProbs(ids) / τ)[b, t, targets[b, t]].
 * ids, targets: [B, L] int32 → [B·L] float32. Everything per batch is a tensor (nothing uploaded as a constant).
 */
function pickedLogProbs(
  model: LanguageModel,
  tau: number,
  ids: tf.Tensor2D,
  targets: tf.Tensor2D,
): tf.Tensor1D {
  let lp = model.logProbs(ids) as tf.Tensor;
  const [B, L, V] = lp.shape;
  if (tau !== 1) lp = tf.logSoftmax(lp.div(tau));
  const idx = tf.range(0, B * L, 1, "int32").mul(tf.scalar(V, "int32")).add(targets.reshape([B * L]));
  return tf.gather(lp.reshape([B * L * V]), idx) as tf.Tensor1D;
}

/**
 * The scores of `seqs` (rows in `order`, longest first, none empty) through captured forwards; writes `out`.
 * Ids were checked by the caller (`sequenceLogProbs` of `blimp.ts`, which calls this with `capture` on).
 * @example
 * ```ts
 * // const out = new Float64Array(seqs.length);
 * // await capturedSequenceLogProbs(model, seqs, [0, 1], out, { batchSize: 64, pad: 0, tau: 1 });
 * ```
 */
export async function capturedSequenceLogProbs(
  model: LanguageModel,
  seqs: ScoredSequence[],
  order: number[],
  out: Float64Array,
  o: { batchSize: number; pad: number; tau: number; onProgress?: (done: number, total: number) => void },
): Promise<void> {
  const maxLen = model.config.maxLen;
  let cap: CapturedForward | null = null, capL = -1;
  let queued: { rows: number[]; L: number }[] = [];
  const drain = async () => {
    if (!cap) return;
    const vals = await cap.flush();
    cap.dispose();
    cap = null;
    queued.forEach((q, k) => {
      for (const [r, si] of q.rows.entries()) {
        let sum = 0;
        for (let t = 0; t < seqs[si].targets.length; t++) sum += vals[k][r * q.L + t];
        out[si] = sum;
      }
    });
    queued = [];
  };
  try {
    for (let start = 0; start < order.length; start += o.batchSize) {
      const rows = order.slice(start, start + o.batchSize);
      const longest = seqs[rows[0]].targets.length;
      let L = Math.ceil(longest / LENGTH_BUCKET) * LENGTH_BUCKET;
      if (maxLen != null) L = Math.max(longest, Math.min(L, maxLen));
      if (L !== capL) {
        await drain();
        cap = new CapturedForward(model.weights, (x, y) => pickedLogProbs(model, o.tau, x, y));
        capL = L;
      }
      const B = rows.length;
      const ids = new Int32Array(B * L).fill(o.pad), tg = new Int32Array(B * L);
      for (const [r, si] of rows.entries()) {
        const s = seqs[si];
        ids.set(s.inputs, r * L);
        tg.set(s.targets, r * L);
      }
      const x = tf.tensor2d(ids, [B, L], "int32"), y = tf.tensor2d(tg, [B, L], "int32");
      try {
        cap!.issue(x, y);
      } finally {
        tf.dispose([x, y]);
      }
      queued.push({ rows, L });
      o.onProgress?.(Math.min(start + o.batchSize, order.length), order.length);
    }
    await drain();
  } finally {
    (cap as CapturedForward | null)?.dispose();
  }
}
