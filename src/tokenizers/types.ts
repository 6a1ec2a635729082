/**
 * The tokenizer interface shared by every model and data pipeline in ssmlab, and the
 * {@linkcode getTokenizer} factory.
 *
 * @module
 */
import { AsciiTokenizer, type AsciiTokenizerOptions } from "./ascii.ts";
import { Gpt2Tokenizer, type Gpt2TokenizerOptions } from "./gpt2.ts";
import { type Vocab20kJSON, Vocab20kTokenizer } from "./vocab20k.ts";

/**
 * A text ↔ token-id mapping.
 *
 * @example
 * ```ts
 * import { getTokenizer } from "./types.ts";
 * const tok = getTokenizer("gpt2");
 * tok.encode("Hello world"); // [15496, 995]
 * tok.decode([15496, 995]); // "Hello world"
 * ```
 */
export interface Tokenizer {
  /** Short name, e.g. "ascii", "gpt2", "vocab20k". */
  name: string;
  /** Number of ids; every id is in [0, vocabSize). */
  vocabSize: number;
  /** The end-of-sequence id appended between lines by the data pipeline, or null if there is none. */
  eosId: number | null;
  /** Text → ids. */
  encode(text: string): number[];
  /** Ids → text. */
  decode(ids: number[]): string;
}

/** The names {@linkcode getTokenizer} accepts. */
export type TokenizerName = "ascii" | "gpt2" | "vocab20k";

/** The tokenizer names {@linkcode getTokenizer} knows, in a stable order. */
export const TOKENIZER_NAMES: readonly TokenizerName[] = ["ascii", "gpt2", "vocab20k"];

/** Options for {@linkcode getTokenizer}; only the ones for the chosen tokenizer are read. */
export interface GetTokenizerOptions extends AsciiTokenizerOptions, Gpt2TokenizerOptions {
  /** vocab20k: path of a JSON file written by `Vocab20kTokenizer.save` (or `toJSON`). */
  path?: string;
  /** vocab20k: an already parsed vocabulary JSON. */
  json?: Vocab20kJSON;
}

/**
 * Build a tokenizer by name. `"vocab20k"` needs a trained vocabulary (`opts.path` or `opts.json`).
 *
 * @example
 * ```ts
 * import { getTokenizer } from "./types.ts";
 * const ascii = getTokenizer("ascii", { maxSymbolRun: 5 });
 * const gpt2 = getTokenizer("gpt2");
 * // const v20k = getTokenizer("vocab20k", { path: "results/vocab20k.json" });
 * ```
 */
export function getTokenizer(name: TokenizerName | string, opts: GetTokenizerOptions = {}): Tokenizer {
  switch (name) {
    case "ascii":
      return new AsciiTokenizer(opts);
    case "gpt2":
      return new Gpt2Tokenizer(opts);
    case "vocab20k": {
      if (opts.json) return Vocab20kTokenizer.fromJSON(opts.json);
      if (opts.path) return Vocab20kTokenizer.loadSync(opts.path);
      throw new Error(
        `Tokenizer "vocab20k" needs a trained vocabulary: pass { path } or { json }, or train one with Vocab20kTokenizer.train(lines).`,
      );
    }
    default:
      throw new Error(
        `Unknown tokenizer "${name}": expected one of ${TOKENIZER_NAMES.map((n) => `"${n}"`).join(", ")}.`,
      );
  }
}
