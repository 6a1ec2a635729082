/**
 * Checkpoints: a folder `<root>/step-<N>/` (or another name) holding
 *
 * - `model.safetensors` — the model's weights under their checkpoint names (docs/models/; PyTorch layouts);
 * - `config.json` — the model config (enough to rebuild the model);
 * - `optimizer.safetensors` — AdamW moments as `exp_avg.<name>` / `exp_avg_sq.<name>`, with the step counts,
 *   hyperparameters and frozen names in its metadata;
 * - `state.json` — step, epoch, data position, RNG states, schedule position, best validation loss, seed,
 *   backend and versions;
 * - `history.json` — the per-step training records so far (optional).
 *
 * A checkpoint is written into a temporary folder and renamed into place, then the `<root>/latest` pointer is
 * replaced atomically, then old `step-<N>` folders beyond `keepLast` are pruned. A crash at any moment leaves
 * the previous checkpoint and pointer intact.
 *
 * @module
 */
import type { LanguageModel, ModelConfig } from "../models/types.ts";
import { prepareReferenceWeights } from "../models/reference_weights.ts";
import type { RngState } from "../rng.ts";
import type { AdamW, AdamWMoments, AdamWState } from "./optim.ts";
import {
  assignVariables,
  loadSafetensors,
  type SafeTensor,
  saveSafetensors,
  tensorsFromVariables,
  writeFileAtomic,
} from "./safetensors.ts";

/** The run state saved in `state.json`. */
export interface TrainState {
  /** Optimizer steps completed. */
  step: number;
  /** Data epochs completed. */
  epoch: number;
  /** The data source's position (`BatchSource.getState()`). */
  data: unknown;
  /** Named generator states (`main` is the trainer's Rng). */
  rng: Record<string, RngState | unknown>;
  /** The LR schedule: its spec (or "custom") and position (= step). */
  schedule: { spec: unknown; lr: number; position: number };
  /** Best validation loss so far, or null. */
  bestValLoss: number | null;
  /** The run's seed. */
  seed: number;
  /** The tfjs backend that ran. */
  backend: string;
  /** Versions (from `describeEnvironment`). */
  versions: Record<string, unknown>;
  // deno-lint-ignore no-explicit-any
  /** Further fields a caller stores. */
  [field: string]: any;
}

/** Options of {@linkcode saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** The model whose weights and config are saved. */
  model: LanguageModel;
  /** The optimizer whose state is saved (none: weights only). */
  optimizer?: AdamW | null;
  /** Step, data position, generator states and the rest of the training state. */
  state: TrainState;
  /** Folder name under the root (default `step-<state.step>`). */
  name?: string;
  /** Keep only the newest `keepLast` `step-<N>` folders (default: keep all). */
  keepLast?: number;
  /** Per-step records, saved as `history.json`. */
  history?: unknown[];
  /** Point `latest` at this checkpoint (default true). */
  updateLatest?: boolean;
}

/** A checkpoint read back from disk. */
export interface LoadedCheckpoint {
  /** The checkpoint folder. */
  path: string;
  /** The model config (`config.json`). */
  config: ModelConfig;
  /** The weights (`model.safetensors`). */
  weights: Map<string, SafeTensor>;
  /** The optimizer state, or null when none was saved. */
  optimizer: AdamWState | null;
  /** The training state (`state.json`). */
  state: TrainState;
  /** The per-step records (`history.json`), or null. */
  history: unknown[] | null;
}

const enc = new TextEncoder();

function join(...parts: string[]): string {
  return parts.join("/").replace(/\/+/g, "/");
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Optimizer state → safetensors tensors (`exp_avg.<name>`, `exp_avg_sq.<name>`) + metadata.
 * @example
 * ```ts
 * // const { tensors, metadata } = optimizerToSafetensors(await optimizer.getState());
 * ```
 */
export function optimizerToSafetensors(
  s: AdamWState,
): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const tensors = new Map<string, SafeTensor>();
  const steps: Record<string, number> = {};
  for (const [name, mo] of s.moments) {
    tensors.set(`exp_avg.${name}`, { data: mo.m, shape: mo.shape });
    tensors.set(`exp_avg_sq.${name}`, { data: mo.v, shape: mo.shape });
    steps[name] = mo.step;
  }
  return {
    tensors,
    metadata: {
      format: "ssmlab-adamw",
      step: String(s.step),
      hyper: JSON.stringify(s.hyper),
      frozen: JSON.stringify(s.frozen),
      param_steps: JSON.stringify(steps),
    },
  };
}

