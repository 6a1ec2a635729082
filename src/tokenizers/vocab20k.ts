/**
 * A trainable word-level tokenizer with sub-word and character fallback, sized like the HSSM card's
 * `simple_tokenizer_20k.json` (20,000 entries; its file size suggests both token→id and id→token maps).
 *
 * - Pre-tokenisation: the GPT-2 split (contractions, a leading space glued to the following word / number /
 *   punctuation run, whitespace runs). Case is kept.
 * - Training keeps the 4 specials (`<pad>`=0, `<unk>`=1, `<bos>`=2, `<eos>`=3), then every character needed for
 *   fallback (printable ASCII, "\n", "\t" and the most frequent other characters seen, up to `maxChars`), then the
 *   most frequent pieces until `vocabSize` is reached (ties broken by the string, so training is deterministic).
 * - Encoding: a piece in the vocabulary is one id; otherwise it is cut greedily into the longest vocabulary
 *   prefixes, down to single characters; a character not in the vocabulary becomes `<unk>`.
 * - Round trip: `decode(encode(s)) === s` exactly whenever every character of `s` is in the vocabulary (always
 *   true for ASCII text). Lossy cases: characters outside the vocabulary decode as the text "<unk>"; the text
 *   "<pad>", "<bos>", "<eos>", "<unk>" inside the input is encoded as characters, never as specials.
 *
 * @module
 */
import type { Tokenizer } from "./types.ts";

/** The four special tokens and their fixed ids. */
export const VOCAB20K_SPECIALS = { pad: "<pad>", unk: "<unk>", bos: "<bos>", eos: "<eos>" } as const;

/** The GPT-2 pre-tokenisation pattern (Unicode-aware). */
export const GPT2_SPLIT_RE: RegExp =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Saved form of a {@linkcode Vocab20kTokenizer}. */
export interface Vocab20kJSON {
  /** Format tag. */
  type: "ssmlab-vocab20k";
  /** Format version. */
  version: 1;
  /** Number of ids. */
  vocab_size: number;
  /** The special tokens' strings. */
  specials: { pad: string; unk: string; bos: string; eos: string };
  /** Token string → id. */
  token_to_id: Record<string, number>;
  /** Id → token string. */
  id_to_token: string[];
}

/** Options for {@linkcode Vocab20kTokenizer.train}. */
export interface Vocab20kTrainOptions {
  /** Total entries including specials and characters (default 20000). */
  vocabSize?: number;
  /** Most characters to reserve for fallback, including printable ASCII (default 512). */
  maxChars?: number;
  /** Pieces seen fewer times are not added (default 1). */
  minFrequency?: number;
  /** Longest piece (in UTF-16 units) kept as a vocabulary entry (default 32). */
  maxPieceLength?: number;
}

/** Split text into GPT-2-style pieces; their concatenation is the text. */
export function preTokenize(text: string): string[] {
  return text.match(GPT2_SPLIT_RE) ?? [];
}

/**
 * Word-level tokenizer with character fallback (HSSM's "20k tokenizer"; docs/data.md).
 *
 * @example
 * ```ts
 * import { Vocab20kTokenizer } from "./vocab20k.ts";
 * const tok = Vocab20kTokenizer.train(["the cat sat on the mat\n", "the dog sat\n"], { vocabSize: 300 });
 * const ids = tok.encode("the cat sat\n");
 * tok.decode(ids); // "the cat sat\n"
 * const again = Vocab20kTokenizer.fromJSON(tok.toJSON());
 * ```
 */
export class Vocab20kTokenizer implements Tokenizer {
  /** Tokenizer name. */
  readonly name = "vocab20k";
  /** Number of ids. */
  readonly vocabSize: number;
  /** `<eos>`. */
  readonly eosId = 3;
  /** `<pad>`. */
  readonly padId = 0;
  /** `<unk>`: characters outside the vocabulary. */
  readonly unkId = 1;
  /** `<bos>`. */
  readonly bosId = 2;
  readonly #tokenToId: Map<string, number>;
  readonly #idToToken: string[];
  readonly #maxLen: number;
  readonly #cache = new Map<string, number[]>();

