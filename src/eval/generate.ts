/**
 * Autoregressive text generation with Hugging Face `generate` semantics: at each step the
 * last position's scores go through repetition penalty → no-repeat-n-gram ban → /temperature → top-k → top-p →
 * sampling (or argmax when greedy). Each transform is a pure function over a Float32Array of scores (it returns
 * a new array), so it can be tested by hand. Randomness comes from the project's {@linkcode Rng}.
 *
 * Scores: when the model has a `logits(ids)` method its raw logits are used (exactly HF); otherwise the
 * log-probabilities of `logProbs`. Temperature, top-k, top-p and argmax are unchanged by that shift, but the
 * repetition penalty is not: every log-prob is ≤ 0, so with log-probs each penalised score is multiplied by ρ.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../models/types.ts";
import { Rng } from "../rng.ts";

/** Options of {@linkcode generate}. */
export interface GenerateOptions {
  /** Number of new tokens to generate at most. */
  maxNewTokens: number;
  /** Softmax temperature; 0 means greedy (default 1). */
  temperature?: number;
  /** Take the argmax instead of sampling (default false; also implied by temperature 0). */
  greedy?: boolean;
  /** Keep the k highest scores (ties with the k-th kept, as HF); 0 or undefined = off. */
  topK?: number;
  /** Nucleus sampling: keep the smallest top set with probability ≥ p; 1 or undefined = off. */
  topP?: number;
  /** HF repetition penalty ρ (1 = off): for every token in prompt + generated, score > 0 → /ρ, else ×ρ. */
  repetitionPenalty?: number;
  /** Ban tokens that would complete an n-gram already in prompt + generated; 0 or undefined = off. */
  noRepeatNgramSize?: number;
  /** Stop after generating this id (it is included in the output). */
  eosId?: number | null;
  /** Seed of the sampling generator (default 0); ignored when `rng` is given. */
  seed?: number;
  /** The sampling generator (advanced by this call). */
  rng?: Rng;
  /** Most positions fed to the model per step (default: the model's `maxLen`, else all); older ones slide out. */
  contextLength?: number;
  /** Called with each new id as soon as it is chosen (streaming; awaited), with its 0-based index. */
  onToken?: (id: number, index: number) => void | Promise<void>;
}

/**
 * HF `RepetitionPenaltyLogitsProcessor`: for each distinct id in `previous`, a positive score is divided by
 * `penalty` and a negative (or zero) one multiplied by it.
 *
 * @example
 * ```ts
 * import { applyRepetitionPenalty } from "./generate.ts";
 * applyRepetitionPenalty(new Float32Array([2, -2, 1]), [0, 1, 0], 2); // [1, -4, 1]
 * ```
 */
export function applyRepetitionPenalty(
  scores: Float32Array,
  previous: ArrayLike<number>,
  penalty: number,
): Float32Array {
  if (!(penalty > 0)) throw new Error(`repetitionPenalty must be positive, got "${penalty}".`);
  const out = scores.slice();
  if (penalty === 1) return out;
  const seen = new Set<number>();
  for (let i = 0; i < previous.length; i++) seen.add(previous[i]);
  for (const id of seen) {
    if (id < 0 || id >= out.length) continue;
    out[id] = out[id] < 0 ? out[id] * penalty : out[id] / penalty;
  }
  return out;
}

/**
 * The ids that would complete an n-gram already present in `seq` (HF `NoRepeatNGramLogitsProcessor`).
 *
 * @example
 * ```ts
 * import { bannedNgramTokens } from "./generate.ts";
 * bannedNgramTokens([1, 2, 3, 1], 2); // [2]  (the bigram "1 2" exists)
 * ```
 */
export function bannedNgramTokens(seq: ArrayLike<number>, n: number): number[] {
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`noRepeatNgramSize must be a positive integer, got "${n}".`);
  }
  const len = seq.length;
  if (len + 1 < n) return [];
  const banned = new Set<number>();
  // The last n−1 tokens are the prefix that the next token would complete.
  outer: for (let start = 0; start + n <= len; start++) {
    for (let k = 0; k < n - 1; k++) {
      if (seq[start + k] !== seq[len - (n - 1) + k]) continue outer;
    }
    banned.add(seq[start + n - 1]);
  }
  return [...banned];
}

