/**
 * The small data interface the trainer consumes, and {@linkcode ArrayBatchSource}, a simple implementation over
 * one packed token array with seeded shuffling (used in tests; real datasets adapt `src/data/batches.ts`).
 *
 * @module
 */
import { PackedDataset } from "../data/batches.ts";
import { Rng, type RngState } from "../rng.ts";

/** One batch: row-major [batch, seqLen] inputs and next-token targets (−100 = ignored). */
export interface Batch {
  /** Input ids, `batch × seqLen`, row-major. */
  x: Int32Array;
  /** Next-token target ids, `batch × seqLen` (−100 = ignored). */
  y: Int32Array;
  /** Rows B (the last batch of an epoch may be smaller). */
  batch: number;
  /** Columns T. */
  seqLen: number;
}

/**
 * A resumable stream of batches. `next()` returns null once at the end of each epoch; the following call
 * starts the next epoch (and increments `epoch`). `getState()` returns a JSON-serialisable snapshot (a copy)
 * from which `setState()` continues exactly.
 */
export interface BatchSource {
  /** The next batch, or null once at the end of each epoch. */
  next(): Batch | null;
  /** A JSON-serialisable copy of the position. */
  getState(): unknown;
  /** Continue exactly from a state of `getState()`. */
  setState(s: unknown): void;
  /** Epochs completed (0 during the first epoch). */
  readonly epoch: number;
  /** Batches per epoch, when known (used for progress totals and `epochs`-bounded schedules). */
  readonly length?: number;
  /** What the batches come from (e.g. a file), named in error messages. */
  readonly name?: string;
}

/** Options of {@linkcode ArrayBatchSource}. */
export interface ArrayBatchSourceOptions {
  /** Rows per batch. */
  batch: number;
  /** Tokens per row (T). */
  seqLen: number;
  /** Shuffle sequence order each epoch (default true). */
  shuffle?: boolean;
  /** Generator for the order, or a seed (default seed 1337). Its state is part of this source's state. */
  rng?: Rng | number;
  /** Drop the last partial batch (default false: it is returned smaller). */
  dropLast?: boolean;
  /** What the tokens come from (e.g. the training file), named in error messages. */
  name?: string;
}

/** Serialised {@linkcode ArrayBatchSource} position. */
export interface ArrayBatchSourceState {
  /** Epochs completed. */
  epoch: number;
  /** Next sequence within this epoch's order. */
  cursor: number;
  /** Generator state when this epoch's order was drawn (the order is redrawn from it on restore). */
  rngAtEpoch: RngState;
  /** Generator state now. */
  rng: RngState;
}

/**
 * Batches over a packed token array: sequence i is tokens[i·T … i·T+T] with targets shifted by one, for
 * ⌊(n−1)/T⌋ sequences; the order of sequences is a fresh seeded permutation every epoch.
 *
 * @example
 * ```ts
 * import { ArrayBatchSource } from "./batch_source.ts";
 * const src = new ArrayBatchSource(Int32Array.from({ length: 101 }, (_, i) => i % 7), { batch: 2, seqLen: 10, rng: 1 });
 * const b = src.next(); // { x: Int32Array(20), y: Int32Array(20), batch: 2, seqLen: 10 }
 * const saved = src.getState();
 * ```
 */
export class ArrayBatchSource implements BatchSource {
  /** The packed token array. */
  readonly tokens: Int32Array;
  /** Rows per batch. */
  readonly batch: number;
  /** Tokens per row (T). */
  readonly seqLen: number;
  /** Whether the sequence order is reshuffled every epoch. */
  readonly shuffle: boolean;
  /** Whether a final partial batch is dropped. */
  readonly dropLast: boolean;
  /** The generator of the order. */
  readonly rng: Rng;
  /** Number of sequences, ⌊(n − 1)/T⌋. */
  readonly numSequences: number;
  /** What the ids are (a file name, say), used in error messages. */
  readonly name?: string;
  #epoch = 0;
  #cursor = 0;
  #order: Int32Array;
  #rngAtEpoch: RngState;
  #dataset: PackedDataset;

