/**
 * Streaming pretraining data (HSSM's "first N samples, one epoch, streamed" pipeline): a plain text corpus read
 * in order, a chunk of bytes at a time (never whole in memory), cut into samples, tokenized on the fly and packed
 * into batches. The position — sample index, byte offset and the tokens not yet emitted — is a small JSON state,
 * so a run resumes in the middle of the stream at the exact sample and token.
 *
 * Samples: `"paragraph"` (default) = a run of non-blank lines, joined by single spaces (hard-wrapped books such
 * as the Gutenberg stand-in); `"line"` = every non-blank line (one document per line); `"jsonl"` = the `text`
 * field of every non-blank line's JSON object (FineWeb-Edu rows exported as JSON lines).
 * A sample's tokens are followed by the tokenizer's end-of-sequence id.
 *
 * FineWeb-Edu itself streams from Hub parquet shards through `streamFineWebEdu` (src/data/corpora.ts); this module is
 * the same path over a local text file.
 *
 * @module
 */
import type { Batch, BatchSource } from "../train/batch_source.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { Vocab20kTokenizer } from "../tokenizers/vocab20k.ts";

/** How a text file is cut into samples. */
export type SampleUnit = "line" | "paragraph" | "jsonl";

/** Position of a {@linkcode TextSampleStream}: the next sample's index and byte offset. */
export interface StreamPosition {
  /** Samples read so far (index of the next one). */
  sample: number;
  /** Byte offset in the file where the next sample's search starts. */
  byte: number;
}

/** Options of {@linkcode TextSampleStream}. */
export interface TextSampleStreamOptions {
  /** `"paragraph"` (default), `"line"` or `"jsonl"`. */
  unit?: SampleUnit;
  /** The JSON field holding the text, with `unit: "jsonl"` (default "text"). */
  textField?: string;
  /** Stop after this many samples ("the first N samples"); default: the whole file. */
  maxSamples?: number;
  /** Bytes read per file access (default 1 MiB). */
  chunkBytes?: number;
}

const NL = 0x0a;

/**
 * The samples of a text file, in order, read a chunk at a time with a synchronous file handle.
 *
 * @example
 * ```ts
 * import { TextSampleStream } from "./stream.ts";
 * const s = new TextSampleStream("data/samples/babylm/gutenberg_children.train", { unit: "line", maxSamples: 3 });
 * s.next(); // first non-blank line
 * const at = s.position; // { sample: 1, byte: … }
 * s.close();
 * ```
 */
export class TextSampleStream {
  /** The file. */
  readonly path: string;
  /** How samples are cut. */
  readonly unit: SampleUnit;
  /** The sample limit (Infinity: whole file). */
  readonly maxSamples: number;
  readonly #chunk: number;
  readonly #field: string;
  #file: Deno.FsFile;
  #buf = new Uint8Array(0);
  #bufStart = 0; // byte offset of #buf[0]
  #pos = 0; // index into #buf of the next unread byte
  #eof = false;
  #sample = 0;
  readonly #decoder = new TextDecoder();

  /**
   * A stream of a file's samples, read in order a chunk at a time.
   * @param path a UTF-8 text file
   * @param opts unit, sample limit, chunk size
   */
  constructor(path: string, opts: TextSampleStreamOptions = {}) {
    this.path = path;
    this.unit = opts.unit ?? "paragraph";
    if (!["line", "paragraph", "jsonl"].includes(this.unit)) {
      throw new Error(`Option "unit" must be "line", "paragraph" or "jsonl", got "${this.unit}".`);
    }
    this.#field = opts.textField ?? "text";
    this.maxSamples = opts.maxSamples ?? Infinity;
    if (!(this.maxSamples >= 0)) {
      throw new Error(`Option "maxSamples" must be a non-negative integer, got "${opts.maxSamples}".`);
    }
    this.#chunk = opts.chunkBytes ?? 1 << 20;
    try {
      this.#file = Deno.openSync(path, { read: true });
    } catch (e) {
      throw new Error(`Cannot open the corpus "${path}": ${(e as Error).message}.`);
    }
  }

