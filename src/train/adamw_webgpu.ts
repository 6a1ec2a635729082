/**
 * The flat AdamW step on the webgpu backend in a handful of GPU commands instead of ~250 tfjs dispatches.
 *
 * The tf-op step of `optim.ts` concatenates the gradients and the parameters (one dispatch per ≤ 8 inputs), does
 * the Adam math in ~15 element-wise dispatches over the flat vectors, then splits the new values into one slice
 * per parameter: for the published models ~250 dispatches, each costing host time in Deno's WebGPU (measured in
 * results/bench/h100/README.md). Here, recorded straight into tfjs-webgpu's command encoder (so they run in order with its kernels):
 *
 * - {@linkcode flattenGradsWebGPU}: one `copyBufferToBuffer` per gradient into a fresh flat tensor;
 * - {@linkcode adamwStepWebGPU}: copies of the parameters into a flat tensor, one compute dispatch doing
 *   clipping, decoupled weight decay (all, none or a per-element bit mask), both moments and the update, and
 *   copies of the new values into new tensors, which the variables are `assign`ed (no dispatch).
 *
 * Nothing is written in place: tfjs assumes tensor data never changes (clones and snapshots share a variable's
 * buffer, and a read caches the values on the host), so the new values always go to new buffers. Every tensor
 * touched is marked as used by the pending command buffer, so tfjs does not hand its buffer to a `writeBuffer`
 * upload before the commands run. Every buffer but the optimizer's 48-byte per-step scalars comes from tfjs's
 * buffer manager, so the memory measures (`trackGpuLivePeak`) count them.
 *
 * The scalars that change from step to step (the step size lr/(1 − β₁ᵗ), √(1 − β₂ᵗ), the decay factor 1 − lr·wd)
 * live in one small uniform buffer per optimizer ({@linkcode AdamWWebGPUState.scalars}), written by
 * `queue.writeBuffer` before the step's commands are submitted; the dispatch reads them from there, so a
 * captured step (`capture.ts`) replays the same dispatch and only rewrites those 48 bytes. The tf-op step in `optim.ts` is the reference
 * (`tests/adamw_webgpu_test.ts` compares them, and both with a plain-loop PyTorch AdamW).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The GPU objects used here (structural types: Deno's WebGPU, reached through the tfjs backend). */
interface Buf {
  size: number;
  destroy(): void;
}
interface Pass {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number): void;
  end(): void;
}
interface Encoder {
  copyBufferToBuffer(src: Buf, srcOffset: number, dst: Buf, dstOffset: number, size: number): void;
  beginComputePass(): Pass;
}
interface Pipeline {
  getBindGroupLayout(i: number): unknown;
}
interface Device {
  queue: { writeBuffer(b: Buf, offset: number, data: ArrayBuffer): void };
  createBuffer(d: { size: number; usage: number }): Buf;
  createShaderModule(d: { code: string }): unknown;
  createComputePipeline(d: { layout: "auto"; compute: { module: unknown; entryPoint: string } }): Pipeline;
  createBindGroup(d: { layout: unknown; entries: { binding: number; resource: { buffer: Buf } }[] }): unknown;
}
interface Backend {
  device: Device;
  commandEncoder: Encoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  tensorMap: { get(id: object): { resource?: Buf; values?: unknown } };
  uploadToGPU(id: object): void;
  endComputePassEncoder(): void;
  ensureCommandEncoderReady(): void;
  submitQueue(): void;
  makeTensorInfo(shape: number[], dtype: "float32"): tf.TensorInfo;
}

/** GPU commands recorded here so far (benchmarks report them beside tfjs's dispatch count). */
export const adamwWebGPUCommands = { copies: 0, dispatches: 0 };

/** WebGPU buffer usage flags (the WebGPU spec's values). */
const USAGE = { COPY_DST: 0x8, UNIFORM: 0x40 } as const;
const WG = 256;
const MAX_WORKGROUPS = 65535;

