/**
 * Text for command-line runs: `--data` is a WikiText-style folder (a split is read from it by
 * `loadWikitext2`), a plain text file (one line per line), or absent (the Hugging Face Hub's WikiText-2).
 *
 * @example
 * ```ts
 * import { loadTextLines } from "./text_data.ts";
 * const { lines } = await loadTextLines("data/samples/wikitext-2", "test");
 * ```
 *
 * @module
 */
import { loadWikitext2 } from "../data/corpora.ts";
import { emptyFileError, readText, splitLines } from "../data/corpora.ts";
import { tokenizeLines } from "../data/batches.ts";
import type { Tokenizer } from "../tokenizers/types.ts";

/** Lines of text and where they came from. */
export interface TextLines {
  /** The lines (WikiText convention: non-blank lines end in "\n"). */
  lines: string[];
  /** The file read (or the Hub). */
  source: string;
}

async function isDirectory(path: string, flag = "--data"): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`Option ${flag}: "${path}" does not exist; expected a WikiText folder or a text file.`);
    }
    throw e;
  }
}

/**
 * The lines of one split: from a WikiText folder, a text file (the split is then ignored), or the Hub.
 * @throws Error naming the file when it is missing or holds no text.
 */
export async function loadTextLines(
  path: string | undefined,
  split: string,
  flag = "--data",
): Promise<TextLines> {
  if (path === undefined || await isDirectory(path, flag)) {
    const c = await loadWikitext2({ dir: path, split: split as "train" });
    return { lines: c.lines, source: c.files[0] };
  }
  const expected = "text (one example per line)";
  const lines = splitLines(await readText(path, expected), { hfStyle: true });
  if (!lines.some((l) => l.trim() !== "")) throw emptyFileError(path, lines.length, expected);
  return { lines, source: path };
}

/** Options of {@linkcode trainingText}. */
export interface TrainingTextOptions {
  /** `--data`: folder, file or undefined (Hub). */
  data?: string;
  /** `--valid_data` (default: --data's validation split; for a file, its held-out tail). */
  validData?: string;
  /** Split of --data to train on (folders and the Hub). */
  trainSplit: string;
  /** Split of the validation folder. */
  validSplit: string;
  /** Fraction of a single training file's lines held out for validation when no --valid_data is given. */
  validFraction: number;
}

/** The training and validation lines of a run. A single text file without --valid_data keeps its tail for validation. */
export async function trainingText(o: TrainingTextOptions): Promise<{ train: TextLines; valid: TextLines }> {
  const train = await loadTextLines(o.data, o.trainSplit);
  const fileOnly = o.data !== undefined && o.validData === undefined && !(await isDirectory(o.data));
  if (!fileOnly) {
    const flag = o.validData ? "--valid_data" : "--data";
    return { train, valid: await loadTextLines(o.validData ?? o.data, o.validSplit, flag) };
  }
  const cut = Math.floor(train.lines.length * (1 - o.validFraction));
  if (cut < 1 || cut >= train.lines.length) {
    throw new Error(
      `The file "${train.source}" has ${train.lines.length} lines, too few to hold out --valid_fraction ` +
        `${o.validFraction} for validation: pass --valid_data or a larger file.`,
    );
  }
  return {
    train: { lines: train.lines.slice(0, cut), source: `${train.source} (first ${cut} lines)` },
    valid: {
      lines: train.lines.slice(cut),
      source: `${train.source} (last ${train.lines.length - cut} lines)`,
    },
  };
}

/** Token ids of lines (an EOS id after each line when the tokenizer has one). */
export function linesToIds(lines: string[], tok: Tokenizer): Int32Array {
  return tokenizeLines(lines, tok, { eos: tok.eosId !== null }) as Int32Array;
}
