/**
 * Training throughput and peak memory with the benchmark protocol of the reference's `benchmark.py`
 * (docs/gpu.md): a fresh AdamW optimiser, one fixed batch (random x, y ~ U{0..V−1}, or the first batch of `data`), `warmup` untimed steps, then `steps` timed steps
 * (forward + backward + update, no clipping); tokens/s = B·T·steps / elapsed.
 *
 * The timed step is the trainer's own ({@linkcode TrainStep} of `src/train/step.ts`, issued deferred: its loss
 * and gradient norm are read once after the timed loop instead of once per step; `gradClip: null` as the
 * protocol asks) with the trainer's {@linkcode AdamW} (flat state, PyTorch semantics; β = 0.9/0.999, ε = 1e-8,
 * decoupled weight decay wd = 0.01 = torch.optim.AdamW's default, skipped for the model's `noDecay` weights).
 * The weights are copied to host memory first and restored at the end
 * (the reference restores the saved weights before measuring perplexity); pass `restoreWeights: false` to skip.
 *
 * Memory: tfjs has no `max_memory_allocated`, so the peak is measured as follows, and `peakMeasure` says which:
 * - `"profile"` (cpu, wasm, tensorflow): `tf.profile` around the last warm-up step — the engine's live tensor
 *   bytes after every kernel, including backward intermediates (the closest analogue of
 *   `torch.cuda.max_memory_allocated`);
 * - `"gpu-live"` (webgpu): the high-water mark of the backend's bytes in use (live tensors' buffers, uniforms,
 *   staging) at every buffer acquisition, `trackGpuLivePeak` in `backend.ts` — the analogue of
 *   `torch.cuda.max_memory_allocated` (tf.profile is skipped there because it would read every kernel's output
 *   back);
 * - `"gpu-allocated"` (webgpu): the backend's `numBytesAllocatedInGPU`, the buffer pool's high-water mark (closer to
 *   PyTorch's *reserved* memory); the pool of earlier work is released first (`releaseGpuPool`), so it is this
 *   measurement's own;
 * - `"sampled"`: max of `tf.memory().numBytes` sampled after each forward, each backward and each update
 *   (a lower bound; used when neither of the above is available).
 * All three numbers that were measured are returned in `memory`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../models/types.ts";
import { Rng } from "../rng.ts";
import { TrainStep } from "../train/step.ts";
import { type Batches, checkTokenIds, epochBatches } from "../train/batch_input.ts";
import type { Batch } from "../train/batch_source.ts";
import { releaseGpuPool, trackGpuLivePeak } from "../backend.ts";

/** Options of {@linkcode measureThroughput}. */
export interface ThroughputOptions {
  /** Batch size B (the reference's benchmark: 8); taken from `data` when that is given. */
  batch?: number;
  /** Sequence length T (the reference's benchmark: 256); taken from `data` when that is given. */
  seqLen?: number;
  /**
   * Time on the first batch of this source (any of {@linkcode Batches}: `ArrayBatchSource`, `BatchIterator`,
   * an array of batches …) instead of a random one.
   */
  data?: Batches;
  /** Untimed warm-up steps (default 10). */
  warmup?: number;
  /** Timed steps (default 50). */
  steps?: number;
  /** Learning rate (default 1e-4). */
  lr?: number;
  /** Decoupled weight decay (default 0.01, torch AdamW's default). */
  weightDecay?: number;
  /** Seed of the random batch (default 1337). */
  seed?: number;
  /** Also time forward-only steps (evaluation mode, loss only), reported as `forwardTokensPerSec`. */
  forward?: boolean;
  /** Time only forward steps (no optimiser, no training); `tokensPerSec` is then undefined. */
  forwardOnly?: boolean;
  /** Copy the weights to host memory before and restore them after (default true). */
  restoreWeights?: boolean;
  /** Measure the peak with `tf.profile` on backends where that is safe (default true). */
  profileMemory?: boolean;
}

/** Memory numbers gathered by {@linkcode measureThroughput} (bytes; absent where not measured). */
export interface ThroughputMemory {
  /** Max of `tf.memory().numBytes` sampled after each forward, backward and update. */
  sampledPeak: number;
  /** `tf.profile(...).peakBytes` of the last warm-up step. */
  profiledPeak?: number;
  /** Max of the backend's `numBytesInGPU` (webgpu/webgl), sampled like `sampledPeak`. */
  gpuUsedPeak?: number;
  /** Max of the backend's `numBytesAllocatedInGPU` / `numBytesInGPUAllocated` (webgpu/webgl). */
  gpuAllocatedPeak?: number;
  /** High-water mark of the webgpu backend's bytes in use, at every buffer acquisition. */
  gpuLivePeak?: number;
}