const ADAMW_CODE = `
struct U {
  n : u32, stride : u32, mode : u32, useClip : u32,
  b1 : f32, b2 : f32, eps : f32, bc2 : f32,
  stepSize : f32, decay : f32, clip : f32, pad : f32,
};
@group(0) @binding(0) var<storage, read_write> P : array<f32>;
@group(0) @binding(1) var<storage, read> G : array<f32>;
@group(0) @binding(2) var<storage, read> M : array<f32>;
@group(0) @binding(3) var<storage, read> V : array<f32>;
@group(0) @binding(4) var<storage, read_write> Mo : array<f32>;
@group(0) @binding(5) var<storage, read_write> Vo : array<f32>;
@group(0) @binding(6) var<storage, read> Nrm : array<f32>;
@group(0) @binding(7) var<storage, read> Mask : array<u32>;
@group(0) @binding(8) var<uniform> u : U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  var scale = 1.0;
  if (u.useClip == 1u) { scale = min(1.0, u.clip / (Nrm[0] + 1e-6)); }
  for (var i = gid.x; i < u.n; i = i + u.stride) {
    let g = G[i] * scale;
    var p = P[i];
    if (u.mode == 1u || (u.mode == 2u && ((Mask[i >> 5u] >> (i & 31u)) & 1u) == 1u)) { p = p * u.decay; }
    let m = M[i] * u.b1 + g * (1.0 - u.b1);
    let v = V[i] * u.b2 + g * g * (1.0 - u.b2);
    Mo[i] = m;
    Vo[i] = v;
    P[i] = p - m / (sqrt(v) / u.bc2 + u.eps) * u.stepSize;
  }
}
`;

function backend(): Backend {
  return tf.backend() as unknown as Backend;
}

/** The GPU buffer of a tensor, uploaded if needed and marked as used by the pending commands. */
function bufferOf(be: Backend, t: tf.TensorInfo): Buf {
  be.uploadToGPU(t.dataId);
  be.commandQueueOwnedIds.add(t.dataId);
  const b = be.tensorMap.get(t.dataId).resource;
  if (!b) throw new Error(`AdamW (webgpu): tensor of shape [${t.shape}] has no GPU buffer.`);
  return b;
}

/** tfjs's command encoder, its open compute pass ended so that copies can be recorded. */
function encoder(be: Backend): Encoder {
  be.endComputePassEncoder();
  be.ensureCommandEncoderReady();
  return be.commandEncoder!;
}

/**
 * The gradients concatenated into one flat float32 tensor [total] by buffer copies (one per gradient, no compute
 * dispatch). Each gradient must be float32 with `sizes[i]` elements.
 *
 * @param grads one per parameter, in the flat layout's order
 * @param total Σ sizes
 * @returns [total]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { flattenGradsWebGPU } from "./adamw_webgpu.ts";
 * // on the webgpu backend: [1, 2, 3]
 * // flattenGradsWebGPU([tf.tensor1d([1, 2]), tf.tensor2d([[3]])], 3)
 * ```
 */
export function flattenGradsWebGPU(grads: tf.Tensor[], total: number): tf.Tensor1D {
  const be = backend();
  const info = be.makeTensorInfo([total], "float32");
  const out = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor1D;
  const dst = bufferOf(be, out);
  const enc = encoder(be);
  let off = 0;
  for (const g of grads) {
    if (g.dtype !== "float32") {
      throw new Error(`AdamW (webgpu): gradient of dtype "${g.dtype}", expected float32.`);
    }
    if (g.size) enc.copyBufferToBuffer(bufferOf(be, g), 0, dst, off * 4, g.size * 4);
    off += g.size;
    adamwWebGPUCommands.copies++;
  }
  if (off !== total) {
    out.dispose();
    throw new Error(`AdamW (webgpu): gradients hold ${off} elements, the flat layout ${total}.`);
  }
  return out;
}

