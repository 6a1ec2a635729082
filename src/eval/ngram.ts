/**
 * Kneser-Ney n-gram language models over words or characters: baselines for BLiMP that train in seconds
 * (docs/blimp.md#n-gram-baselines).
 *
 * Smoothing: **interpolated Kneser-Ney** with one absolute discount per order (Chen & Goodman 1998, §3 and
 * eq. 17 "interpolated Kneser-Ney"; not the modified variant with three discounts). For an n-gram model and a
 * history h of length k−1 (order k):
 *
 * ```
 * p_k(w | h) = max(c_k(h w) − D_k, 0) / c_k(h •)  +  D_k · N1+(h •) / c_k(h •) · p_{k−1}(w | h⁻)
 * p_1(w)     = max(N1+(• w) − D_1, 0) / N1+(• •)  +  D_1 · N1+(types) / N1+(• •) · 1/|V|
 * ```
 *
 * where h⁻ drops the first token of h, c_n is the raw count at the highest order n and the continuation count
 * N1+(• h w) (number of distinct tokens seen before h w) at every lower order, N1+(h •) is the number of distinct
 * tokens seen after h, and |V| counts every training type, `</s>` and `<unk>` (`<s>` is never predicted). A
 * history never seen (c_k(h •) = 0) passes its whole mass to order k−1. With 0 < D_k ≤ 1 every p_k sums to 1
 * over V. The discount of order k defaults to Ney's estimate D_k = n1 / (n1 + 2 n2) from the counts-of-counts of
 * that order's (raw or continuation) counts.
 *
 * Each training line is one sequence, padded as `<s>`×(n−1) line `</s>`. Scoring a sentence follows the neural
 * BLiMP variants of `blimp.ts`: `"first-token-unscored"` scores tokens 1… with the history made of the preceding
 * sentence tokens only (so token i < n−1 uses the order-(i+1) distribution); `"eos-prefixed"` scores every token
 * after `<s>`×(n−1). Neither scores `</s>` unless `scoreEnd` is set.
 *
 * `restrictTo` keeps only the counts that the probabilities of the given sentences read (both variants), so a
 * 10-gram over tens of millions of characters fits in memory; every probability of those sentences is then
 * exactly that of the full model with the same discounts (pass `discounts`, e.g. from a full model of a corpus
 * sample: see {@linkcode trainNgram}).
 *
 * @module
 */

/** Word- or character-level units. */
export type NgramUnit = "word" | "char";

/** Options of {@linkcode NgramModel.train} / {@linkcode trainNgram}. */
export interface NgramOptions {
  /** "word" (default) or "char". */
  unit?: NgramUnit;
  /** Order n (default 5 for words, 10 for characters). */
  order?: number;
  /** Lower-case the text first (default true for words, false for characters). */
  lowercase?: boolean;
  /**
   * Discount per order (index 0 = unigrams), or one number for all orders; each must be in (0, 1].
   * Default: Ney's estimate n1 / (n1 + 2 n2) from the counts of each order.
   */
  discounts?: number | number[];
  /** Only keep the counts that scoring these sentences reads (see the module notes). */
  restrictTo?: readonly string[];
}

/** Sentence scoring variants (the same names as the neural BLiMP scorer). */
export type NgramVariant = "first-token-unscored" | "eos-prefixed";

const BOS = "<s>", EOS = "</s>", UNK = "<unk>";
const BOS_ID = 0, EOS_ID = 1, UNK_ID = 2;

/**
 * Split text into word units: runs of letters/digits (with an inner apostrophe part, e.g. "doesn't") and single
 * punctuation marks.
 *
 * @example
 * ```ts
 * import { wordUnits } from "./ngram.ts";
 * wordUnits("Who should Derek hug?"); // ["Who", "should", "Derek", "hug", "?"]
 * ```
 */