/** The result of {@linkcode measureThroughput}. */
export interface ThroughputResult {
  /** Training tokens per second (undefined with `forwardOnly`). */
  tokensPerSec?: number;
  /** Forward-only tokens per second (with `forward` or `forwardOnly`). */
  forwardTokensPerSec?: number;
  /** The peak bytes of the measure named by `peakMeasure`. */
  peakBytes: number;
  /** Which measure `peakBytes` is (see the module notes). */
  peakMeasure: "profile" | "gpu-live" | "gpu-allocated" | "sampled";
  /** Every memory number that was measured. */
  memory: ThroughputMemory;
  /** Seconds of the timed training loop (undefined with `forwardOnly`). */
  elapsedSec?: number;
  /** Mean loss of the last timed step (a sanity value: ≈ ln V at initialisation). */
  finalLoss: number;
  /** Timed steps. */
  steps: number;
  /** Warm-up steps. */
  warmup: number;
  /** Batch size B. */
  batch: number;
  /** Sequence length T. */
  seqLen: number;
  /** The tfjs backend that ran. */
  backend: string;
}

class MemoryTracker {
  sampled = 0;
  gpuUsed?: number;
  gpuAllocated?: number;
  sample(): void {
    const m = tf.memory() as tf.MemoryInfo & Record<string, unknown>;
    this.sampled = Math.max(this.sampled, m.numBytes);
    const used = m.numBytesInGPU;
    const alloc = m.numBytesAllocatedInGPU ?? m.numBytesInGPUAllocated;
    if (typeof used === "number") this.gpuUsed = Math.max(this.gpuUsed ?? 0, used);
    if (typeof alloc === "number") this.gpuAllocated = Math.max(this.gpuAllocated ?? 0, alloc);
  }
}

function checkPositiveInt(name: string, v: number, allowZero = false): void {
  if (!Number.isInteger(v) || v < 0 || (!allowZero && v === 0)) {
    throw new Error(`${name} must be a ${allowZero ? "non-negative" : "positive"} integer, got "${v}".`);
  }
}

/** The fixed batch of the benchmark: the first batch of `data`, or a random one of B × T ids. */
async function fixedBatch(model: LanguageModel, opts: ThroughputOptions): Promise<Batch> {
  const V = model.config.vocabSize;
  if (opts.data !== undefined) {
    for await (const b of epochBatches(opts.data, "the throughput data")) {
      if ((opts.batch ?? b.batch) !== b.batch || (opts.seqLen ?? b.seqLen) !== b.seqLen) {
        throw new Error(
          `The first batch of the throughput data is ${b.batch}×${b.seqLen}, but batch "${opts.batch}" and ` +
            `seqLen "${opts.seqLen}" were asked for; leave them out to use the data's.`,
        );
      }
      checkTokenIds(b, V, "The first batch of the throughput data");
      return b;
    }
    throw new Error("No batch to time: the throughput data was empty.");
  }
  const { batch, seqLen } = opts;
  checkPositiveInt("batch", batch as number);
  checkPositiveInt("seqLen", seqLen as number);
  const rng = new Rng(opts.seed ?? 1337);
  const n = batch! * seqLen!;
  const x = new Int32Array(n), y = new Int32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.int(V);
  for (let i = 0; i < n; i++) y[i] = rng.int(V);
  return { x, y, batch: batch!, seqLen: seqLen! };
}

/** The result's memory numbers and which one is the peak. */
function summariseMemory(
  mem: MemoryTracker,
  profiledPeak: number | undefined,
  livePeak: number | undefined,
): Pick<ThroughputResult, "memory" | "peakBytes" | "peakMeasure"> {
  const memory: ThroughputMemory = { sampledPeak: mem.sampled };
  if (profiledPeak !== undefined) memory.profiledPeak = Math.max(profiledPeak, mem.sampled);
  if (mem.gpuUsed !== undefined) memory.gpuUsedPeak = mem.gpuUsed;
  if (mem.gpuAllocated !== undefined) memory.gpuAllocatedPeak = mem.gpuAllocated;
  if (livePeak !== undefined) memory.gpuLivePeak = livePeak;
  if (memory.profiledPeak !== undefined) {
    return { memory, peakBytes: memory.profiledPeak, peakMeasure: "profile" };
  }
  if (memory.gpuLivePeak !== undefined) {
    return { memory, peakBytes: memory.gpuLivePeak, peakMeasure: "gpu-live" };
  }
  if (memory.gpuAllocatedPeak !== undefined) {
    return { memory, peakBytes: memory.gpuAllocatedPeak, peakMeasure: "gpu-allocated" };
  }
  return { memory, peakBytes: mem.sampled, peakMeasure: "sampled" };
}

/** A loop to time: issue one step (no host read), and wait for every issued step, returning the last loss. */
interface Timed {
  issue(): void;
  sync(): Promise<number>;
}

/**
 * `warmup` untimed steps (the last one under `tf.profile` when `profile`), then `steps` timed ones.
 * @returns the seconds of the timed steps, the last loss and the profiled peak
 */
async function timeLoop(
  t: Timed,
  warmup: number,
  steps: number,
  profile: boolean,
): Promise<{ sec: number; loss: number; profiledPeak?: number }> {
  let profiledPeak: number | undefined;
  for (let i = 0; i < warmup; i++) {
    if (profile && i === warmup - 1) profiledPeak = (await tf.profile(() => t.issue())).peakBytes;
    else t.issue();
  }
  await t.sync();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) t.issue();
  const loss = await t.sync(); // the loss of the last step depends on every step
  return { sec: (performance.now() - t0) / 1000, loss, profiledPeak };
}

