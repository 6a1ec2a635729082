/**
 * The size guard: estimate the memory one training step of a model config needs, and refuse a config that does
 * not fit the chosen backend before any weight is allocated.
 *
 * Estimate (generic over every family of the registry, calibrated against `tf.profile` peaks; see
 * bench/memory_calibration.ts and docs/cli.md):
 *
 *   bytes = 4 · (4 · P + c_E · V · d)             (float32 weights, gradients, AdamW's two moments, and the
 *                                               embedding-sized temporaries of the tied embedding's update)
 *         + 4 · B · T · (a_V · V + L · d · a_L)   (activations kept for the backward pass)
 *
 * with P the spec's parameter count, B×T the tokens of a batch, V the vocabulary, d the width (`dim`) and L the
 * layers. c_E = 11 counts the [V, d] temporaries alive at once while the largest weight, the (tied) embedding,
 * gets its gradient from two places and its AdamW update inside one `tf.tidy`; a_V = 2 the [B, T, V] tensors
 * alive at the peak (logits and log-softmax or their gradient); a_L, the activation floats per token, layer and
 * unit of width, is per family ({@linkcode ACTIVATION_FLOATS}): baseline 96; mHC 64 per residual stream, +46 per
 * stream with stream adapters. A family without an entry gets the generic 96 × `nStreams` (1 when it has none);
 * {@linkcode registerActivationEstimate} adds one. Fitted on cpu to `tf.profile` peaks (the engine's byte count,
 * as `tf.memory().numBytes`) of 13 configs from V 128, d 16 up to the published mHC (V 50,257, d 512, L 8, B 1,
 * T 256: 2,791 MiB measured; with adapters at B 1, T 128: 2,836 MiB): the estimate lands within −11 % … +42 % of
 * the measured peak. wasm peaks agree (mHC +
 * adapters, small preset, B 8, T 128: 827 MiB measured on wasm, 886 MiB estimated).
 *
 * Backend ceilings: wasm's heap is one WebAssembly memory of at most 4 GiB − 64 KiB (tfjs-backend-wasm 4.22's
 * emscripten build: `getHeapMax() = 4294901760`; a probe allocating 256 MiB tensors aborts after 3840 MiB); the
 * guard refuses above 90 % of it, a margin for the estimate's error. The cpu backend keeps tensors in JavaScript
 * typed arrays, limited by the machine's memory: the guard refuses above 80 % of the memory available. WebGPU and
 * native TensorFlow allocate on the device, which tfjs cannot size beforehand: no ceiling is applied there.
 *
 * @example
 * ```ts
 * import { estimateTrainingMemory } from "./memory_estimate.ts";
 * import { modelConfig } from "../models/registry.ts";
 * const est = estimateTrainingMemory(modelConfig("mhc", { vocabSize: 128 }, "tiny"), { batch: 4, seqLen: 32 });
 * console.log(est.totalBytes / 2 ** 20, "MiB");
 * ```
 *
 * @module
 */
import { modelSpec } from "../models/registry.ts";
import type { ModelConfig } from "../models/types.ts";

/** [B, T, V]-sized float tensors alive at the peak of a step, per token and vocabulary entry (a_V). */
export const VOCAB_FLOATS_PER_TOKEN = 2;
/** [V, d]-sized temporaries alive at once during the embedding's gradient and update (c_E). */
export const EMBEDDING_COPIES = 11;
/** Per-layer activation floats per token and unit of width of a family without its own entry (× nStreams). */
export const GENERIC_LAYER_FLOATS = 96;

/** Activation floats per token, layer and unit of width (a_L), by model kind. */
export const ACTIVATION_FLOATS: Record<string, (config: ModelConfig) => number> = {
  baseline: () => 96,
  mhc: (c) => {
    const n = numberField(c, "nStreams", 1);
    return 64 * n + ((c as unknown as { streamAdapters?: boolean }).streamAdapters ? 46 * n : 0);
  },
};

/**
 * Give a model kind its own activation estimate (floats per token, layer and unit of width), measured with
 * bench/memory_calibration.ts.
 */