  private constructor(idToToken: string[]) {
    this.#idToToken = idToToken;
    this.#tokenToId = new Map();
    let maxLen = 1;
    for (let i = 0; i < idToToken.length; i++) {
      const t = idToToken[i];
      if (this.#tokenToId.has(t)) {
        throw new Error(
          `Vocab20k vocabulary has the token "${t}" twice (ids ${this.#tokenToId.get(t)} and ${i}).`,
        );
      }
      this.#tokenToId.set(t, i);
      if (i >= 4 && t.length > maxLen) maxLen = t.length;
    }
    this.#maxLen = maxLen;
    this.vocabSize = idToToken.length;
  }

  /** Train on lines of text (each line is pre-tokenised as it is, so keep its "\n" if it should be learned). */
  static train(lines: Iterable<string>, opts: Vocab20kTrainOptions = {}): Vocab20kTokenizer {
    const vocabSize = opts.vocabSize ?? 20000;
    const maxChars = opts.maxChars ?? 512;
    const minFrequency = opts.minFrequency ?? 1;
    const maxPieceLength = opts.maxPieceLength ?? 32;
    if (!Number.isInteger(vocabSize) || vocabSize < 4 + 97) {
      throw new Error(
        `Vocab20k vocabSize must be an integer ≥ 101 (4 specials + 97 ASCII characters), got "${vocabSize}".`,
      );
    }
    const pieceCounts = new Map<string, number>();
    const charCounts = new Map<string, number>();
    for (const line of lines) {
      for (const piece of preTokenize(line)) {
        pieceCounts.set(piece, (pieceCounts.get(piece) ?? 0) + 1);
      }
      for (const ch of line) charCounts.set(ch, (charCounts.get(ch) ?? 0) + 1);
    }
    const byCount = (a: [string, number], b: [string, number]) =>
      b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    const idToToken: string[] = [
      VOCAB20K_SPECIALS.pad,
      VOCAB20K_SPECIALS.unk,
      VOCAB20K_SPECIALS.bos,
      VOCAB20K_SPECIALS.eos,
    ];
    const seen = new Set(idToToken);
    const add = (t: string) => {
      if (!seen.has(t)) {
        seen.add(t);
        idToToken.push(t);
      }
    };
    // Fallback characters: printable ASCII, "\n", "\t", then the most frequent others.
    add("\n");
    add("\t");
    for (let c = 32; c < 127; c++) add(String.fromCharCode(c));
    const budgetChars = Math.min(maxChars, vocabSize - 4);
    for (const [ch] of [...charCounts].sort(byCount)) {
      if (idToToken.length - 4 >= budgetChars) break;
      if (ch.length > maxPieceLength) continue;
      add(ch);
    }
    for (const [piece, n] of [...pieceCounts].sort(byCount)) {
      if (idToToken.length >= vocabSize) break;
      if (n < minFrequency) break;
      if (piece.length > maxPieceLength) continue;
      add(piece);
    }
    return new Vocab20kTokenizer(idToToken);
  }

  /** Rebuild from {@linkcode Vocab20kTokenizer.toJSON} output (validates both maps agree). */
  static fromJSON(json: Vocab20kJSON): Vocab20kTokenizer {
    if (!json || json.type !== "ssmlab-vocab20k" || !Array.isArray(json.id_to_token)) {
      throw new Error(
        `Not a vocab20k JSON: expected { type: "ssmlab-vocab20k", id_to_token: [...] }, got type "${json?.type}".`,
      );
    }
    const s = json.id_to_token.slice(0, 4);
    const want = [VOCAB20K_SPECIALS.pad, VOCAB20K_SPECIALS.unk, VOCAB20K_SPECIALS.bos, VOCAB20K_SPECIALS.eos];
    if (s.join("|") !== want.join("|")) {
      throw new Error(
        `Vocab20k JSON must start with the specials ${want.join(", ")}, got "${s.join(", ")}".`,
      );
    }
    if (json.token_to_id) {
      for (const [t, id] of Object.entries(json.token_to_id)) {
        if (json.id_to_token[id] !== t) {
          throw new Error(
            `Vocab20k JSON maps disagree: token_to_id["${t}"] = ${id} but id_to_token[${id}] = "${
              json.id_to_token[id]
            }".`,
          );
        }
      }
    }
    return new Vocab20kTokenizer(json.id_to_token.slice());
  }