  /** Batches over `tokens`; throws when the sizes are invalid or the tokens make no (full) batch. */
  constructor(tokens: Int32Array, opts: ArrayBatchSourceOptions) {
    const { batch, seqLen } = opts;
    if (!Number.isInteger(batch) || batch < 1) {
      throw new Error(`Batch size must be a positive integer, got "${batch}".`);
    }
    if (!Number.isInteger(seqLen) || seqLen < 1) {
      throw new Error(`seqLen must be a positive integer, got "${seqLen}".`);
    }
    this.name = opts.name;
    const what = opts.name ? `"${opts.name}"` : "the token array";
    this.tokens = tokens;
    this.batch = batch;
    this.seqLen = seqLen;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.rng = opts.rng instanceof Rng ? opts.rng : new Rng(opts.rng ?? 1337);
    this.#dataset = new PackedDataset(tokens, seqLen); // docs/data.md packing, one implementation (data/batches.ts)
    this.numSequences = this.#dataset.length;
    if (this.numSequences === 0) {
      throw new Error(
        `ArrayBatchSource: ${what} holds ${tokens.length} tokens${
          tokens.length === 0 ? " (is it empty?)" : ""
        }; ` +
          `expected at least ${seqLen + 1} (one sequence of seqLen ${seqLen} plus its next-token target).`,
      );
    }
    if (this.dropLast && this.numSequences < batch) {
      throw new Error(
        `ArrayBatchSource: ${what} makes ${this.numSequences} sequences of length ${seqLen}, no full batch ` +
          `of ${batch} (dropLast); expected at least ${batch * seqLen + 1} tokens, got ${tokens.length}.`,
      );
    }
    this.#rngAtEpoch = this.rng.getState();
    this.#order = this.#drawOrder();
  }

  /** Epochs completed (0 during the first). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Batches per epoch. */
  get length(): number {
    return this.dropLast
      ? Math.floor(this.numSequences / this.batch)
      : Math.ceil(this.numSequences / this.batch);
  }

  #drawOrder(): Int32Array {
    if (!this.shuffle) return Int32Array.from({ length: this.numSequences }, (_, i) => i);
    return this.rng.permutation(this.numSequences);
  }

  /** The next batch, or null once at the end of each epoch (the next call starts a new epoch). */
  next(): Batch | null {
    const left = this.numSequences - this.#cursor;
    if (left <= 0 || (this.dropLast && left < this.batch)) {
      this.#epoch++;
      this.#cursor = 0;
      this.#rngAtEpoch = this.rng.getState();
      this.#order = this.#drawOrder();
      return null;
    }
    const b = Math.min(this.batch, left);
    const { x, y } = this.#dataset.gather(this.#order.subarray(this.#cursor, this.#cursor + b));
    this.#cursor += b;
    return { x, y, batch: b, seqLen: this.seqLen };
  }

  /** The position: epoch, cursor and generator states. */
  getState(): ArrayBatchSourceState {
    return {
      epoch: this.#epoch,
      cursor: this.#cursor,
      rngAtEpoch: structuredClone(this.#rngAtEpoch),
      rng: this.rng.getState(),
    };
  }

  /** Continue exactly from `s`; throws on a malformed state. */
  setState(s: unknown): void {
    const st = s as ArrayBatchSourceState;
    if (!st || typeof st.epoch !== "number" || typeof st.cursor !== "number" || !st.rngAtEpoch || !st.rng) {
      throw new Error(`Invalid ArrayBatchSource state ${JSON.stringify(s)?.slice(0, 200)}.`);
    }
    if (st.cursor < 0 || st.cursor > this.numSequences) {
      throw new Error(`ArrayBatchSource state cursor "${st.cursor}" is outside 0..${this.numSequences}.`);
    }
    this.rng.setState(st.rngAtEpoch);
    this.#order = this.#drawOrder();
    this.rng.setState(st.rng);
    this.#rngAtEpoch = structuredClone(st.rngAtEpoch);
    this.#epoch = st.epoch;
    this.#cursor = st.cursor;
  }
}
