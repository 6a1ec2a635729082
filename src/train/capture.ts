/**
 * Capture a training step once on the webgpu backend and replay it as one command buffer: the way CUDA graphs
 * remove PyTorch's launch cost. A {@linkcode TrainStep} runs the same kernels on the same shapes every step; here
 * its GPU commands are recorded while tfjs runs it, and later steps re-encode the recorded commands (no tfjs
 * kernel call, no shader-key lookup, no uniform upload, no bind-group creation) into one encoder and one submit.
 *
 * What a recording holds, per command, in order: compute dispatches (pipeline, bind group, workgroup counts) and
 * buffer copies. What changes per step lives in small buffers written before the submit:
 *
 * - token ids and targets: the capture's own input tensors, whose buffers each step overwrites;
 * - the AdamW scalars (step size lr/(1 − β₁ᵗ), √(1 − β₂ᵗ), decay 1 − lr·wd): the optimizer's 48-byte per-step
 *   buffer ({@linkcode AdamW.replayFusedUpdate});
 * - everything else a kernel reads is either written earlier in the step, a weight or moment (see below), a
 *   tensor alive through the whole capture (immutable in tfjs), or a constant: tfjs's uniforms and small
 *   uploads (scalars such as the gradient divisor) are moved to private buffers written once.
 *
 * The update runs in place: the recorded AdamW reads the weights and moments from the buffers the variables held
 * when the recording started and writes new ones; a replay ends with copies of the new values back into the old
 * buffers, so both hold the current values and the tfjs variables (which point at the new ones) are always up to
 * date on the GPU. Reads of a variable after a replay see the new values (host caches are dropped at each replay).
 *
 * Soundness:
 * - every buffer a recording touches is pinned: tfjs's pool never hands it out again while the capture lives;
 * - two consecutive steps are recorded (capture steps, which are real steps) and compared: same pipelines,
 *   workgroup counts, copies, uniform contents and uploaded constants. A difference means something per-step
 *   reached the GPU as a constant (a dropout seed, a learning rate in a tf-op optimizer): the step is then never
 *   replayed for that shape and runs through tfjs, with the reason in {@linkcode CapturedStep.fallbackReason};
 * - a buffer read before it is written must be a weight, a moment, an input, a constant or a tensor that lived
 *   through the capture; a host read during the step, a timestamp query or an unknown GPU command also refuse;
 * - before each replay the variables' data must be the ones recorded (a checkpoint load, `setState`, an
 *   uncaptured step or a freeze replaces them): otherwise the step is recorded again;
 * - a step whose shapes (micro-batch count, [B, T]) differ from the capture's runs uncaptured.
 *
 * Tensors that share a variable's data (`tf.clone(v)`) follow the replays; copy (`v.add(0)`) to keep a
 * snapshot. Memory: the capture keeps the buffers of one step's intermediates (what the pool held anyway) and
 * 2 × [B, T] int32 inputs; {@linkcode CapturedStep.pinnedBytes} reports them.
 *
 * @example
 * ```ts
 * import { TrainStep } from "./step.ts";
 * import { CapturedStep } from "./capture.ts";
 * // on webgpu: const cap = new CapturedStep(new TrainStep(model, { optimizer: { weightDecay: 0.1 } }));
 * // for (let s = 1; s <= n; s++) cap.issue({ micro: [batch], lr: lrAt(s), step: s }); // steps 1–2 record
 * // const stats = await cap.flush(); // one host read for every issued step
 * // cap.dispose();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type MicroBatch,
  type PendingStats,
  readStats,
  type StepInput,
  type StepModel,
  type StepStats,
  type TrainStep,
} from "./step.ts";
import type { PreparedGradients } from "./optim.ts";
import { assertFinite, TensorLeakGuard } from "./guards.ts";
import { fusedWebGPUActive } from "../nn/dispatch.ts";
import { seedWords } from "../nn/dropout_webgpu.ts";
import { Rng } from "../rng.ts";

// ---------------------------------------------------------------------------------------------------------------
// The WebGPU and tfjs-backend-webgpu objects used here (structural types).

interface GBuf {
  size: number;
  usage: number;
  destroy(): void;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
interface GPass {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface GEnc {
  copyBufferToBuffer(src: GBuf, so: number, dst: GBuf, dof: number, size: number): void;
  beginComputePass(d?: Record<string, unknown>): GPass;
  finish(): unknown;
}
interface GQueue {
  writeBuffer(
    b: GBuf,
    off: number,
    data: ArrayBuffer | ArrayBufferView,
    dataOff?: number,
    size?: number,
  ): void;
  submit(c: unknown[]): void;
  onSubmittedWorkDone(): Promise<void>;
}
interface GDevice {
  queue: GQueue;
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): GBuf;
  createCommandEncoder(): GEnc;
  createBindGroup(d: { entries: { resource: { buffer?: GBuf } }[] }): object;
}
interface TensorData {
  resource?: GBuf | null;
  values?: ArrayLike<number> | null;
  dtype: string;
  shape: number[];
}
interface BufferManager {
  freeBuffers: Map<string, GBuf[]>;
  usedBuffers: Map<string, GBuf[]>;
  numFreeBuffers: number;
  releaseBuffer(b: GBuf, reuse?: boolean): void;
}
interface Backend {
  device: GDevice;
  queue: GQueue;
  bufferManager: BufferManager;
  tensorMap: { get(id: object): TensorData; has(id: object): boolean };
  commandEncoder: GEnc | null;
  uploadToGPU(id: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  makeTensorInfo(shape: number[], dtype: string): tf.TensorInfo;
  makeUniforms(u: unknown): { offset: number; size: number; buffer: GBuf };
  recordAndSubmit(program: unknown, output: tf.TensorInfo, inputs: tf.TensorInfo[], u: unknown): void;
  read(id: object): Promise<unknown>;
  readSync(id: object): unknown;
}

const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, QUERY_RESOLVE: 0x200 } as const;
const MAP_READ_MODE = 0x1;
/** Recorded steps for one shape before two consecutive ones must agree. */
const MAX_RECORDED = 4;

function backend(): Backend {
  return tf.backend() as unknown as Backend;
}

function bufferOf(be: Backend, t: tf.TensorInfo): GBuf {
  be.uploadToGPU(t.dataId);
  const b = be.tensorMap.get(t.dataId).resource;
  if (!b) throw new Error(`CapturedStep: a tensor of shape [${t.shape}] has no GPU buffer.`);
  return b;
}

/** Submit what tfjs has encoded so far (so that our own submits come after it in queue order). */
function flushTfjs(be: Backend): void {
  be.endComputePassEncoder();
  if (be.commandEncoder) be.submitQueue();
}

// ---------------------------------------------------------------------------------------------------------------
// Pinning: buffers of a live capture never go back to tfjs's free pool.

const pins = new Map<GBuf, number>();
/** Pinned buffers that tfjs released (kept out of its free list until the last capture using them is gone). */
const parked = new Set<GBuf>();
const hooked = new WeakSet<BufferManager>();
let activeRecording: Recording | null = null;
/** Tensors held by live captures (their input copies), left out of the leak guards' counts. */
let ownedTensors = 0;

const poolKey = (b: GBuf) => `${b.size}_${b.usage}`;

function park(bm: BufferManager, b: GBuf): void {
  const list = bm.freeBuffers.get(poolKey(b));
  const i = list ? list.lastIndexOf(b) : -1;
  if (i < 0) return;
  list!.splice(i, 1);
  bm.numFreeBuffers--;
  parked.add(b);
}

function hookPool(bm: BufferManager): void {
  if (hooked.has(bm)) return;
  hooked.add(bm);
  const orig = bm.releaseBuffer;
  bm.releaseBuffer = function (this: BufferManager, b: GBuf, reuse = true) {
    orig.call(this, b, reuse);
    activeRecording?.released.add(b);
    if (reuse && pins.has(b)) park(this, b);
  };
}

