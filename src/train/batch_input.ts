/**
 * The batch sources that the trainer and every evaluator accept, and the checks every batch passes.
 *
 * One batch type, {@linkcode Batch} (`{ x, y, batch, seqLen }`, row-major int32 ids), and one set of sources,
 * {@linkcode Batches}:
 * - a {@linkcode BatchSource} (e.g. {@linkcode ArrayBatchSource}): `next()` gives null once at each epoch end;
 * - a `BatchIterator` of `src/data/batches.ts` (its epochs end where its `position.epoch` moves on);
 * - any iterable or async iterable of batches (an array, a generator): one pass = one epoch.
 * Batches that name their row count `batchSize` instead of `batch` are accepted too.
 *
 * @module
 */
import type { Batch, BatchSource } from "./batch_source.ts";

/** A batch as older code may spell it: `batchSize` instead of `batch`. */
export type BatchLike = Omit<Batch, "batch"> & { batch?: number; batchSize?: number };

/** The shape of a `BatchIterator` (`src/data/batches.ts`) that the adapters use. */
export interface BatchIteratorLike {
  /** The next batch, rolling over into the next epoch. */
  next(): BatchLike;
  /** The next batch to serve, `{ epoch, index }`. */
  position: { epoch: number; index: number };
  /** Batches per epoch. */
  readonly batchesPerEpoch: number;
}

/** Every source of batches that the trainer and the evaluators accept. */
export type Batches = BatchSource | BatchIteratorLike | Iterable<BatchLike> | AsyncIterable<BatchLike>;

/**
 * A resumable source whose `next()` may be asynchronous (async iterables); what {@linkcode toBatchSource}
 * returns. A {@linkcode BatchSource} is one.
 */
export interface PullSource {
  /** The next batch, or null once at the end of each epoch (possibly as a promise). */
  next(): Batch | null | Promise<Batch | null>;
  /** A JSON-serialisable copy of the position. */
  getState(): unknown;
  /** Continue exactly from a state of `getState()`. */
  setState(s: unknown): void;
  /** Epochs completed. */
  readonly epoch: number;
  /** Batches per epoch, when known. */
  readonly length?: number;
  /** The source's name (e.g. its file) for error messages. */
  readonly name?: string;
}

/**
 * The batch with its row count under `batch`.
 * @throws Error when neither `batch` nor `batchSize` is a number.
 */
export function normalizeBatch(b: BatchLike, where: string): Batch {
  if (b === null || typeof b !== "object") {
    throw new Error(`${where} is "${String(b)}"; expected a batch { x, y, batch, seqLen }.`);
  }
  if (typeof b.batch === "number") return b as Batch;
  if (typeof b.batchSize === "number") return { x: b.x, y: b.y, batch: b.batchSize, seqLen: b.seqLen };
  throw new Error(`${where} has no row count: expected a number in "batch" (or "batchSize").`);
}

/**
 * Check a batch's shape: positive integer `batch` and `seqLen`, and `batch × seqLen` inputs and targets.
 * @throws Error naming `where` and the sizes found.
 */
export function checkBatch(b: Batch, where: string): void {
  const n = b.batch * b.seqLen;
  if (!Number.isInteger(b.batch) || b.batch <= 0 || !Number.isInteger(b.seqLen) || b.seqLen <= 0) {
    throw new Error(`${where} has an invalid shape "${b.batch}×${b.seqLen}": expected positive integers.`);
  }
  if (!b.x || !b.y || b.x.length !== n || b.y.length !== n) {
    throw new Error(
      `${where} holds "${b.x?.length}" inputs and "${b.y?.length}" targets, but its shape ` +
        `${b.batch}×${b.seqLen} needs ${n} of each.`,
    );
  }
}

/**
 * Check that every input id is in [0, vocabSize) and every target in [0, vocabSize) or −100 (ignored).
 * @throws Error naming the id, its row and column, and the vocabulary size.
 */
export function checkTokenIds(b: Batch, vocabSize: number, where: string): void {
  const bad = (ids: ArrayLike<number>, ignore: boolean) => {
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i];
      if (!(v >= 0 && v < vocabSize && Number.isInteger(v)) && !(ignore && v === -100)) return i;
    }
    return -1;
  };
  for (const [ids, kind, ignore] of [[b.x, "input", false], [b.y, "target", true]] as const) {
    const i = bad(ids, ignore);
    if (i < 0) continue;
    throw new Error(
      `${where}: ${kind} id "${ids[i]}" at row ${Math.floor(i / b.seqLen)}, column ${
        i % b.seqLen
      } is outside ` +
        `the model's vocabulary [0, ${vocabSize}) (vocabSize ${vocabSize})` +
        `${
          ignore ? "; targets may also be −100 (ignored)" : ""
        }. Was the data tokenized for another vocabulary?`,
    );
  }
}

function isBatchSource(o: object): o is BatchSource {
  const s = o as Partial<BatchSource>;
  return typeof s.next === "function" && typeof s.getState === "function" && typeof s.setState === "function";
}

function isBatchIterator(o: object): o is BatchIteratorLike {
  const s = o as Partial<BatchIteratorLike>;
  return typeof s.next === "function" && "position" in s && typeof s.batchesPerEpoch === "number";
}

