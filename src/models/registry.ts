/**
 * Build any ssmlab language model from its plain-JSON config (as saved in a checkpoint's `config.json`).
 *
 * @module
 */
import type { LanguageModel, ModelConfig } from "./types.ts";
import { BaselineSLM, type MhcConfig } from "./diag_ssm.ts";
import { MhcSLM } from "./mhc_ssm.ts";

type Factory = (config: ModelConfig, seed: number) => LanguageModel;

const FACTORIES = new Map<string, Factory>([
  ["baseline", (c, s) => new BaselineSLM(c as Partial<MhcConfig>, s)],
  ["mhc", (c, s) => new MhcSLM(c as Partial<MhcConfig>, s)],
]);

/** Register a model family so that `createModel` and the benchmark find it by name. */
export function registerModel(kind: string, factory: Factory): void {
  FACTORIES.set(kind, factory);
}

/** The registered model kinds. */
export function modelKinds(): string[] {
  return [...FACTORIES.keys()];
}

/**
 * Create a model from its config.
 *
 * @example
 * ```ts
 * import { createModel } from "./registry.ts";
 * const m = createModel({ kind: "baseline", vocabSize: 128, maxLen: 32, dim: 16, layers: 1 }, 1);
 * m.dispose();
 * ```
 */
export function createModel(config: ModelConfig, seed = 1337): LanguageModel {
  const f = FACTORIES.get(config?.kind);
  if (!f) {
    throw new Error(`Unknown model kind "${config?.kind}": expected one of ${modelKinds().join(", ")}.`);
  }
  return f(config, seed);
}
