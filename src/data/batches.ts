/**
 * The language-model data pipeline of docs/data.md: tokenize each line separately, append EOS after every line,
 * concatenate, cut into non-overlapping windows, and serve (optionally shuffled) batches with a resumable position.
 *
 * @module
 */
import { Rng } from "../rng.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { DataError } from "./errors.ts";
import { writeFileAtomic } from "../results/atomic.ts";
import type { Batch as TokenBatch } from "../train/batch_source.ts";

/** Token-id array types used by the pipeline. */
export type IdArray = Int32Array | Uint16Array;

/** Options for {@linkcode tokenizeLines}. */
export interface TokenizeLinesOptions {
  /** Append `tok.eosId` after every line (default true; docs/data.md). */
  eos?: boolean;
  /** Output type (default "int32"); "uint16" needs vocabSize ≤ 65536. */
  dtype?: "int32" | "uint16";
  /** Called every `progressEvery` lines with the lines done so far. */
  onProgress?: (linesDone: number) => void;
  /** Report progress every this many lines (default 10,000). */
  progressEvery?: number;
}

/**
 * Tokenize each line separately, append EOS after each (so a blank line becomes a lone EOS), concatenate.
 *
 * @example
 * ```ts
 * import { tokenizeLines } from "./batches.ts";
 * import { Gpt2Tokenizer } from "../tokenizers/gpt2.ts";
 * const ids = tokenizeLines([" = Title = \n", ""], new Gpt2Tokenizer());
 * // Int32Array [..., 50256, 50256]
 * ```
 */
export function tokenizeLines(
  lines: Iterable<string>,
  tok: Tokenizer,
  opts: TokenizeLinesOptions = {},
): IdArray {
  const eos = opts.eos ?? true;
  const dtype = opts.dtype ?? "int32";
  if (eos && (tok.eosId === null || tok.eosId === undefined)) {
    throw new DataError(`Tokenizer "${tok.name}" has no EOS id; call tokenizeLines with { eos: false }.`);
  }
  if (dtype === "uint16" && tok.vocabSize > 65536) {
    throw new DataError(
      `Tokenizer "${tok.name}" has ${tok.vocabSize} ids, too many for dtype "uint16" (≤ 65536).`,
    );
  }
  if (dtype !== "int32" && dtype !== "uint16") {
    throw new DataError(`Unknown dtype "${dtype}": expected "int32" or "uint16".`);
  }
  let buf = new Int32Array(1 << 16);
  let n = 0;
  const push = (v: number) => {
    if (n === buf.length) {
      const nb = new Int32Array(buf.length * 2);
      nb.set(buf);
      buf = nb;
    }
    buf[n++] = v;
  };
  let count = 0;
  const every = opts.progressEvery ?? 10000;
  for (const line of lines) {
    for (const id of tok.encode(line)) push(id);
    if (eos) push(tok.eosId as number);
    count++;
    if (opts.onProgress && count % every === 0) opts.onProgress(count);
  }
  const out = buf.slice(0, n);
  return dtype === "uint16" ? Uint16Array.from(out) : out;
}

/** One training example: x and y are views of length T into the id array. */
export interface PackedItem {
  /** Inputs: ids[iT … iT + T). */
  x: IdArray;
  /** Next-token targets: ids[iT + 1 … iT + T + 1). */
  y: IdArray;
}

/**
 * Non-overlapping next-token windows: n_seq = ⌊(N−1)/T⌋, item i has x = ids[iT : iT+T], y = ids[iT+1 : iT+T+1].
 *
 * @example
 * ```ts
 * import { PackedDataset } from "./batches.ts";
 * const ds = new PackedDataset(Int32Array.from([0, 1, 2, 3, 4, 5, 6]), 3);
 * ds.length; // 2
 * ds.get(1); // { x: [3, 4, 5], y: [4, 5, 6] }
 * ```
 */
export class PackedDataset {
  /** The packed token ids. */
  readonly ids: IdArray;
  /** Window length T. */
  readonly seqLen: number;
  /** Number of windows, ⌊(N − 1)/T⌋. */
  readonly length: number;