/**
 * Set to −∞ the score of every token that would complete an n-gram already in `seq`.
 *
 * @example
 * ```ts
 * import { banRepeatedNgrams } from "./generate.ts";
 * banRepeatedNgrams(new Float32Array([0, 0, 0, 0]), [1, 2, 3, 1], 2); // [0, 0, -Infinity, 0]
 * ```
 */
export function banRepeatedNgrams(scores: Float32Array, seq: ArrayLike<number>, n: number): Float32Array {
  const out = scores.slice();
  for (const id of bannedNgramTokens(seq, n)) if (id >= 0 && id < out.length) out[id] = -Infinity;
  return out;
}

/**
 * Divide every score by the temperature (> 0).
 *
 * @example
 * ```ts
 * import { applyTemperature } from "./generate.ts";
 * applyTemperature(new Float32Array([1, 2]), 2); // [0.5, 1]
 * ```
 */
export function applyTemperature(scores: Float32Array, temperature: number): Float32Array {
  if (!(temperature > 0)) throw new Error(`temperature must be positive here, got "${temperature}".`);
  return scores.map((s) => s / temperature);
}

/**
 * HF `TopKLogitsWarper`: keep scores ≥ the k-th largest (ties kept), set the rest to −∞.
 *
 * @example
 * ```ts
 * import { applyTopK } from "./generate.ts";
 * applyTopK(new Float32Array([1, 3, 2, 0]), 2); // [-Infinity, 3, 2, -Infinity]
 * ```
 */
export function applyTopK(scores: Float32Array, k: number): Float32Array {
  if (!Number.isInteger(k) || k < 0) throw new Error(`topK must be a non-negative integer, got "${k}".`);
  const out = scores.slice();
  if (k === 0 || k >= out.length) return out;
  const kth = Float32Array.from(out).sort().reverse()[k - 1];
  for (let i = 0; i < out.length; i++) if (out[i] < kth) out[i] = -Infinity;
  return out;
}

function softmax64(scores: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > max) max = scores[i];
  const p = new Float64Array(scores.length);
  if (max === -Infinity) throw new Error(`Every score is -Infinity: no token is left to choose.`);
  let z = 0;
  for (let i = 0; i < scores.length; i++) z += p[i] = Math.exp(scores[i] - max);
  for (let i = 0; i < p.length; i++) p[i] /= z;
  return p;
}

/**
 * HF `TopPLogitsWarper` (nucleus): sort ascending, and remove tokens while the cumulative probability of the
 * tokens up to and including them is ≤ 1 − p; the most likely token is always kept.
 *
 * @example
 * ```ts
 * import { applyTopP } from "./generate.ts";
 * // probabilities 0.5, 0.3, 0.2 → p = 0.7 keeps the first two
 * applyTopP(new Float32Array([Math.log(0.5), Math.log(0.3), Math.log(0.2)]), 0.7);
 * ```
 */
export function applyTopP(scores: Float32Array, p: number): Float32Array {
  if (!(p > 0 && p <= 1)) throw new Error(`topP must be in (0, 1], got "${p}".`);
  const out = scores.slice();
  if (p === 1) return out;
  const probs = softmax64(out);
  const order = [...out.keys()].sort((a, b) => out[a] - out[b] || a - b); // ascending
  let cum = 0;
  for (let r = 0; r < order.length - 1; r++) {
    cum += probs[order[r]];
    if (cum <= 1 - p) out[order[r]] = -Infinity;
    else break;
  }
  return out;
}

/**
 * Index of the largest score (the first one on ties).
 *
 * @example
 * ```ts
 * import { argmax } from "./generate.ts";
 * argmax(new Float32Array([0, 2, 2])); // 1
 * ```
 */
export function argmax(scores: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  return best;
}

/**
 * Draw an index from softmax(scores) with one uniform number of `rng` (inverse CDF); −∞ scores are never drawn.
 *
 * @example
 * ```ts
 * import { sampleFrom } from "./generate.ts";
 * import { Rng } from "../rng.ts";
 * sampleFrom(new Float32Array([0, -Infinity, 0]), new Rng(1)); // 0 or 2
 * ```
 */
