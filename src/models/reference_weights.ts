/**
 * Move weights between ssmlab and the PyTorch reference under the reference's `state_dict` names and layouts
 * (docs/models/mhc.md): Linear weights [out, in], depthwise Conv1d [d, 1, k]; the LM head `lm_head.weight` is tied to
 * `tok_emb.emb.weight`.
 *
 * Reading accepts every layout of the tied pair that PyTorch tools write:
 *
 * - both names (a plain `state_dict()` dump, `torch.save`, or ssmlab's `tiedHead: "both"` export) — the two
 *   matrices must be equal;
 * - only `lm_head.weight` (what `safetensors.torch.save_model` writes: it keeps the alphabetically first name
 *   of a shared pair and records the dropped one in the metadata);
 * - only `tok_emb.emb.weight` (ssmlab's own training checkpoints).
 *
 * Floating tensors of dtype F32, F16, BF16 or F64 are converted to float32; any other dtype is refused with
 * the file, the tensor name and the dtype. A whole-file wrapper prefix (`module.` from DistributedDataParallel,
 * `_orig_mod.` from `torch.compile`, `model.`) is removed when every name carries it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { SafeTensor } from "../train/safetensors.ts";
import type { LanguageModel } from "./types.ts";

/** A host tensor: values and shape. */
export interface HostTensor {
  /** Values in row-major order. */
  data: Float32Array;
  /** The tensor's shape. */
  shape: number[];
}

/** Names that alias another weight (tied LM head): alias → the model's own name. */
export const TIED_ALIASES: Record<string, string> = { "lm_head.weight": "tok_emb.emb.weight" };

/** How a file held a tied pair: both names, only the alias (`lm_head.weight`), only the target, or neither. */
export type TiedLayout = "both" | "head-only" | "embedding-only" | "none";

/** How an export writes a tied pair: once under `lm_head.weight` (as `save_model`), or under both names. */
export type TiedHeadMode = "once" | "both";

/** Wrapper prefixes removed when every tensor name carries the same one. */
const WRAPPER_PREFIXES = ["module.", "_orig_mod.", "model."];

const FLOAT_DTYPES = ["F32", "F16", "BF16", "F64"];

/**
 * A tensor's values as float32, or an error naming the source, the tensor and its dtype.
 * F16/BF16 arrive from `decodeSafetensors` already widened; F64 is rounded to the nearest float32.
 * @example
 * ```ts
 * import { toFloat32 } from "./reference_weights.ts";
 * toFloat32("w", { data: new Float64Array([0.5]), shape: [1] }, "w.safetensors"); // Float32Array [0.5]
 * ```
 */
export function toFloat32(name: string, t: SafeTensor, source = "checkpoint"): Float32Array {
  const dtype = t.dtype ??
    (t.data instanceof Float32Array ? "F32" : t.data instanceof Float64Array ? "F64" : "");
  if (FLOAT_DTYPES.includes(dtype)) {
    if (t.data instanceof Float32Array) return t.data;
    if (t.data instanceof Float64Array) return Float32Array.from(t.data);
  }
  throw new Error(
    `Tensor "${name}" in "${source}" has dtype ${dtype || t.data.constructor.name}; a weight must be ` +
      `${FLOAT_DTYPES.join(", ")} (it is converted to float32).`,
  );
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(a[i] !== a[i] && b[i] !== b[i])) return false;
  return true;
}

function stripWrapper(weights: ReadonlyMap<string, SafeTensor>, names: ReadonlySet<string>) {
  const keys = [...weights.keys()];
  for (const p of WRAPPER_PREFIXES) {
    if (keys.length && keys.every((k) => k.startsWith(p)) && ![...names].some((n) => n.startsWith(p))) {
      return new Map(keys.map((k) => [k.slice(p.length), weights.get(k)!]));
    }
  }
  return new Map(weights);
}

