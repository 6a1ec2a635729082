/**
 * The mHC-SSM family's shared config (the baseline and mHC models take the same fields, as the reference's
 * `python -m mhc_slm.train` does), its field table with defaults and help, presets, and the family's base class.
 *
 * @module
 */
import type { ModelConfig } from "./types.ts";
import { LmShell, type LmShellOptions, type NormKind } from "./lm.ts";
import { defaultConfig, type FieldTable, type ModelSpec, resolveConfig, validateFields } from "./spec.ts";

/** Configuration of the mHC-SSM family (baseline and mHC share it; defaults = the reference CLI's). */
export interface MhcConfig extends ModelConfig {
  /** "baseline" (BaselineSLM) or "mhc" (MHCSLM). */
  kind: "baseline" | "mhc";
  /** Vocabulary size V (GPT-2: 50257, no padding). */
  vocabSize: number;
  /** Sequence length = size of the learned position table (256). */
  maxLen: number;
  /** Model width d (512). */
  dim: number;
  /** Number of blocks L (8). */
  layers: number;
  /** Dropout on embeddings and block outputs (0.0). */
  dropout: number;
  /** Causal depthwise conv kernel size k (3). */
  convKernel: number;
  /** Norm inside blocks and at the end: "rms" (RMSNorm, eps 1e-6) or "ln" (LayerNorm) ("rms"). */
  norm: NormKind;
  /** Streams n for mHC (4). */
  nStreams: number;
  /** Sinkhorn–Knopp iterations for the residual mixing (8). */
  sinkhornIters: number;
  /** Sinkhorn temperature τ (1.0). */
  sinkhornTemp: number;
  /** Stream-specialized adapters on/off (false). */
  streamAdapters: boolean;
  /** Adapter bottleneck rank r (64). */
  adapterRank: number;
  /** Adapter dropout (0.1 in training, as the reference's train.py). */
  adapterDropout: number;
  /** Weight of the optional stream-diversity auxiliary loss (0.0). */
  streamDiversityCoeff: number;
  /** Scan implementation: "fast" (log-depth parallel scan) or "ref" (plain loop; the test oracle) ("fast"). */
  scan: "fast" | "ref";
}

/** Every field of {@linkcode MhcConfig}: default (the reference's `mhc_slm.train` defaults), help, accepted values. */
export const MHC_FIELDS: FieldTable<MhcConfig> = {
  vocabSize: {
    value: 50257,
    type: "int",
    min: 1,
    flag: false,
    help: "Vocabulary size V (set from --tokenizer).",
  },
  maxLen: {
    value: 256,
    type: "int",
    min: 1,
    flag: "seq_len",
    help: "Sequence length = learned position table size.",
  },
  dim: { value: 512, type: "int", min: 1, help: "Model width d." },
  layers: { value: 8, type: "int", min: 1, help: "Number of blocks L." },
  dropout: {
    value: 0.0,
    type: "number",
    min: 0,
    max: 1,
    maxExclusive: true,
    help: "Dropout on embeddings and block outputs.",
  },
  convKernel: { value: 3, type: "int", min: 1, help: "Causal depthwise conv kernel size k." },
  norm: {
    value: "rms",
    type: "string",
    choices: ["rms", "ln"],
    help: "Norm in blocks and at the end: RMSNorm or LayerNorm.",
  },
  nStreams: { value: 4, type: "int", min: 1, help: "Residual streams n (mHC)." },
  sinkhornIters: {
    value: 8,
    type: "int",
    min: 0,
    help: "Sinkhorn–Knopp iterations of the residual mixing (mHC).",
  },
  sinkhornTemp: {
    value: 1.0,
    type: "number",
    min: 0,
    minExclusive: true,
    help: "Sinkhorn temperature τ (mHC).",
  },
  streamAdapters: { value: false, type: "boolean", help: "Stream-specialized adapters on (mHC)." },
  adapterRank: { value: 64, type: "int", min: 1, help: "Adapter bottleneck rank r (mHC)." },
  adapterDropout: {
    value: 0.1,
    type: "number",
    min: 0,
    max: 1,
    maxExclusive: true,
    help: "Adapter dropout (mHC).",
  },
  streamDiversityCoeff: {
    value: 0.0,
    type: "number",
    min: 0,
    help: "Weight of the stream-diversity auxiliary loss (mHC).",
  },
  scan: {
    value: "fast",
    type: "string",
    choices: ["fast", "ref"],
    help: "Scan: log-depth parallel (fast) or plain loop (ref, the test oracle).",
  },
};

