/**
 * Choose and start the TensorFlow.js backend, and describe the environment for results.
 *
 * One function, {@linkcode initBackend}, picks the backend from an option or the `SSMLAB_BACKEND` environment
 * variable: `tensorflow` (native, when `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node` is installed —
 * optional, never required), `webgpu`, `wasm`, `cpu`, or `auto` (the fastest that starts). Every run records
 * which one ran through {@linkcode describeEnvironment}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { installDeviceGradients } from "./nn/device_grads.ts";
import { installLeadingSum } from "./nn/reduce_webgpu.ts";

/** The backends ssmlab knows how to start. */
export const BACKENDS = ["tensorflow", "webgpu", "wasm", "cpu"] as const;
/** A backend name, or `auto`. */
export type BackendName = typeof BACKENDS[number] | "auto";

/** Order in which `auto` tries backends: fastest first. */
const AUTO_ORDER: (typeof BACKENDS[number])[] = ["tensorflow", "webgpu", "wasm", "cpu"];

let started: string | null = null;

/** Silence tfjs's "looks like you are running TensorFlow.js in Node.js" banner (printed by the cpu backend). */
function silenceNodeBanner(): void {
  try {
    const cpu = tf.findBackend("cpu") as unknown as { firstUse?: boolean } | null;
    if (cpu) cpu.firstUse = false;
  } catch { /* the cpu backend may not be registered */ }
}

async function tryNative(): Promise<boolean> {
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      await import(pkg);
      if (tf.findBackend("tensorflow")) return true;
    } catch { /* not installed: optional */ }
  }
  return false;
}

/** Software GPU adapters (llvmpipe, SwiftShader) that `auto` skips: they run, but slower than wasm. */
function isSoftwareAdapter(info: { isFallbackAdapter?: boolean; description?: string } | undefined): boolean {
  if (!info) return false;
  return info.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader/i.test(info.description ?? "");
}

async function registerBackend(name: typeof BACKENDS[number], auto = false): Promise<boolean> {
  switch (name) {
    case "cpu":
      return true;
    case "wasm": {
      const wasm = await import("@tensorflow/tfjs-backend-wasm");
      // Serve the .wasm binaries from the installed package (works in Deno and Node).
      try {
        const dir = new URL(
          "./",
          import.meta.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"),
        );
        if (dir.protocol === "file:") {
          wasm.setWasmPaths(dir.pathname.endsWith("/") ? dir.pathname : dir.pathname + "/");
        }
      } catch { /* bundled: the wasm module finds its own files */ }
      return true;
    }
    case "webgpu": {
      type Adapter = { info?: { isFallbackAdapter?: boolean; description?: string } };
      const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<Adapter | null> } } })
        .navigator
        ?.gpu;
      if (!gpu) return false;
      const adapter = await gpu.requestAdapter().catch(() => null);
      if (!adapter) return false;
      if (auto && isSoftwareAdapter(adapter.info)) return false;
      await import("@tensorflow/tfjs-backend-webgpu");
      return true;
    }
    case "tensorflow":
      return await tryNative();
  }
}

/** Options of {@linkcode initBackend}. */
export interface BackendOptions {
  /** Backend to start; default: the `SSMLAB_BACKEND` environment variable, else `auto`. */
  backend?: BackendName | string;
  /**
   * tfjs environment flags to set after the backend starts, e.g. `{ WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 64 }`;
   * default: the `SSMLAB_TF_FLAGS` environment variable (`NAME=value,NAME=value`).
   */
  flags?: Record<string, number | boolean>;
}

/** Parse `NAME=value,NAME=value` (numbers and true/false) into tfjs flags. */
export function parseTfFlags(spec: string): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Z0-9_]+)=(.+)$/.exec(part);
    const raw = m?.[2].trim();
    const value = raw === "true" ? true : raw === "false" ? false : Number(raw);
    if (!m || (typeof value === "number" && !Number.isFinite(value))) {
      throw new Error(
        `Invalid tfjs flag "${part}" in SSMLAB_TF_FLAGS: expected NAME=number or NAME=true|false.`,
      );
    }
    out[m[1]] = value;
  }
  return out;
}