/** The scalars of one step. */
export interface AdamWStepScalars {
  beta1: number;
  beta2: number;
  eps: number;
  /** √(1 − β₂^t) */
  bc2: number;
  /** lr / (1 − β₁^t) */
  stepSize: number;
  /** 1 − lr·wd, applied to the decayed parameters */
  decay: number;
  /** 0: no parameter decayed; 1: all; 2: those whose bit is set in the mask */
  decayMode: 0 | 1 | 2;
  /** clip to this global norm (with `norm`), or 0 for no clipping */
  clip: number;
}

/**
 * Reusable state of {@linkcode adamwStepWebGPU} for one optimizer: the decay bit mask (a tfjs int32 tensor, built
 * once per layout) and a placeholder for unused bindings. Dispose with the optimizer.
 */
export class AdamWWebGPUState {
  #mask: tf.Tensor1D | null = null;
  #maskKey = "";
  #dummy: tf.Tensor1D | null = null;
  #scalars: Buf | null = null;
  #device: Device | null = null;
  /** Times the per-step scalars were written (a captured step checks that its update wrote them once). */
  writes = 0;

  /** The 48-byte uniform buffer of the per-step scalars (created on first use; destroyed by `dispose`). */
  scalars(dev: Device): Buf {
    if (!this.#scalars || this.#device !== dev) {
      this.#scalars?.destroy();
      this.#scalars = dev.createBuffer({ size: 48, usage: USAGE.UNIFORM | USAGE.COPY_DST });
      this.#device = dev;
    }
    return this.#scalars;
  }

  /**
   * Write the scalars of one step into {@linkcode AdamWWebGPUState.scalars} (queue order: after every command
   * submitted so far, before the next submit).
   */
  writeScalars(dev: Device, s: AdamWStepScalars, total: number, useClip: boolean): void {
    dev.queue.writeBuffer(this.scalars(dev), 0, scalarBytes(s, total, useClip));
    this.writes++;
  }

