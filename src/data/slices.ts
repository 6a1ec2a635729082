/**
 * The mHC ablation's data (issue 12 item 2): training and in-domain validation ids cut from one corpus file, and
 * WikiText-2 valid as a second, out-of-domain validation set — or, where the Hub (or a local copy) has it, the real
 * WikiText-2 train and validation splits, as the reference trains (docs/data.md).
 *
 * Tokenization is the reference's: every line tokenized separately (WikiText convention: a non-blank line keeps its
 * trailing "\n", a blank line is ""), EOS appended after every line, all ids concatenated. A text file is
 * streamed: lines are decoded and tokenized as they arrive and reading stops as soon as `trainTokens +
 * validTokens` ids exist, so memory holds the ids, not the file.
 *
 * @module
 */
import { DataError, errorMessage } from "./errors.ts";
import { loadWikitext2 } from "./corpora.ts";
import { tokenizeLines } from "./batches.ts";
import type { HubClient } from "./hub.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { Gpt2Tokenizer } from "../tokenizers/gpt2.ts";

/** GPT-2 tokens of WikiText-2 raw train / validation (≈ 2.4 M and ≈ 0.25 M; docs/data.md). */
export const WIKITEXT2_TRAIN_TOKENS = 2_400_000;
/** GPT-2 tokens of WikiText-2 raw validation (≈ 0.25 M): the in-domain held-out slice's default size. */
export const WIKITEXT2_VALID_TOKENS = 260_000;

/** Options of {@linkcode sliceCorpusIds}. */
export interface CorpusSliceOptions {
  /** The text file (UTF-8, one paragraph or utterance per line). */
  file: string;
  /** Tokenizer (default GPT-2). */
  tokenizer?: Tokenizer;
  /** Training slice: the first `trainTokens` ids (default {@linkcode WIKITEXT2_TRAIN_TOKENS}). */
  trainTokens?: number;
  /** In-domain validation: the next `validTokens` ids (default {@linkcode WIKITEXT2_VALID_TOKENS}). */
  validTokens?: number;
}

/** Two disjoint, consecutive slices of one file's ids. */
export interface CorpusSlices {
  /** The first `trainTokens` ids. */
  train: Int32Array;
  /** The next `validTokens` ids. */
  valid: Int32Array;
  /** The file they come from. */
  file: string;
  /** Lines read (the last one may be split between the slices or only partly used). */
  linesRead: number;
}

function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new DataError(`Option ${name} must be a positive integer, got "${v}".`);
  }
}

/** The lines of a UTF-8 file, streamed (CRLF/CR → LF), in the WikiText form ("…\n" or "" for a blank line). */
async function* streamLines(file: string): AsyncGenerator<string> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DataError(`The corpus file "${file}" does not exist; expected a UTF-8 text file.`, { file });
    }
    throw new DataError(`Cannot open the corpus file "${file}": ${errorMessage(e)}.`, { file, cause: e });
  }
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let rest = "";
  const emit = (l: string) => (l.trim() === "" ? "" : l + "\n");
  try {
    for await (const chunk of f.readable) {
      let text: string;
      try {
        text = rest + decoder.decode(chunk, { stream: true });
      } catch (e) {
        throw new DataError(`The corpus file "${file}" is not valid UTF-8; expected a UTF-8 text file.`, {
          file,
          cause: e,
        });
      }
      // A chunk ending in "\r" may continue with "\n" (one CRLF): keep the "\r" for the next round.
      const hold = text.endsWith("\r") ? "\r" : "";
      const parts = (hold ? text.slice(0, -1) : text).replace(/\r\n?/g, "\n").split("\n");
      rest = parts.pop()! + hold;
      for (const p of parts) yield emit(p);
    }
    rest += decoder.decode();
    rest = rest.replace(/\r\n?/g, "\n");
    if (rest !== "") { for (const p of rest.replace(/\n$/, "").split("\n")) yield emit(p); }
  } finally {
    try {
      f.close();
    } catch { /* already closed by the stream */ }
  }
}

/**
 * The first `trainTokens` ids of a text file (training) and the next `validTokens` (in-domain validation),
 * disjoint and exact in size, tokenized as the reference does (each line separately, EOS after every line).
 *
 * @throws DataError naming the file, the ids found and the ids needed when the file is too short.
 * @example
 * ```ts
 * import { sliceCorpusIds } from "./slices.ts";
 * // const { train, valid } = await sliceCorpusIds({ file: "gutenberg_general.txt" }); // 2.4 M + 260 k GPT-2 ids
 * ```
 */