export function sampleFrom(scores: Float32Array, rng: Rng): number {
  const probs = softmax64(scores);
  const u = rng.uniform();
  let cum = 0;
  let lastValid = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    lastValid = i;
    cum += probs[i];
    if (u < cum) return i;
  }
  return lastValid; // rounding left u ≥ Σp: the last token with mass
}

/**
 * The complete per-step transform chain (penalty → ban → temperature → top-k → top-p) that
 * {@linkcode generate} applies; with greedy (or temperature 0) only the penalty and the ban.
 *
 * @example
 * ```ts
 * import { processScores } from "./generate.ts";
 * processScores(new Float32Array([4, 2, -1, 3]), [0, 2, 0], { repetitionPenalty: 2, noRepeatNgramSize: 2, temperature: 0.5, topK: 2 });
 * // → [4, 4, -Infinity, 6]
 * ```
 */
export function processScores(
  scores: Float32Array,
  seq: ArrayLike<number>,
  opts: Pick<
    GenerateOptions,
    "repetitionPenalty" | "noRepeatNgramSize" | "temperature" | "greedy" | "topK" | "topP"
  >,
): Float32Array {
  let s = scores;
  if (opts.repetitionPenalty !== undefined && opts.repetitionPenalty !== 1) {
    s = applyRepetitionPenalty(s, seq, opts.repetitionPenalty);
  }
  if (opts.noRepeatNgramSize) s = banRepeatedNgrams(s, seq, opts.noRepeatNgramSize);
  const temperature = opts.temperature ?? 1;
  if (opts.greedy || temperature === 0) return s;
  if (temperature !== 1) s = applyTemperature(s, temperature);
  if (opts.topK) s = applyTopK(s, opts.topK);
  if (opts.topP !== undefined && opts.topP !== 1) s = applyTopP(s, opts.topP);
  return s;
}

/**
 * Generate up to `maxNewTokens` tokens after a prompt; returns prompt + continuation (HF style — slice off
 * `promptIds.length` for the continuation). Generation stops early after `eosId`. With a model `maxLen` (or
 * `contextLength`) only the last that-many ids are fed each step (a sliding window); the penalty and n-gram
 * ban always see the whole sequence.
 *
 * @param model any {@linkcode LanguageModel} (a `logits(ids)` method is used when present)
 * @param promptIds at least one id
 * @param opts see {@linkcode GenerateOptions}
 * @example
 * ```ts
 * // const ids = await generate(model, tok.encode("Once upon a time"), {
 * //   maxNewTokens: 50, temperature: 0.8, topK: 50, topP: 0.95, repetitionPenalty: 1.2, noRepeatNgramSize: 3,
 * //   eosId: tok.eosId, seed: 1,
 * // });
 * // console.log(tok.decode(ids));
 * ```
 * @throws Error when the prompt is empty, an id is outside the vocabulary or an option is out of range.
 */
