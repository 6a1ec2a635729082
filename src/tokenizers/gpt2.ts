/**
 * The GPT-2 byte-level BPE tokenizer (r50k_base, 50,257 ids, EOS = `<|endoftext|>` = 50256), through the
 * `gpt-tokenizer` package. Matches HF `GPT2TokenizerFast` with `add_special_tokens=False` on ordinary text.
 *
 * @module
 */
import { decode as r50kDecode, encode as r50kEncode } from "gpt-tokenizer/encoding/r50k_base";
import type { Tokenizer } from "./types.ts";

/** Options for {@linkcode Gpt2Tokenizer}. */
export interface Gpt2TokenizerOptions {
  /**
   * When true, the literal text `<|endoftext|>` in the input becomes id 50256 (as HF's tokenizer does);
   * when false (default) it is encoded as ordinary characters.
   */
  allowSpecial?: boolean;
}

const NO_SPECIAL = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };
const EOT_SPECIAL = { allowedSpecial: new Set<string>(["<|endoftext|>"]), disallowedSpecial: new Set<string>() };

/**
 * GPT-2 tokenizer (r50k_base).
 *
 * @example
 * ```ts
 * import { Gpt2Tokenizer } from "./gpt2.ts";
 * const tok = new Gpt2Tokenizer();
 * tok.encode("Hello world"); // [15496, 995]
 * tok.decode([15496, 995, 50256]); // "Hello world<|endoftext|>"
 * ```
 */
export class Gpt2Tokenizer implements Tokenizer {
  readonly name = "gpt2";
  readonly vocabSize = 50257;
  readonly eosId = 50256;
  readonly #opts: typeof NO_SPECIAL;

  constructor(opts: Gpt2TokenizerOptions = {}) {
    this.#opts = opts.allowSpecial ? EOT_SPECIAL : NO_SPECIAL;
  }

  /** Text → BPE ids. */
  encode(text: string): number[] {
    return r50kEncode(text, this.#opts);
  }

  /** BPE ids → text (50256 decodes to "<|endoftext|>"). */
  decode(ids: number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= 50257) {
        throw new Error(`Gpt2Tokenizer cannot decode id "${id}": ids must be integers in [0, 50257).`);
      }
    }
    return r50kDecode(ids);
  }
}
