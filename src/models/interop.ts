/**
 * PyTorch interop both ways, through safetensors files under the reference's `state_dict` names (docs/models/mhc.md lists them).
 *
 * - {@linkcode exportPytorch} writes a model's or a checkpoint's weights as the reference model's
 *   `state_dict`. By default the tied LM head is written once, as `safetensors.torch.save_model` writes the
 *   reference model: under `lm_head.weight`, with `{"tok_emb.emb.weight": "lm_head.weight"}` in the
 *   metadata. In PyTorch:
 *
 *   ```python
 *   from safetensors.torch import load_model, load_file
 *   load_model(model, "w.safetensors")                       # strict=True; the tie is kept
 *   # with tiedHead: "both" instead (the matrix written twice):
 *   model.load_state_dict(load_file("w.safetensors"), strict=True)
 *   ```
 *
 *   ssmlab's own training checkpoints (`model.safetensors`, the embedding name only) also load with
 *   `load_model(model, path)`, strict; checked with torch 2.11 and safetensors 0.8
 *   (tests/fixtures/pytorch/make_fixtures.py).
 *
 *   A plain `load_state_dict(strict=True)` needs both names, since PyTorch lists a tied parameter under each
 *   module that holds it; a safetensors file cannot alias two names to one buffer, so that layout costs the
 *   matrix twice. Not covered: pickled `torch.save` files (`.pt`), in either direction. The reference's own
 *   `benchmark.py` loads such a dict (`{"arch", "step", "model", "opt", "scaler", "cfg"}`) with a
 *   strict `load_state_dict`; to feed it, export with `tiedHead: "both"` and wrap in Python:
 *   `torch.save({"arch": kind, "model": load_file(path), "cfg": cfg}, "ckpt.pt")` — the reference's `cfg`
 *   fields are not known here; the metadata key `ssmlab_config` holds ssmlab's config as JSON.
 * - {@linkcode importPytorch} reads any such file (either tied layout or both, a `module.`/`_orig_mod.`
 *   prefix, F32/F16/BF16/F64) into a new or given model; the config comes from the option, the file's
 *   `ssmlab_config` metadata, or the tensor shapes ({@linkcode inferReferenceConfig}).
 *
 * @module
 */