/**
 * Inverse of {@linkcode optimizerToSafetensors}.
 * @example
 * ```ts
 * // const f = await loadSafetensors("runs/a/step-10/optimizer.safetensors");
 * // optimizer.setState(optimizerFromSafetensors(f.tensors, f.metadata));
 * ```
 */
export function optimizerFromSafetensors(
  tensors: Map<string, SafeTensor>,
  metadata: Record<string, string>,
  source = "optimizer.safetensors",
): AdamWState {
  if (metadata.format !== "ssmlab-adamw") {
    throw new Error(`"${source}" is not an ssmlab AdamW state (metadata format "${metadata.format}").`);
  }
  const steps = JSON.parse(metadata.param_steps ?? "{}") as Record<string, number>;
  const moments = new Map<string, AdamWMoments>();
  const problems: string[] = [];
  for (const name of Object.keys(steps)) {
    const m = tensors.get(`exp_avg.${name}`), v = tensors.get(`exp_avg_sq.${name}`);
    if (!m || !v) {
      problems.push(`moments of "${name}" are missing`);
      continue;
    }
    if (!(m.data instanceof Float32Array) || !(v.data instanceof Float32Array)) {
      problems.push(`moments of "${name}" are not F32`);
      continue;
    }
    moments.set(name, { m: m.data, v: v.data, shape: m.shape, step: steps[name] });
  }
  if (problems.length) throw new Error(`Invalid optimizer state "${source}": ${problems.join("; ")}.`);
  return {
    step: Number(metadata.step),
    hyper: JSON.parse(metadata.hyper),
    frozen: JSON.parse(metadata.frozen ?? "[]"),
    moments,
  };
}

/**
 * Write a checkpoint atomically and return its folder.
 *
 * @example
 * ```ts
 * // const dir = await saveCheckpoint("runs/a", { model, optimizer, state, keepLast: 3 }); // "runs/a/step-1000"
 * ```
 */
export async function saveCheckpoint(root: string, opts: SaveCheckpointOptions): Promise<string> {
  const name = opts.name ?? `step-${opts.state.step}`;
  if (!name || name.includes("/") || name.startsWith(".") || name === "latest") {
    throw new Error(`Invalid checkpoint name "${name}".`);
  }
  await Deno.mkdir(root, { recursive: true });
  const rand = Math.random().toString(36).slice(2, 10);
  const tmp = join(root, `.tmp-${name}-${rand}`);
  const final = join(root, name);
  await Deno.mkdir(tmp);
  try {
    await saveSafetensors(join(tmp, "model.safetensors"), await tensorsFromVariables(opts.model.weights), {
      format: "pt",
      kind: String(opts.model.config.kind),
    });
    await Deno.writeFile(
      join(tmp, "config.json"),
      enc.encode(JSON.stringify(opts.model.config, null, 2) + "\n"),
    );
    if (opts.optimizer) {
      const o = optimizerToSafetensors(await opts.optimizer.getState());
      await saveSafetensors(join(tmp, "optimizer.safetensors"), o.tensors, o.metadata);
    }
    await Deno.writeFile(join(tmp, "state.json"), enc.encode(JSON.stringify(opts.state, null, 2) + "\n"));
    if (opts.history) {
      await Deno.writeFile(join(tmp, "history.json"), enc.encode(JSON.stringify(opts.history)));
    }
    let old: string | null = null;
    if (await exists(final)) {
      old = join(root, `.old-${name}-${rand}`);
      await Deno.rename(final, old);
    }
    await Deno.rename(tmp, final);
    if (old) await Deno.remove(old, { recursive: true });
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new Error(`Could not write checkpoint "${final}": ${(e as Error).message}`);
  }
  if (opts.updateLatest ?? true) await writeFileAtomic(join(root, "latest"), enc.encode(name + "\n"));
  if (opts.keepLast) await pruneCheckpoints(root, opts.keepLast);
  return final;
}

/**
 * The `step-<N>` folders under `root`, oldest first.
 * @example
 * ```ts
 * // await listCheckpoints("runs/a"); // [{ name: "step-500", step: 500, path: "runs/a/step-500" }, …]
 * ```
 */