function applyFlags(flags: Record<string, number | boolean>): void {
  for (const [k, v] of Object.entries(flags)) {
    try {
      tf.env().set(k, v);
    } catch (e) {
      throw new Error(`Cannot set tfjs flag "${k}" to "${v}": ${(e as Error).message}`);
    }
  }
}

function envVar(name: string): string | undefined {
  try {
    return (globalThis as { Deno?: { env: { get(k: string): string | undefined } } }).Deno?.env.get(name) ??
      (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env?.[name];
  } catch {
    return undefined;
  }
}

function envBackend(): string | undefined {
  return envVar("SSMLAB_BACKEND");
}

/**
 * Start a tfjs backend and return its name.
 *
 * @example
 * ```ts
 * import { initBackend } from "./backend.ts";
 * const name = await initBackend({ backend: "cpu" }); // "cpu"
 * ```
 * @throws Error when the name is unknown, or a named backend cannot start here.
 */
export async function initBackend(opts: BackendOptions = {}): Promise<string> {
  const requested = (opts.backend ?? envBackend() ?? "auto").trim().toLowerCase();
  if (requested !== "auto" && !(BACKENDS as readonly string[]).includes(requested)) {
    throw new Error(
      `Unknown backend "${requested}" (from ${opts.backend ? "the backend option" : "SSMLAB_BACKEND"}): ` +
        `expected one of auto, ${BACKENDS.join(", ")}.`,
    );
  }
  installDeviceGradients();
  const candidates = requested === "auto" ? AUTO_ORDER : [requested as typeof BACKENDS[number]];
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      if (!(await registerBackend(name, requested === "auto"))) {
        failures.push(`${name}: not available here`);
        continue;
      }
      if (await tf.setBackend(name)) {
        await tf.ready();
        silenceNodeBanner();
        // tfjs-webgpu runs an op on the CPU when its inputs are small host arrays, even when its output is large
        // (a scalar gradient broadcast to [B, T, d]); the result is then uploaded. Keep every op on the GPU.
        if (name === "webgpu") {
          tf.env().set("WEBGPU_CPU_FORWARD", false);
          installLeadingSum(); // sums over leading axes (broadcast gradients) in one dispatch, no transpose
        }
        applyFlags(opts.flags ?? parseTfFlags(envVar("SSMLAB_TF_FLAGS") ?? ""));
        started = name;
        return name;
      }
      failures.push(`${name}: tf.setBackend returned false`);
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`Could not start backend "${requested}": ${failures.join("; ")}.`);
}

/** The backend started by {@linkcode initBackend}, or tfjs's current one. */
export function currentBackend(): string {
  return started ?? tf.getBackend();
}

/** Versions and machine facts saved beside every result. */
export interface EnvironmentInfo {
  /** The active tfjs backend ("cpu", "wasm", "webgpu", "tensorflow"). */
  backend: string;
  /** The tfjs version. */
  tfjs: string;
  /** The JavaScript runtime running ssmlab. */
  runtime: "deno" | "node" | "other";
  /** Deno's version, or null when not running under Deno. */
  deno: string | null;
  /**
   * Node's version, only when running under Node; null under Deno (whose `process.versions.node` is its
   * Node-compatibility level, kept in `nodeCompat`). Older `config.json` files may hold that level here.
   */
  node: string | null;
  /** Under Deno: the Node version its `node:` compatibility layer reports; otherwise null. */
  nodeCompat: string | null;
  /** The V8 engine's version (Deno or Node), or null when unknown. */
  v8: string | null;
  /** Deno's bundled TypeScript version, or null. */
  typescript: string | null;
  /** The target triple (Deno) or `<platform>-<arch>` (Node). */
  platform: string;
  /** Logical CPU cores, or null when unknown. */
  cpus: number | null;
  /** The WebGPU adapter (vendor, architecture, description), or null. */
  gpu: string | null;
  /** The ssmlab version. */
  ssmlab: string;
  /** When this description was made (ISO 8601). */
  timestamp: string;
}

/** The version of this package. */
export const SSMLAB_VERSION = "0.1.0";

/**
 * Describe the running environment (backend, versions, machine) for a run's `config.json`.
 *
 * @example
 * ```ts
 * import { describeEnvironment } from "./backend.ts";
 * console.log(describeEnvironment().tfjs); // "4.22.0"
 * ```
 */