function pin(bm: BufferManager, bufs: Iterable<GBuf>): void {
  for (const b of bufs) {
    pins.set(b, (pins.get(b) ?? 0) + 1);
    park(bm, b); // a buffer already in the free list leaves it
  }
}

function unpin(bm: BufferManager, bufs: Iterable<GBuf>): void {
  for (const b of bufs) {
    const n = (pins.get(b) ?? 1) - 1;
    if (n > 0) {
      pins.set(b, n);
      continue;
    }
    pins.delete(b);
    if (parked.delete(b)) {
      const key = poolKey(b);
      if (!bm.freeBuffers.has(key)) bm.freeBuffers.set(key, []);
      bm.freeBuffers.get(key)!.push(b);
      bm.numFreeBuffers++;
    }
  }
}

/** Pool buffers pinned by live captures, and those of them tfjs released (tests check both are 0 after dispose). */
export function capturePinnedBuffers(): { pinned: number; parked: number } {
  return { pinned: pins.size, parked: parked.size };
}

// ---------------------------------------------------------------------------------------------------------------
// Recording.

/** One recorded GPU command. */
type Item =
  | {
    kind: "dispatch";
    pipeline: unknown;
    group: unknown;
    x: number;
    y: number;
    z: number;
    /** Buffers read / written (a tfjs program: its inputs / its output; any other: every bound buffer). */
    reads: GBuf[];
    writes: GBuf[];
  }
  | { kind: "copy"; src: GBuf; srcOff: number; dst: GBuf; dstOff: number; size: number };

/** Records the GPU commands tfjs (and the fused kernels writing into its encoder) issue, while they run. */
class Recording {
  readonly items: Item[] = [];
  /** Uniform and upload contents, in order (compared between two recordings). */
  readonly consts: Uint8Array[] = [];
  /** Buffers created here (uniforms, constant sources), owned by the recording. */
  readonly own: GBuf[] = [];
  readonly released = new Set<GBuf>();
  readonly usedAtStart = new Set<GBuf>();
  /**
   * Dropout seeds drawn during the step (`Rng.seed()`), in order, each with the private source buffer of the
   * 2-word upload that carried it to the GPU: a replay draws the same generators again and rewrites them.
   */
  readonly seeds: { rng: Rng; v: number; src: GBuf | null; constIndex: number }[] = [];
  #draws = 0;
  failure: string | null = null;
  #paused = false;
  #groups = new WeakMap<object, GBuf[]>();
  #io: { out: GBuf; ins: GBuf[] } | null = null;
  #restore: (() => void)[] = [];

  constructor(readonly be: Backend) {}

