/**
 * Command-line options of every `ssmlab` command: one table per command (a {@linkcode CliOption} per flag, with
 * its default, help and accepted values), strict parsing that names the flag and what it expects, `--help` text
 * with every default, and the model flags generated from a kind's `ModelSpec`.
 *
 * @example
 * ```ts
 * import { helpText, parse, type CliOption } from "./options.ts";
 * const opts: Record<string, CliOption> = { steps: { type: "int", min: 1, value: 10, help: "Steps." } };
 * parse(["--steps", "3"], opts); // { steps: 3 }
 * console.log(helpText("tool [options]", opts));
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { modelConfig, modelKinds, modelSpec } from "../models/registry.ts";
import { expectation, fieldFlag, type FieldSpec, parseFieldFlag } from "../models/spec.ts";
import type { ModelConfig } from "../models/types.ts";

/** A command-line option: a field spec (default, help, accepted values) whose default may be absent. */
export type CliOption = Omit<FieldSpec, "value"> & { value?: unknown };

/** A kind's model flags: flag name → [config field name, field spec with the preset's value as default]. */
export type ModelFlags = Map<string, [string, FieldSpec]>;

/** The chosen kind, its preset and its model flags. */
export interface ModelChoice {
  /** Registered model kind. */
  kind: string;
  /** Preset the flags' defaults come from. */
  preset: string;
  /** The kind's model flags. */
  flags: ModelFlags;
}

/** `--backend`, shared by every command that runs a model. */
export const BACKEND_OPTION: CliOption = {
  type: "string",
  choices: ["auto", "cpu", "wasm", "webgpu", "tensorflow"],
  help: "tfjs backend (default: SSMLAB_BACKEND, else auto = the fastest that starts).",
};

/** `--tokenizer` and `--tokenizer_file`, overriding a checkpoint's own tokenizer (eval, generate). */
export const TOKENIZER_OVERRIDE_OPTIONS: Record<string, CliOption> = {
  tokenizer: {
    type: "string",
    choices: ["gpt2", "ascii", "vocab20k"],
    help: "Override the checkpoint's tokenizer.",
  },
  tokenizer_file: { type: "string", help: "vocab20k vocabulary file with --tokenizer vocab20k." },
};

/** The `--tokenizer` / `--tokenizer_file` overrides of parsed flags, as `loadCheckpointModel` takes them. */
export function tokenizerOverride(
  flags: Record<string, unknown>,
): { tokenizer: string | undefined; tokenizerFile: string | undefined } {
  return {
    tokenizer: flags.tokenizer as string | undefined,
    tokenizerFile: flags.tokenizer_file as string | undefined,
  };
}

/** Throw the error of a command that needs `--ckpt` when the parsed flags have none. */
export function requireCkpt(flags: Record<string, unknown>): void {
  if (!flags.ckpt) {
    throw new Error(
      "Option --ckpt is required: a checkpoint folder or a run folder with a `latest` pointer.",
    );
  }
}

/** `--help`, shared by every command. */
export const HELP_OPTION: CliOption = { type: "boolean", value: false, help: "Show this help." };

/** The value of `--name V` / `--name=V` in argv without parsing the rest (to pick the spec before parsing). */
export function peekFlag(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return undefined;
}

/** The model flags of a kind with the preset's values as defaults; an unknown preset names the option. */
export function modelFlags(kind: string, preset: string): ModelFlags {
  const spec = modelSpec(kind);
  if (!spec.presets[preset]) {
    const names = Object.keys(spec.presets).map((p) => `"${p}"`).join(", ");
    throw new Error(`Option --preset must be one of ${names} for --model ${kind}, got "${preset}".`);
  }
  const defaults = modelConfig(kind, {}, preset) as unknown as Record<string, unknown>;
  const out: ModelFlags = new Map();
  for (const [name, field] of Object.entries(spec.defaults as Record<string, FieldSpec>)) {
    const flag = fieldFlag(name, field);
    if (flag) out.set(flag, [name, { ...field, value: defaults[name] }]);
  }
  return out;
}

