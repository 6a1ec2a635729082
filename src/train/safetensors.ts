/**
 * The safetensors file format, read and written byte-exactly so PyTorch's `safetensors` loads ssmlab
 * checkpoints and ssmlab loads PyTorch's:
 *
 * ```
 * [8 bytes: header length N, little-endian u64]
 * [N bytes: JSON {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, …},
 *           padded with spaces so that 8 + N is a multiple of 8]
 * [data: the tensors' little-endian bytes, contiguous, in header order; offsets are relative to the data start]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Element types ssmlab reads and writes. */
export type SafeDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** Typed arrays a tensor's data may be held in. */
export type SafeData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** One tensor: data in row-major order and its shape. */
export interface SafeTensor {
  /** Values, row-major. */
  data: SafeData;
  /** Shape. */
  shape: number[];
  /** Element type; inferred from the typed array when absent (Float32Array → F32, Int32Array → I32, …). */
  dtype?: SafeDtype;
}

/** A loaded file: tensors in file order and the metadata string map. */
export interface SafetensorsFile {
  /** Tensors by name, in file order. */
  tensors: Map<string, SafeTensor>;
  /** The header's `__metadata__` string map. */
  metadata: Record<string, string>;
}

const BYTES: Record<SafeDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Largest header accepted (as the Rust implementation: 100 MB). */
const MAX_HEADER = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function inferDtype(data: SafeData): SafeDtype {
  if (data instanceof Float32Array) return "F32";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof Float64Array) return "F64";
  if (data instanceof BigInt64Array) return "I64";
  if (data instanceof Int16Array) return "I16";
  if (data instanceof Int8Array) return "I8";
  if (data instanceof Uint8Array) return "U8";
  throw new Error(`Unsupported typed array ${(data as object).constructor?.name}.`);
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Serialise tensors to safetensors bytes (tensors in the map's order).
 *
 * @throws Error when a tensor's length does not match its shape, or a name is empty / `__metadata__`.
 * @example
 * ```ts
 * import { encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(new Map([["w", { data: new Float32Array([1, 2]), shape: [2] }]]));
 * ```
 */
export function encodeSafetensors(
  tensors: Map<string, SafeTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error("safetensors: big-endian hosts are not supported.");
  // deno-lint-ignore no-explicit-any
  const header: Record<string, any> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new Error(`safetensors metadata "${k}" must be a string, got ${typeof v}.`);
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of tensors) {
    if (!name || name === "__metadata__") throw new Error(`safetensors: invalid tensor name "${name}".`);
    const dtype = t.dtype ?? inferDtype(t.data);
    const expected = inferDtype(t.data);
    if (
      dtype !== expected && !(dtype === "BOOL" && expected === "U8") &&
      !((dtype === "F16" || dtype === "BF16") && t.data instanceof Uint8Array)
    ) {
      throw new Error(
        `safetensors: tensor "${name}" says dtype "${dtype}" but holds a ${t.data.constructor.name}.`,
      );
    }
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`safetensors: tensor "${name}" has an invalid shape ${JSON.stringify(t.shape)}.`);
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (bytes.byteLength !== product(t.shape) * BYTES[dtype]) {
      throw new Error(
        `safetensors: tensor "${name}" has ${bytes.byteLength} bytes but shape [${t.shape}] of ${dtype} needs ` +
          `${product(t.shape) * BYTES[dtype]}.`,
      );
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
    parts.push(bytes);
  }
  let json = JSON.stringify(header);
  const jsonBytesLen = new TextEncoder().encode(json).length;
  json += " ".repeat((8 - ((8 + jsonBytesLen) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const b of parts) {
    out.set(b, p);
    p += b.byteLength;
  }
  return out;
}

/**
 * Parse safetensors bytes. F32/I32/F64/I64/I16/I8/U8/BOOL come back in their typed arrays; F16 and BF16 are
 * widened to Float32Array (dtype stays "F16"/"BF16" in the result so callers can tell).
 *
 * @param source a name for error messages (usually the file path)
 * @throws Error naming `source` and what is wrong (truncated, bad header JSON, bad offsets, unknown dtype, …).
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const f = decodeSafetensors(encodeSafetensors(new Map([["w", { data: new Int32Array([7]), shape: [1] }]])));
 * f.tensors.get("w")!.data; // Int32Array [7]
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, source = "<bytes>"): SafetensorsFile {
  const fail = (what: string): never => {
    throw new Error(`Invalid safetensors file "${source}": ${what}.`);
  };
  if (bytes.byteLength < 8) {
    fail(`it has ${bytes.byteLength} bytes, fewer than the 8-byte header length (truncated?)`);
  }
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) fail(`the header length ${n64} is larger than the ${MAX_HEADER}-byte limit`);
  const n = Number(n64);
  if (8 + n > bytes.byteLength) {
    fail(
      `the header says ${n} bytes of JSON but the file has only ${
        bytes.byteLength - 8
      } after the length (truncated?)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    return fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) fail("the header is not a JSON object");
  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: [string, SafeDtype, number[], number, number][] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!info || typeof info !== "object" || Array.isArray(info)) fail(`"__metadata__" is not an object`);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`metadata "${k}" is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!t || typeof t !== "object") fail(`the entry of tensor "${name}" is not an object`);
    if (typeof t.dtype !== "string" || !(t.dtype in BYTES)) {
      fail(
        `tensor "${name}" has unsupported dtype ${JSON.stringify(t.dtype)} (supported: ${
          Object.keys(BYTES).join(", ")
        })`,
      );
    }
    const shape = t.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      fail(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const off = t.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) ||
      off[1] < off[0]
    ) {
      fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [b, e] = off as number[];
    const dtype = t.dtype as SafeDtype;
    const need = product(shape as number[]) * BYTES[dtype];
    if (e - b !== need) {
      fail(`tensor "${name}" spans ${e - b} bytes but shape [${shape}] of ${dtype} needs ${need}`);
    }
    if (e > dataLen) {
      fail(
        `tensor "${name}" ends at data byte ${e} but the file has only ${dataLen} data bytes (truncated?)`,
      );
    }
    entries.push([name, dtype, shape as number[], b, e]);
  }
  // Offsets must tile the data buffer exactly (as the Rust loader checks).
  const sorted = [...entries].sort((x, y) => x[3] - y[3]);
  let pos = 0;
  for (const [name, , , b, e] of sorted) {
    if (b !== pos) fail(`tensor "${name}" starts at data byte ${b}, expected ${pos} (gap or overlap)`);
    pos = e;
  }
  if (pos !== dataLen) {
    fail(`the tensors cover ${pos} data bytes but the file has ${dataLen} (trailing bytes)`);
  }
  const tensors = new Map<string, SafeTensor>();
  for (const [name, dtype, shape, b, e] of entries) {
    const buf = bytes.slice(dataStart + b, dataStart + e).buffer;
    tensors.set(name, { dtype, shape: [...shape], data: view(dtype, buf) });
  }
  return { tensors, metadata };
}

function view(dtype: SafeDtype, buf: ArrayBuffer): SafeData {
  switch (dtype) {
    case "F64":
      return new Float64Array(buf);
    case "F32":
      return new Float32Array(buf);
    case "I64":
      return new BigInt64Array(buf);
    case "I32":
      return new Int32Array(buf);
    case "I16":
      return new Int16Array(buf);
    case "I8":
      return new Int8Array(buf);
    case "U8":
    case "BOOL":
      return new Uint8Array(buf);
    case "F16":
      return halfToFloat(new Uint16Array(buf));
    case "BF16": {
      const src = new Uint16Array(buf);
      const out = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
      return new Float32Array(out.buffer);
    }
  }
}

function halfToFloat(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const x = h[i];
    const s = x & 0x8000 ? -1 : 1;
    const e = (x >> 10) & 0x1f;
    const f = x & 0x3ff;
    out[i] = e === 0
      ? s * f * 2 ** -24
      : e === 31
      ? (f ? NaN : s * Infinity)
      : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return out;
}

/**
 * Write bytes atomically: a temporary file beside `path`, flushed, then renamed over it.
 * @example
 * ```ts
 * import { writeFileAtomic } from "./safetensors.ts";
 * await writeFileAtomic("/tmp/x.txt", new TextEncoder().encode("hi"));
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      let off = 0;
      while (off < bytes.byteLength) off += await f.write(bytes.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Save tensors to a safetensors file (atomically: temp file + rename).
 *
 * @example
 * ```ts
 * import { saveSafetensors } from "./safetensors.ts";
 * await saveSafetensors("/tmp/w.safetensors", new Map([["w", { data: new Float32Array(4), shape: [2, 2] }]]), {
 *   format: "pt",
 * });
 * ```
 */
export async function saveSafetensors(
  path: string,
  tensors: Map<string, SafeTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Load a safetensors file.
 * @throws Error naming the file when it is missing, truncated or corrupt.
 * @example
 * ```ts
 * import { loadSafetensors } from "./safetensors.ts";
 * // const { tensors, metadata } = await loadSafetensors("model.safetensors");
 * ```
 */
export async function loadSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`Safetensors file "${path}" does not exist.`);
    throw new Error(`Cannot read safetensors file "${path}": ${(e as Error).message}`);
  }
  return decodeSafetensors(bytes, path);
}

