/**
 * Word milestones of a training run, named like the BabyLM checkpoint revisions (`chck_1M` … `chck_10M`), and the
 * words-per-token ratio that converts tokens seen into words seen (docs/blimp.md#learning-curves-by-words-seen).
 *
 * @module
 */
import type { Tokenizer } from "../tokenizers/types.ts";

/**
 * The BabyLM revision name of a word count: `chck_1M`, `chck_10M`, `chck_500K`, else `chck_<words>`.
 *
 * @example
 * ```ts
 * import { milestoneName } from "./blimp_milestones.ts";
 * milestoneName(3_000_000); // "chck_3M"
 * milestoneName(2_000); // "chck_2K"
 * ```
 */
export function milestoneName(words: number): string {
  if (words % 1_000_000 === 0) return `chck_${words / 1_000_000}M`;
  if (words % 1_000 === 0) return `chck_${words / 1_000}K`;
  return `chck_${words}`;
}

/** The words of a milestone name (inverse of {@linkcode milestoneName}), or null for another name. */
export function milestoneWords(name: string): number | null {
  const m = /^chck_(\d+(?:\.\d+)?)([MK]?)$/.exec(name);
  if (!m) return null;
  return Math.round(Number(m[1]) * (m[2] === "M" ? 1e6 : m[2] === "K" ? 1e3 : 1));
}

/**
 * Words per token of a corpus: whitespace-separated words of the lines over the tokens the tokenizer gives them
 * (plus one EOS per line when the tokenizer has one, as `tokenizeLines` packs them). The trainer multiplies
 * tokens seen by this ratio to place the word milestones.
 *
 * @example
 * ```ts
 * import { wordsPerToken } from "./blimp_milestones.ts";
 * import { getTokenizer } from "../tokenizers/types.ts";
 * wordsPerToken(["the cat"], getTokenizer("ascii")); // 2 words / (7 chars + EOS) = 0.25
 * ```
 */
export function wordsPerToken(lines: readonly string[], tokenizer: Tokenizer): number {
  let words = 0, tokens = 0;
  for (const l of lines) {
    words += l.split(/\s+/).filter(Boolean).length;
    tokens += tokenizer.encode(l).length + (tokenizer.eosId === null ? 0 : 1);
  }
  if (tokens === 0) throw new Error("wordsPerToken: the lines give no tokens.");
  return words / tokens;
}