  /** The decay bit mask of a layout (bit i set = element i decayed), built once per `key`. */
  mask(key: string, flags: boolean[], sizes: number[], total: number): tf.Tensor1D {
    if (this.#mask && this.#maskKey === key) return this.#mask;
    this.#mask?.dispose();
    const words = new Int32Array(Math.max(1, Math.ceil(total / 32)));
    let off = 0;
    sizes.forEach((s, i) => {
      if (flags[i]) { for (let j = off; j < off + s; j++) words[j >>> 5] |= 1 << (j & 31); }
      off += s;
    });
    this.#mask = tf.tensor1d(words, "int32");
    this.#maskKey = key;
    return this.#mask;
  }

  /** A 4-element placeholder for an unused binding. */
  dummy(): tf.Tensor1D {
    this.#dummy ??= tf.tensor1d([0, 0, 0, 0]);
    return this.#dummy;
  }

  dispose(): void {
    this.#mask?.dispose();
    this.#dummy?.dispose();
    this.#mask = this.#dummy = null;
    this.#scalars?.destroy(); // WebGPU keeps it alive until submitted commands using it have run
    this.#scalars = null;
  }
}

/** Workgroups of the fused step over `total` elements. */
function workgroupsFor(total: number): number {
  return Math.max(1, Math.min(MAX_WORKGROUPS, Math.ceil(total / WG)));
}

/** The 48 bytes of the kernel's uniform struct `U` for one step. */
function scalarBytes(s: AdamWStepScalars, total: number, useClip: boolean): ArrayBuffer {
  const uData = new ArrayBuffer(48);
  new Uint32Array(uData, 0, 4).set([total, workgroupsFor(total) * WG, s.decayMode, useClip ? 1 : 0]);
  new Float32Array(uData, 16, 8).set([s.beta1, s.beta2, s.eps, s.bc2, s.stepSize, s.decay, s.clip, 0]);
  return uData;
}

/** A new float32 tensor whose GPU buffer is allocated (by tfjs's buffer manager) but not written. */
function uninitialised(be: Backend, shape: number[]): tf.Tensor {
  const info = be.makeTensorInfo(shape, "float32");
  be.uploadToGPU(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info);
}

const pipelines = new WeakMap<Device, Pipeline>();

/**
 * One AdamW step over flat state on the webgpu backend. The parameters are copied into a flat tensor, one dispatch
 * updates it and writes the new moments into new tensors, and the new values are copied into new tensors that
 * the variables are then `assign`ed (no dispatch). Nothing is written in place: tensors sharing a variable's data
 * (a clone, a snapshot) keep their values, and a read in flight still sees the old data. The clip factor
 * min(1, clip / (‖g‖ + 1e-6)) is formed on the GPU from `norm`.
 *
 * @param params the parameters, in the flat layout's order
 * @param g flat gradient [total]
 * @param m first moments [total] (assigned the new ones)
 * @param v second moments [total] (assigned the new ones)
 * @param norm the gradient's global L2 norm (scalar) when clipping, else null
 * @param decayFlags per parameter: decayed? (used with decayMode 2)
 * @param layoutKey identifies the flat layout (the decay mask is rebuilt when it changes)
 * @example
 * ```ts
 * // see AdamW in optim.ts, which calls this on the webgpu backend
 * ```
 */
export function adamwStepWebGPU(
  state: AdamWWebGPUState,
  params: tf.Variable[],
  g: tf.Tensor1D,
  m: tf.Variable,
  v: tf.Variable,
  norm: tf.Scalar | null,
  s: AdamWStepScalars,
  decayFlags: boolean[],
  layoutKey: string,
): void {
  const be = backend();
  const dev = be.device;
  const total = g.size;
  let pipeline = pipelines.get(dev);
  if (!pipeline) {
    pipeline = dev.createComputePipeline({
      layout: "auto",
      compute: { module: dev.createShaderModule({ code: ADAMW_CODE }), entryPoint: "main" },
    });
    pipelines.set(dev, pipeline);
  }
  const sizes = params.map((p) => p.size);
  const mask = s.decayMode === 2 ? state.mask(layoutKey, decayFlags, sizes, total) : state.dummy();
  const workgroups = workgroupsFor(total);
  state.writeScalars(dev, s, total, norm !== null && s.clip > 0);
  const uniforms = state.scalars(dev);
  const flatP = uninitialised(be, [total]);
  const [mNew, vNew] = [uninitialised(be, [total]), uninitialised(be, [total])];
  const pNew = params.map((p) => (p.size ? uninitialised(be, p.shape) : null));
  const P = bufferOf(be, flatP);
  const bindGroup = dev.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      P,
      bufferOf(be, g),
      bufferOf(be, m),
      bufferOf(be, v),
      bufferOf(be, mNew),
      bufferOf(be, vNew),
      bufferOf(be, norm ?? state.dummy()),
      bufferOf(be, mask),
      uniforms,
    ].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const pBufs = params.map((p) => bufferOf(be, p));
  const outBufs = pNew.map((t) => (t ? bufferOf(be, t) : null));
  const enc = encoder(be);
  let off = 0;
  pBufs.forEach((b, i) => {
    if (sizes[i]) enc.copyBufferToBuffer(b, 0, P, off * 4, sizes[i] * 4);
    off += sizes[i];
  });
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(workgroups);
  pass.end();
  off = 0;
  outBufs.forEach((b, i) => {
    if (b) enc.copyBufferToBuffer(P, off * 4, b, 0, sizes[i] * 4);
    off += sizes[i];
  });
  adamwWebGPUCommands.dispatches++;
  adamwWebGPUCommands.copies += 2 * pBufs.length;
  be.submitQueue();
  flatP.dispose();
  params.forEach((p, i) => {
    const t = pNew[i];
    if (t) {
      p.assign(t);
      t.dispose(); // the variable holds its own reference
    }
  });
  m.assign(mNew);
  v.assign(vNew);
  tf.dispose([mNew, vNew]);
}