/**
 * Any of {@linkcode Batches} as a resumable {@linkcode PullSource} (a {@linkcode BatchSource} is returned as is).
 * @param what the argument's name for error messages, e.g. "train: `data`"
 * @example
 * ```ts
 * import { toBatchSource } from "./batch_input.ts";
 * const src = toBatchSource([{ x: Int32Array.of(1), y: Int32Array.of(2), batch: 1, seqLen: 1 }], "data");
 * src.next(); // the batch
 * src.next(); // null: the end of epoch 0
 * ```
 * @throws Error when `input` is none of them.
 */
export function toBatchSource(input: Batches, what: string): PullSource {
  if (input !== null && typeof input === "object") {
    if (isBatchSource(input)) return input;
    if (isBatchIterator(input)) return new IteratorSource(input);
    if (Symbol.asyncIterator in input || Symbol.iterator in input) {
      return new IterableSource(input as Iterable<BatchLike> | AsyncIterable<BatchLike>);
    }
  }
  throw new Error(
    `${what} is not a source of batches (got ${input === null ? "null" : typeof input}): expected a ` +
      `BatchSource (e.g. ArrayBatchSource), a BatchIterator, or an (async) iterable of { x, y, batch, seqLen }.`,
  );
}

/**
 * The batches of one epoch of `input` (what remains of the current one for a source already in use), checked.
 * @example
 * ```ts
 * import { epochBatches } from "./batch_input.ts";
 * // for await (const b of epochBatches(new ArrayBatchSource(ids, { batch: 8, seqLen: 256 }), "valid")) …
 * ```
 */
export async function* epochBatches(input: Batches, what: string): AsyncGenerator<Batch> {
  const src = toBatchSource(input, what);
  for (let i = 0;; i++) {
    const b = await src.next();
    if (b === null) return;
    checkBatch(b, `Batch ${i} of ${what}`);
    yield b;
  }
}

/** A `BatchIterator` as a {@linkcode BatchSource}: null once where its epoch moves on. */
class IteratorSource implements BatchSource {
  #epoch: number;
  constructor(readonly it: BatchIteratorLike) {
    this.#epoch = it.position.epoch;
  }
  get epoch(): number {
    return this.#epoch;
  }
  get length(): number {
    return this.it.batchesPerEpoch;
  }
  next(): Batch | null {
    const p = this.it.position;
    if (p.epoch > this.#epoch) {
      this.#epoch = p.epoch;
      return null;
    }
    return normalizeBatch(this.it.next(), `Batch ${p.index} of epoch ${p.epoch} of the BatchIterator`);
  }
  getState(): unknown {
    return { epoch: this.#epoch, position: this.it.position };
  }
  setState(s: unknown): void {
    const st = s as { epoch?: unknown; position?: { epoch: number; index: number } };
    if (!st || typeof st.epoch !== "number" || !st.position) {
      throw new Error(
        `Invalid BatchIterator state ${JSON.stringify(s)?.slice(0, 200)}: expected { epoch, position }.`,
      );
    }
    this.it.position = st.position;
    this.#epoch = st.epoch;
  }
}

/** An (async) iterable as a resumable source: one pass is one epoch; the state is { epoch, cursor }. */
class IterableSource implements PullSource {
  #epoch = 0;
  #cursor = 0;
  #skip = 0;
  #it: Iterator<BatchLike> | AsyncIterator<BatchLike> | null = null;
  readonly #async: boolean;
  constructor(readonly iterable: Iterable<BatchLike> | AsyncIterable<BatchLike>) {
    this.#async = Symbol.asyncIterator in iterable;
  }
  get epoch(): number {
    return this.#epoch;
  }
  get length(): number | undefined {
    return Array.isArray(this.iterable) ? this.iterable.length : undefined;
  }
  #open(): Iterator<BatchLike> | AsyncIterator<BatchLike> {
    return this.#async
      ? (this.iterable as AsyncIterable<BatchLike>)[Symbol.asyncIterator]()
      : (this.iterable as Iterable<BatchLike>)[Symbol.iterator]();
  }
  #take(r: IteratorResult<BatchLike>): Batch | null {
    if (r.done) {
      this.#epoch++;
      this.#cursor = 0;
      this.#it = null;
      return null;
    }
    return normalizeBatch(r.value, `Batch ${this.#cursor++} of epoch ${this.#epoch}`);
  }
  next(): Batch | null | Promise<Batch | null> {
    if (this.#async) return this.#nextAsync();
    if (!this.#it) this.#it = this.#open();
    const it = this.#it as Iterator<BatchLike>;
    for (; this.#skip > 0; this.#skip--) it.next();
    return this.#take(it.next());
  }
  async #nextAsync(): Promise<Batch | null> {
    if (!this.#it) this.#it = this.#open();
    const it = this.#it as AsyncIterator<BatchLike>;
    for (; this.#skip > 0; this.#skip--) await it.next();
    return this.#take(await it.next());
  }
  getState(): unknown {
    return { epoch: this.#epoch, cursor: this.#cursor };
  }
  setState(s: unknown): void {
    const st = s as { epoch?: unknown; cursor?: unknown };
    if (!st || !Number.isInteger(st.epoch) || !Number.isInteger(st.cursor)) {
      throw new Error(
        `Invalid iterable-source state ${JSON.stringify(s)?.slice(0, 200)}: expected { epoch, cursor }.`,
      );
    }
    this.#epoch = st.epoch as number;
    this.#cursor = this.#skip = st.cursor as number;
    this.#it = null;
  }
}
