/**
 * Option helpers shared by the bundled GPU entries (`parseArgs` values in, clear errors out).
 *
 * @module
 */

/**
 * A reader of positive number options of `values` (from `parseArgs`) that names the option in its error.
 *
 * @example
 * ```ts
 * import { positiveNumbers } from "./options.ts";
 * const num = positiveNumbers({ lr: "3e-4" });
 * num("lr"); // 0.0003
 * ```
 */
export function positiveNumbers<K extends string>(values: Partial<Record<K, unknown>>): (name: K) => number {
  return (name) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v <= 0) {
      throw new Error(`Option --${name} must be a positive number, got "${values[name]}".`);
    }
    return v;
  };
}