  /** The position of the next sample (JSON; give it to {@linkcode seek} to continue from there). */
  get position(): StreamPosition {
    return { sample: this.#sample, byte: this.#bufStart + this.#pos };
  }

  /** Continue from a position of {@linkcode position}. */
  seek(p: StreamPosition): void {
    if (!p || !Number.isInteger(p.sample) || !Number.isInteger(p.byte) || p.sample < 0 || p.byte < 0) {
      throw new Error(
        `Stream position for "${this.path}" must be { sample, byte } with non-negative integers, got ${
          JSON.stringify(p)
        }.`,
      );
    }
    this.#file.seekSync(p.byte, Deno.SeekMode.Start);
    this.#buf = new Uint8Array(0);
    this.#bufStart = p.byte;
    this.#pos = 0;
    this.#eof = false;
    this.#sample = p.sample;
  }

  /** The next line's text without its line end, or null at the end of the file. */
  #line(): string | null {
    for (;;) {
      const nl = this.#buf.indexOf(NL, this.#pos);
      if (nl >= 0 || (this.#eof && this.#pos < this.#buf.length)) {
        const end = nl >= 0 ? nl : this.#buf.length;
        const text = this.#decoder.decode(this.#buf.subarray(this.#pos, end));
        this.#pos = nl >= 0 ? nl + 1 : end;
        return text.endsWith("\r") ? text.slice(0, -1) : text;
      }
      if (this.#eof) return null;
      this.#fill();
    }
  }

  #fill(): void {
    const chunk = new Uint8Array(this.#chunk);
    const n = this.#file.readSync(chunk);
    if (n === null || n === 0) {
      this.#eof = true;
      return;
    }
    const rest = this.#buf.subarray(this.#pos);
    const next = new Uint8Array(rest.length + n);
    next.set(rest);
    next.set(chunk.subarray(0, n), rest.length);
    this.#bufStart += this.#pos;
    this.#buf = next;
    this.#pos = 0;
  }

  /** The next sample, or null after the last one (end of file or `maxSamples`). */
  next(): string | null {
    if (this.#sample >= this.maxSamples) return null;
    let line = this.#line();
    while (line !== null && line.trim() === "") line = this.#line();
    if (line === null) return null;
    if (this.unit === "jsonl") return this.#jsonSample(line);
    let sample = line.trim();
    if (this.unit === "paragraph") {
      for (let l = this.#line(); l !== null && l.trim() !== ""; l = this.#line()) sample += " " + l.trim();
    }
    this.#sample++;
    return sample;
  }

  #jsonSample(line: string): string {
    const at = `"${this.path}", sample ${this.#sample} (the line before byte ${this.position.byte})`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new Error(`${at} is not valid JSON: ${(e as Error).message}.`);
    }
    const text = (row as Record<string, unknown> | null)?.[this.#field];
    if (typeof text !== "string") {
      throw new Error(`${at} has no string field "${this.#field}" (expected one JSON object per line).`);
    }
    this.#sample++;
    return text;
  }

  /** Close the file. */
  close(): void {
    try {
      this.#file.close();
    } catch { /* already closed */ }
  }
}

/** Serialised {@linkcode StreamingBatchSource} position. */
export interface StreamingSourceState {
  /** Epochs completed. */
  epoch: number;
  /** The text stream's position. */
  stream: StreamPosition;
  /** Tokens read but not yet emitted (the next batch starts with them). */
  pending: number[];
  /** Samples of the completed epochs. */
  earlierSamples?: number;
}

/** Options of {@linkcode StreamingBatchSource}. */
export interface StreamingBatchSourceOptions {
  /** Rows per batch B. */
  batch: number;
  /** Tokens per row T. */
  seqLen: number;
  /** Name for messages (default: the corpus path). */
  name?: string;
}

/**
 * Batches packed from a {@linkcode TextSampleStream} in order: each sample's ids then the end-of-sequence id, in
 * one running token stream; row r of a batch is tokens [r·T, r·T + T] of what is pending (targets shifted by one),
 * so consecutive rows and batches are contiguous text. At the end of the stream, a last smaller batch takes the
 * full rows left; then `next()` returns null (one epoch) and the stream starts over.
 *
 * @example
 * ```ts
 * import { StreamingBatchSource, TextSampleStream } from "./stream.ts";
 * // const src = new StreamingBatchSource(new TextSampleStream("corpus.txt", { maxSamples: 1_500_000 }), tok,
 * //   { batch: 16, seqLen: 256 });
 * // train({ model, data: src, epochs: 1, outDir, saveEvery: 500, resume: true });
 * ```
 */
export class StreamingBatchSource implements BatchSource {
  /** What the batches come from. */
  readonly name: string;
  #epoch = 0;
  #pending: number[] = [];
  #earlierSamples = 0; // samples of completed epochs
  readonly #eos: number | null;

  /**
   * Batches of a sample stream, tokenized as they are read.
   * @param stream the samples, in order
   * @param tokenizer text → ids (its `eosId` separates samples)
   * @param opts batch size and row length
   */
  constructor(
    readonly stream: TextSampleStream,
    readonly tokenizer: Tokenizer,
    readonly opts: StreamingBatchSourceOptions,
  ) {
    for (const k of ["batch", "seqLen"] as const) {
      if (!Number.isInteger(opts[k]) || opts[k] < 1) {
        throw new Error(`Option "${k}" must be a positive integer, got "${opts[k]}".`);
      }
    }
    this.name = opts.name ?? stream.path;
    this.#eos = tokenizer.eosId;
  }

  /** Epochs completed. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Samples read from the stream so far, over all epochs. */
  get samplesRead(): number {
    return this.#earlierSamples + this.stream.position.sample;
  }

  /** The next batch, or null once at the end of the stream (the epoch). */
  next(): Batch | null {
    const { batch: B, seqLen: T } = this.opts;
    while (this.#pending.length < B * T + 1) {
      const s = this.stream.next();
      if (s === null) break;
      for (const id of this.tokenizer.encode(s)) this.#pending.push(id);
      if (this.#eos !== null) this.#pending.push(this.#eos);
    }
    const rows = Math.min(B, Math.floor((this.#pending.length - 1) / T));
    if (rows < 1) {
      this.#epoch++;
      this.#earlierSamples += this.stream.position.sample;
      this.#pending = [];
      this.stream.seek({ sample: 0, byte: 0 });
      return null;
    }
    const x = new Int32Array(rows * T), y = new Int32Array(rows * T);
    for (let i = 0; i < rows * T; i++) {
      x[i] = this.#pending[i];
      y[i] = this.#pending[i + 1];
    }
    this.#pending = this.#pending.slice(rows * T);
    return { x, y, batch: rows, seqLen: T };
  }

  /** A JSON copy of the position. */
  getState(): StreamingSourceState {
    return {
      epoch: this.#epoch,
      stream: this.stream.position,
      pending: this.#pending.slice(),
      earlierSamples: this.#earlierSamples,
    };
  }

  /** Continue exactly from a state of {@linkcode getState}. */
  setState(s: unknown): void {
    const st = s as StreamingSourceState;
    if (!st || !Number.isInteger(st.epoch) || !Array.isArray(st.pending) || !st.stream) {
      throw new Error(
        `Streaming source state for "${this.name}" must be { epoch, stream, pending }, got ${
          JSON.stringify(s)?.slice(0, 80)
        }.`,
      );
    }
    this.stream.seek(st.stream);
    this.#epoch = st.epoch;
    this.#pending = st.pending.slice();
    this.#earlierSamples = st.earlierSamples ?? 0;
  }
}

/**
 * Train the 20k word-level tokenizer on the first `samples` samples of a corpus (the start of the stream).
 *
 * @param path the corpus
 * @param opts sample count, vocabulary size, unit
 * @returns the trained tokenizer
 * @example
 * ```ts
 * import { trainTokenizerOnStream } from "./stream.ts";
 * const tok = trainTokenizerOnStream("data/samples/babylm/gutenberg_children.train", { samples: 50, vocabSize: 400 });
 * ```
 */
export function trainTokenizerOnStream(
  path: string,
  opts: { samples: number; vocabSize?: number; unit?: SampleUnit },
): Vocab20kTokenizer {
  const s = new TextSampleStream(path, { unit: opts.unit, maxSamples: opts.samples });
  const lines: string[] = [];
  try {
    for (let t = s.next(); t !== null; t = s.next()) lines.push(t);
  } finally {
    s.close();
  }
  if (lines.length === 0) throw new Error(`The corpus "${path}" has no samples to train the tokenizer on.`);
  return Vocab20kTokenizer.train(lines, { vocabSize: opts.vocabSize ?? 20000 });
}