export function wordUnits(text: string): string[] {
  return text.match(/[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu) ?? [];
}

/** Per order k: history → [c(h•) total, N1+(h•)], and n-gram → count (raw at the top, continuation below). */
interface OrderStats {
  counts: Map<string, number>;
  hist: Map<string, [number, number]>;
}

function encId(id: number): string {
  return String.fromCharCode(id >>> 16, id & 0xffff);
}

/**
 * An interpolated Kneser-Ney n-gram model (see the module notes).
 *
 * @example
 * ```ts
 * import { NgramModel } from "./ngram.ts";
 * const m = NgramModel.train(["the cat sat .", "the dog sat ."], { unit: "word", order: 3 });
 * m.prob(["the"], "cat"); // p(cat | the)
 * m.sentenceLogProb("The cat sat .", "eos-prefixed");
 * ```
 */
export class NgramModel {
  /** Order n. */
  readonly order: number;
  /** Units. */
  readonly unit: NgramUnit;
  /** Whether text is lower-cased. */
  readonly lowercase: boolean;
  /** Discount of each order (index 0 = unigrams). */
  readonly discounts: number[];
  /** Training tokens (units plus one `</s>` per line). */
  readonly tokens: number;
  /** Whether counts were restricted to given sentences. */
  readonly restricted: boolean;
  #vocab: Map<string, number>;
  #stats: OrderStats[];
  #needed: Set<string> | null;
  /** N1+(• •) and N1+(types) at the unigram level. */
  #uni: [number, number];

  private constructor(
    init: {
      order: number;
      unit: NgramUnit;
      lowercase: boolean;
      discounts: number[];
      tokens: number;
      vocab: Map<string, number>;
      stats: OrderStats[];
      needed: Set<string> | null;
    },
  ) {
    this.order = init.order;
    this.unit = init.unit;
    this.lowercase = init.lowercase;
    this.discounts = init.discounts;
    this.tokens = init.tokens;
    this.restricted = init.needed !== null;
    this.#needed = init.needed;
    this.#vocab = init.vocab;
    this.#stats = init.stats;
    const u = init.stats[0].hist.get("");
    this.#uni = u ? [u[0], u[1]] : [0, 0];
  }

  /** |V|: training types + `</s>` + `<unk>` (the ids that can be predicted). */
  get vocabSize(): number {
    return this.#vocab.size - 1;
  }

  /** The predictable units: training types, then "</s>" and "<unk>". */
  vocabulary(): string[] {
    return [...this.#vocab.keys()].filter((w) => w !== BOS);
  }

  /** Text → units (words or characters), lower-cased when the model is. */
  units(text: string): string[] {
    const t = this.lowercase ? text.toLowerCase() : text;
    return this.unit === "word" ? wordUnits(t) : Array.from(t);
  }

  /**
   * Count a corpus (one sequence per line) and build the model.
   *
   * @throws Error on an order below 1, a discount outside (0, 1], or a corpus with no tokens.
   */
  static train(lines: Iterable<string>, opts: NgramOptions = {}): NgramModel {
    const unit = opts.unit ?? "word";
    if (unit !== "word" && unit !== "char") {
      throw new Error(`Option unit must be "word" or "char", got "${unit}".`);
    }
    const n = opts.order ?? (unit === "word" ? 5 : 10);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`Option order must be an integer ≥ 1, got "${opts.order}".`);
    }
    const lowercase = opts.lowercase ?? unit === "word";
    const split = (t: string) => {
      const s = lowercase ? t.toLowerCase() : t;
      return unit === "word" ? wordUnits(s) : Array.from(s);
    };
    const vocab = new Map<string, number>([[BOS, BOS_ID], [EOS, EOS_ID], [UNK, UNK_ID]]);
    const idOf = (w: string) => {
      let id = vocab.get(w);
      if (id === undefined) vocab.set(w, id = vocab.size);
      return id;
    };
    const pad = encId(BOS_ID).repeat(n - 1);
    const parts: string[] = [];
    let tokens = 0;
    for (const line of lines) {
      const us = split(line);
      let s = pad;
      for (const u of us) s += encId(idOf(u));
      parts.push(s + encId(EOS_ID));
      tokens += us.length + 1;
    }
    if (tokens === 0) throw new Error("Cannot train an n-gram model on a corpus with no lines.");
    const needed = opts.restrictTo ? neededHistories(opts.restrictTo, n, split, vocab) : null;
    const stats = countCorpus(parts, n, needed);
    const discounts = resolveDiscounts(opts.discounts, stats, n);
    return new NgramModel({
      order: n,
      unit,
      lowercase,
      discounts,
      tokens,
      vocab,
      stats,
      needed,
    });
  }

  #id(w: string): number {
    return this.#vocab.get(w) ?? UNK_ID;
  }

  /**
   * p(w | history) under the model; the history's last n−1 units are used. Unknown units map to `<unk>`;
   * "<s>" in the history is the sentence start and "</s>" can be predicted.
   */
  prob(history: readonly string[], w: string): number {
    const ids = history.slice(Math.max(0, history.length - this.order + 1)).map((h) =>
      h === BOS ? BOS_ID : this.#id(h)
    );
    return this.#probIds(ids, this.#id(w));
  }

  #probIds(hist: number[], w: number): number {
    // Order k = hist.length + 1 down to 1, interpolating from the bottom up.
    const V = this.vocabSize;
    const [uTot, uTypes] = this.#uni;
    const d1 = this.discounts[0];
    let p = uTot > 0
      ? Math.max((this.#stats[0].counts.get(encId(w)) ?? 0) - d1, 0) / uTot + (d1 * uTypes / uTot) / V
      : 1 / V;
    const wk = encId(w);
    for (let k = 2; k <= hist.length + 1; k++) {
      const h = hist.slice(hist.length - (k - 1)).map(encId).join("");
      if (this.#needed && !this.#needed.has(h)) {
        throw new Error(
          "This n-gram model was trained with restrictTo other sentences: it has no counts for this history; " +
            "train it with the sentences to score in restrictTo.",
        );
      }
      const hs = this.#stats[k - 1].hist.get(h);
      if (!hs) continue; // unseen history: all its mass goes to order k−1
      const [tot, types] = hs;
      const d = this.discounts[k - 1];
      const c = this.#stats[k - 1].counts.get(h + wk) ?? 0;
      p = Math.max(c - d, 0) / tot + (d * types / tot) * p;
    }
    return p;
  }

  /**
   * Sum of natural-log probabilities of a sentence's scored units (see the module notes for the variants).
   *
   * @example
   * ```ts
   * // model.sentenceLogProb("The cat sat.", "first-token-unscored")
   * ```
   */
  sentenceLogProb(text: string, variant: NgramVariant = "first-token-unscored", scoreEnd = false): number {
    const ids = this.units(text).map((u) => this.#id(u));
    if (scoreEnd) ids.push(EOS_ID);
    const n1 = this.order - 1;
    let seq: number[], first: number;
    if (variant === "first-token-unscored") [seq, first] = [ids, 1];
    else if (variant === "eos-prefixed") [seq, first] = [[...new Array(n1).fill(BOS_ID), ...ids], n1];
    else {
      throw new Error(`Unknown variant "${variant}": expected "first-token-unscored" or "eos-prefixed".`);
    }
    let sum = 0;
    for (let i = first; i < seq.length; i++) {
      sum += Math.log(this.#probIds(seq.slice(Math.max(0, i - n1), i), seq[i]));
    }
    return sum;
  }

  /** Scores of many sentences ({@linkcode sentenceLogProb}). */
  scoreSentences(texts: readonly string[], variant: NgramVariant = "first-token-unscored"): Float64Array {
    const out = new Float64Array(texts.length);
    for (const [i, t] of texts.entries()) out[i] = this.sentenceLogProb(t, variant);
    return out;
  }

  /** A short label, e.g. "word 5-gram (KN)". */
  get label(): string {
    return `${this.unit} ${this.order}-gram (KN)`;
  }
}

/** Every history (as encoded keys) that scoring `texts` reads, closed under suffixes; units seen get ids. */
function neededHistories(
  texts: readonly string[],
  n: number,
  split: (t: string) => string[],
  vocab: Map<string, number>,
): Set<string> {
  const out = new Set<string>([""]);
  for (const t of texts) {
    const ids = [...new Array(n - 1).fill(BOS_ID), ...split(t).map((u) => vocab.get(u) ?? UNK_ID), EOS_ID];
    const enc = ids.map(encId);
    for (let i = n - 1; i < ids.length; i++) {
      let h = "";
      for (let k = 1; k < n; k++) {
        h = enc[i - k] + h;
        out.add(h);
      }
    }
  }
  return out;
}

/**
 * Count every padded line: raw n-gram counts at order n, distinct left extensions (continuation counts) below;
 * with `needed`, only for histories in the set.
 */
function countCorpus(parts: string[], n: number, needed: Set<string> | null): OrderStats[] {
  const top = new Map<string, number>();
  const ext: Set<string>[] = Array.from({ length: n - 1 }, () => new Set<string>());
  for (const s of parts) {
    const len = s.length >> 1;
    for (let i = n - 1; i < len; i++) {
      for (let k = 1; k <= n; k++) {
        if (needed && !needed.has(s.slice(2 * (i - k + 1), 2 * i))) break;
        if (k === n) {
          const key = s.slice(2 * (i - n + 1), 2 * (i + 1));
          top.set(key, (top.get(key) ?? 0) + 1);
        } else ext[k - 1].add(s.slice(2 * (i - k), 2 * (i + 1)));
      }
    }
  }
  const stats: OrderStats[] = [];
  for (let k = 1; k < n; k++) {
    const counts = new Map<string, number>();
    for (const key of ext[k - 1]) {
      const gw = key.slice(2);
      counts.set(gw, (counts.get(gw) ?? 0) + 1);
    }
    ext[k - 1].clear();
    stats.push({ counts, hist: historyTotals(counts) });
  }
  stats.push({ counts: top, hist: historyTotals(top) });
  return stats;
}

function historyTotals(counts: Map<string, number>): Map<string, [number, number]> {
  const hist = new Map<string, [number, number]>();
  for (const [key, c] of counts) {
    const h = key.slice(0, key.length - 2);
    const e = hist.get(h);
    if (e) {
      e[0] += c;
      e[1]++;
    } else hist.set(h, [c, 1]);
  }
  return hist;
}

/** Ney's discount n1 / (n1 + 2 n2) of one order's counts; 0.5 when it has no singletons, 1 when no doubletons. */
export function neyDiscount(counts: Iterable<number>): number {
  let n1 = 0, n2 = 0;
  for (const c of counts) {
    if (c === 1) n1++;
    else if (c === 2) n2++;
  }
  if (n1 === 0) return 0.5;
  return n1 / (n1 + 2 * n2);
}

function resolveDiscounts(given: number | number[] | undefined, stats: OrderStats[], n: number): number[] {
  let out: number[];
  if (given === undefined) out = stats.map((s) => neyDiscount(s.counts.values()));
  else if (typeof given === "number") out = new Array(n).fill(given);
  else {
    if (given.length !== n) {
      throw new Error(`Option discounts has ${given.length} values; expected one per order (${n}).`);
    }
    out = given.slice();
  }
  for (const [k, d] of out.entries()) {
    if (!(d > 0 && d <= 1)) {
      throw new Error(`The discount of order ${k + 1} is ${d}; expected a number in (0, 1].`);
    }
  }
  return out;
}

/** Options of {@linkcode trainNgram}. */
export interface TrainNgramOptions extends NgramOptions {
  /**
   * With `restrictTo` and no `discounts`: estimate the discounts on a full model of the corpus's first
   * `discountSampleLines` lines (default 20,000).
   */
  discountSampleLines?: number;
}

/**
 * Train an n-gram model; with `restrictTo` and no `discounts`, the discounts come from a full model of a corpus
 * sample (the restricted counts alone would bias Ney's estimate).
 *
 * @example
 * ```ts
 * import { trainNgram } from "./ngram.ts";
 * const m = trainNgram(["a b a b ."], { unit: "char", order: 3 });
 * ```
 */
export function trainNgram(lines: readonly string[], opts: TrainNgramOptions = {}): NgramModel {
  if (opts.restrictTo && opts.discounts === undefined) {
    const sample = lines.slice(0, opts.discountSampleLines ?? 20_000);
    const full = NgramModel.train(sample, { ...opts, restrictTo: undefined });
    return NgramModel.train(lines, { ...opts, discounts: full.discounts });
  }
  return NgramModel.train(lines, opts);
}

/**
 * Parse an n-gram spec "word:5" / "char:10" (unit and order).
 *
 * @example
 * ```ts
 * import { parseNgramSpec } from "./ngram.ts";
 * parseNgramSpec("char:10"); // { unit: "char", order: 10 }
 * ```
 */
export function parseNgramSpec(spec: string): { unit: NgramUnit; order: number } {
  const m = /^(word|char):(\d+)$/.exec(spec.trim());
  if (!m || Number(m[2]) < 1) {
    throw new Error(
      `Option --ngram must be "word:N" or "char:N" with N ≥ 1 (e.g. word:5, char:10), got "${spec}".`,
    );
  }
  return { unit: m[1] as NgramUnit, order: Number(m[2]) };
}
