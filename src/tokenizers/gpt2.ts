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
const EOT = "<|endoftext|>";

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
  /** Tokenizer name. */
  readonly name = "gpt2";
  /** Number of ids (GPT-2, no padding). */
  readonly vocabSize = 50257;
  /** `<|endoftext|>`. */
  readonly eosId = 50256;
  readonly #allowSpecial: boolean;

  /** A GPT-2 tokenizer; see {@linkcode Gpt2TokenizerOptions}. */
  constructor(opts: Gpt2TokenizerOptions = {}) {
    this.#allowSpecial = opts.allowSpecial ?? false;
  }

  /** Text → BPE ids. */
  encode(text: string): number[] {
    if (!this.#allowSpecial || !text.includes(EOT)) return r50kEncode(text, NO_SPECIAL);
    // gpt-tokenizer 3.4's r50k allowedSpecial does not split on the special token, so split here.
    const out: number[] = [];
    text.split(EOT).forEach((part, i) => {
      if (i > 0) out.push(this.eosId);
      if (part) { for (const id of r50kEncode(part, NO_SPECIAL)) out.push(id); }
    });
    return out;
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
