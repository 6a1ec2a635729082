/**
 * Move weights between ssmlab and the PyTorch reference under the reference's `state_dict` names and layouts
 * (docs/models/baseline.md, docs/models/mhc.md): Linear weights [out, in], depthwise Conv1d [d, 1, k], the
 * tied head written as both `tok_emb.emb.weight` and `lm_head.weight`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "./types.ts";

/** A host tensor: values and shape. */
export interface HostTensor {
  /** Values, row-major. */
  data: Float32Array;
  /** Shape. */
  shape: number[];
}

/** Names that alias another weight (tied LM head). */
export const TIED_ALIASES: Record<string, string> = { "lm_head.weight": "tok_emb.emb.weight" };

/**
 * Export a model's weights under the reference names (tied head included).
 * Uses `await data()` so it works on every backend.
 *
 * @example
 * ```ts
 * // const sd = await exportReferenceWeights(model); // Map name → {data, shape}
 * ```
 */
export async function exportReferenceWeights(model: LanguageModel): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, v] of model.weights) {
    out.set(name, { data: (await v.data()) as Float32Array, shape: [...v.shape] });
  }
  for (const [alias, target] of Object.entries(TIED_ALIASES)) {
    const t = out.get(target);
    if (t) out.set(alias, t);
  }
  return out;
}

/**
 * Load reference-named weights into a model, strictly: a missing, unexpected or mis-shaped tensor is refused
 * with one error that lists all of them, and nothing is assigned unless everything matches.
 *
 * @param source where the weights came from (named in errors)
 */
export function importReferenceWeights(
  model: LanguageModel,
  weights: Map<string, HostTensor>,
  source = "checkpoint",
): void {
  const missing: string[] = [];
  const misShaped: string[] = [];
  const extra: string[] = [];
  for (const [name, v] of model.weights) {
    const t = weights.get(name);
    if (!t) missing.push(name);
    else if (t.shape.length !== v.shape.length || t.shape.some((s, i) => s !== v.shape[i])) {
      misShaped.push(`${name} (got [${t.shape.join(", ")}], expected [${v.shape.join(", ")}])`);
    } else if (t.data.length !== v.size) {
      misShaped.push(`${name} (got ${t.data.length} values, expected ${v.size})`);
    }
  }
  for (const name of weights.keys()) {
    if (!model.weights.has(name) && !(name in TIED_ALIASES && model.weights.has(TIED_ALIASES[name]))) {
      extra.push(name);
    }
  }
  for (const [alias, target] of Object.entries(TIED_ALIASES)) {
    const a = weights.get(alias), t = weights.get(target);
    if (a && t && a !== t && (a.data.length !== t.data.length || a.data.some((x, i) => x !== t.data[i]))) {
      misShaped.push(`${alias} (must equal ${target}: the LM head is tied)`);
    }
  }
  const problems: string[] = [];
  if (missing.length) problems.push(`missing ${missing.length}: ${missing.join(", ")}`);
  if (extra.length) problems.push(`unexpected ${extra.length}: ${extra.join(", ")}`);
  if (misShaped.length) problems.push(`mis-shaped ${misShaped.length}: ${misShaped.join(", ")}`);
  if (problems.length) {
    throw new Error(
      `Cannot load weights from ${source} into a "${model.config.kind}" model: ${problems.join("; ")}.`,
    );
  }
  for (const [name, v] of model.weights) {
    const t = weights.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(t.data, v.shape, "float32")));
  }
}