export async function sliceCorpusIds(opts: CorpusSliceOptions): Promise<CorpusSlices> {
  const nTrain = opts.trainTokens ?? WIKITEXT2_TRAIN_TOKENS;
  const nValid = opts.validTokens ?? WIKITEXT2_VALID_TOKENS;
  checkCount("trainTokens", nTrain);
  checkCount("validTokens", nValid);
  const tok = opts.tokenizer ?? new Gpt2Tokenizer();
  if (tok.eosId === null || tok.eosId === undefined) {
    throw new DataError(`Tokenizer "${tok.name}" has no EOS id; the reference appends EOS after every line.`);
  }
  const need = nTrain + nValid;
  const ids = new Int32Array(need);
  let n = 0, lines = 0;
  for await (const line of streamLines(opts.file)) {
    lines++;
    for (const id of tok.encode(line)) {
      if (n === need) break;
      ids[n++] = id;
    }
    if (n < need) ids[n++] = tok.eosId;
    if (n === need) break;
  }
  if (n < need) {
    throw new DataError(
      `The corpus file "${opts.file}" is too short: it gives ${n} ${tok.name} tokens (${lines} lines), but ` +
        `${nTrain} training + ${nValid} validation = ${need} are needed. Use a longer file or smaller ` +
        `trainTokens/validTokens.`,
      { file: opts.file },
    );
  }
  return { train: ids.subarray(0, nTrain), valid: ids.subarray(nTrain), file: opts.file, linesRead: lines };
}

/** Options of {@linkcode loadAblationData}. */
export interface AblationDataOptions extends Partial<Omit<CorpusSliceOptions, "file">> {
  /**
   * A text file to slice (training + in-domain validation). Without it, the real WikiText-2 raw train and
   * validation splits (from `wikitextDir` or the Hub), as the reference.
   */
  corpus?: string;
  /** Local WikiText-2 folder (see `loadWikitext2`); without it the Hub. */
  wikitextDir?: string;
  /** Hub client for WikiText-2 when there is no local folder. */
  hub?: HubClient;
  /** With `corpus`: also tokenize WikiText-2 valid as the out-of-domain set (default true). */
  outOfDomain?: boolean;
}

/** The ablation's ids. */
export interface AblationData {
  /** Training ids. */
  train: Int32Array;
  /** In-domain validation (the corpus's held-out slice, or WikiText-2 validation). */
  valid: Int32Array;
  /** WikiText-2 validation when training on another corpus; null when it is already `valid` or not asked for. */
  validOutOfDomain: Int32Array | null;
  /** Where each set came from, for results' provenance. */
  sources: { train: string; valid: string; validOutOfDomain: string | null };
}

/**
 * The ablation's training and validation ids: with `corpus`, the first 2.4 M tokens of that file, the next 260 k as
 * in-domain validation and WikiText-2 valid as out-of-domain validation; without it, WikiText-2 train/validation.
 *
 * @example
 * ```ts
 * import { loadAblationData } from "./slices.ts";
 * // const d = await loadAblationData({ corpus: "gutenberg_general.txt", wikitextDir: "data/wikitext-2" });
 * // d.train.length === 2_400_000; d.valid.length === 260_000; d.validOutOfDomain?.length; // ≈ 250 k
 * ```
 */
export async function loadAblationData(opts: AblationDataOptions = {}): Promise<AblationData> {
  const tok = opts.tokenizer ?? new Gpt2Tokenizer();
  const wikitext = async (split: "train" | "validation") => {
    const c = await loadWikitext2({ split, dir: opts.wikitextDir, hub: opts.hub });
    return { ids: Int32Array.from(tokenizeLines(c.lines, tok, { eos: true })), file: c.files[0] };
  };
  if (opts.corpus === undefined) {
    const [train, valid] = [await wikitext("train"), await wikitext("validation")];
    return {
      train: train.ids,
      valid: valid.ids,
      validOutOfDomain: null,
      sources: { train: train.file, valid: valid.file, validOutOfDomain: null },
    };
  }
  const s = await sliceCorpusIds({ ...opts, file: opts.corpus, tokenizer: tok });
  const ood = opts.outOfDomain === false ? null : await wikitext("validation");
  const n = s.train.length;
  return {
    train: s.train,
    valid: s.valid,
    validOutOfDomain: ood?.ids ?? null,
    sources: {
      train: `${s.file} ids [0, ${n})`,
      valid: `${s.file} ids [${n}, ${n + s.valid.length})`,
      validOutOfDomain: ood?.file ?? null,
    },
  };
}