import { currentBackend, describeEnvironment, SSMLAB_VERSION } from "../backend.ts";
import { loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import {
  loadSafetensors,
  type SafeTensor,
  saveSafetensors,
  tensorsFromVariables,
} from "../train/safetensors.ts";
import {
  importReferenceWeights,
  referenceStateDict,
  type TiedHeadMode,
  type TiedLayout,
} from "./reference_weights.ts";
import { createModel } from "./registry.ts";
import type { LanguageModel, ModelConfig } from "./types.ts";
import type { MhcConfig } from "./mhc_family.ts";

/** Options of {@linkcode exportPytorch}. */
export interface ExportPytorchOptions {
  /** "once": the tied head under `lm_head.weight` only, as `save_model` (default); "both": under both names. */
  tiedHead?: TiedHeadMode;
  /** Extra metadata strings written into the file's header (default none). */
  metadata?: Record<string, string>;
}

/** What {@linkcode exportPytorch} wrote. */
export interface ExportPytorchResult {
  /** The file written. */
  path: string;
  /** The tensor names in the file, in file order. */
  names: string[];
  /** The file's size in bytes. */
  bytes: number;
  /** The model config recorded under the metadata key `ssmlab_config`. */
  config: ModelConfig;
}

/**
 * Write a model's weights, or those of a checkpoint folder (or a run folder with a `latest` pointer), as a
 * PyTorch-loadable safetensors file under the reference names (F32, atomically).
 *
 * @example
 * ```ts
 * // await exportPytorch("runs/a", "mhc.safetensors");            // from the latest checkpoint
 * // await exportPytorch(model, "mhc.safetensors", { tiedHead: "both" });
 * ```
 */
export async function exportPytorch(
  source: LanguageModel | string,
  outFile: string,
  opts: ExportPytorchOptions = {},
): Promise<ExportPytorchResult> {
  let weights: Map<string, SafeTensor>, config: ModelConfig;
  if (typeof source === "string") {
    const ck = await loadCheckpoint(source);
    weights = ck.weights;
    config = ck.config;
  } else {
    weights = await tensorsFromVariables(source.weights);
    config = source.config;
  }
  const sd = referenceStateDict(weights, { tiedHead: opts.tiedHead });
  const metadata = {
    format: "pt",
    ...sd.metadata,
    ssmlab_config: JSON.stringify(config),
    ssmlab_version: SSMLAB_VERSION,
    ...opts.metadata,
  };
  await saveSafetensors(outFile, sd.tensors, metadata);
  return { path: outFile, names: [...sd.tensors.keys()], bytes: (await Deno.stat(outFile)).size, config };
}

/** Options of {@linkcode importPytorch}. */
export interface ImportPytorchOptions {
  /** Load into this model (its config wins); default: build a new one. */
  model?: LanguageModel;
  /** The config of the model to build (default: the file's `ssmlab_config`, else inferred from shapes). */
  config?: ModelConfig;
  /** Seed of the new model's (overwritten) initialisation (default 1337). */
  seed?: number;
}

/** What {@linkcode importPytorch} loaded. */
export interface ImportedPytorch {
  /** The model holding the weights (the one passed in, or a new one the caller disposes). */
  model: LanguageModel;
  /** Its config. */
  config: ModelConfig;
  /** How the file held the tied LM head. */
  tied: TiedLayout;
  /** The dtypes found in the file, e.g. ["BF16"]. */
  dtypes: string[];
  /** Where the config came from. */
  configFrom: "model" | "option" | "metadata" | "shapes";
}

function shapeOf(tensors: ReadonlyMap<string, SafeTensor>, name: string, source: string): number[] {
  const t = tensors.get(name);
  if (!t) throw new Error(`Cannot infer the model config from "${source}": it has no tensor "${name}".`);
  return t.shape;
}

/**
 * Infer an ssmlab config (kind "baseline" or "mhc") from reference-named tensor shapes: vocabulary and width
 * from the embedding (or the head), maxLen from the positions, layers from the block indices, streams, kernel,
 * adapters and norm from their tensors. Fields no tensor shows (dropout, Sinkhorn iterations, …) keep the
 * model's defaults.
 *
 * @example
 * ```ts
 * // inferReferenceConfig((await loadSafetensors("w.safetensors")).tensors, "w.safetensors");
 * // → { kind: "mhc", vocabSize: 50257, dim: 512, maxLen: 256, layers: 8, nStreams: 4, … }
 * ```
 */
export function inferReferenceConfig(
  tensors: ReadonlyMap<string, SafeTensor>,
  source = "weights",
): ModelConfig {
  const strip = (n: string) => n.replace(/^(module\.|_orig_mod\.|model\.)/, "");
  const t = new Map([...tensors].map(([n, v]) => [strip(n), v]));
  const emb = t.has("tok_emb.emb.weight") ? "tok_emb.emb.weight" : "lm_head.weight";
  const [vocabSize, dim] = shapeOf(t, emb, source);
  const [maxLen] = shapeOf(t, "pos_emb.pos.weight", source);
  const blocks = new Set(
    [...t.keys()].map((n) => /^blocks\.(\d+)\./.exec(n)?.[1]).filter((x) => x !== undefined),
  );
  const config: Partial<MhcConfig> & ModelConfig = {
    kind: t.has("expand.proj.weight") ? "mhc" : "baseline",
    vocabSize,
    maxLen,
    dim,
    layers: blocks.size,
    convKernel: shapeOf(t, "blocks.0.ssm.dwconv.weight", source)[2],
    norm: t.has("norm_f.bias") ? "ln" : "rms",
  };
  if (config.kind === "mhc") {
    config.nStreams = shapeOf(t, "blocks.0.hpre_logits", source)[0];
    config.streamAdapters = t.has("blocks.0.ad_down.weight");
    if (config.streamAdapters) config.adapterRank = shapeOf(t, "blocks.0.ad_down.weight", source)[0];
  }
  return config;
}

function pickConfig(
  opts: ImportPytorchOptions,
  tensors: ReadonlyMap<string, SafeTensor>,
  metadata: Record<string, string>,
  file: string,
): { config: ModelConfig; configFrom: ImportedPytorch["configFrom"] } {
  if (opts.model) return { config: opts.model.config, configFrom: "model" };
  if (opts.config) return { config: opts.config, configFrom: "option" };
  if (metadata.ssmlab_config) {
    try {
      return { config: JSON.parse(metadata.ssmlab_config), configFrom: "metadata" };
    } catch (e) {
      throw new Error(`The metadata "ssmlab_config" of "${file}" is not valid JSON: ${(e as Error).message}`);
    }
  }
  return { config: inferReferenceConfig(tensors, file), configFrom: "shapes" };
}

/**
 * Load a PyTorch safetensors file (reference names; any tied-head layout; F32/F16/BF16/F64) into a model.
 *
 * @throws Error naming the file and every missing, unexpected, mis-shaped or wrongly typed tensor.
 * @example
 * ```ts
 * // const { model, tied } = await importPytorch("state_dict.safetensors"); // tied: "head-only"
 * // model.dispose();
 * ```
 */
export async function importPytorch(file: string, opts: ImportPytorchOptions = {}): Promise<ImportedPytorch> {
  const { tensors, metadata } = await loadSafetensors(file);
  const { config, configFrom } = pickConfig(opts, tensors, metadata, file);
  const model = opts.model ?? createModel(config, opts.seed ?? 1337);
  try {
    const tied = importReferenceWeights(model, tensors, file);
    const dtypes = [...new Set([...tensors.values()].map((t) => t.dtype ?? "F32"))];
    return { model, config: model.config, tied, dtypes, configFrom };
  } catch (e) {
    if (!opts.model) model.dispose();
    throw e;
  }
}

/** Options of {@linkcode importPytorchToCheckpoint}. */
export interface ImportToCheckpointOptions extends ImportPytorchOptions {
  /** Checkpoint folder name under the root (default "imported"). */
  name?: string;
}

/**
 * Import a PyTorch safetensors file (as {@linkcode importPytorch}) and save it as an ssmlab checkpoint folder
 * `<root>/<name>/` (model.safetensors, config.json, state.json at step 0, no optimizer state), with `latest`
 * pointing at it, so that `benchmark --ckpt <root>` and `loadCheckpoint` read it like a trained one.
 *
 * @returns the checkpoint folder and what the import found
 * @example
 * ```ts
 * // const { dir } = await importPytorchToCheckpoint("state_dict.safetensors", "runs/imported");
 * ```
 */
export async function importPytorchToCheckpoint(
  file: string,
  root: string,
  opts: ImportToCheckpointOptions = {},
): Promise<{ dir: string } & Omit<ImportedPytorch, "model">> {
  const r = await importPytorch(file, opts);
  try {
    const seed = opts.seed ?? 1337;
    const dir = await saveCheckpoint(root, {
      model: r.model,
      name: opts.name ?? "imported",
      state: {
        step: 0,
        epoch: 0,
        data: null,
        rng: {},
        schedule: { spec: "none", lr: 0, position: 0 },
        bestValLoss: null,
        seed,
        backend: currentBackend(),
        versions: describeEnvironment() as unknown as Record<string, unknown>,
        importedFrom: file,
      },
    });
    const { model: _m, ...info } = r;
    return { dir, ...info };
  } finally {
    if (!opts.model) r.model.dispose();
  }
}
