/**
 * The model registry: a list of {@linkcode ModelSpec}s. Build any ssmlab model from its plain-JSON config (as saved
 * in a checkpoint's `config.json`), or a config from a kind, a preset and overrides.
 *
 * Adding a family: write its model file (typed config, field table, presets, `XXX_SPEC`), its test, and one line
 * in `SPECS` below (or call `registerModel(spec)` from outside the package).
 *
 * @module
 */
import type { LanguageModel, ModelConfig } from "./types.ts";
import { type ModelSpec, resolveConfig } from "./spec.ts";
import { BASELINE_SPEC } from "./diag_ssm.ts";
import { MHC_SPEC } from "./mhc_ssm.ts";
import { H3_SPEC } from "./h3.ts";
import { HSSM_SPEC } from "./hssm.ts";
import { CHAR_ENCODER_SPEC, CHAR_MAIN_SPEC, CHAR_TINY_SPEC } from "./char_curriculum.ts";

/** A spec of any family (the registry holds specs of different config types). */
// deno-lint-ignore no-explicit-any
export type AnySpec = ModelSpec<any>;

/** The built-in families, in listing order. */
const SPECS: AnySpec[] = [
  BASELINE_SPEC,
  MHC_SPEC,
  H3_SPEC,
  HSSM_SPEC,
  CHAR_ENCODER_SPEC,
  CHAR_TINY_SPEC,
  CHAR_MAIN_SPEC,
];

const REGISTRY = new Map<string, AnySpec>(SPECS.map((s) => [s.kind, s]));

/**
 * Register a model family so that `createModel`, the CLI and the benchmarks find it by its `kind`
 * (replacing a family of the same kind).
 */
export function registerModel<C extends ModelConfig>(spec: ModelSpec<C>): void {
  for (const k of ["kind", "defaults", "presets", "validate", "create", "paramCount"] as const) {
    if (!spec?.[k]) {
      throw new Error(`registerModel: the spec has no "${k}" (see ModelSpec in src/models/spec.ts).`);
    }
  }
  REGISTRY.set(spec.kind, spec);
}

/** The registered model kinds. */
export function modelKinds(): string[] {
  return [...REGISTRY.keys()];
}

/** A named configuration of a registered kind: the kind itself at its defaults, or one of its spec's `variants`. */
export interface ModelVariant {
  /** Row name (the kind, or the spec variant's name). */
  name: string;
  /** Registered kind. */
  kind: string;
  /** Config fields over the kind's defaults. */
  overrides: Record<string, unknown>;
}

/** Every registered kind at its defaults, each followed by its spec's named variants (e.g. mhc, mhc_adapters). */
export function modelVariants(): ModelVariant[] {
  return [...REGISTRY.values()].flatMap((s) => [
    { name: s.kind, kind: s.kind, overrides: {} },
    ...Object.entries(s.variants ?? {}).map(([name, o]) => ({ name, kind: s.kind, overrides: { ...o } })),
  ]);
}

/** The spec of a registered kind; throws naming the registered kinds when there is none. */
export function modelSpec(kind: string): AnySpec {
  const s = REGISTRY.get(kind);
  if (!s) throw new Error(`Unknown model kind "${kind}": expected one of ${modelKinds().join(", ")}.`);
  return s;
}

/**
 * A full, validated config of a kind: the spec's defaults, then the preset, then the overrides.
 *
 * @example
 * ```ts
 * import { modelConfig } from "./registry.ts";
 * const cfg = modelConfig("baseline", { dim: 32 }, "tiny"); // { kind: "baseline", vocabSize: 128, dim: 32, … }
 * ```
 */
export function modelConfig(
  kind: string,
  overrides: Record<string, unknown> = {},
  preset = "published",
): ModelConfig {
  return resolveConfig(modelSpec(kind), overrides, preset);
}

/** A config, full or partial: `kind` and any fields, the rest taken from the family's defaults. */
export type ModelConfigInput = ModelConfig | ({ kind: string } & Record<string, unknown>);

/**
 * Create a model from its config (a checkpoint's `config.json`, or `kind` plus some fields: missing fields take
 * the family's defaults); the config is validated by its family's spec.
 *
 * @example
 * ```ts
 * import { createModel } from "./registry.ts";
 * const m = createModel({ kind: "baseline", vocabSize: 128, maxLen: 32, dim: 16, layers: 1 }, 1);
 * m.dispose();
 * ```
 */
export function createModel(config: ModelConfigInput, seed = 1337): LanguageModel {
  const spec = modelSpec(config?.kind);
  return spec.create(resolveConfig(spec, config as Record<string, unknown>, "published"), seed);
}
