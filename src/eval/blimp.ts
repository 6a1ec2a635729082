/**
 * BLiMP minimal-pair evaluation (docs/blimp.md) for any {@linkcode LanguageModel} and {@linkcode Tokenizer}.
 *
 * Two scoring variants, both summed log-probabilities with no length normalisation:
 * - `"first-token-unscored"` — BabyLM 2025/2026 causal scorer: tokenise the sentence with no special tokens;
 *   inputs = tokens[:−1], targets = tokens[1:]; score = Σ log p(target), so the first token is never predicted.
 * - `"eos-prefixed"` — BabyLM 2024 lm-eval harness: context = [EOS/BOS]; inputs = [eos, tokens[:−1]],
 *   targets = tokens, so every sentence token is scored.
 *
 * A pair is correct iff score(good) ≥ score(bad): a tie counts as correct, because the reference pipeline takes
 * `torch.max` over [good, bad], which resolves ties to the first index (= good).
 * Accuracy is per paradigm (UID); `overall` is the unweighted mean over paradigms; each phenomenon's accuracy is
 * the unweighted mean over its paradigms (docs/blimp.md; {@linkcode phenomenonOf}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../models/types.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { BLIMP_PHENOMENON_NAMES, type BlimpPair, phenomenonOf } from "../data/blimp.ts";
import { capturedSequenceLogProbs, scoringCaptureActive } from "./blimp_capture.ts";

/**
 * A pair to score: a {@linkcode BlimpPair} from `loadBlimp` / `parseBlimpJsonl` (`src/data/blimp.ts`), or a
 * hand-made one with only `uid`, `pairId`, `good` and `bad`. Its phenomenon is `phenomenon` when given, else
 * {@linkcode phenomenonOf}(uid, linguisticsTerm).
 */
export type BlimpEvalPair = Pick<BlimpPair, "uid" | "pairId" | "good" | "bad"> & Partial<BlimpPair>;

/** The two scoring variants (see the module notes). */
export type BlimpVariant = "first-token-unscored" | "eos-prefixed";

/** Options of {@linkcode evaluateBlimp}. */
export interface BlimpOptions {
  /** Scoring variant (default `"first-token-unscored"`, the BabyLM 2025/2026 scorer). */
  variant?: BlimpVariant;
  /** Sentences per forward pass (default 64); sentences are sorted by length to reduce padding. */
  batchSize?: number;
  /** The id prefixed by `"eos-prefixed"` (default: `tokenizer.eosId`). */
  prefixId?: number;
  /** The id used to right-pad (default: `tokenizer.eosId`, else 0); padded positions are never scored. */
  padId?: number;
  /** Softmax temperature τ: scores use log softmax(log p / τ) (default 1, i.e. the model's log-probs). */
  temperature?: number;
  /**
   * What to do when a sentence needs more than the model's `maxLen` input positions: `"error"` (default) or
   * `"truncate"` (score only the first `maxLen` targets of both sentences — then the comparison is partial).
   */
  overflow?: "error" | "truncate";
  /** Keep the per-pair scores in the result (default false). */
  returnScores?: boolean;
  /** Called after each forward pass with (sentences done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Captured scoring on webgpu (true or "auto"; default false): see {@linkcode sequenceLogProbs}. */
  capture?: boolean | "auto";
}

/** Accuracy of one paradigm. */
export interface ParadigmAccuracy {
  /** Paradigm id. */
  uid: string;
  /** Its phenomenon ({@linkcode phenomenonOf}). */
  phenomenon: string;
  /** Fraction of pairs with score(good) ≥ score(bad). */
  accuracy: number;
  /** Number of pairs. */
  n: number;
}

/** Accuracy of one phenomenon: the unweighted mean over its paradigms. */
export interface PhenomenonAccuracy {
  /** Phenomenon name. */
  phenomenon: string;
  /** Mean accuracy of its paradigms. */
  accuracy: number;
  /** Number of paradigms averaged. */
  paradigms: number;
}

