/**
 * Training throughput and peak memory with the benchmark protocol of the reference's `benchmark.py`
 * (docs/gpu.md): a fresh AdamW optimiser, one fixed random batch x, y ~ U{0..V−1}, `warmup` untimed steps, then
 * `steps` timed steps (forward + backward + update, no clipping); tokens/s = B·T·steps / elapsed.
 *
 * Optimiser: the trainer's own {@linkcode AdamW} (flat state, PyTorch semantics; β = 0.9/0.999, ε = 1e-8,
 * decoupled weight decay wd = 0.01 = torch.optim.AdamW's default, skipped for the model's `noDecay` weights), so
 * a timed step costs what a training step of the trainer costs, less the clipping and the host
 * read of the loss. The weights are copied to host memory first and restored at the end
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
import { AdamW } from "../train/optim.ts";
import { releaseGpuPool, trackGpuLivePeak } from "../backend.ts";

/** Options of {@linkcode measureThroughput}. */
export interface ThroughputOptions {
  /** Batch size B (the reference's benchmark: 8). */
  batch: number;
  /** Sequence length T (the reference's benchmark: 256). */
  seqLen: number;
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

function now(): number {
  return performance.now();
}

function checkPositiveInt(name: string, v: number, allowZero = false): void {
  if (!Number.isInteger(v) || v < 0 || (!allowZero && v === 0)) {
    throw new Error(`${name} must be a ${allowZero ? "non-negative" : "positive"} integer, got "${v}".`);
  }
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
 * @throws Error when a size is not a positive integer or the model exceeds its `maxLen`.
 */
export async function measureThroughput(
  model: LanguageModel,
  opts: ThroughputOptions,
): Promise<ThroughputResult> {
  const { batch, seqLen } = opts;
  const warmup = opts.warmup ?? 10;
  const steps = opts.steps ?? 50;
  const lr = opts.lr ?? 1e-4;
  const wd = opts.weightDecay ?? 0.01;
  checkPositiveInt("batch", batch);
  checkPositiveInt("seqLen", seqLen);
  checkPositiveInt("warmup", warmup, true);
  checkPositiveInt("steps", steps);
  if (!(lr > 0)) throw new Error(`lr must be positive, got "${lr}".`);
  const maxLen = model.config.maxLen;
  if (maxLen != null && seqLen > maxLen) {
    throw new Error(`seqLen "${seqLen}" exceeds the model's maxLen ${maxLen}.`);
  }
  const backend = tf.getBackend();
  const gpuBackend = backend === "webgpu" || backend === "webgl";
  const V = model.config.vocabSize;
  const rng = new Rng(opts.seed ?? 1337);
  const n = batch * seqLen;
  const xs = new Int32Array(n);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) xs[i] = rng.int(V);
  for (let i = 0; i < n; i++) ys[i] = rng.int(V);

  const mem = new MemoryTracker();
  releaseGpuPool();
  const variables = [...model.weights.entries()].filter(([, v]) => v.trainable);
  const varList = variables.map(([, v]) => v);
  const keyOf = new Map(variables.map(([name, v]) => [v.name, name]));

  // Host copies of every weight, so the benchmark leaves the model as it found it.
  const saved: [tf.Variable, Float32Array | Int32Array | Uint8Array][] = [];
  if (opts.restoreWeights ?? true) {
    for (const v of model.weights.values()) saved.push([v, (await v.data()) as Float32Array | Int32Array]);
  }

  const x = tf.tensor2d(xs, [batch, seqLen], "int32");
  const y = tf.tensor2d(ys, [batch, seqLen], "int32");
  mem.sample();
  const optimizer = new AdamW(model.weights, {
    lr,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: wd,
    noDecay: model.noDecay ?? [],
  });
  let last: tf.Scalar | null = null;
  const keep = (l: tf.Scalar) => {
    last?.dispose();
    last = l;
  };

  const trainStep = (): tf.Scalar => {
    const { value, grads } = tf.variableGrads(() => {
      const l = model.loss(x, y);
      mem.sample();
      return l;
    }, varList);
    mem.sample();
    const byName = new Map<string, tf.Tensor>();
    for (const [vn, t] of Object.entries(grads)) if (t) byName.set(keyOf.get(vn) ?? vn, t);
    optimizer.applyGradients(byName, lr);
    tf.dispose(Object.values(grads));
    mem.sample();
    return value;
  };

  const forwardStep = (): tf.Scalar => {
    const l = tf.tidy(() => model.loss(x, y));
    mem.sample();
    return l;
  };

  let tokensPerSec: number | undefined;
  let forwardTokensPerSec: number | undefined;
  let elapsedSec: number | undefined;
  let profiledPeak: number | undefined;
  const canProfile = (opts.profileMemory ?? true) && !gpuBackend;

  const runLoop = async (step: () => tf.Scalar, profileLast: boolean): Promise<number> => {
    for (let i = 0; i < warmup; i++) {
      if (profileLast && i === warmup - 1) {
        const info = await tf.profile(() => keep(step()));
        profiledPeak = Math.max(profiledPeak ?? 0, info.peakBytes);
      } else {
        keep(step());
      }
    }
    if (last) await (last as tf.Scalar).data();
    const t0 = now();
    for (let i = 0; i < steps; i++) keep(step());
    await (last as unknown as tf.Scalar).data(); // synchronise: the loss of the last step depends on every step
    return (now() - t0) / 1000;
  };

  // Installed here, inside the try whose finally removes it (set-up above may throw).
  let live: ReturnType<typeof trackGpuLivePeak> = null;
  try {
    live = trackGpuLivePeak();
    if (!opts.forwardOnly) {
      model.setTraining?.(true);
      elapsedSec = await runLoop(trainStep, canProfile && warmup > 0);
      if (canProfile && warmup === 0) {
        const info = await tf.profile(() => keep(trainStep()));
        profiledPeak = info.peakBytes;
      }
      tokensPerSec = (n * steps) / elapsedSec;
    }
    if (opts.forward || opts.forwardOnly) {
      model.setTraining?.(false);
      const fwd = await runLoop(forwardStep, !!opts.forwardOnly && canProfile && warmup > 0);
      forwardTokensPerSec = (n * steps) / fwd;
    }
    const finalLoss = (await (last as unknown as tf.Scalar).data())[0];
    mem.sample();
    const memory: ThroughputMemory = { sampledPeak: mem.sampled };
    if (profiledPeak !== undefined) memory.profiledPeak = Math.max(profiledPeak, mem.sampled);
    if (mem.gpuUsed !== undefined) memory.gpuUsedPeak = mem.gpuUsed;
    if (mem.gpuAllocated !== undefined) memory.gpuAllocatedPeak = mem.gpuAllocated;
    if (live) memory.gpuLivePeak = live.peak();
    let peakBytes: number;
    let peakMeasure: ThroughputResult["peakMeasure"];
    if (memory.profiledPeak !== undefined) [peakBytes, peakMeasure] = [memory.profiledPeak, "profile"];
    else if (memory.gpuLivePeak !== undefined) [peakBytes, peakMeasure] = [memory.gpuLivePeak, "gpu-live"];
    else if (memory.gpuAllocatedPeak !== undefined) {
      [peakBytes, peakMeasure] = [memory.gpuAllocatedPeak, "gpu-allocated"];
    } else [peakBytes, peakMeasure] = [mem.sampled, "sampled"];
    return {
      tokensPerSec,
      forwardTokensPerSec,
      peakBytes,
      peakMeasure,
      memory,
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
    optimizer.dispose();
    x.dispose();
    y.dispose();
    for (const [v, data] of saved) {
      tf.tidy(() => v.assign(tf.tensor(data, v.shape, v.dtype)));
    }
    model.setTraining?.(false);
  }
}
