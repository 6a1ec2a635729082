/**
 * A model family's spec: one typed, commented table of config fields (default, help, type, bounds, CLI flag),
 * named presets, validation, construction and parameter count. The registry is a list of specs; the CLI, the
 * experiments and the benches read everything they need from it (nanoGPT's configurator: one source of truth).
 *
 * @example
 * ```ts
 * import { modelConfig, modelSpec } from "./registry.ts";
 * const spec = modelSpec("mhc");
 * console.log(spec.defaults.dim.help, spec.defaults.dim.value); // "Model width d." 512
 * const cfg = modelConfig("mhc", { dim: 64 }, "tiny");
 * console.log(spec.paramCount(cfg));
 * ```
 *
 * @module
 */
import type { LanguageModel, ModelConfig } from "./types.ts";

/** How a field's value is checked and parsed from a command-line string. */
export type ConfigFieldType = "int" | "number" | "boolean" | "string";

/** One config field: its default, what it means, and what values it accepts. */
export interface FieldSpec<V = unknown> {
  /** Default value (the published configuration's). */
  value: V;
  /** One sentence: what the field means (CLI help and docs). */
  help: string;
  /** Value type, for validation and command-line parsing. */
  type: ConfigFieldType;
  /** The allowed values (string fields). */
  choices?: readonly V[];
  /** Lower bound (numbers); inclusive unless `minExclusive`. */
  min?: number;
  /** The lower bound itself is not allowed. */
  minExclusive?: boolean;
  /** Upper bound (numbers); inclusive unless `maxExclusive`. */
  max?: number;
  /** The upper bound itself is not allowed. */
  maxExclusive?: boolean;
  /** `null` is also accepted (e.g. `maxLen: null` = unbounded; "null" on the command line). */
  nullable?: boolean;
  /** Command-line flag name without `--` (default: the field name in snake_case); `false`: no flag. */
  flag?: string | false;
}

/** The field table of a config type: every field except `kind`, each with its {@linkcode FieldSpec}. */
export type FieldTable<C extends ModelConfig> = { [K in Exclude<keyof C, "kind">]-?: FieldSpec<C[K]> };

/** A model family: everything the registry, CLI, experiments and benches need to know about it. */
export interface ModelSpec<C extends ModelConfig = ModelConfig> {
  /** The `kind` written into every config of this family. */
  kind: string;
  /** One sentence for `--help` and listings. */
  description: string;
  /** Every config field with its default, help text and accepted values. */
  defaults: FieldTable<C>;
  /** Named partial configs laid over the defaults, e.g. `tiny` (tests), `small` (notebooks), `published`. */
  presets: Record<string, Partial<C>>;
  /** Named configurations worth running beside the defaults (benches list them), e.g. `mhc_adapters`. */
  variants?: Record<string, Partial<C>>;
  /** Throw an error naming the field and what was expected, for any invalid field of a full config. */
  validate(config: C): void;
  /** Build the model; `seed` drives every initial value (same seed → same weights). */
  create(config: C, seed: number): LanguageModel<C>;
  /** Parameter count of a config without allocating its weights. */
  paramCount(config: C): number;
  /** Short name of a configured model for run folders and tables (default: `kind`). */
  label?(config: C): string;
}

/** The default values of a field table, as a config (with `kind`). */
export function defaultConfig<C extends ModelConfig>(spec: Pick<ModelSpec<C>, "kind" | "defaults">): C {
  const out: Record<string, unknown> = { kind: spec.kind };
  for (const [k, f] of Object.entries(spec.defaults) as [string, FieldSpec][]) out[k] = f.value;
  return out as C;
}