/** Weights renamed to a model's own names, float32, with the tied pair's layout and any problems found. */
export interface PreparedWeights {
  /** The weights under the model's names, float32 (names the model lacks kept as they were). */
  weights: Map<string, HostTensor>;
  /** How the input held the tied pair. */
  tied: TiedLayout;
  /** Tensors refused (bad dtype, unequal tied pair), as sentences; empty when all is well. */
  problems: string[];
  /** The model names whose tensor was present but refused (so they are not also reported missing). */
  refused: Set<string>;
}

/**
 * Rename a reference-named `state_dict` to a model's own names: strip a wrapper prefix, fold the tied pair
 * onto the model's name, convert every tensor to float32. Names the model lacks are kept (the caller reports
 * them as unexpected).
 *
 * @param names the model's weight names (`model.weights.keys()`)
 * @param source where the weights came from (named in problems)
 * @example
 * ```ts
 * import { prepareReferenceWeights } from "./reference_weights.ts";
 * const e = { data: new Float32Array([1, 2]), shape: [1, 2] };
 * const p = prepareReferenceWeights(new Set(["tok_emb.emb.weight"]), new Map([["lm_head.weight", e]]));
 * p.tied; // "head-only"; p.weights has "tok_emb.emb.weight"
 * ```
 */
export function prepareReferenceWeights(
  names: Iterable<string>,
  weights: ReadonlyMap<string, SafeTensor>,
  source = "checkpoint",
): PreparedWeights {
  const own = new Set(names);
  const raw = stripWrapper(weights, own);
  const problems: string[] = [];
  const refused = new Set<string>();
  const out = new Map<string, HostTensor>();
  for (const [name, t] of raw) {
    try {
      out.set(name, { data: toFloat32(name, t, source), shape: [...t.shape] });
    } catch (e) {
      problems.push((e as Error).message.replace(/\.$/, ""));
      refused.add(TIED_ALIASES[name] && !own.has(name) ? TIED_ALIASES[name] : name);
    }
  }
  let tied: TiedLayout = "none";
  for (const [alias, target] of Object.entries(TIED_ALIASES)) {
    if (!own.has(target) || own.has(alias)) continue;
    const a = out.get(alias), t = out.get(target);
    if (a && t) {
      tied = "both";
      if (!sameValues(a.data, t.data)) {
        problems.push(
          `"${alias}" in "${source}" differs from "${target}" (the LM head is tied: they must be equal)`,
        );
      }
      out.delete(alias);
    } else if (a) {
      tied = "head-only";
      out.delete(alias);
      out.set(target, a);
    } else if (t) tied = "embedding-only";
  }
  return { weights: out, tied, problems, refused };
}

/**
 * A model's weights (or a checkpoint's, under the model's names) as a PyTorch `state_dict` under the
 * reference names, ready for `encodeSafetensors`. Tensors are in byte order of their names, as
 * `safetensors.torch.save_file` lays them out.
 *
 * `tiedHead: "once"` (default) writes the tied matrix once, under `lm_head.weight`, and records
 * `{"tok_emb.emb.weight": "lm_head.weight"}` in the metadata — exactly what `safetensors.torch.save_model`
 * writes for the reference model (its `_remove_duplicate_names` keeps the alphabetically first name of a shared
 * pair: "lm_head.weight" < "tok_emb.emb.weight"). PyTorch loads it with
 * `safetensors.torch.load_model(model, path)` (strict by default). `tiedHead: "both"` writes both names (the
 * matrix twice) for a plain `model.load_state_dict(load_file(path), strict=True)`.
 *
 * @example
 * ```ts
 * import { referenceStateDict } from "./reference_weights.ts";
 * const e = { data: new Float32Array([1, 2]), shape: [1, 2] };
 * const { tensors, metadata } = referenceStateDict(new Map([["tok_emb.emb.weight", e]]));
 * [...tensors.keys()]; // ["lm_head.weight"]; metadata: { "tok_emb.emb.weight": "lm_head.weight" }
 * ```
 */