/** Per-pair scores (with `returnScores`). */
export interface BlimpPairScore {
  /** Paradigm id. */
  uid: string;
  /** BLiMP `pairID`. */
  pairId: number;
  /** Summed log-probability of the good sentence. */
  good: number;
  /** Summed log-probability of the bad sentence. */
  bad: number;
  /** good ≥ bad. */
  correct: boolean;
}

/** The result of {@linkcode evaluateBlimp}. */
export interface BlimpResult {
  /** The scoring variant used. */
  variant: BlimpVariant;
  /** Unweighted mean of the paradigm accuracies. */
  overall: number;
  /** Paradigms in order of first appearance. */
  perParadigm: ParadigmAccuracy[];
  /** The 12 BLiMP phenomena first (those present), then any others in order of appearance. */
  perPhenomenon: PhenomenonAccuracy[];
  /** Number of pairs scored. */
  pairs: number;
  /** Number of sentences truncated to the model's `maxLen` (only with `overflow: "truncate"`). */
  truncated: number;
  /** Number of pairs whose two scores are equal (counted correct, as the reference pipeline does). */
  ties: number;
  /** Per-pair scores, with `returnScores`. */
  scores?: BlimpPairScore[];
}

/**
 * At most this many log-probabilities (2^26 floats, 256 MiB) per uncaptured scoring pass: 64 sentences of 20
 * GPT-2 tokens would otherwise need 257 MiB per [B, L, V] tensor and a batch of 256 overflows wasm's 4 GiB.
 */
export const MAX_LOGIT_ELEMENTS = 2 ** 26;

/** One scored sequence: model inputs and the targets to score (same length). */
export interface ScoredSequence {
  /** Ids fed to the model. */
  inputs: number[];
  /** Ids whose log-probabilities are summed; `targets[t]` is predicted at position t. */
  targets: number[];
}

/**
 * The inputs and targets that one variant scores for one tokenised sentence.
 *
 * @example
 * ```ts
 * import { scoringSequence } from "./blimp.ts";
 * scoringSequence([5, 6, 7], "first-token-unscored"); // { inputs: [5, 6], targets: [6, 7] }
 * scoringSequence([5, 6, 7], "eos-prefixed", 0);      // { inputs: [0, 5, 6], targets: [5, 6, 7] }
 * ```
 */
export function scoringSequence(
  tokens: number[],
  variant: BlimpVariant,
  prefixId?: number | null,
): ScoredSequence {
  if (variant === "first-token-unscored") {
    return { inputs: tokens.slice(0, -1), targets: tokens.slice(1) };
  }
  if (variant === "eos-prefixed") {
    if (prefixId == null) {
      throw new Error(
        `The "eos-prefixed" variant needs a prefix id: the tokenizer has no eosId, so pass { prefixId }.`,
      );
    }
    if (tokens.length === 0) return { inputs: [], targets: [] };
    return { inputs: [prefixId, ...tokens.slice(0, -1)], targets: tokens.slice() };
  }
  throw new Error(`Unknown BLiMP variant "${variant}": expected "first-token-unscored" or "eos-prefixed".`);
}

/**
 * Summed log-probabilities Σ_t log p(targets_t | inputs_≤t) of many sequences, batched and right-padded.
 * Sequences with no target score 0. Returns float64 sums of the per-token float32 log-probs.
 *
 * @example
 * ```ts
 * // const s = await sequenceLogProbs(model, [{ inputs: [1, 2], targets: [2, 3] }], { padId: 0 });
 * ```
 */