export async function generate(
  model: LanguageModel,
  promptIds: number[],
  opts: GenerateOptions,
): Promise<number[]> {
  const V = model.config.vocabSize;
  if (promptIds.length === 0) {
    throw new Error(`The prompt is empty: generation needs at least one id (e.g. a BOS/EOS id).`);
  }
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new Error(`Prompt id "${id}" is outside [0, ${V}).`);
    }
  }
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) {
    throw new Error(`maxNewTokens must be a non-negative integer, got "${opts.maxNewTokens}".`);
  }
  if (opts.topK !== undefined && opts.topK > V) {
    throw new Error(
      `topK = ${opts.topK} is larger than the vocabulary (${V} ids); choose topK ≤ ${V}, or 0 to turn it off.`,
    );
  }
  const temperature = opts.temperature ?? 1;
  if (!(temperature >= 0)) throw new Error(`temperature must be ≥ 0, got "${opts.temperature}".`);
  const window = opts.contextLength ?? model.config.maxLen ?? Infinity;
  if (!(window >= 1)) throw new Error(`contextLength must be at least 1, got "${opts.contextLength}".`);
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  const greedy = opts.greedy || temperature === 0;
  const withLogits = model as LanguageModel & { logits?: (ids: tf.Tensor2D) => tf.Tensor3D };
  const scoresOf = typeof withLogits.logits === "function"
    ? (ids: tf.Tensor2D) => withLogits.logits!(ids)
    : (ids: tf.Tensor2D) => model.logProbs(ids);

  model.setTraining?.(false);
  const seq = promptIds.slice();
  for (let step = 0; step < opts.maxNewTokens; step++) {
    const ctx = seq.length > window ? seq.slice(seq.length - window) : seq;
    const last = tf.tidy(() => {
      const out = scoresOf(tf.tensor2d(Int32Array.from(ctx), [1, ctx.length], "int32"));
      const [, T, Vo] = out.shape;
      return out.slice([0, T - 1, 0], [1, 1, Vo]).reshape([Vo]).cast("float32");
    });
    let scores: Float32Array;
    try {
      scores = (await last.data()) as Float32Array;
    } finally {
      last.dispose();
    }
    const s = processScores(scores, seq, { ...opts, temperature });
    const next = greedy ? argmax(s) : sampleFrom(s, rng);
    seq.push(next);
    await opts.onToken?.(next, step);
    if (opts.eosId != null && next === opts.eosId) break;
  }
  return seq;
}

/** A tokenizer as generation needs it: encode, decode, size, and (optionally) an unknown-token id. */
export interface PromptTokenizer {
  /** Short name, for messages. */
  name: string;
  /** Number of ids. */
  vocabSize: number;
  /** Text → ids. */
  encode(text: string): number[];
  /** Id of the unknown token (characters outside the vocabulary), if the tokenizer has one. */
  unkId?: number;
}

/**
 * Encode a prompt, refusing characters the tokenizer cannot represent (they would become its unknown token and
 * silently change the prompt): the error lists them.
 *
 * @param tok the tokenizer
 * @param prompt the text
 * @returns the ids
 * @example
 * ```ts
 * // encodePrompt(tok, "What is machine learning?") → ids; encodePrompt(tok, "naïve ☃") throws naming "☃"
 * ```
 */
export function encodePrompt(tok: PromptTokenizer, prompt: string): number[] {
  const ids = tok.encode(prompt);
  if (tok.unkId === undefined || !ids.includes(tok.unkId)) return ids;
  const missing = [...new Set([...prompt].filter((ch) => tok.encode(ch).includes(tok.unkId!)))];
  throw new Error(
    `The prompt has characters that the ${tok.name} tokenizer does not know: ${
      missing.map((c) => JSON.stringify(c)).join(", ")
    }; remove or replace them (the tokenizer would map them to its unknown token).`,
  );
}

/**
 * Check that a tokenizer fits a model's checkpoint: same vocabulary size, and, when both are known, the same
 * fingerprint (the tokenizer file saved beside the checkpoint).
 *
 * @param tok the tokenizer (its `vocabSize`)
 * @param modelVocab the checkpoint config's `vocabSize`
 * @param where the tokenizer file, for the message
 * @param fingerprints optional `{ tokenizer, checkpoint }` fingerprints to compare
 * @example
 * ```ts
 * // checkTokenizerFits(tok, model.config.vocabSize, "runs/hssm/tokenizer.json");
 * ```
 */
export function checkTokenizerFits(
  tok: { vocabSize: number },
  modelVocab: number,
  where: string,
  fingerprints?: { tokenizer: string; checkpoint: string },
): void {
  if (tok.vocabSize !== modelVocab) {
    throw new Error(
      `The tokenizer "${where}" has ${tok.vocabSize} ids but the checkpoint's model has vocabSize ${modelVocab}; ` +
        `use the tokenizer saved beside this checkpoint.`,
    );
  }
  if (fingerprints && fingerprints.tokenizer !== fingerprints.checkpoint) {
    throw new Error(
      `The tokenizer "${where}" (fingerprint ${fingerprints.tokenizer}) is not the one this checkpoint was trained ` +
        `with (fingerprint ${fingerprints.checkpoint}); use the tokenizer saved beside this checkpoint.`,
    );
  }
}