/**
 * Read tf.Variables (or tensors) to host tensors for saving (float32 → F32, int32 → I32), asynchronously (the
 * webgpu backend does not allow `dataSync`); all reads are started before the first await.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tensorsFromVariables } from "./safetensors.ts";
 * const m = await tensorsFromVariables(new Map([["w", tf.variable(tf.ones([2]))]]));
 * ```
 */
export async function tensorsFromVariables(vars: Map<string, tf.Tensor>): Promise<Map<string, SafeTensor>> {
  for (const [name, v] of vars) {
    if (v.isDisposed) throw new Error(`Cannot save "${name}": the tensor is disposed.`);
    if (v.dtype !== "float32" && v.dtype !== "int32" && v.dtype !== "bool") {
      throw new Error(`Cannot save "${name}": dtype "${v.dtype}" is not supported.`);
    }
  }
  const reads = [...vars].map(([name, v]) => ({ name, shape: [...v.shape], dtype: v.dtype, raw: v.data() }));
  const out = new Map<string, SafeTensor>();
  for (const r of reads) {
    const raw = await r.raw;
    let data: SafeData;
    if (r.dtype === "float32") data = Float32Array.from(raw as Float32Array);
    else if (r.dtype === "int32") data = Int32Array.from(raw as Int32Array);
    else data = Uint8Array.from(raw as Uint8Array);
    out.set(r.name, { data, shape: r.shape, dtype: r.dtype === "bool" ? "BOOL" : undefined });
  }
  return out;
}