export async function sequenceLogProbs(
  model: LanguageModel,
  seqs: ScoredSequence[],
  opts: {
    batchSize?: number;
    padId?: number;
    temperature?: number;
    onProgress?: (done: number, total: number) => void;
    /**
     * true or "auto": on the webgpu backend, batches padded to fixed length buckets and their forward captured
     * and replayed (`blimp_capture.ts`); elsewhere the plain loop. Default false.
     */
    capture?: boolean | "auto";
    /**
     * The uncaptured loop scores at most this many log-probabilities (rows × length × vocabulary) per forward
     * pass, taking fewer rows than `batchSize` where needed (default {@linkcode MAX_LOGIT_ELEMENTS}).
     */
    maxLogitElements?: number;
  } = {},
): Promise<Float64Array> {
  const batchSize = opts.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new Error(`batchSize must be a positive integer, got "${opts.batchSize}".`);
  }
  const tau = opts.temperature ?? 1;
  if (!(tau > 0)) throw new Error(`temperature must be positive, got "${opts.temperature}".`);
  const pad = opts.padId ?? 0;
  const V = model.config.vocabSize;
  const out = new Float64Array(seqs.length);
  for (const [i, s] of seqs.entries()) {
    if (s.inputs.length !== s.targets.length) {
      throw new Error(`Sequence ${i} has ${s.inputs.length} inputs but ${s.targets.length} targets.`);
    }
    for (const id of [...s.inputs, ...s.targets]) {
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new Error(`Sequence ${i} holds token id "${id}", outside the model's vocabulary [0, ${V}).`);
      }
    }
  }
  // Longest first, so each batch pads little; empty sequences are skipped (score 0).
  const order = [...seqs.keys()].filter((i) => seqs[i].targets.length > 0)
    .sort((a, b) => seqs[b].targets.length - seqs[a].targets.length);
  model.setTraining?.(false);
  if (scoringCaptureActive(opts.capture)) {
    await capturedSequenceLogProbs(model, seqs, order, out, {
      batchSize,
      pad,
      tau,
      onProgress: opts.onProgress,
    });
    return out;
  }
  const maxLogits = opts.maxLogitElements ?? MAX_LOGIT_ELEMENTS;
  for (let start = 0; start < order.length;) {
    // Fewer rows when [rows, L, V] log-probs would pass maxLogits (a GPT-2 vocabulary on wasm: 4 GiB in all).
    const L = seqs[order[start]].targets.length;
    const rows = order.slice(
      start,
      start + Math.max(1, Math.min(batchSize, Math.floor(maxLogits / (L * V)))),
    );
    start += rows.length;
    const B = rows.length;
    const ids = new Int32Array(B * L).fill(pad);
    const gidx = new Int32Array(B * L);
    for (const [r, si] of rows.entries()) {
      const s = seqs[si];
      for (let t = 0; t < s.inputs.length; t++) {
        ids[r * L + t] = s.inputs[t];
        gidx[r * L + t] = (r * L + t) * V + s.targets[t];
      }
    }
    const picked = tf.tidy(() => {
      let lp = model.logProbs(tf.tensor2d(ids, [B, L], "int32")) as tf.Tensor;
      if (lp.shape[0] !== B || lp.shape[1] !== L || lp.shape[2] !== V) {
        throw new Error(
          `model.logProbs returned shape [${lp.shape}] for inputs [${B}, ${L}]: expected [${B}, ${L}, ${V}].`,
        );
      }
      if (tau !== 1) lp = tf.logSoftmax(lp.div(tau));
      return tf.gather(lp.reshape([B * L * V]), tf.tensor1d(gidx, "int32"));
    });
    let vals: Float32Array;
    try {
      vals = (await picked.data()) as Float32Array;
    } finally {
      picked.dispose();
    }
    for (const [r, si] of rows.entries()) {
      let sum = 0;
      for (let t = 0; t < seqs[si].targets.length; t++) sum += vals[r * L + t];
      out[si] = sum;
    }
    opts.onProgress?.(start, order.length);
  }
  return out;
}

/**
 * Score BLiMP minimal pairs with a language model and aggregate per paradigm, per phenomenon and overall.
 *
 * Works for any model that gives log-probabilities, including character-level ones (pass a character tokenizer)
 * and models with a fixed `maxLen` (see `overflow`).
 *
 * @param model any {@linkcode LanguageModel}
 * @param tokenizer the model's tokenizer; `encode` must add no special tokens
 * @param pairs minimal pairs, e.g. from `loadBlimp` (`src/data/blimp.ts`)
 * @param opts see {@linkcode BlimpOptions}
 * @example
 * ```ts
 * // const pairs = await loadBlimp({ dir: "/data/blimp", maxPairsPerParadigm: 100 }); // src/data/blimp.ts
 * // const r = await evaluateBlimp(model, getTokenizer("gpt2"), pairs, { variant: "first-token-unscored" });
 * // console.log(r.overall, r.perPhenomenon);
 * ```
 * @throws Error when a sentence exceeds the model's `maxLen` (with `overflow: "error"`), a token id is outside the
 * vocabulary, or `"eos-prefixed"` has no prefix id.
 */