export async function listCheckpoints(root: string): Promise<{ name: string; step: number; path: string }[]> {
  const out: { name: string; step: number; path: string }[] = [];
  try {
    for await (const e of Deno.readDir(root)) {
      const m = /^step-(\d+)$/.exec(e.name);
      if (e.isDirectory && m) out.push({ name: e.name, step: Number(m[1]), path: join(root, e.name) });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return out.sort((a, b) => a.step - b.step);
}

/**
 * Delete all but the newest `keepLast` `step-<N>` folders (never the one `latest` points to).
 * @returns the folders deleted
 * @example
 * ```ts
 * // await pruneCheckpoints("runs/a", 3);
 * ```
 */
export async function pruneCheckpoints(root: string, keepLast: number): Promise<string[]> {
  if (!Number.isInteger(keepLast) || keepLast < 1) {
    throw new Error(`keepLast must be an integer ≥ 1, got "${keepLast}".`);
  }
  const all = await listCheckpoints(root);
  const latest = await readLatest(root);
  const doomed = all.slice(0, Math.max(0, all.length - keepLast)).filter((c) => c.name !== latest);
  for (const c of doomed) await Deno.remove(c.path, { recursive: true });
  return doomed.map((c) => c.path);
}

async function readLatest(root: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(join(root, "latest"))).trim() || null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * The folder `root/latest` points to, or null when there is no pointer.
 * @throws Error when the pointer names a folder that does not exist.
 * @example
 * ```ts
 * // await latestCheckpoint("runs/a"); // "runs/a/step-1000"
 * ```
 */
export async function latestCheckpoint(root: string): Promise<string | null> {
  const name = await readLatest(root);
  if (!name) return null;
  const p = join(root, name);
  if (!(await exists(join(p, "model.safetensors")))) {
    throw new Error(
      `"${join(root, "latest")}" points to "${name}", which is not a checkpoint (no model.safetensors).`,
    );
  }
  return p;
}

/**
 * Resolve a checkpoint folder, or a run folder with a `latest` pointer, to a checkpoint folder.
 * @throws Error when neither is found at `path`.
 * @example
 * ```ts
 * // await resolveCheckpoint("runs/a"); // "runs/a/step-1000" (via runs/a/latest)
 * ```
 */
export async function resolveCheckpoint(path: string): Promise<string> {
  if (await exists(join(path, "model.safetensors"))) return path;
  const latest = await latestCheckpoint(path);
  if (latest) return latest;
  throw new Error(`No checkpoint at "${path}": it has neither model.safetensors nor a "latest" pointer.`);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`Checkpoint file "${path}" is missing.`);
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`Checkpoint file "${path}" is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Read a checkpoint (a checkpoint folder, or a run folder with a `latest` pointer).
 * @example
 * ```ts
 * // const ck = await loadCheckpoint("runs/a");  // follows runs/a/latest
 * // restoreModel(model, ck);
 * ```
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const dir = await resolveCheckpoint(path);
  const model = await loadSafetensors(join(dir, "model.safetensors"));
  const config = await readJson(join(dir, "config.json")) as ModelConfig;
  const state = await readJson(join(dir, "state.json")) as TrainState;
  let optimizer: AdamWState | null = null;
  const optPath = join(dir, "optimizer.safetensors");
  if (await exists(optPath)) {
    const o = await loadSafetensors(optPath);
    optimizer = optimizerFromSafetensors(o.tensors, o.metadata, optPath);
  }
  const history = await exists(join(dir, "history.json"))
    ? await readJson(join(dir, "history.json")) as unknown[]
    : null;
  return { path: dir, config, weights: model.tensors, optimizer, state, history };
}

/**
 * Copy a checkpoint's weights into a model (strict: the names and shapes must match exactly). Reads every
 * layout of the tied LM head (only `tok_emb.emb.weight` as ssmlab saves it, only `lm_head.weight` as
 * `safetensors.torch.save_model` saves it, or both as a plain `state_dict()` dump) and F32/F16/BF16/F64 tensors
 * (see `prepareReferenceWeights`).
 * @throws Error listing every missing, unexpected, mis-shaped and wrongly typed tensor.
 * @example
 * ```ts
 * // restoreModel(model, await loadCheckpoint("runs/a"));
 * ```
 */
export function restoreModel(
  model: LanguageModel,
  ckpt: Pick<LoadedCheckpoint, "path" | "weights">,
  opts: { strict?: boolean; source?: string } = {},
): void {
  const source = opts.source ?? join(ckpt.path, "model.safetensors");
  const prep = prepareReferenceWeights(model.weights.keys(), ckpt.weights, source);
  if (prep.problems.length) {
    throw new Error(`Cannot load weights from "${source}": ${prep.problems.join("; ")}.`);
  }
  assignVariables(model.weights, prep.weights, { strict: opts.strict ?? true, source });
}

/**
 * Differences between two model configs, as `key: saved vs current` strings (empty when equal).
 * @example
 * ```ts
 * import { diffConfigs } from "./checkpoint.ts";
 * diffConfigs({ kind: "a", vocabSize: 2, maxLen: null }, { kind: "a", vocabSize: 3, maxLen: null });
 * // ["vocabSize: 2 in the checkpoint vs 3 now"]
 * ```
 */
export function diffConfigs(saved: ModelConfig, current: ModelConfig): string[] {
  const keys = new Set([...Object.keys(saved), ...Object.keys(current)]);
  const out: string[] = [];
  for (const k of keys) {
    const [a, b] = [saved, current].map((c) => JSON.stringify((c as unknown as Record<string, unknown>)[k]));
    if (a !== b) out.push(`${k}: ${a ?? "absent"} in the checkpoint vs ${b ?? "absent"} now`);
  }
  return out;
}

/** Options of {@linkcode loadFrozenSubmodules}. */
export interface FrozenLoadOptions {
  /** Name prefixes (in the source checkpoint) to copy, e.g. `["char_enc."]`. */
  prefixes: string[];
  /** Rename source prefixes to target prefixes (longest match first), or a function on full names. */
  rename?: Record<string, string> | ((name: string) => string);
  /** Mark the loaded parameters frozen in this optimizer. */
  optimizer?: AdamW;
  /** Also set `trainable = false` on the variables (default false: freezing is the optimizer's/trainer's job). */
  setUntrainable?: boolean;
}

/**
 * Load sub-modules from another checkpoint (or a `.safetensors` file) into a model, by name prefix, and
 * freeze them (for curricula: e.g. a character encoder trained first, then frozen).
 *
 * @returns the model parameter names loaded (pass them to the trainer's `frozen` option)
 * @throws Error listing prefixes that match nothing, targets that do not exist, and shape mismatches.
 * @example
 * ```ts
 * // const names = await loadFrozenSubmodules(model, "runs/stage1", { prefixes: ["enc."], rename: { "enc.": "char_enc." } });
 * // await train({ model, frozen: names, ... });
 * ```
 */
export async function loadFrozenSubmodules(
  model: LanguageModel,
  source: string,
  opts: FrozenLoadOptions,
): Promise<string[]> {
  let tensors: Map<string, SafeTensor>;
  let file: string;
  if (source.endsWith(".safetensors")) {
    file = source;
    tensors = (await loadSafetensors(source)).tensors;
  } else {
    const dir = await resolveCheckpoint(source);
    file = join(dir, "model.safetensors");
    tensors = (await loadSafetensors(file)).tensors;
  }
  if (!opts.prefixes?.length) throw new Error("loadFrozenSubmodules: give at least one name prefix.");
  const rename = typeof opts.rename === "function" ? opts.rename : (() => {
    const pairs = Object.entries(opts.rename ?? {}).sort((a, b) => b[0].length - a[0].length);
    return (n: string) => {
      for (const [from, to] of pairs) if (n.startsWith(from)) return to + n.slice(from.length);
      return n;
    };
  })();
  const picked = new Map<string, SafeTensor>();
  const problems: string[] = [];
  for (const p of opts.prefixes) {
    if (![...tensors.keys()].some((n) => n.startsWith(p))) {
      problems.push(`prefix "${p}" matches no tensor in "${file}"`);
    }
  }
  for (const [name, t] of tensors) {
    if (!opts.prefixes.some((p) => name.startsWith(p))) continue;
    const target = rename(name);
    const v = model.weights.get(target);
    if (!v) problems.push(`"${name}" → "${target}" is not a parameter of the model`);
    else if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
      problems.push(`"${name}" is [${t.shape}] but "${target}" is [${v.shape}]`);
    } else picked.set(target, t);
  }
  if (problems.length) throw new Error(`Cannot load frozen sub-modules: ${problems.join("; ")}.`);
  const sub = new Map([...picked.keys()].map((n) => [n, model.weights.get(n)!]));
  assignVariables(sub, picked, { strict: true, source: file });
  const names = [...picked.keys()];
  if (opts.optimizer) opts.optimizer.freeze(names);
  if (opts.setUntrainable) { for (const n of names) model.weights.get(n)!.trainable = false; }
  return names;
}
