/**
 * Word milestones of a training run (polars-free, so GPU entries bundle it), named like the BabyLM checkpoint revisions (`chck_1M` … `chck_10M`), and the
 * words-per-token ratio that converts tokens seen into words seen (docs/blimp.md#learning-curves-by-words-seen).
 *
 * @module
 */
import { join } from "node:path";
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

/**
 * The BabyLM "fast" subset: the first `perParadigm` pairs of each paradigm (BabyLM's blimp_fast keeps 200).
 *
 * @example
 * ```ts
 * import { blimpFastSubset } from "./blimp_milestones.ts";
 * // blimpFastSubset(pairs, 20).length === 20 * 67
 * ```
 */
export function blimpFastSubset<P extends { uid: string }>(pairs: readonly P[], perParadigm = 200): P[] {
  if (!Number.isInteger(perParadigm) || perParadigm < 1) {
    throw new Error(`perParadigm must be a positive integer, got "${perParadigm}".`);
  }
  const seen = new Map<string, number>();
  return pairs.filter((p) => {
    const k = seen.get(p.uid) ?? 0;
    seen.set(p.uid, k + 1);
    return k < perParadigm;
  });
}

/** The `chck_*` word-milestone checkpoints of a run folder, fewest words first. */
export async function listMilestones(
  runDir: string,
): Promise<{ name: string; words: number; path: string }[]> {
  const out: { name: string; words: number; path: string }[] = [];
  try {
    for await (const e of Deno.readDir(runDir)) {
      const words = e.isDirectory ? milestoneWords(e.name) : null;
      if (words !== null) out.push({ name: e.name, words, path: join(runDir, e.name) });
    }
  } catch (e) {
    throw new Error(`Cannot read the run folder "${runDir}": ${(e as Error).message}`);
  }
  return out.sort((a, b) => a.words - b.words);
}