export async function evaluateBlimp(
  model: LanguageModel,
  tokenizer: Tokenizer,
  pairs: readonly BlimpEvalPair[],
  opts: BlimpOptions = {},
): Promise<BlimpResult> {
  const variant = opts.variant ?? "first-token-unscored";
  if (variant !== "first-token-unscored" && variant !== "eos-prefixed") {
    throw new Error(`Unknown BLiMP variant "${variant}": expected "first-token-unscored" or "eos-prefixed".`);
  }
  if (pairs.length === 0) throw new Error(`No BLiMP pairs to evaluate: the pair list is empty.`);
  const prefixId = opts.prefixId ?? tokenizer.eosId;
  const padId = opts.padId ?? tokenizer.eosId ?? 0;
  const maxLen = model.config.maxLen;
  const overflow = opts.overflow ?? "error";
  let truncated = 0;
  const seqs: ScoredSequence[] = [];
  for (const p of pairs) {
    for (const [which, text] of [["good", p.good], ["bad", p.bad]] as const) {
      let s = scoringSequence(
        encodeSentence(
          tokenizer,
          text,
          `${which} sentence of pair "${p.uid}/${p.pairId}"`,
          model.config.vocabSize,
        ),
        variant,
        prefixId,
      );
      if (maxLen != null && s.inputs.length > maxLen) {
        if (overflow === "error") {
          throw new Error(
            `The ${which} sentence of pair "${p.uid}/${p.pairId}" needs ${s.inputs.length} input positions, more than the model's maxLen ${maxLen}; pass { overflow: "truncate" } to score only its first ${maxLen} tokens.`,
          );
        }
        s = { inputs: s.inputs.slice(0, maxLen), targets: s.targets.slice(0, maxLen) };
        truncated++;
      }
      seqs.push(s);
    }
  }
  const scores = await sequenceLogProbs(model, seqs, {
    batchSize: opts.batchSize,
    padId,
    temperature: opts.temperature,
    capture: opts.capture,
    onProgress: opts.onProgress,
  });

  return blimpResultFromScores(pairs, scores, variant, { truncated, returnScores: opts.returnScores });
}

/**
 * Encode one sentence for scoring, with a clear error naming `what` when the tokenizer throws, gives no token for
 * a non-blank sentence, or gives an id outside the model's vocabulary `[0, vocabSize)`.
 *
 * @example
 * ```ts
 * import { encodeSentence } from "./blimp.ts";
 * import { getTokenizer } from "../tokenizers/types.ts";
 * encodeSentence(getTokenizer("ascii"), "Hi.", "the good sentence of pair x/0", 128); // [72, 105, 46]
 * ```
 */
export function encodeSentence(
  tokenizer: Tokenizer,
  text: string,
  what: string,
  vocabSize: number,
): number[] {
  let ids: number[];
  try {
    ids = tokenizer.encode(text);
  } catch (e) {
    throw new Error(
      `The tokenizer "${tokenizer.name}" cannot encode the ${what} (${JSON.stringify(text)}): ${
        (e as Error).message
      }`,
    );
  }
  if (ids.length === 0 && text.trim() !== "") {
    throw new Error(
      `The tokenizer "${tokenizer.name}" cannot encode the ${what} (${
        JSON.stringify(text)
      }): it gives no token.`,
    );
  }
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new Error(
        `The tokenizer "${tokenizer.name}" encodes the ${what} (${
          JSON.stringify(text)
        }) with token id "${id}", outside the model's vocabulary [0, ${vocabSize}): are the tokenizer and the checkpoint a match?`,
      );
    }
  }
  return ids;
}