/**
 * Measure training (and optionally forward-only) throughput and peak memory of a model on the current backend.
 *
 * @param model any {@linkcode LanguageModel}; its weights are restored afterwards unless `restoreWeights: false`
 * @param opts see {@linkcode ThroughputOptions}
 * @example
 * ```ts
 * // const r = await measureThroughput(model, { batch: 8, seqLen: 256, warmup: 10, steps: 50, forward: true });
 * // console.log(r.tokensPerSec, r.forwardTokensPerSec, r.peakBytes / 2 ** 20, r.peakMeasure);
 * ```
 * @throws Error when a size is not a positive integer, the model exceeds its `maxLen`, or `data` gives no
 *   batch or one with ids outside the vocabulary.
 */
export async function measureThroughput(
  model: LanguageModel,
  opts: ThroughputOptions,
): Promise<ThroughputResult> {
  const warmup = opts.warmup ?? 10;
  const steps = opts.steps ?? 50;
  const lr = opts.lr ?? 1e-4;
  checkPositiveInt("warmup", warmup, true);
  checkPositiveInt("steps", steps);
  if (!(lr > 0)) throw new Error(`lr must be positive, got "${lr}".`);
  const b = await fixedBatch(model, opts);
  const { batch, seqLen } = b;
  const maxLen = model.config.maxLen;
  if (maxLen != null && seqLen > maxLen) {
    throw new Error(`seqLen "${seqLen}" exceeds the model's maxLen ${maxLen}.`);
  }
  const backend = tf.getBackend();
  const canProfile = (opts.profileMemory ?? true) && backend !== "webgpu" && backend !== "webgl";
  const n = batch * seqLen;
  const mem = new MemoryTracker();
  releaseGpuPool();

  // Host copies of every weight, so the benchmark leaves the model as it found it.
  const saved: [tf.Variable, Float32Array | Int32Array | Uint8Array][] = [];
  if (opts.restoreWeights ?? true) {
    for (const v of model.weights.values()) saved.push([v, (await v.data()) as Float32Array | Int32Array]);
  }
  const ids = tf.tensor2d(b.x, [batch, seqLen], "int32");
  const targets = tf.tensor2d(b.y, [batch, seqLen], "int32");
  mem.sample();
  const trainStep = new TrainStep(model, {
    optimizer: { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: opts.weightDecay ?? 0.01 },
    gradClip: null,
    onPhase: () => mem.sample(),
  });
  let stepNo = 0;
  const training: Timed = {
    issue: () => trainStep.issue({ micro: [{ ids, targets }], lr, step: ++stepNo }),
    sync: async () => (await trainStep.flush()).at(-1)?.loss ?? NaN,
  };
  let last: tf.Scalar | null = null;
  const forward: Timed = {
    issue: () => {
      last?.dispose();
      last = tf.tidy(() => model.loss(ids, targets));
      mem.sample();
    },
    sync: async () => last ? (await (last as tf.Scalar).data())[0] : NaN,
  };

  let tokensPerSec: number | undefined,
    forwardTokensPerSec: number | undefined,
    elapsedSec: number | undefined;
  let profiledPeak: number | undefined, finalLoss = NaN;
  // Installed here, inside the try whose finally removes it (set-up above may throw).
  let live: ReturnType<typeof trackGpuLivePeak> = null;
  try {
    live = trackGpuLivePeak();
    if (!opts.forwardOnly) {
      model.setTraining?.(true);
      const r = await timeLoop(training, warmup, steps, canProfile && warmup > 0);
      [elapsedSec, finalLoss, profiledPeak] = [r.sec, r.loss, r.profiledPeak];
      if (canProfile && warmup === 0) {
        profiledPeak = (await tf.profile(() => training.issue())).peakBytes;
        await training.sync();
      }
      tokensPerSec = (n * steps) / elapsedSec;
    }
    if (opts.forward || opts.forwardOnly) {
      model.setTraining?.(false);
      const r = await timeLoop(forward, warmup, steps, !!opts.forwardOnly && canProfile && warmup > 0);
      if (r.profiledPeak !== undefined) profiledPeak = Math.max(profiledPeak ?? 0, r.profiledPeak);
      forwardTokensPerSec = (n * steps) / r.sec;
      finalLoss = r.loss;
    }
    mem.sample();
    return {
      tokensPerSec,
      forwardTokensPerSec,
      ...summariseMemory(mem, profiledPeak, live?.peak()),
      elapsedSec,
      finalLoss,
      steps,
      warmup,
      batch,
      seqLen,
      backend,
    };
  } finally {
    live?.stop();
    (last as tf.Scalar | null)?.dispose();
    trainStep.dispose();
    tf.dispose([ids, targets]);
    for (const [v, data] of saved) {
      tf.tidy(() => v.assign(tf.tensor(data, v.shape, v.dtype)));
    }
    model.setTraining?.(false);
  }
}