/** The command-line flag of a field (`adapterRank` → `adapter_rank`), or null when it has none. */
export function fieldFlag(name: string, field: FieldSpec): string | null {
  if (field.flag === false) return null;
  return field.flag ?? name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** What a field accepts, as words: "a positive integer", "a number in [0, 1)", "one of "rms", "ln"". */
export function expectation(field: FieldSpec): string {
  if (field.nullable) return `${expectation({ ...field, nullable: false })} or null`;
  if (field.type === "boolean") return "true or false";
  if (field.choices) return `one of ${field.choices.map((c) => JSON.stringify(c)).join(", ")}`;
  if (field.type === "string") return "a string";
  const noun = field.type === "int" ? "an integer" : "a number";
  const { min, max } = field;
  if (field.type === "int" && min === 1 && max === undefined) return "a positive integer";
  if (min !== undefined && max !== undefined) {
    return `a number in ${field.minExclusive ? "(" : "["}${min}, ${max}${field.maxExclusive ? ")" : "]"}`;
  }
  if (min !== undefined) return `${noun} ${field.minExclusive ? ">" : "≥"} ${min}`;
  if (max !== undefined) return `${noun} ${field.maxExclusive ? "<" : "≤"} ${max}`;
  return field.type === "int" ? "an integer" : "a finite number";
}

/** Whether `value` is acceptable for `field`. */
export function fieldAccepts(field: FieldSpec, value: unknown): boolean {
  if (value === null) return field.nullable === true;
  switch (field.type) {
    case "boolean":
      return typeof value === "boolean";
    case "string":
      return typeof value === "string" && (!field.choices || field.choices.includes(value));
    default: {
      if (typeof value !== "number" || !Number.isFinite(value)) return false;
      if (field.type === "int" && !Number.isInteger(value)) return false;
      const { min, max } = field;
      if (min !== undefined && (field.minExclusive ? value <= min : value < min)) return false;
      return max === undefined || (field.maxExclusive ? value < max : value <= max);
    }
  }
}

/**
 * Check every field of a config against its table, and that it has no fields the table does not know.
 * Errors name the field and what was expected: `Model config field "dim" must be a positive integer, got "0".`
 */
export function validateFields<C extends ModelConfig>(
  spec: Pick<ModelSpec<C>, "kind" | "defaults">,
  config: C,
): void {
  if (config?.kind !== spec.kind) {
    throw new Error(`Model config field "kind" must be "${spec.kind}", got "${config?.kind}".`);
  }
  const table = spec.defaults as Record<string, FieldSpec>;
  for (const [name, field] of Object.entries(table)) {
    const v = (config as Record<string, unknown>)[name];
    if (!fieldAccepts(field, v)) {
      throw new Error(`Model config field "${name}" must be ${expectation(field)}, got "${v}".`);
    }
  }
  for (const name of Object.keys(config)) {
    if (name !== "kind" && !(name in table)) {
      throw new Error(
        `Model config field "${name}" is not a field of the "${spec.kind}" model: expected one of ${
          Object.keys(table).join(", ")
        }.`,
      );
    }
  }
}

/**
 * Parse a command-line string into a field's value: numbers for int/number fields, the string otherwise.
 * Returns the value, or throws `Option --flag must be …, got "…".`
 */
export function parseFieldFlag(name: string, field: FieldSpec, raw: string | boolean): unknown {
  const flag = fieldFlag(name, field) ?? name;
  const v = field.nullable && raw === "null"
    ? null
    : field.type === "int" || field.type === "number"
    ? (typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN)
    : raw;
  if (!fieldAccepts(field, v)) {
    throw new Error(`Option --${flag} must be ${expectation(field)}, got "${raw}".`);
  }
  return v;
}

/**
 * Lay a preset and overrides over a spec's defaults and validate the result.
 * @throws when the preset is unknown or a field is invalid (the message names it)
 */
export function resolveConfig<C extends ModelConfig>(
  spec: Pick<ModelSpec<C>, "kind" | "defaults" | "presets" | "validate">,
  overrides: Partial<C> = {},
  preset = "published",
): C {
  const p = spec.presets[preset];
  if (!p) {
    throw new Error(
      `Unknown ${spec.kind} preset "${preset}": expected one of ${Object.keys(spec.presets).join(", ")}.`,
    );
  }
  const cfg = { ...defaultConfig(spec), ...p, ...overrides, kind: spec.kind } as C;
  spec.validate(cfg);
  return cfg;
}