/** Options of {@linkcode assignVariables}. */
export interface AssignOptions {
  /** Require exactly the same names (default true); otherwise extra tensors are ignored and missing ones kept. */
  strict?: boolean;
  /** Used in error messages (e.g. the file path). */
  source?: string;
}

/**
 * Check names and shapes, then copy host tensors into tf.Variables. Nothing is assigned unless every
 * check passes.
 *
 * @returns the names assigned
 * @throws Error listing every missing, unexpected and mis-shaped tensor.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assignVariables } from "./safetensors.ts";
 * const w = new Map([["w", tf.variable(tf.zeros([2]))]]);
 * assignVariables(w, new Map([["w", { data: new Float32Array([1, 2]), shape: [2] }]]));
 * ```
 */
export function assignVariables(
  vars: Map<string, tf.Variable>,
  tensors: Map<string, SafeTensor>,
  opts: AssignOptions = {},
): string[] {
  const strict = opts.strict ?? true;
  const missing = [...vars.keys()].filter((n) => !tensors.has(n));
  const extra = [...tensors.keys()].filter((n) => !vars.has(n));
  const misshaped: string[] = [];
  for (const [name, t] of tensors) {
    const v = vars.get(name);
    if (!v) continue;
    if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
      misshaped.push(`"${name}" is [${t.shape}] in the file but [${v.shape}] in the model`);
    } else if (t.data instanceof BigInt64Array) {
      misshaped.push(`"${name}" has 64-bit integer data, which tfjs cannot hold`);
    }
  }
  const problems: string[] = [];
  if (strict && missing.length) problems.push(`missing ${missing.map((n) => `"${n}"`).join(", ")}`);
  if (strict && extra.length) problems.push(`unexpected ${extra.map((n) => `"${n}"`).join(", ")}`);
  if (misshaped.length) problems.push(`mis-shaped ${misshaped.join(", ")}`);
  if (problems.length) {
    throw new Error(
      `Cannot load weights${opts.source ? ` from "${opts.source}"` : ""}: ${problems.join("; ")}.`,
    );
  }
  const done: string[] = [];
  for (const [name, t] of tensors) {
    const v = vars.get(name);
    if (!v) continue;
    tf.tidy(() => {
      const d = t.data as Exclude<SafeData, BigInt64Array>;
      const vals = v.dtype === "float32"
        ? (d instanceof Float32Array ? d : Float32Array.from(d))
        : v.dtype === "int32"
        ? (d instanceof Int32Array ? d : Int32Array.from(d))
        : d;
      const x = tf.tensor(vals as Float32Array | Int32Array | Uint8Array, t.shape, v.dtype);
      v.assign(x);
    });
    done.push(name);
  }
  return done;
}