  /** Read a vocabulary JSON file synchronously. */
  static loadSync(path: string): Vocab20kTokenizer {
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (e) {
      throw new Error(`Cannot read the vocab20k file "${path}": ${(e as Error).message}.`);
    }
    try {
      return Vocab20kTokenizer.fromJSON(JSON.parse(text));
    } catch (e) {
      throw new Error(`The vocab20k file "${path}" is not a valid vocabulary: ${(e as Error).message}`);
    }
  }

  /** Read a vocabulary JSON file. */
  static async load(path: string): Promise<Vocab20kTokenizer> {
    await Deno.stat(path).catch((e) => {
      throw new Error(`Cannot read the vocab20k file "${path}": ${(e as Error).message}.`);
    });
    return Vocab20kTokenizer.loadSync(path);
  }

  /** Write the vocabulary JSON (both maps). */
  async save(path: string): Promise<void> {
    await Deno.writeTextFile(path, JSON.stringify(this.toJSON()));
  }

  /** Plain JSON with both token→id and id→token maps. */
  toJSON(): Vocab20kJSON {
    const token_to_id: Record<string, number> = {};
    this.#idToToken.forEach((t, i) => (token_to_id[t] = i));
    return {
      type: "ssmlab-vocab20k",
      version: 1,
      vocab_size: this.vocabSize,
      specials: { ...VOCAB20K_SPECIALS },
      token_to_id,
      id_to_token: this.#idToToken.slice(),
    };
  }

  /** The id of a token string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#tokenToId.get(token);
  }

  /** The token string of an id. */
  idToToken(id: number): string {
    const t = this.#idToToken[id];
    if (t === undefined) throw new Error(`Vocab20k id "${id}" is outside [0, ${this.vocabSize}).`);
    return t;
  }

  /** Text → ids (whole pieces, then longest-prefix sub-pieces, then characters, then `<unk>`). */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const piece of preTokenize(text)) {
      const id = this.#tokenToId.get(piece);
      if (id !== undefined && id >= 4) {
        out.push(id);
        continue;
      }
      let cached = this.#cache.get(piece);
      if (!cached) {
        cached = this.#split(piece);
        if (this.#cache.size > 100_000) this.#cache.clear();
        this.#cache.set(piece, cached);
      }
      for (const c of cached) out.push(c);
    }
    return out;
  }

  #split(piece: string): number[] {
    const ids: number[] = [];
    let i = 0;
    while (i < piece.length) {
      let found = -1;
      let len = Math.min(this.#maxLen, piece.length - i);
      for (; len >= 1; len--) {
        const id = this.#tokenToId.get(piece.slice(i, i + len));
        if (id !== undefined && id >= 4) {
          found = id;
          break;
        }
      }
      if (found >= 0) {
        ids.push(found);
        i += len;
      } else {
        // one code point (may be a surrogate pair) → <unk>
        const cp = piece.codePointAt(i)!;
        ids.push(this.unkId);
        i += cp > 0xffff ? 2 : 1;
      }
    }
    return ids;
  }

  /** Ids → text; `<pad>`, `<bos>`, `<eos>` decode to "" and `<unk>` to the text "<unk>". */
  decode(ids: number[]): string {
    let s = "";
    for (const id of ids) {
      const t = this.#idToToken[id];
      if (t === undefined || !Number.isInteger(id)) {
        throw new Error(
          `Vocab20kTokenizer cannot decode id "${id}": ids must be integers in [0, ${this.vocabSize}).`,
        );
      }
      if (id === this.unkId) s += t;
      else if (id >= 4) s += t;
    }
    return s;
  }
}