export function describeEnvironment(): EnvironmentInfo {
  const g = globalThis as unknown as {
    Deno?: { version: { deno: string; v8?: string; typescript?: string }; build: { target: string } };
    process?: { versions?: { node?: string; v8?: string }; platform?: string; arch?: string };
    navigator?: { hardwareConcurrency?: number };
  };
  let gpu: string | null = null;
  try {
    const b = tf.backend() as unknown as {
      adapterInfo?: { vendor?: string; architecture?: string; description?: string };
    };
    if (b.adapterInfo) {
      gpu =
        [b.adapterInfo.vendor, b.adapterInfo.architecture, b.adapterInfo.description].filter(Boolean).join(
          " ",
        ) || null;
    }
  } catch { /* no backend yet */ }
  return {
    backend: currentBackend(),
    tfjs: tf.version.tfjs,
    runtime: g.Deno ? "deno" : g.process?.versions?.node ? "node" : "other",
    deno: g.Deno?.version.deno ?? null,
    node: g.Deno ? null : g.process?.versions?.node ?? null,
    nodeCompat: g.Deno ? g.process?.versions?.node ?? null : null,
    v8: g.Deno?.version.v8 ?? g.process?.versions?.v8 ?? null,
    typescript: g.Deno?.version.typescript ?? null,
    platform: g.Deno?.build.target ?? `${g.process?.platform}-${g.process?.arch}`,
    cpus: g.navigator?.hardwareConcurrency ?? null,
    gpu,
    ssmlab: SSMLAB_VERSION,
    timestamp: new Date().toISOString(),
  };
}

/** The parts of tfjs-backend-webgpu's buffer manager that the memory helpers below touch. */
interface WebGPUBufferManagerLike {
  numBytesUsed: number;
  numBytesAllocated: number;
  numFreeBuffers: number;
  freeBuffers: Map<string, { size: number; destroy(): void }[]>;
  acquireBuffer: (...args: unknown[]) => unknown;
}

function webgpuBufferManager(): WebGPUBufferManagerLike | null {
  try {
    if (tf.getBackend() !== "webgpu") return null;
    return (tf.backend() as unknown as { bufferManager?: WebGPUBufferManagerLike }).bufferManager ?? null;
  } catch {
    return null;
  }
}

/**
 * Destroy the webgpu backend's pool of free buffers (tfjs keeps every released buffer for reuse, so the pool only
 * grows), so that a following measurement starts from the live buffers only. Returns the bytes freed; 0 on other
 * backends.
 *
 * @example
 * ```ts
 * import { releaseGpuPool } from "./backend.ts";
 * const freed = releaseGpuPool(); // 0 unless the backend is webgpu
 * ```
 */
export function releaseGpuPool(): number {
  const bm = webgpuBufferManager();
  if (!bm) return 0;
  let freed = 0;
  for (const buffers of bm.freeBuffers.values()) {
    for (const b of buffers) {
      freed += b.size;
      b.destroy();
    }
    buffers.length = 0;
  }
  bm.numFreeBuffers = 0;
  bm.numBytesAllocated -= freed;
  return freed;
}

/**
 * Track the high-water mark of the webgpu backend's bytes in use (buffers held by live tensors, uniforms and
 * staging buffers; the free pool not counted) at every buffer acquisition: the analogue of PyTorch's
 * `torch.cuda.max_memory_allocated`. `null` on other backends. Call `stop()` to remove the hook.
 *
 * @example
 * ```ts
 * import { trackGpuLivePeak } from "./backend.ts";
 * const t = trackGpuLivePeak();
 * // … run a step …
 * const peakBytes = t?.stop();
 * ```
 */
export function trackGpuLivePeak(): { peak(): number; stop(): number } | null {
  const bm = webgpuBufferManager();
  if (!bm) return null;
  const orig = bm.acquireBuffer;
  let peak = bm.numBytesUsed;
  bm.acquireBuffer = function (this: WebGPUBufferManagerLike, ...args: unknown[]) {
    const r = orig.apply(this, args);
    if (this.numBytesUsed > peak) peak = this.numBytesUsed;
    return r;
  };
  return {
    peak: () => peak,
    stop: () => {
      bm.acquireBuffer = orig;
      return peak;
    },
  };
}