/** The reference's defaults (`python -m mhc_slm.train`), GPT-2 vocabulary. */
export const MHC_DEFAULTS: MhcConfig = {
  ...defaultConfig({ kind: "mhc", defaults: MHC_FIELDS }),
  kind: "mhc",
};

/** Named presets: `published` is the README configuration; `tiny` runs on a CPU in tests; `small` for notebooks. */
export const MHC_PRESETS: Record<string, Partial<MhcConfig>> = {
  published: {},
  small: { dim: 128, layers: 4, maxLen: 128, adapterRank: 16 },
  tiny: { vocabSize: 128, dim: 16, layers: 2, maxLen: 32, adapterRank: 4 },
};

/** Throw a clear error for an invalid config field (names the field and what was expected). */
export function validateMhcConfig(cfg: MhcConfig): void {
  if (!["baseline", "mhc"].includes(cfg?.kind)) {
    throw new Error(`Model config field "kind" must be "baseline" or "mhc", got "${cfg?.kind}".`);
  }
  validateFields({ kind: cfg.kind, defaults: MHC_FIELDS }, cfg);
}

/**
 * The spec of one kind of the family (baseline or mHC): shared fields, presets and validation.
 * @param create builds the model; `paramCount` builds it as a dry run (no tensors)
 * @param label run name of a config; @param variants named configurations beside the defaults
 */
export function mhcFamilySpec(
  kind: MhcConfig["kind"],
  description: string,
  create: (config: MhcConfig, seed: number, dryRun?: boolean) => MhcFamilyModel,
  label?: (config: MhcConfig) => string,
  variants?: Record<string, Partial<MhcConfig>>,
): ModelSpec<MhcConfig> {
  return {
    kind,
    description,
    defaults: MHC_FIELDS,
    presets: MHC_PRESETS,
    variants,
    validate: validateMhcConfig,
    create: (config, seed) => create(config, seed),
    paramCount: (config) => create(config, 0, true).numParams(),
    label,
  };
}

/**
 * Build a full config from a preset name and overrides, validating every field (`kind` defaults to "mhc").
 *
 * @example
 * ```ts
 * import { mhcConfig } from "./mhc_family.ts";
 * const cfg = mhcConfig({ kind: "baseline", dim: 32 }, "tiny"); // vocabSize 128, maxLen 32, layers 2, …
 * ```
 */
export function mhcConfig(overrides: Partial<MhcConfig> = {}, preset = "published"): MhcConfig {
  if (!MHC_PRESETS[preset]) {
    throw new Error(
      `Unknown mHC preset "${preset}": expected one of ${Object.keys(MHC_PRESETS).join(", ")}.`,
    );
  }
  const kind = overrides.kind ?? "mhc";
  if (!["baseline", "mhc"].includes(kind)) {
    throw new Error(`Model config field "kind" must be "baseline" or "mhc", got "${kind}".`);
  }
  const family = { kind, defaults: MHC_FIELDS, presets: MHC_PRESETS, validate: validateMhcConfig };
  return resolveConfig<MhcConfig>(family, overrides, preset);
}

/**
 * Shared machinery of the baseline and mHC models: the {@linkcode LmShell} with learned positions, a tied head
 * and the config's norm; a subclass supplies only the body.
 */
export abstract class MhcFamilyModel extends LmShell<MhcConfig> {
  /**
   * Validate the config and build the shell (learned positions, tied head) around the subclass's body.
   * @param config full configuration (validated here)
   * @param seed drives every initial value
   * @param dryRun record parameter names and shapes only; the model cannot run
   */
  constructor(config: MhcConfig, seed: number, dryRun = false) {
    validateMhcConfig(config);
    const shell: LmShellOptions = {
      dim: config.dim,
      positions: true,
      head: "tied",
      norm: config.norm,
      dropout: config.dropout,
    };
    super(config, shell, seed, dryRun);
  }
}