export function registerActivationEstimate(kind: string, floats: (config: ModelConfig) => number): void {
  ACTIVATION_FLOATS[kind] = floats;
}
/** The wasm backend's heap ceiling: 4 GiB − 64 KiB (emscripten `getHeapMax()` of tfjs-backend-wasm 4.22). */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/** A training-memory estimate, in bytes. */
export interface MemoryEstimate {
  /** Parameters of the config. */
  params: number;
  /** Weights, gradients and AdamW moments (4 float32 copies of the parameters) and the update's temporaries. */
  stateBytes: number;
  /** Activations of one batch. */
  activationBytes: number;
  /** stateBytes + activationBytes. */
  totalBytes: number;
}

/** Batch shape of {@linkcode estimateTrainingMemory}. */
export interface BatchShape {
  /** Sequences per batch. */
  batch: number;
  /** Tokens per sequence. */
  seqLen: number;
}

function numberField(config: ModelConfig, name: string, fallback: number): number {
  const v = (config as unknown as Record<string, unknown>)[name];
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

/** Estimate the memory of one training step of `config` on batches of `shape` (see the module notes). */
export function estimateTrainingMemory(config: ModelConfig, shape: BatchShape): MemoryEstimate {
  const params = modelSpec(config.kind).paramCount(config);
  const d = numberField(config, "dim", numberField(config, "dModel", 256));
  const layers = numberField(config, "layers", numberField(config, "nLayers", 1));
  const perLayer = ACTIVATION_FLOATS[config.kind]?.(config) ??
    GENERIC_LAYER_FLOATS * numberField(config, "nStreams", 1);
  const tokens = shape.batch * shape.seqLen;
  const perToken = VOCAB_FLOATS_PER_TOKEN * config.vocabSize + layers * d * perLayer;
  const stateBytes = 4 * (4 * params + EMBEDDING_COPIES * config.vocabSize * d);
  const activationBytes = 4 * tokens * perToken;
  return { params, stateBytes, activationBytes, totalBytes: stateBytes + activationBytes };
}

/** A backend's memory ceiling. */
export interface MemoryLimit {
  /** The most bytes it can give one process. */
  bytes: number;
  /** What the ceiling is, for the refusal sentence. */
  what: string;
}

/** The memory a backend can give one process, or null when it cannot be known beforehand. */
export function backendMemoryLimit(backend: string): MemoryLimit | null {
  if (backend === "wasm") {
    // The estimate can be ~10 % low (see the module notes), so leave that much of the heap as a margin.
    return {
      bytes: Math.floor(0.9 * WASM_HEAP_MAX_BYTES),
      what: "90% of the wasm backend's 4 GiB WebAssembly heap",
    };
  }
  if (backend === "cpu") {
    const mem = Deno.systemMemoryInfo();
    const avail = mem.available || mem.free || mem.total;
    return { bytes: Math.floor(avail * 0.8), what: "80% of this machine's available memory" };
  }
  return null;
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 2 : 1)} GiB`;

/**
 * Throw before allocating anything when the estimate exceeds the backend's ceiling. The sentence gives both
 * numbers and what to do instead (a smaller preset or batch, or the webgpu backend).
 *
 * @param kindFlag how to name the model in the advice, e.g. "--model mhc"
 */
export function checkTrainingFits(
  config: ModelConfig,
  shape: BatchShape,
  backend: string,
  limit: MemoryLimit | null = backendMemoryLimit(backend),
): MemoryEstimate {
  const est = estimateTrainingMemory(config, shape);
  if (limit && est.totalBytes > limit.bytes) {
    throw new Error(
      `This ${config.kind} config needs about ${gib(est.totalBytes)} to train on the ${backend} backend ` +
        `(weights, gradients and AdamW state of ${est.params.toLocaleString("en")} parameters: ` +
        `${gib(est.stateBytes)}; activations of ${shape.batch}×${shape.seqLen} tokens: ` +
        `${gib(est.activationBytes)}), more than ${limit.what} ` +
        `(${gib(limit.bytes)}). Train a smaller model (--preset small or --preset tiny), a smaller batch ` +
        `(--batch_size, --seq_len), or on a GPU with --backend webgpu.`,
    );
  }
  return est;
}