  /** Pack `ids` into windows of `seqLen`; throws when `seqLen` is not a positive integer. */
  constructor(ids: IdArray, seqLen: number) {
    if (!Number.isInteger(seqLen) || seqLen < 1) {
      throw new DataError(`PackedDataset seqLen must be an integer ≥ 1, got "${seqLen}".`);
    }
    this.ids = ids;
    this.seqLen = seqLen;
    this.length = Math.max(0, Math.floor((ids.length - 1) / seqLen));
  }

  /** Item `i` as views (no copy). */
  get(i: number): PackedItem {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new DataError(`PackedDataset index "${i}" is outside [0, ${this.length}).`);
    }
    const s = i * this.seqLen;
    return { x: this.ids.subarray(s, s + this.seqLen), y: this.ids.subarray(s + 1, s + this.seqLen + 1) };
  }

  /** Stack items into row-major [B, T] Int32Arrays. */
  gather(indices: ArrayLike<number>): { x: Int32Array; y: Int32Array } {
    const T = this.seqLen;
    const x = new Int32Array(indices.length * T);
    const y = new Int32Array(indices.length * T);
    for (let b = 0; b < indices.length; b++) {
      const { x: xi, y: yi } = this.get(indices[b]);
      x.set(xi, b * T);
      y.set(yi, b * T);
    }
    return { x, y };
  }
}

/**
 * A batch of {@linkcode BatchIterator}: the library's one batch type (`Batch` of `src/train/batch_source.ts`:
 * row-major [batch, seqLen] int32 inputs and targets), so the trainer and every evaluator accept it, plus
 * where it comes from.
 */
export interface Batch extends TokenBatch {
  /** Rows in this batch (the last batch may be smaller when dropLast is false). */
  batch: number;
  /** The same number as `batch` (the field's former name, kept for existing code). */
  batchSize: number;
  /** Dataset item indices of the rows. */
  indices: Int32Array;
  /** Position of this batch: epoch and batch index within the epoch. */
  epoch: number;
  /** Batch index within `epoch`. */
  index: number;
}

/** Serialisable iterator position: the next batch to serve. */
export interface BatchPosition {
  /** Epoch of the next batch (0-based). */
  epoch: number;
  /** Index of the next batch within that epoch. */
  index: number;
}

/** Options for {@linkcode BatchIterator}. */
export interface BatchIteratorOptions {
  /** Rows per batch. */
  batchSize: number;
  /** Shuffle items each epoch (train: true; default false). */
  shuffle?: boolean;
  /** Drop the last partial batch (train: true; val: false; default false). */
  dropLast?: boolean;
  /** Seed of the per-epoch permutations (default 1337). */
  seed?: number;
  /** Start here (from a checkpoint). */
  position?: BatchPosition;
}

/**
 * Batches over a {@linkcode PackedDataset}. With `shuffle`, epoch e uses the permutation of a fresh
 * `Rng(seed, e)`-derived generator, so `{epoch, index}` alone is enough to resume exactly.
 *
 * @example
 * ```ts
 * import { BatchIterator, PackedDataset } from "./batches.ts";
 * const ds = new PackedDataset(new Int32Array(1001), 10);
 * const it = new BatchIterator(ds, { batchSize: 16, shuffle: true, dropLast: true, seed: 1337 });
 * for (const b of it.epoch()) { b.x; b.y; }   // one epoch, then it.position = { epoch: 1, index: 0 }
 * const saved = it.position;                   // store in a checkpoint
 * const resumed = new BatchIterator(ds, { batchSize: 16, shuffle: true, dropLast: true, position: saved });
 * ```
 */
export class BatchIterator {
  /** The dataset served. */
  readonly dataset: PackedDataset;
  /** Rows per batch. */
  readonly batchSize: number;
  /** Whether items are reshuffled every epoch. */
  readonly shuffle: boolean;
  /** Whether a final partial batch is dropped. */
  readonly dropLast: boolean;
  /** Seed of the per-epoch permutations. */
  readonly seed: number;
  #epoch = 0;
  #index = 0;
  #orderEpoch = -1;
  #order: Int32Array = new Int32Array(0);