/** The model kind named by --model (or the fallback), checked against the registry. */
export function chosenKind(argv: string[], fallback: string | undefined): string | undefined {
  const kind = peekFlag(argv, "model") ?? fallback;
  if (kind !== undefined && !modelKinds().includes(kind)) {
    throw new Error(
      `Option --model must be one of ${modelKinds().map((k) => `"${k}"`).join(", ")}, got "${kind}".`,
    );
  }
  return kind;
}

/** The kind, preset and model flags named on the command line (--model, --preset), or undefined without a kind. */
export function modelChoice(argv: string[], fallback: string | undefined): ModelChoice | undefined {
  const kind = chosenKind(argv, fallback);
  if (kind === undefined) return undefined;
  const preset = peekFlag(argv, "preset") ?? "published";
  return { kind, preset, flags: modelFlags(kind, preset) };
}

function optionLine(flag: string, o: CliOption): string {
  const arg = o.type === "boolean" ? "" : ` ${o.value === undefined || o.value === "" ? "…" : o.value}`;
  const plain = o.type === "boolean" || (o.type === "string" && !o.choices);
  const accepts = plain ? "" : ` (${expectation({ ...o, value: undefined } as FieldSpec)})`;
  return `  ${`--${flag}${arg}`.padEnd(30)} ${o.help}${accepts}`;
}

/** The help text of a command: its own options with their defaults, then the model flags of the chosen kind. */
export function helpText(head: string, options: Record<string, CliOption>, model?: ModelChoice): string {
  const kinds = modelKinds().map((k) => `  ${k.padEnd(12)} ${modelSpec(k).description}`);
  const out = "model" in options ? [head, "Model kinds:", ...kinds, "Options:"] : [head, "Options:"];
  out.push(
    ...Object.entries(options).filter(([k]) => !model?.flags.has(k)).map(([k, o]) => optionLine(k, o)),
  );
  if (model) {
    out.push(`Model flags of --model ${model.kind} (defaults of preset "${model.preset}"):`);
    out.push(...[...model.flags].map(([flag, [, f]]) => optionLine(flag, f)));
  }
  return out.join("\n");
}

/** `--dim -8` → `--dim=-8`, so a negative number reaches the value check instead of parseArgs' "ambiguous". */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (/^--[^=]+$/.test(argv[i]) && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/**
 * Parse argv against an option table: unknown flags, missing values and bad values throw a sentence naming
 * the flag and what it expects; absent options get their defaults. Nothing is started before this returns.
 */
export function parse(argv: string[], options: Record<string, CliOption>): Record<string, unknown> {
  const spec: Record<string, { type: "string" | "boolean" }> = {};
  for (const [k, o] of Object.entries(options)) {
    spec[k] = { type: o.type === "boolean" ? "boolean" : "string" };
  }
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: joinNegativeValues(argv),
      options: spec,
      strict: true,
      allowPositionals: false,
    })
      .values as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${(e as Error).message.replace(/\.$/, "")}. Run with --help to list the options.`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, o] of Object.entries(options)) {
    const raw = values[k] as string | boolean | undefined;
    if (raw === undefined) out[k] = o.value;
    else if (o.type === "string" && !o.choices) {
      if (raw === "" && o.value !== "") throw new Error(`Option --${k} needs a value: ${o.help}`);
      out[k] = raw;
    } else out[k] = parseFieldFlag(k, { ...o, flag: k, value: undefined } as FieldSpec, raw);
  }
  return out;
}

/** The options of a command with the model flags of a kind (a model flag that a command option also has is shared). */
export function withModelFlags(
  options: Record<string, CliOption>,
  flags: ModelFlags | undefined,
): Record<string, CliOption> {
  const out: Record<string, CliOption> = {};
  for (const [flag, [, f]] of flags ?? []) out[flag] = { ...f, value: undefined };
  return { ...out, ...options };
}

/**
 * The model config from parsed flags: the preset's fields, the tokenizer's vocabulary size, then the model flags
 * given on the command line (a model flag has no parse default, so `undefined` = not given).
 */
export function configFromFlags(
  model: ModelChoice,
  parsed: Record<string, unknown>,
  vocabSize: number,
): ModelConfig {
  const overrides: Record<string, unknown> = { vocabSize };
  for (const [flag, [name]] of model.flags) if (parsed[flag] !== undefined) overrides[name] = parsed[flag];
  return modelConfig(model.kind, overrides, model.preset);
}