/**
 * Decide and aggregate scored pairs: `scores[2i]` and `scores[2i + 1]` are the good and bad sentence scores of
 * `pairs[i]` (any scorer: a neural model, an n-gram model). Correct iff good ≥ bad.
 *
 * @example
 * ```ts
 * import { blimpResultFromScores } from "./blimp.ts";
 * const r = blimpResultFromScores([{ uid: "x", pairId: 0, good: "A.", bad: "B." }], [-1, -2], "eos-prefixed");
 * r.overall; // 1
 * ```
 */
export function blimpResultFromScores(
  pairs: readonly BlimpEvalPair[],
  scores: ArrayLike<number>,
  variant: BlimpVariant,
  opts: { truncated?: number; returnScores?: boolean } = {},
): BlimpResult {
  if (scores.length !== 2 * pairs.length) {
    throw new Error(`Expected ${2 * pairs.length} scores (good, bad per pair), got ${scores.length}.`);
  }
  const truncated = opts.truncated ?? 0;
  const byUid = new Map<string, { correct: number; n: number; phenomenon: string }>();
  const pairScores: BlimpPairScore[] = [];
  let ties = 0;
  for (const [i, p] of pairs.entries()) {
    const good = scores[2 * i], bad = scores[2 * i + 1];
    if (good === bad) ties++;
    const correct = good >= bad; // tie → "good" (torch.max picks index 0)
    let e = byUid.get(p.uid);
    if (!e) {
      byUid.set(
        p.uid,
        e = { correct: 0, n: 0, phenomenon: p.phenomenon ?? phenomenonOf(p.uid, p.linguisticsTerm) },
      );
    }
    e.n++;
    if (correct) e.correct++;
    if (opts.returnScores) pairScores.push({ uid: p.uid, pairId: p.pairId, good, bad, correct });
  }
  return {
    variant,
    ...aggregateBlimp([...byUid.entries()].map(([uid, e]) => ({
      uid,
      phenomenon: e.phenomenon,
      accuracy: e.correct / e.n,
      n: e.n,
    }))),
    pairs: pairs.length,
    truncated,
    ties,
    ...(opts.returnScores ? { scores: pairScores } : {}),
  };
}

/**
 * Aggregate paradigm accuracies: overall = unweighted mean over paradigms; per phenomenon = unweighted mean over
 * its paradigms (the 12 BLiMP phenomena first, in table order, then any others).
 *
 * @example
 * ```ts
 * import { aggregateBlimp } from "./blimp.ts";
 * const r = aggregateBlimp([
 *   { uid: "ellipsis_n_bar_1", phenomenon: "ellipsis", accuracy: 0.5, n: 10 },
 *   { uid: "ellipsis_n_bar_2", phenomenon: "ellipsis", accuracy: 1, n: 2 },
 * ]);
 * r.overall; // 0.75
 * ```
 */
export function aggregateBlimp(
  perParadigm: ParadigmAccuracy[],
): { overall: number; perParadigm: ParadigmAccuracy[]; perPhenomenon: PhenomenonAccuracy[] } {
  const overall = perParadigm.reduce((a, p) => a + p.accuracy, 0) / Math.max(perParadigm.length, 1);
  const groups = new Map<string, number[]>();
  for (const p of perParadigm) {
    const g = groups.get(p.phenomenon);
    if (g) g.push(p.accuracy);
    else groups.set(p.phenomenon, [p.accuracy]);
  }
  const names: readonly string[] = BLIMP_PHENOMENON_NAMES;
  const known = names.filter((p) => groups.has(p));
  const others = [...groups.keys()].filter((p) => !names.includes(p));
  const perPhenomenon = [...known, ...others].map((phenomenon) => {
    const accs = groups.get(phenomenon)!;
    return { phenomenon, accuracy: accs.reduce((a, b) => a + b, 0) / accs.length, paradigms: accs.length };
  });
  return { overall, perParadigm, perPhenomenon };
}