export function referenceStateDict(
  weights: ReadonlyMap<string, SafeTensor>,
  opts: { tiedHead?: TiedHeadMode } = {},
): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const mode = opts.tiedHead ?? "once";
  if (mode !== "once" && mode !== "both") {
    throw new Error(`Option "tiedHead" must be "once" or "both", got "${mode}".`);
  }
  const named = new Map(weights);
  const metadata: Record<string, string> = {};
  for (const [alias, target] of Object.entries(TIED_ALIASES)) {
    const t = named.get(target);
    if (!t || named.has(alias)) continue;
    named.set(alias, t);
    if (mode === "once") {
      named.delete(target);
      metadata[target] = alias;
    }
  }
  const names = [...named.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { tensors: new Map(names.map((n) => [n, named.get(n)!])), metadata };
}

/**
 * Export a model's weights under the reference names. By default both names of the tied pair are present
 * (sharing one array, so nothing is copied); `{ tiedHead: "once" }` keeps only `lm_head.weight`, as
 * {@linkcode referenceStateDict}. Uses `await data()` so it works on every backend.
 *
 * @example
 * ```ts
 * // const sd = await exportReferenceWeights(model); // Map name → {data, shape}
 * ```
 */
export async function exportReferenceWeights(
  model: LanguageModel,
  opts: { tiedHead?: TiedHeadMode } = { tiedHead: "both" },
): Promise<Map<string, HostTensor>> {
  const own = new Map<string, HostTensor>();
  for (const [name, v] of model.weights) {
    own.set(name, { data: (await v.data()) as Float32Array, shape: [...v.shape] });
  }
  const { tensors } = referenceStateDict(own, { tiedHead: opts.tiedHead ?? "both" });
  return tensors as Map<string, HostTensor>;
}

function shapeProblem(name: string, t: HostTensor, v: tf.Variable): string | null {
  if (t.shape.length !== v.shape.length || t.shape.some((s, i) => s !== v.shape[i])) {
    return `${name} (got [${t.shape.join(", ")}], expected [${v.shape.join(", ")}])`;
  }
  if (t.data.length !== v.size) return `${name} (got ${t.data.length} values, expected ${v.size})`;
  return null;
}

/**
 * Load reference-named weights into a model, strictly: a missing, unexpected, mis-shaped or wrongly typed
 * tensor is refused with one error that lists all of them, and nothing is assigned unless everything
 * matches. Takes `loadSafetensors(path).tensors` directly; any tied-pair layout (see the module doc).
 *
 * @param source where the weights came from (named in errors)
 * @returns the layout the tied pair had in `weights`
 * @example
 * ```ts
 * // importReferenceWeights(model, (await loadSafetensors("w.safetensors")).tensors, "w.safetensors");
 * ```
 */
export function importReferenceWeights(
  model: LanguageModel,
  weights: ReadonlyMap<string, SafeTensor>,
  source = "checkpoint",
): TiedLayout {
  const prep = prepareReferenceWeights(model.weights.keys(), weights, source);
  const missing: string[] = [];
  const misShaped: string[] = [];
  for (const [name, v] of model.weights) {
    const t = prep.weights.get(name);
    if (!t) {
      if (!prep.refused.has(name)) missing.push(name);
    } else {
      const p = shapeProblem(name, t, v);
      if (p) misShaped.push(p);
    }
  }
  const extra = [...prep.weights.keys()].filter((n) => !model.weights.has(n));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing ${missing.length}: ${missing.join(", ")}`);
  if (extra.length) problems.push(`unexpected ${extra.length}: ${extra.join(", ")}`);
  if (misShaped.length) problems.push(`mis-shaped ${misShaped.length}: ${misShaped.join(", ")}`);
  problems.push(...prep.problems);
  if (problems.length) {
    throw new Error(
      `Cannot load weights from "${source}" into a "${model.config.kind}" model: ${problems.join("; ")}.`,
    );
  }
  for (const [name, v] of model.weights) {
    const t = prep.weights.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(t.data, v.shape, "float32")));
  }
  return prep.tied;
}