  start(): void {
    const be = this.be, dev = be.device;
    for (const list of be.bufferManager.usedBuffers.values()) for (const b of list) this.usedAtStart.add(b);
    activeRecording = this;
    this.#patch(be, "ensureCommandEncoderReady", (orig) => () => {
      if (!be.commandEncoder) {
        orig();
        be.commandEncoder = this.#encoder(be.commandEncoder!);
      }
    });
    this.#patch(be, "makeUniforms", (orig) => (u: unknown) => this.#uniforms(orig, u));
    this.#patch(be, "uploadToGPU", (orig) => (id: object) => this.#upload(orig, id));
    this.#patch(
      be,
      "recordAndSubmit",
      (orig) => (program: unknown, output: tf.TensorInfo, inputs: tf.TensorInfo[], u: unknown) => {
        const td = (t: tf.TensorInfo) => be.tensorMap.get(t.dataId).resource!;
        this.#io = { out: td(output), ins: inputs.map(td) };
        try {
          orig(program, output, inputs, u);
        } finally {
          this.#io = null;
        }
      },
    );
    for (const name of ["read", "readSync"] as const) {
      this.#patch(be, name, (orig) => (id: object) => {
        if (!this.#paused) this.failure ??= "the step reads a tensor on the host";
        return orig(id);
      });
    }
    const proto = Rng.prototype as unknown as Record<string, (this: Rng) => number>;
    const nextU32 = proto.nextU32, seed = proto.seed;
    proto.nextU32 = function (this: Rng) {
      if (activeRecording && !activeRecording.#paused) activeRecording.#draws++;
      return nextU32.call(this);
    };
    proto.seed = function (this: Rng) {
      const v = seed.call(this);
      const r = activeRecording;
      if (r && !r.#paused) r.seeds.push({ rng: this, v, src: null, constIndex: -1 });
      return v;
    };
    this.#restore.push(() => {
      proto.nextU32 = nextU32;
      proto.seed = seed;
    });
    this.#patch(dev, "createBindGroup", (orig) => (d: { entries: { resource: { buffer?: GBuf } }[] }) => {
      const g = orig(d) as object;
      this.#groups.set(g, d.entries.flatMap((e) => (e.resource?.buffer ? [e.resource.buffer] : [])));
      return g;
    });
  }

  stop(): void {
    for (const r of this.#restore.reverse()) r();
    this.#restore = [];
    if (activeRecording === this) activeRecording = null;
    if (this.#draws !== this.seeds.length) {
      this.failure ??= "the step draws host random numbers other than dropout seeds (Rng.seed())";
    } else if (this.seeds.some((x) => x.src === null)) {
      this.failure ??= "a dropout seed reached the GPU other than as an uploaded [2] int32 tensor";
    }
  }

  /** Commands issued meanwhile are not recorded (our own reads and copies go through our own encoders). */
  pause(on: boolean): void {
    this.#paused = on;
  }

  /** Release what the recording owns (after its commands have been submitted). */
  dispose(): void {
    for (const b of this.own) b.destroy();
    this.own.length = 0;
  }

  #patch<O extends object, K extends string>(
    obj: O,
    key: K,
    make: (orig: (...a: any[]) => any) => (...a: any[]) => any,
  ): void {
    const o = obj as unknown as Record<string, unknown>;
    const had = Object.prototype.hasOwnProperty.call(o, key);
    const prev = o[key] as (...a: unknown[]) => unknown;
    o[key] = make((...a: unknown[]) => prev.apply(obj, a));
    this.#restore.push(() => {
      if (had) o[key] = prev;
      else delete o[key];
    });
  }

  /** A private buffer holding `bytes` (written at creation: no queue write can race anything). */
  #constant(bytes: Uint8Array, usage: number): GBuf {
    const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
    const b = this.be.device.createBuffer({ size, usage, mappedAtCreation: true });
    new Uint8Array(b.getMappedRange()).set(bytes);
    b.unmap();
    this.own.push(b);
    return b;
  }

  #uniforms(orig: (u: unknown) => { offset: number; size: number; buffer: GBuf }, u: unknown) {
    if (this.#paused) return orig(u);
    const q = this.be.queue as unknown as Record<string, unknown>;
    let bytes: Uint8Array | null = null;
    const had = Object.prototype.hasOwnProperty.call(q, "writeBuffer");
    const prev = q.writeBuffer;
    q.writeBuffer = (_b: GBuf, _o: number, data: ArrayBuffer, dOff = 0, size?: number) => {
      bytes = new Uint8Array(data.slice(dOff, size === undefined ? undefined : dOff + size));
    };
    let r;
    try {
      r = orig(u);
    } finally {
      if (had) q.writeBuffer = prev;
      else delete q.writeBuffer;
    }
    if (!bytes) {
      this.failure ??= "tfjs wrote its uniforms in a way this capture does not know";
      return r;
    }
    const b = bytes as Uint8Array;
    this.consts.push(b);
    // The pooled buffer tfjs took stays in its pending list (released at the next submit); ours is bound instead.
    return { offset: 0, size: r.size, buffer: this.#constant(b, USAGE.UNIFORM | USAGE.COPY_DST) };
  }

  #upload(orig: (id: object) => void, id: object): void {
    const td = this.be.tensorMap.get(id);
    if (this.#paused || td.resource != null || td.values == null) return orig(id);
    const n = td.values.length;
    const host = td.dtype === "float32" ? Float32Array.from(td.values) : Int32Array.from(td.values);
    const mark = this.items.length;
    orig(id);
    this.items.length = mark; // drop tfjs's staging copy (its buffer is destroyed after the submit)
    if (n === 0) return;
    const bytes = new Uint8Array(host.buffer);
    this.consts.push(bytes);
    const src = this.#constant(bytes, USAGE.COPY_SRC | USAGE.COPY_DST);
    this.items.push({ kind: "copy", src, srcOff: 0, dst: td.resource!, dstOff: 0, size: n * 4 });
    if (n === 2 && td.dtype === "int32") {
      const seed = this.seeds.find((x) => {
        if (x.src !== null) return false;
        const [a, b] = seedWords(x.v);
        return a === host[0] && b === host[1];
      });
      if (seed) {
        seed.src = src;
        seed.constIndex = this.consts.length - 1;
      }
    }
  }

  #encoder(real: GEnc): GEnc {
    const known: Record<string, unknown> = {
      copyBufferToBuffer: (src: GBuf, so: number, dst: GBuf, dof: number, size: number) => {
        if (!this.#paused) this.items.push({ kind: "copy", src, srcOff: so, dst, dstOff: dof, size });
        real.copyBufferToBuffer(src, so, dst, dof, size);
      },
      beginComputePass: (d?: Record<string, unknown>) => {
        if (d && d.timestampWrites) this.failure ??= "a timestamp query inside the step";
        return this.#pass(real.beginComputePass(d));
      },
      finish: () => real.finish(),
    };
    return new Proxy(real as object, {
      get: (target, prop) => {
        if (typeof prop === "string" && prop in known) return known[prop];
        const v = (target as Record<string | symbol, unknown>)[prop];
        if (typeof v !== "function") return v;
        if (!this.#paused) this.failure ??= `an unsupported GPU command (${String(prop)})`;
        return (v as (...a: unknown[]) => unknown).bind(target);
      },
    }) as GEnc;
  }

  #pass(real: GPass): GPass {
    let pipeline: unknown = null, group: unknown = null;
    const known: Record<string, unknown> = {
      setPipeline: (p: unknown) => {
        pipeline = p;
        real.setPipeline(p);
      },
      setBindGroup: (i: number, g: unknown) => {
        if (i !== 0) this.failure ??= "a bind group other than group 0";
        group = g;
        real.setBindGroup(i, g);
      },
      dispatchWorkgroups: (x: number, y = 1, z = 1) => {
        if (!this.#paused) {
          const io = this.#io;
          const all = this.#groups.get(group as object);
          if (!io && !all) this.failure ??= "a dispatch whose bind group was not seen";
          this.items.push({
            kind: "dispatch",
            pipeline,
            group,
            x,
            y,
            z,
            reads: io ? io.ins : all ?? [],
            writes: io ? [io.out] : all ?? [],
          });
        }
        real.dispatchWorkgroups(x, y, z);
      },
      end: () => real.end(),
    };
    return new Proxy(real as object, {
      get: (target, prop) => {
        if (typeof prop === "string" && prop in known) return known[prop];
        const v = (target as Record<string | symbol, unknown>)[prop];
        if (typeof v !== "function") return v;
        if (!this.#paused) this.failure ??= `an unsupported compute-pass command (${String(prop)})`;
        return (v as (...a: unknown[]) => unknown).bind(target);
      },
    }) as GPass;
  }
}

/** Why two recordings of consecutive steps differ, or null when they are the same program. */
function difference(a: Recording, b: Recording, updateA: number, updateB: number): string | null {
  if (a.items.length !== b.items.length) {
    return `the two recorded steps issue ${a.items.length} and ${b.items.length} GPU commands`;
  }
  if (updateA !== updateB) {
    return "the optimizer update starts at different commands in the two recorded steps";
  }
  for (let i = 0; i < a.items.length; i++) {
    const x = a.items[i], y = b.items[i];
    if (x.kind !== y.kind) {
      return `command ${i} is a ${x.kind} in one recorded step and a ${y.kind} in the other`;
    }
    if (x.kind === "dispatch" && y.kind === "dispatch") {
      if (x.pipeline !== y.pipeline || x.x !== y.x || x.y !== y.y || x.z !== y.z) {
        return `dispatch ${i} differs between the two recorded steps`;
      }
    } else if (x.kind === "copy" && y.kind === "copy") {
      if (x.size !== y.size || x.srcOff !== y.srcOff || x.dstOff !== y.dstOff) {
        return `copy ${i} differs between the two recorded steps`;
      }
    }
  }
  if (a.consts.length !== b.consts.length) {
    return "the two recorded steps upload different numbers of constants";
  }
  const seedsA = a.seeds.map((x) => x.constIndex).join(), seedsB = b.seeds.map((x) => x.constIndex).join();
  if (seedsA !== seedsB) return "the two recorded steps draw their dropout seeds differently";
  const seeds = new Set(a.seeds.map((x) => x.constIndex));
  for (let i = 0; i < a.consts.length; i++) {
    if (seeds.has(i)) continue; // rewritten by each replay
    const x = a.consts[i], y = b.consts[i];
    if (x.length !== y.length || x.some((v, j) => v !== y[j])) {
      return `uploaded constant ${i} (uniforms or a small tensor) differs between two steps: per-step data ` +
        "(a dropout seed, a learning rate outside the fused optimizer) would be frozen into the replay";
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics: every step's losses and gradient norm are copied into one device buffer, read in one host read.

interface StatsEntry {
  step: number;
  lr: number;
  micro: number;
  offset: number;
}

class StatsRing {
  #buf: GBuf | null = null;
  #cap = 0;
  #used = 0;
  /** Outgrown buffers: destroyed only after a read, as the encoder copying out of one may not be submitted yet. */
  #retired: GBuf[] = [];
  entries: StatsEntry[] = [];

  constructor(readonly dev: GDevice) {}

  /** Encode copies of `bufs` (one float each: the losses then the norm) into the next slot. */
  add(enc: GEnc, bufs: GBuf[], step: number, lr: number): void {
    this.#reserve(enc, bufs.length);
    const offset = this.#used;
    bufs.forEach((b, i) => enc.copyBufferToBuffer(b, 0, this.#buf!, (offset + i) * 4, 4));
    this.#used += bufs.length;
    this.entries.push({ step, lr, micro: bufs.length - 1, offset });
  }

  /** Encode a copy of the first `floats` floats of `buf` into the next slot (an entry of `floats` values). */
  addBlock(enc: GEnc, buf: GBuf, floats: number): void {
    this.#reserve(enc, floats);
    const offset = this.#used;
    enc.copyBufferToBuffer(buf, 0, this.#buf!, offset * 4, floats * 4);
    this.#used += floats;
    this.entries.push({ step: 0, lr: 0, micro: floats, offset });
  }

  #reserve(enc: GEnc, n: number): void {
    if (this.#used + n <= this.#cap) return;
    const cap = Math.max(256, 2 * (this.#used + n));
    const buf = this.dev.createBuffer({ size: cap * 4, usage: USAGE.COPY_SRC | USAGE.COPY_DST });
    if (this.#buf && this.#used) enc.copyBufferToBuffer(this.#buf, 0, buf, 0, this.#used * 4);
    // Not destroyed now: a submit of `enc` (which copies out of it) would then be invalid and dropped whole.
    if (this.#buf) this.#retired.push(this.#buf);
    this.#buf = buf;
    this.#cap = cap;
  }

  /** One host read of every pending entry as step statistics; they are removed. */
  async read(): Promise<StepStats[]> {
    const { entries, vals } = await this.readRaw();
    return entries.map((e) => {
      let sum = 0;
      for (let k = 0; k < e.micro; k++) sum += vals[e.offset + k];
      const gradNorm = vals[e.offset + e.micro];
      return { step: e.step, loss: sum / e.micro, gradNorm, lr: e.lr, microBatches: e.micro };
    });
  }

  /** One host read of every pending entry (the raw floats); they are removed. */
  async readRaw(): Promise<{ entries: StatsEntry[]; vals: Float32Array }> {
    const entries = this.entries, n = this.#used;
    this.entries = [];
    this.#used = 0;
    if (entries.length === 0) return { entries, vals: new Float32Array(0) };
    const staging = this.dev.createBuffer({ size: n * 4, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    try {
      const enc = this.dev.createCommandEncoder();
      enc.copyBufferToBuffer(this.#buf!, 0, staging, 0, n * 4);
      this.dev.queue.submit([enc.finish()]);
      await staging.mapAsync(MAP_READ_MODE);
      const vals = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      for (const b of this.#retired) b.destroy(); // every command using them has run
      this.#retired = [];
      return { entries, vals };
    } finally {
      staging.destroy();
    }
  }

  dispose(): void {
    this.#buf?.destroy();
    this.#buf = null;
    for (const b of this.#retired) b.destroy();
    this.#retired = [];
    this.#cap = this.#used = 0;
    this.entries = [];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A captured program.

/** The replayable form of one recorded step. */
class Program {
  /** Dispatches per replay. */
  readonly dispatches: number;
  /** Bytes of the pool buffers the program keeps from reuse. */
  readonly pinnedBytes: number;
  readonly #bufs: Set<GBuf>;

  constructor(
    readonly be: Backend,
    readonly rec: Recording,
    readonly updateAt: number,
    /** The capture's own input tensors (ids, targets per micro-batch), rewritten each replay. */
    readonly inputs: tf.Tensor[],
    /** State variables and the dataIds they must still hold. */
    readonly state: { v: tf.Variable; id: object }[],
    /** New value → old buffer copies ending each replay. */
    readonly copyBack: { from: GBuf; to: GBuf }[],
    /** Losses and norm buffers, copied into the statistics after each replay's forward/backward. */
    readonly stats: GBuf[],
  ) {
    this.dispatches = rec.items.filter((i) => i.kind === "dispatch").length;
    const own = new Set(rec.own);
    this.#bufs = new Set<GBuf>();
    const add = (b: GBuf) => {
      if (!own.has(b)) this.#bufs.add(b);
    };
    for (const it of rec.items) {
      if (it.kind === "copy") [it.src, it.dst].forEach(add);
      else [...it.reads, ...it.writes].forEach(add);
    }
    for (const t of inputs) add(bufferOf(be, t));
    for (const c of copyBack) [c.from, c.to].forEach(add);
    stats.forEach(add);
    pin(be.bufferManager, this.#bufs);
    ownedTensors += inputs.length;
    // The recorded update read the old buffers, which still hold the values from before it: bring them up to date.
    const enc = be.device.createCommandEncoder();
    this.encodeCopyBack(enc);
    be.queue.submit([enc.finish()]);
    this.pinnedBytes = [...this.#bufs].reduce((s, b) => s + b.size, 0);
  }

  /** Whether every state variable still holds the data recorded. */
  valid(): boolean {
    return this.state.every((s) => !s.v.isDisposed && s.v.dataId === s.id);
  }

  /**
   * Write the step's inputs into the program's input buffers (queue writes, or copies into `enc`), and draw the
   * step's dropout seeds from the recorded generators, in the recorded order (so the generators advance as in
   * an uncaptured step), into their upload sources.
   */
  writeInputs(enc: GEnc, micro: readonly MicroBatch[]): void {
    for (const sd of this.rec.seeds) {
      this.be.queue.writeBuffer(sd.src!, 0, Int32Array.from(seedWords(sd.rng.seed())));
    }
    micro.forEach((m, i) => {
      for (const [k, t] of [[0, m.ids], [1, m.targets]] as const) {
        const own = this.inputs[2 * i + k];
        const dst = bufferOf(this.be, own);
        if (t.dataId === own.dataId) continue;
        const td = this.be.tensorMap.get(t.dataId);
        if (td.values != null) this.be.queue.writeBuffer(dst, 0, Int32Array.from(td.values));
        else enc.copyBufferToBuffer(bufferOf(this.be, t), 0, dst, 0, t.size * 4);
      }
    });
  }

  /**
   * Encode commands [from, to) of the recording. With `ts`, the pass holding the range's first dispatch writes
   * timestamp 0 at its start and the pass holding its last dispatch timestamp 1 at its end.
   */
  encode(
    enc: GEnc,
    from: number,
    to: number,
    ts?: { querySet: unknown; begin: boolean; end: boolean },
  ): void {
    const items = this.rec.items;
    let first = -1, last = -1;
    if (ts) {
      for (let i = from; i < to; i++) {
        if (items[i].kind !== "dispatch") continue;
        if (first < 0) first = i;
        last = i;
      }
    }
    let pass: GPass | null = null, pipeline: unknown = null;
    for (let i = from; i < to; i++) {
      const it = items[i];
      if (it.kind === "copy") {
        if (pass) {
          pass.end();
          pass = null;
        }
        enc.copyBufferToBuffer(it.src, it.srcOff, it.dst, it.dstOff, it.size);
        continue;
      }
      if (!pass) {
        let desc: Record<string, unknown> | undefined;
        if (ts) {
          let end = i;
          while (end < to && items[end].kind === "dispatch") end++;
          const w: Record<string, unknown> = { querySet: ts.querySet };
          if (ts.begin && i === first) w.beginningOfPassWriteIndex = 0;
          if (ts.end && last >= i && last < end) w.endOfPassWriteIndex = 1;
          if (Object.keys(w).length > 1) desc = { timestampWrites: w };
        }
        pass = enc.beginComputePass(desc);
        pipeline = null;
      }
      if (it.pipeline !== pipeline) pass.setPipeline(pipeline = it.pipeline);
      pass.setBindGroup(0, it.group);
      pass.dispatchWorkgroups(it.x, it.y, it.z);
    }
    pass?.end();
  }

  encodeCopyBack(enc: GEnc): void {
    for (const c of this.copyBack) enc.copyBufferToBuffer(c.from, 0, c.to, 0, c.from.size);
  }

  /** The reverse of {@linkcode Program.encodeCopyBack}: old buffers (the values before a step) → new ones. */
  encodeRestore(enc: GEnc): void {
    for (const c of this.copyBack) enc.copyBufferToBuffer(c.to, 0, c.from, 0, c.from.size);
  }

  /** Drop host copies of the state (a read before this replay cached them). */
  dropHostCaches(): void {
    for (const s of this.state) {
      if (!this.be.tensorMap.has(s.id)) continue; // replaced since (the program is no longer valid)
      const td = this.be.tensorMap.get(s.id);
      if (td && td.resource) td.values = null;
    }
  }

  dispose(): void {
    tf.dispose(this.inputs);
    ownedTensors -= this.inputs.length;
    unpin(this.be.bufferManager, this.#bufs);
    this.rec.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** What the captured step did so far (benchmarks and tests read it). */
export interface CaptureCounts {
  /** Steps recorded through tfjs (two per capture). */
  recorded: number;
  /** Steps replayed. */
  replayed: number;
  /** Steps run through tfjs without recording (other shapes, or a step that cannot be captured). */
  uncaptured: number;
  /** Captures made (a new one after the variables were replaced). */
  captures: number;
}

/**
 * A {@linkcode TrainStep} captured on its second step and replayed from its third (see the module notes). The same
 * contract as the step: {@linkcode CapturedStep.run} (checked: the NaN guard before the update, nothing applied
 * when it throws) and {@linkcode CapturedStep.issue} + {@linkcode CapturedStep.flush} (deferred: one host read for
 * every issued step). Off webgpu, or with the fused optimizer off, every step runs uncaptured.
 */
export class CapturedStep {
  /** The step captured (the caller's; its model and optimizer are used, never disposed here). */
  readonly step: TrainStep;
  /** Counts of recorded, replayed and uncaptured steps. */
  readonly counts: CaptureCounts = { recorded: 0, replayed: 0, uncaptured: 0, captures: 0 };
  #program: Program | null = null;
  #signature = "";
  #probe: { rec: Recording; updateAt: number; sig: string; attempts: number } | null = null;
  #lastStep = 0;
  #lastReason: string | null = null;
  #refused = new Map<string, string>();
  #ring: StatsRing | null = null;
  #leak: TensorLeakGuard;
  #lastEncodeMs = 0;
  #lastSubmitMs = 0;
  #pendingEager: PendingStats[] = [];

  /**
   * A capture of `step` (nothing is recorded until its first steps run).
   * @param step the step to capture
   * @param opts `leakCheck` as in {@linkcode TrainStep} (default true)
   */
  constructor(step: TrainStep, opts: { leakCheck?: boolean | number } = {}) {
    this.step = step;
    const lc = opts.leakCheck ?? true;
    this.#leak = new TensorLeakGuard(lc === false ? Infinity : typeof lc === "number" ? lc : 0);
  }

  /** Dispatches one replay encodes (0 before a capture). */
  get dispatches(): number {
    return this.#program?.dispatches ?? 0;
  }

  /** Bytes of pool buffers kept out of reuse by the capture. */
  get pinnedBytes(): number {
    return this.#program?.pinnedBytes ?? 0;
  }

  /**
   * Host milliseconds spent encoding the last replay, its input writes included (0 before one; for a checked
   * {@linkcode CapturedStep.run}, its two submits included).
   */
  get lastEncodeMs(): number {
    return this.#lastEncodeMs;
  }

  /**
   * Host milliseconds of the last replay's `queue.submit` call(s) (on a software adapter this includes running
   * the commands; on a hardware one it is the driver's submit cost).
   */
  get lastSubmitMs(): number {
    return this.#lastSubmitMs;
  }

  /** Why steps of this shape are not replayed, or null (shape = the signature of `input`). */
  fallbackReason(input?: StepInput): string | null {
    return input ? this.#refused.get(signature(input)) ?? null : this.#lastReason;
  }

  /** Steps issued and not read yet. */
  get pending(): number {
    return (this.#ring?.entries.length ?? 0) + this.#pendingEager.length;
  }

  /**
   * One checked step (the contract of {@linkcode TrainStep.run}): its losses and gradient norm are read (one
   * host read) before the update, which is skipped when either is not finite.
   * @throws NonFiniteError (no update applied); TensorLeakError; Error when issued steps are not read yet.
   */
  async run(input: StepInput): Promise<StepStats> {
    if (this.pending) {
      throw new Error(
        `CapturedStep.run: ${this.pending} issued step(s) are not read yet; call flush() first.`,
      );
    }
    const plan = this.#plan(input);
    this.#checkLeaks(input);
    if (plan === "replay") return await this.#replayChecked(input);
    const ctx = this.#begin(input, plan);
    let stats: StepStats;
    try {
      stats = await this.#readStats(ctx);
      assertFinite(input.step, stats.loss, stats.gradNorm);
    } catch (e) {
      this.#abort(ctx);
      throw e;
    }
    this.#end(ctx, false);
    return stats;
  }

  /**
   * One deferred step (the contract of {@linkcode TrainStep.issue}): no host read; a replay is one submit.
   * Synchronous.
   * @throws TensorLeakError when the previous step leaked tensors.
   */
  issue(input: StepInput): void {
    const plan = this.#plan(input);
    this.#checkLeaks(input);
    if (plan !== "replay") {
      const ctx = this.#begin(input, plan);
      this.#end(ctx, true);
      return;
    }
    const p = this.#program!, be = p.be;
    flushTfjs(be);
    const t0 = performance.now();
    const cmd = this.#encodeReplay(p, input, null).finish();
    const t1 = performance.now();
    be.queue.submit([cmd]);
    p.dropHostCaches();
    this.#lastEncodeMs = t1 - t0;
    this.#lastSubmitMs = performance.now() - t1;
    this.counts.replayed++;
  }

  /** A whole replay in one encoder (with timestamps around its passes when `querySet` is given). */
  #encodeReplay(p: Program, input: StepInput, querySet: unknown | null): GEnc {
    const be = p.be;
    const enc = be.device.createCommandEncoder();
    p.writeInputs(enc, input.micro);
    const ts = querySet ? { querySet, begin: true, end: false } : undefined;
    p.encode(enc, 0, p.updateAt, ts);
    this.#ringOf(be).add(enc, p.stats, input.step, input.lr);
    p.encode(enc, p.updateAt, p.rec.items.length, ts && { ...ts, begin: p.updateAt === 0, end: true });
    p.encodeCopyBack(enc);
    this.step.optimizer.replayFusedUpdate(input.lr, this.step.gradClip); // a queue write before the submit
    return enc;
  }

  /**
   * Benchmark helper: one deferred replay of `input` (its statistics pending for {@linkcode CapturedStep.flush}),
   * timed: host encode ms; submit-to-done ms on an idle queue; and GPU ms between timestamps written at the
   * start of its first pass and the end of its last where the device has 'timestamp-query' (else null).
   * @returns null (nothing run) when the step would not be a replay: not captured yet, or another shape.
   */
  async timeReplay(
    input: StepInput,
  ): Promise<{ encodeMs: number; submitToDoneMs: number; gpuMs: number | null } | null> {
    if (this.#plan(input) !== "replay") return null;
    this.#checkLeaks(input);
    const p = this.#program!,
      be = p.be,
      dev = be.device as GDevice & {
        features?: { has(f: string): boolean };
        createQuerySet?(d: { type: string; count: number }): { destroy(): void };
      };
    flushTfjs(be);
    await be.queue.onSubmittedWorkDone();
    const qs = dev.features?.has("timestamp-query") && dev.createQuerySet
      ? dev.createQuerySet({ type: "timestamp", count: 2 })
      : null;
    const t0 = performance.now();
    const enc = this.#encodeReplay(p, input, qs) as GEnc & {
      resolveQuerySet(q: unknown, first: number, n: number, dst: GBuf, off: number): void;
    };
    let resolve: GBuf | null = null, read: GBuf | null = null;
    if (qs) {
      resolve = dev.createBuffer({ size: 16, usage: USAGE.QUERY_RESOLVE | USAGE.COPY_SRC });
      read = dev.createBuffer({ size: 16, usage: USAGE.MAP_READ | USAGE.COPY_DST });
      enc.resolveQuerySet(qs, 0, 2, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
    }
    const t1 = performance.now();
    be.queue.submit([enc.finish()]);
    await be.queue.onSubmittedWorkDone();
    const t2 = performance.now();
    p.dropHostCaches();
    this.counts.replayed++;
    this.#lastEncodeMs = t1 - t0;
    let gpuMs: number | null = null;
    if (read) {
      await read.mapAsync(MAP_READ_MODE);
      const t = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      gpuMs = Number(t[1] - t[0]) / 1e6;
      [read, resolve!].forEach((b) => b.destroy());
      qs!.destroy();
    }
    return { encodeMs: t1 - t0, submitToDoneMs: t2 - t1, gpuMs };
  }

  async #replayChecked(input: StepInput): Promise<StepStats> {
    const p = this.#program!, be = p.be;
    flushTfjs(be);
    const t0 = performance.now();
    const enc = be.device.createCommandEncoder();
    p.writeInputs(enc, input.micro);
    p.encode(enc, 0, p.updateAt);
    this.#ringOf(be).add(enc, p.stats, input.step, input.lr);
    be.queue.submit([enc.finish()]);
    this.#lastEncodeMs = performance.now() - t0;
    const [stats] = await this.#ring!.read();
    try {
      assertFinite(input.step, stats.loss, stats.gradNorm);
    } catch (e) {
      // The forward and backward commands may have used the buffers the update writes (the variables' current
      // ones) as scratch: bring back the values from before the step, which the old buffers still hold.
      const enc3 = be.device.createCommandEncoder();
      p.encodeRestore(enc3);
      be.queue.submit([enc3.finish()]);
      p.dropHostCaches();
      throw e;
    }
    const t1 = performance.now();
    this.step.optimizer.replayFusedUpdate(input.lr, this.step.gradClip);
    const enc2 = be.device.createCommandEncoder();
    p.encode(enc2, p.updateAt, p.rec.items.length);
    p.encodeCopyBack(enc2);
    be.queue.submit([enc2.finish()]);
    p.dropHostCaches();
    this.#lastEncodeMs += performance.now() - t1;
    this.counts.replayed++;
    return stats;
  }

  /**
   * Read every issued step's statistics in one host read (two when uncaptured steps are pending too), oldest
   * first; then the NaN guard.
   * @throws NonFiniteError naming the first step whose loss or norm is not finite (its update was applied).
   */
  async flush(): Promise<StepStats[]> {
    const eager = this.#pendingEager;
    this.#pendingEager = [];
    const out: StepStats[] = this.#ring ? await this.#ring.read() : [];
    if (eager.length) {
      try {
        out.push(...await readStats(eager));
      } finally {
        for (const p of eager) tf.dispose([...p.losses, p.norm]);
      }
    }
    out.sort((a, b) => a.step - b.step);
    for (const s of out) assertFinite(s.step, s.loss, s.gradNorm, true);
    return out;
  }

  /**
   * Make the tfjs variables current for a read, an evaluation or a checkpoint: every submitted replay has run
   * and no host copy of a weight is stale. (Replays already write the variables' own buffers; this waits for
   * them.)
   */
  async sync(): Promise<void> {
    const p = this.#program;
    if (!p) return;
    flushTfjs(p.be);
    p.dropHostCaches();
    await p.be.queue.onSubmittedWorkDone();
  }

  /** Release the capture (its pinned buffers go back to tfjs's pool) and pending statistics; not the step. */
  dispose(): void {
    this.#dropProgram();
    this.#probe?.rec.dispose();
    this.#probe = null;
    this.#ring?.dispose();
    this.#ring = null;
    for (const p of this.#pendingEager) tf.dispose([...p.losses, p.norm]);
    this.#pendingEager = [];
  }

  #ringOf(be: Backend): StatsRing {
    this.#ring ??= new StatsRing(be.device);
    return this.#ring;
  }

  #dropProgram(): void {
    this.#program?.dispose();
    this.#program = null;
  }

  /** Replay, record (a probe, then the program), or run uncaptured. */
  #plan(input: StepInput): "replay" | "record" | "eager" {
    checkInput(input);
    const sig = signature(input);
    if (!fusedWebGPUActive() || this.#refused.has(sig)) return "eager";
    if (this.#program && this.#signature === sig && this.#program.valid()) return "replay";
    if (this.#program && this.#signature === sig) this.#dropProgram(); // the variables were replaced
    if (this.#program && this.#signature !== sig) return "eager"; // another shape: keep the capture
    return "record";
  }

  #checkLeaks(input: StepInput): void {
    const first = this.#lastStep === 0;
    this.#lastStep = input.step;
    if (first) return; // lazily made state (the fused optimizer's scratch) may appear in the first step
    const inputs = new Set(input.micro.flatMap((m) => [m.ids.id, m.targets.id])).size;
    const kept = this.#pendingEager.reduce((s, p) => s + p.losses.length + 1, 0) + ownedTensors;
    this.#leak.check(input.step, inputs + kept);
  }

  /**
   * The first half of a step through tfjs (recorded when `plan` is "record"): gradients, the flat gradient and
   * its norm; the statistics are copied out (unrecorded) when recording.
   */
  #begin(input: StepInput, plan: "record" | "eager"): StepCtx {
    const be = backend();
    if (plan === "eager") {
      this.counts.uncaptured++;
      const { losses, p } = this.#forward(input.micro);
      return { input, be, losses, p, rec: null };
    }
    hookPool(be.bufferManager);
    this.counts.recorded++;
    // The capture's own inputs (the caller keeps theirs), copied before the recording.
    const own = tf.tidy(() =>
      input.micro.flatMap((m) => [m.ids, m.targets]).map((t) => t.add(tf.scalar(0, "int32")))
    );
    for (const t of own) bufferOf(be, t);
    const micro = input.micro.map((_, i) => ({
      ids: own[2 * i] as tf.Tensor2D,
      targets: own[2 * i + 1] as tf.Tensor2D,
    }));
    const vars = this.#stateVars();
    for (const v of vars) bufferOf(be, v);
    flushTfjs(be);
    const rec = new Recording(be);
    const ctx: StepCtx = {
      input,
      be,
      losses: [],
      p: null,
      rec,
      own,
      vars,
      before: new Map(vars.map((v) => [v, bufferOf(be, v)])),
      fusedWrites: this.step.optimizer.captureState().fusedWrites,
    };
    rec.start();
    try {
      const { losses, p } = this.#forward(micro);
      ctx.losses = losses;
      ctx.p = p;
      flushTfjs(be);
      rec.pause(true);
      ctx.statBufs = [...losses, p.norm].map((t) => bufferOf(be, t));
      const enc = be.device.createCommandEncoder();
      this.#ringOf(be).add(enc, ctx.statBufs, input.step, input.lr);
      be.queue.submit([enc.finish()]);
    } catch (e) {
      this.#abort(ctx);
      throw e;
    }
    return ctx;
  }

  /** Gradients, then the flat gradient and its norm (TrainStep's first half). */
  #forward(micro: readonly MicroBatch[]): { losses: tf.Scalar[]; p: PreparedGradients } {
    const { losses, grads } = this.step.gradients(micro);
    try {
      return { losses, p: this.step.optimizer.prepareGradients(grads, { divisor: micro.length }) };
    } catch (e) {
      tf.dispose(losses);
      throw e;
    } finally {
      tf.dispose([...grads.values()]);
    }
  }

  /** The statistics of a begun step (one host read). */
  async #readStats(ctx: StepCtx): Promise<StepStats> {
    const { input } = ctx;
    if (ctx.rec) return (await this.#ring!.read())[0];
    const all = tf.stack([...ctx.losses, ctx.p!.norm]);
    try {
      const vals = await all.data() as Float32Array;
      const n = ctx.losses.length;
      const loss = vals.slice(0, n).reduce((a, b) => a + b, 0) / n;
      return { step: input.step, loss, gradNorm: vals[n], lr: input.lr, microBatches: n };
    } finally {
      all.dispose();
    }
  }

  /** Release a begun step without applying it. */
  #abort(ctx: StepCtx): void {
    ctx.rec?.stop();
    ctx.p?.dispose();
    tf.dispose(ctx.losses);
    if (ctx.own) tf.dispose(ctx.own);
    ctx.rec?.dispose();
    if (ctx.rec && this.#ring) {
      this.#ring.entries = this.#ring.entries.filter((e) => e.step !== ctx.input.step);
    }
  }

  /** The second half: the clipped update (recorded), then, when recording, the capture's analysis. */
  #end(ctx: StepCtx, deferred: boolean): void {
    const { input, be, rec } = ctx;
    try {
      rec?.pause(false);
      ctx.updateAt = rec?.items.length ?? 0;
      this.step.optimizer.applyPrepared(ctx.p!, input.lr, { clipNorm: this.step.gradClip });
      flushTfjs(be);
      if (!rec && deferred) {
        this.#pendingEager.push({
          step: input.step,
          lr: input.lr,
          losses: ctx.losses,
          norm: ctx.p!.takeNorm()!,
        });
        ctx.losses = [];
      }
    } catch (e) {
      this.#abort(ctx);
      throw e;
    } finally {
      rec?.stop();
    }
    ctx.p!.dispose();
    tf.dispose(ctx.losses);
    if (rec) this.#analyse(ctx);
  }

  /** After a recorded step: keep it as the probe, or compare it with the probe and make the program. */
  #analyse(ctx: StepCtx): void {
    const { input, be, rec } = ctx;
    const own = ctx.own!, vars = ctx.vars!, before = ctx.before!;
    const sig = signature(input);
    const fused = this.step.optimizer.captureState().fusedWrites === ctx.fusedWrites! + 1;
    const failure = rec!.failure ?? (fused ? null : "the optimizer update was not the fused webgpu one");
    const probe = this.#probe?.sig === sig ? this.#probe : null;
    if (!probe) this.#probe?.rec.dispose();
    this.#probe = null;
    const refuse = (why: string) => {
      probe?.rec.dispose();
      this.#refused.set(sig, why);
      this.#lastReason = why;
      tf.dispose(own);
      rec!.dispose();
    };
    if (failure) return refuse(failure);
    if (!probe) {
      this.#probe = { rec: rec!, updateAt: ctx.updateAt!, sig, attempts: 1 };
      tf.dispose(own);
      return;
    }
    const diff = difference(probe.rec, rec!, probe.updateAt, ctx.updateAt!);
    if (diff) {
      // The first steps may differ by lazily made state (the optimizer's scratch, a cached constant): compare the
      // next pair, up to MAX_RECORDED recorded steps for one shape.
      probe.rec.dispose();
      if (probe.attempts + 1 >= MAX_RECORDED) return refuse(diff);
      this.#probe = { rec: rec!, updateAt: ctx.updateAt!, sig, attempts: probe.attempts + 1 };
      tf.dispose(own);
      return;
    }
    probe.rec.dispose();
    const vars2 = this.#stateVars();
    if (vars2.length !== vars.length || vars2.some((v, i) => v !== vars[i])) {
      return refuse("the optimizer's state tensors changed during the step");
    }
    const copyBack: { from: GBuf; to: GBuf }[] = [];
    for (const v of vars) {
      const from = bufferOf(be, v), to = before.get(v)!;
      if (from !== to) copyBack.push({ from, to });
    }
    const allowed = new Set([
      ...before.values(),
      ...copyBack.map((c) => c.from),
      ...own.map((t) => bufferOf(be, t)),
    ]);
    const unsafe = unsafeRead(rec!, allowed, be);
    if (unsafe) return refuse(unsafe);
    const state = vars.map((v) => ({ v, id: v.dataId }));
    this.#program = new Program(be, rec!, ctx.updateAt!, own, state, copyBack, ctx.statBufs!);
    this.#signature = sig;
    this.counts.captures++;
  }

  /** The variables a step reads and replaces: every model weight and the optimizer's flat moments. */
  #stateVars(): tf.Variable[] {
    const { m, v } = this.step.optimizer.captureState();
    const set = new Set<tf.Variable>(this.step.model.weights.values());
    if (m) set.add(m);
    if (v) set.add(v);
    return [...set];
  }
}

/**
 * A forward function of a model, `fn(ids, targets)` → a float32 tensor (the loss, per-sequence log-probabilities
 * for BLiMP-style scoring, …), captured and replayed for evaluation at a fixed batch shape: recorded on the first
 * two calls of a shape (compared as for {@linkcode CapturedStep}), replayed from the third, re-recorded when the
 * weights' data changes (an uncaptured training step, a checkpoint load; a {@linkcode CapturedStep}'s replays keep
 * the variables' data, so evaluation between captured training steps keeps its capture). Other shapes, or a
 * forward that cannot be captured, run through tfjs. The outputs stay on the device until
 * {@linkcode CapturedForward.flush}.
 *
 * @example
 * ```ts
 * import { CapturedForward } from "./capture.ts";
 * // on webgpu: const ev = new CapturedForward(model.weights, (ids, targets) => rowLogProbs(model, ids, targets));
 * // for (const b of batches) ev.issue(b.ids, b.targets);
 * // const rows = await ev.flush(); // one Float32Array per call, one host read
 * // ev.dispose();
 * ```
 */
export class CapturedForward {
  /** Counts of recorded, replayed and uncaptured calls and of captures made. */
  readonly counts: CaptureCounts = { recorded: 0, replayed: 0, uncaptured: 0, captures: 0 };
  #program: Program | null = null;
  #signature = "";
  #probe: { rec: Recording; sig: string; attempts: number } | null = null;
  #refused = new Map<string, string>();
  #lastReason: string | null = null;
  #ring: StatsRing | null = null;

  #floats = 0;

  /**
   * A capture of `fn` over the weights `weights` (nothing is recorded until it is first issued).
   * @param weights the model's weights (the capture is valid while their data is the one recorded)
   * @param fn the forward function; its output must be float32 (the caller's model is never disposed here)
   */
  constructor(
    readonly weights: Map<string, tf.Variable>,
    readonly fn: (ids: tf.Tensor2D, targets: tf.Tensor2D) => tf.Tensor,
  ) {}

  #forward(ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor {
    const out = tf.tidy(() => this.fn(ids, targets));
    if (out.dtype !== "float32" || out.size === 0) {
      out.dispose();
      throw new Error(
        `CapturedForward: the function must return a non-empty float32 tensor, got ${out.dtype} [${out.shape}].`,
      );
    }
    return out;
  }

  /** Dispatches one replay encodes (0 before a capture). */
  get dispatches(): number {
    return this.#program?.dispatches ?? 0;
  }

  /** Why the last refused shape is not replayed, or null. */
  fallbackReason(): string | null {
    return this.#lastReason;
  }

  /** Calls issued and not read yet. */
  get pending(): number {
    return this.#ring?.entries.length ?? 0;
  }

  /** Issue the function on one batch ([B, T] int32 ids and targets); no host read. */
  issue(ids: tf.Tensor2D, targets: tf.Tensor2D): void {
    const be = backend();
    const micro = [{ ids, targets }];
    const sig = signature({ micro, lr: 1, step: 0 });
    const p = this.#program;
    if (p && this.#signature === sig && !p.valid()) this.#drop();
    if (!fusedWebGPUActive() || this.#refused.has(sig) || (this.#program && this.#signature !== sig)) {
      this.counts.uncaptured++;
      const out = this.#forward(ids, targets);
      this.#copyOut(be, bufferOf(be, out), out.size);
      out.dispose();
      return;
    }
    if (this.#program) {
      flushTfjs(be);
      const enc = be.device.createCommandEncoder();
      this.#program.writeInputs(enc, micro);
      this.#program.encode(enc, 0, this.#program.rec.items.length);
      this.#ringOf(be).addBlock(enc, this.#program.stats[0], this.#floats);
      be.queue.submit([enc.finish()]);
      this.counts.replayed++;
      return;
    }
    this.#record(be, ids, targets, sig);
  }

  /** Read every issued call's output (flat), oldest first (one host read). */
  async flush(): Promise<Float32Array[]> {
    if (!this.#ring) return [];
    const { entries, vals } = await this.#ring.readRaw();
    return entries.map((e) => vals.slice(e.offset, e.offset + e.micro));
  }

  /** Release the capture (its pinned buffers go back to tfjs's pool) and pending outputs. */
  dispose(): void {
    this.#drop();
    this.#probe?.rec.dispose();
    this.#probe = null;
    this.#ring?.dispose();
    this.#ring = null;
  }

  #drop(): void {
    this.#program?.dispose();
    this.#program = null;
  }

  #ringOf(be: Backend): StatsRing {
    this.#ring ??= new StatsRing(be.device);
    return this.#ring;
  }

  #copyOut(be: Backend, buf: GBuf, floats: number): void {
    flushTfjs(be);
    const enc = be.device.createCommandEncoder();
    this.#ringOf(be).addBlock(enc, buf, floats);
    be.queue.submit([enc.finish()]);
  }

  #record(be: Backend, ids: tf.Tensor2D, targets: tf.Tensor2D, sig: string): void {
    hookPool(be.bufferManager);
    this.counts.recorded++;
    const own = tf.tidy(() => [ids, targets].map((t) => t.add(tf.scalar(0, "int32"))));
    for (const t of own) bufferOf(be, t);
    const vars = [...new Set(this.weights.values())];
    for (const v of vars) bufferOf(be, v);
    flushTfjs(be);
    const rec = new Recording(be);
    let loss: tf.Tensor;
    rec.start();
    try {
      loss = this.#forward(own[0] as tf.Tensor2D, own[1] as tf.Tensor2D);
      flushTfjs(be);
    } catch (e) {
      tf.dispose(own);
      rec.dispose();
      throw e;
    } finally {
      rec.stop();
    }
    const lossBuf = bufferOf(be, loss);
    this.#copyOut(be, lossBuf, loss.size);
    const probe = this.#probe?.sig === sig ? this.#probe : null;
    if (!probe) this.#probe?.rec.dispose();
    this.#probe = null;
    const done = (why: string | null) => {
      if (why) {
        this.#refused.set(sig, why);
        this.#lastReason = why;
        rec.dispose();
      }
      probe?.rec.dispose();
      tf.dispose(own);
      loss.dispose();
    };
    if (rec.failure) return done(rec.failure);
    if (!probe) {
      this.#probe = { rec, sig, attempts: 1 };
      tf.dispose([...own, loss]);
      return;
    }
    const diff = difference(probe.rec, rec, 0, 0);
    if (diff) {
      probe.rec.dispose();
      if (probe.attempts + 1 >= MAX_RECORDED) return done(diff);
      this.#probe = { rec, sig, attempts: probe.attempts + 1 };
      tf.dispose([...own, loss]);
      return;
    }
    const allowed = new Set([...vars.map((v) => bufferOf(be, v)), ...own.map((t) => bufferOf(be, t))]);
    const unsafe = unsafeRead(rec, allowed, be);
    if (unsafe) return done(unsafe);
    const state = vars.map((v) => ({ v, id: v.dataId }));
    this.#program = new Program(be, rec, rec.items.length, own, state, [], [lossBuf]);
    this.#floats = loss.size;
    this.#signature = sig;
    this.counts.captures++;
    probe.rec.dispose();
    loss.dispose();
  }
}

/**
 * The forward loss `model.loss(ids, targets)` captured and replayed ({@linkcode CapturedForward} of the loss):
 * evaluation (perplexity) at a fixed batch shape.
 *
 * @example
 * ```ts
 * import { CapturedLoss } from "./capture.ts";
 * // on webgpu: const ev = new CapturedLoss(model);
 * // for (const b of batches) ev.issue(b.ids, b.targets);
 * // const losses = await ev.flush(); // one host read
 * // ev.dispose();
 * ```
 */
export class CapturedLoss {
  /** The capture of the loss. */
  readonly forward: CapturedForward;

  /**
   * A capture of `model.loss` (nothing is recorded until it is first issued).
   * @param model what is evaluated (its `loss` and `weights`; the caller's, never disposed here)
   */
  constructor(model: Pick<StepModel, "loss" | "weights">) {
    this.forward = new CapturedForward(model.weights, (ids, targets) => model.loss(ids, targets));
  }

  /** Counts of recorded, replayed and uncaptured calls and of captures made. */
  get counts(): CaptureCounts {
    return this.forward.counts;
  }

  /** Dispatches one replay encodes (0 before a capture). */
  get dispatches(): number {
    return this.forward.dispatches;
  }

  /** Why the last refused shape is not replayed, or null. */
  fallbackReason(): string | null {
    return this.forward.fallbackReason();
  }

  /** Losses issued and not read yet. */
  get pending(): number {
    return this.forward.pending;
  }

  /** Issue the loss of one batch ([B, T] int32 ids and targets); no host read. */
  issue(ids: tf.Tensor2D, targets: tf.Tensor2D): void {
    this.forward.issue(ids, targets);
  }

  /** Read every issued loss, oldest first (one host read). */
  async flush(): Promise<number[]> {
    return (await this.forward.flush()).map((v) => v[0]);
  }

  /** The loss of one batch (issue, then one host read of everything pending). */
  async loss(ids: tf.Tensor2D, targets: tf.Tensor2D): Promise<number> {
    this.issue(ids, targets);
    return (await this.flush()).at(-1)!;
  }

  /** Release the capture and pending losses. */
  dispose(): void {
    this.forward.dispose();
  }
}

/** A step begun through tfjs. */
interface StepCtx {
  input: StepInput;
  be: Backend;
  losses: tf.Scalar[];
  p: PreparedGradients | null;
  rec: Recording | null;
  own?: tf.Tensor[];
  vars?: tf.Variable[];
  before?: Map<tf.Variable, GBuf>;
  fusedWrites?: number;
  statBufs?: GBuf[];
  updateAt?: number;
}

/**
 * A read of a buffer before the step writes it, of a buffer that is none of: written earlier in the step, a
 * state or input buffer, a recording's own constant, a buffer alive (never released) through the recording, or
 * one outside tfjs's pool (the optimizer's per-step scalars). Returns the reason, or null.
 */
function unsafeRead(rec: Recording, allowed: Set<GBuf>, be: Backend): string | null {
  const written = new Set<GBuf>(), own = new Set(rec.own);
  const pooled = new Set<GBuf>(rec.usedAtStart);
  for (const m of [be.bufferManager.usedBuffers, be.bufferManager.freeBuffers]) {
    for (const list of m.values()) for (const b of list) pooled.add(b);
  }
  for (const b of rec.released) pooled.add(b);
  for (const b of parked) pooled.add(b);
  const ok = (b: GBuf) =>
    written.has(b) || own.has(b) || allowed.has(b) || (rec.usedAtStart.has(b) && !rec.released.has(b)) ||
    !pooled.has(b);
  for (let i = 0; i < rec.items.length; i++) {
    const it = rec.items[i];
    const reads = it.kind === "copy" ? [it.src] : it.reads;
    const bad = reads.find((b) => !ok(b));
    if (bad) {
      return `command ${i} reads a ${bad.size}-byte buffer that the step did not write and that is not kept`;
    }
    for (const b of it.kind === "copy" ? [it.dst] : it.writes) written.add(b);
  }
  return null;
}

/** The shapes a capture is valid for. */
function signature(input: StepInput): string {
  return input.micro.map((m) => `${m.ids.dtype}[${m.ids.shape}]/${m.targets.dtype}[${m.targets.shape}]`).join(
    ";",
  );
}

function checkInput(input: StepInput): void {
  if (!input.micro || input.micro.length === 0) {
    throw new Error(`Step ${input.step}: no micro-batch was given; expected at least one { ids, targets }.`);
  }
  if (!(input.lr > 0) || !Number.isFinite(input.lr)) {
    throw new Error(`Step ${input.step}: the learning rate must be a positive number, got "${input.lr}".`);
  }
}
