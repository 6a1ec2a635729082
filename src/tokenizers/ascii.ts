/**
 * A 128-code ASCII character tokenizer with the cleaning of the character curriculum (docs/data.md): accented
 * letters folded to their base ASCII form (NFKD + combining marks removed, plus a small map for ß, æ, œ, ø,
 * typographic quotes and dashes), long runs of one repeated symbol removed, and any non-ASCII leftover dropped.
 *
 * Ids are the ASCII codes themselves. Code 0 (NUL) is reserved as EOS/BOS: it never comes out of `clean`, the
 * data pipeline appends it after each line, and `decode` skips it.
 *
 * @module
 */
import type { Tokenizer } from "./types.ts";

/** Options for {@linkcode AsciiTokenizer}. */
export interface AsciiTokenizerOptions {
  /** Fold accented letters and typographic punctuation to ASCII (default true); when false they are dropped. */
  foldAccents?: boolean;
  /**
   * Longest allowed run of one repeated symbol (a character that is neither a letter, a digit nor whitespace);
   * longer runs are handled per `symbolRunMode`. Default 3; `null` or `Infinity` keeps all runs.
   */
  maxSymbolRun?: number | null;
  /** What to do with a too-long symbol run: "remove" it entirely (default) or "truncate" it to `maxSymbolRun`. */
  symbolRunMode?: "remove" | "truncate";
  /** Turn "\r\n" and lone "\r" into "\n" (default true). */
  normalizeNewlines?: boolean;
  /** Keep control characters other than "\n" and "\t" (default false; NUL is always dropped). */
  keepControl?: boolean;
}

/** Non-decomposable letters and typographic characters, folded to ASCII before NFKD. */
const FOLD_MAP: Record<string, string> = {
  "ß": "ss",
  "ẞ": "SS",
  "æ": "ae",
  "Æ": "AE",
  "œ": "oe",
  "Œ": "OE",
  "ø": "o",
  "Ø": "O",
  "đ": "d",
  "Đ": "D",
  "ð": "d",
  "Ð": "D",
  "þ": "th",
  "Þ": "Th",
  "ł": "l",
  "Ł": "L",
  "ı": "i",
  "\u2018": "'",
  "\u2019": "'",
  "\u201a": "'",
  "\u201b": "'",
  "\u2032": "'",
  "\u201c": '"',
  "\u201d": '"',
  "\u201e": '"',
  "\u201f": '"',
  "\u2033": '"',
  "\u00ab": '"',
  "\u00bb": '"',
  "\u2039": "'",
  "\u203a": "'",
  "\u2010": "-",
  "\u2011": "-",
  "\u2012": "-",
  "\u2013": "-",
  "\u2014": "-",
  "\u2015": "-",
  "\u2212": "-",
  "\u2026": "...",
  "\u00a0": " ",
  "\u2009": " ",
  "\u200a": " ",
  "\u2002": " ",
  "\u2003": " ",
  "\u202f": " ",
  "\u2022": "*",
  "\u00b7": ".",
  "\u00d7": "x",
};
const FOLD_RE = new RegExp(`[${Object.keys(FOLD_MAP).join("")}]`, "g");

/**
 * Character-level tokenizer over the 128 ASCII codes (docs/data.md). EOS/BOS id = 0 (NUL).
 *
 * @example
 * ```ts
 * import { AsciiTokenizer } from "./ascii.ts";
 * const tok = new AsciiTokenizer();
 * tok.clean("Café “déjà vu” — naïve!!!!!"); // 'Cafe "deja vu" - naive'
 * tok.encode("Hi"); // [72, 105]
 * tok.decode([72, 105, 0]); // "Hi"
 * ```
 */
export class AsciiTokenizer implements Tokenizer {
  /** Tokenizer name. */
  readonly name = "ascii";
  /** Number of ids: the 128 ASCII codes. */
  readonly vocabSize = 128;
  /** NUL (0) is the EOS/BOS code; cleaned text never contains it. */
  readonly eosId = 0;
  /** The options in effect, defaults filled in. */
  readonly options: Required<Omit<AsciiTokenizerOptions, "maxSymbolRun">> & { maxSymbolRun: number | null };
  #runRe: RegExp | null;

  /** A tokenizer with the given cleaning options; throws on an invalid option. */
  constructor(opts: AsciiTokenizerOptions = {}) {
    const maxSymbolRun = opts.maxSymbolRun === undefined ? 3 : opts.maxSymbolRun;
    if (maxSymbolRun !== null && !(maxSymbolRun >= 1)) {
      throw new Error(`AsciiTokenizer maxSymbolRun must be ≥ 1, null or Infinity, got "${maxSymbolRun}".`);
    }
    const mode = opts.symbolRunMode ?? "remove";
    if (mode !== "remove" && mode !== "truncate") {
      throw new Error(`AsciiTokenizer symbolRunMode must be "remove" or "truncate", got "${mode}".`);
    }
    this.options = {
      foldAccents: opts.foldAccents ?? true,
      maxSymbolRun,
      symbolRunMode: mode,
      normalizeNewlines: opts.normalizeNewlines ?? true,
      keepControl: opts.keepControl ?? false,
    };
    this.#runRe = maxSymbolRun === null || !Number.isFinite(maxSymbolRun)
      ? null
      : new RegExp(`([^A-Za-z0-9\\s])\\1{${Math.floor(maxSymbolRun)},}`, "g");
  }

  /**
   * The cleaned ASCII text that `encode` tokenizes: folding, symbol-run removal, non-ASCII and control
   * characters dropped. Idempotent.
   */
  clean(text: string): string {
    let s = text;
    if (this.options.normalizeNewlines) s = s.replace(/\r\n?/g, "\n");
    if (this.options.foldAccents) {
      s = s.replace(FOLD_RE, (c) => FOLD_MAP[c]);
      s = s.normalize("NFKD").replace(/\p{M}/gu, "");
    }
    // deno-lint-ignore no-control-regex
    s = s.replace(/[^\x00-\x7f]/g, "");
    // deno-lint-ignore no-control-regex
    s = this.options.keepControl ? s.replace(/\x00/g, "") : s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
    if (this.#runRe) {
      const n = Math.floor(this.options.maxSymbolRun as number);
      s = this.options.symbolRunMode === "remove"
        ? s.replace(this.#runRe, "")
        : s.replace(this.#runRe, (m) => m.slice(0, n));
    }
    return s;
  }

  /** Clean, then map each character to its ASCII code. */
  encode(text: string): number[] {
    const s = this.clean(text);
    const out = new Array<number>(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  /** Codes → text; 0 (EOS/BOS) is skipped; an id outside [0, 128) throws. */
  decode(ids: number[]): string {
    let s = "";
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= 128) {
        throw new Error(`AsciiTokenizer cannot decode id "${id}": ids must be integers in [0, 128).`);
      }
      if (id !== 0) s += String.fromCharCode(id);
    }
    return s;
  }
}