  /** Serve batches of `dataset`, from `opts.position` when given; throws on invalid options. */
  constructor(dataset: PackedDataset, opts: BatchIteratorOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new DataError(`BatchIterator batchSize must be an integer ≥ 1, got "${opts.batchSize}".`);
    }
    this.dataset = dataset;
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle ?? false;
    this.dropLast = opts.dropLast ?? false;
    this.seed = opts.seed ?? 1337;
    if (opts.position) this.position = opts.position;
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The next batch to serve, as `{epoch, index}` (plain JSON). */
  get position(): BatchPosition {
    return { epoch: this.#epoch, index: this.#index };
  }

  set position(p: BatchPosition) {
    if (
      !p || !Number.isInteger(p.epoch) || !Number.isInteger(p.index) || p.epoch < 0 || p.index < 0 ||
      p.index > this.batchesPerEpoch
    ) {
      throw new DataError(
        `Invalid batch position ${
          JSON.stringify(p)
        }: expected { epoch ≥ 0, index in [0, ${this.batchesPerEpoch}] }.`,
      );
    }
    this.#epoch = p.epoch;
    this.#index = p.index;
    if (this.#index === this.batchesPerEpoch) {
      this.#epoch++;
      this.#index = 0;
    }
  }

  /** The item order of epoch `e` (identity without shuffle). */
  order(e: number): Int32Array {
    if (this.#orderEpoch !== e) {
      const n = this.dataset.length;
      if (this.shuffle) {
        const rng = new Rng(((this.seed >>> 0) ^ Math.imul(e + 1, 0x9e3779b1)) >>> 0);
        this.#order = rng.permutation(n);
      } else {
        this.#order = new Int32Array(n).map((_, i) => i);
      }
      this.#orderEpoch = e;
    }
    return this.#order;
  }

  /** Serve the next batch, rolling over to the next epoch at the end of one. Throws when the dataset is too small. */
  next(): Batch {
    const per = this.batchesPerEpoch;
    if (per === 0) {
      throw new DataError(
        `No batch can be made: ${this.dataset.length} sequences of length ${this.dataset.seqLen} with batchSize ${this.batchSize}${
          this.dropLast ? " and dropLast" : ""
        }.`,
      );
    }
    if (this.#index >= per) {
      this.#epoch++;
      this.#index = 0;
    }
    const order = this.order(this.#epoch);
    const start = this.#index * this.batchSize;
    const indices = order.slice(start, Math.min(start + this.batchSize, order.length));
    const { x, y } = this.dataset.gather(indices);
    const batch: Batch = {
      x,
      y,
      batch: indices.length,
      batchSize: indices.length,
      seqLen: this.dataset.seqLen,
      indices,
      epoch: this.#epoch,
      index: this.#index,
    };
    this.#index++;
    if (this.#index >= per) {
      this.#epoch++;
      this.#index = 0;
    }
    return batch;
  }

  /** The remaining batches of the current epoch (all of them from a fresh position). */
  *epoch(): Generator<Batch> {
    if (this.batchesPerEpoch === 0) return;
    const e = this.#epoch;
    while (this.#epoch === e) yield this.next();
  }
}

/**
 * Write ids as raw little-endian uint16 (nanoGPT-style `.bin`). Throws if an id does not fit.
 *
 * @example
 * ```ts
 * import { loadIds, saveIds } from "./batches.ts";
 * await saveIds("results/tmp/val.bin", Uint16Array.from([1, 2, 3]));
 * const ids = await loadIds("results/tmp/val.bin"); // Uint16Array [1, 2, 3]
 * ```
 */
export async function saveIds(path: string, ids: ArrayLike<number>): Promise<void> {
  const u16 = new Uint16Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (!Number.isInteger(v) || v < 0 || v > 65535) {
      throw new DataError(`Cannot save id "${v}" at position ${i} to "${path}" as uint16 (0..65535).`, {
        file: path,
      });
    }
    u16[i] = v;
  }
  const bytes = new Uint8Array(u16.length * 2);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < u16.length; i++) dv.setUint16(i * 2, u16[i], true);
  await writeFileAtomic(path, bytes);
}

/** Read a raw little-endian uint16 id file written by {@linkcode saveIds}. */
export async function loadIds(path: string): Promise<Uint16Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new DataError(
      `Cannot read the id file "${path}": ${(e as Error).message}; expected raw uint16 ids.`,
      { file: path, cause: e },
    );
  }
  if (bytes.length % 2 !== 0) {
    throw new DataError(
      `The id file "${path}" has ${bytes.length} bytes, not a multiple of 2; expected raw uint16 ids (truncated?).`,
      {
        file: path,
      },
    );
  }
  const out = new Uint16Array(bytes.length / 2);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(i * 2, true);
  return out;
}
