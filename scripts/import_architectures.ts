/**
 * Import the output of `bench/architectures_device.ts` (one folder, or one folder per call of a subset of rows)
 * into `results/architectures/`: `result.json` (merged), the frames `table`, `curves`, `blimp` (CSV + Parquet)
 * and the charts `bits_per_char` and `blimp_heatmap[_<set>]` (Vega-Lite, SVG, PNG).
 *
 *   deno run -A scripts/import_architectures.ts --from DIR [--out results/architectures]
 *
 * `--from` is a folder holding `result.json`, or whose subfolders do; rows of the same model in several folders
 * are an error (say which run to keep by moving the other away).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import type { ArchitecturesResult } from "../src/experiments/architectures.ts";
import { loadArchitectures, saveArchitectures } from "../src/experiments/architectures_report.ts";

/**
 * Merge the device results found in `from` (its own `result.json` and those of its subfolders).
 *
 * @example
 * ```ts
 * // const { result, configs } = await mergeDeviceResults(".device/out/arch");
 * ```
 */
export async function mergeDeviceResults(
  from: string,
): Promise<{ result: ArchitecturesResult; configs: Record<string, unknown> }> {
  const dirs = [from];
  for await (const e of Deno.readDir(from)) if (e.isDirectory) dirs.push(join(from, e.name));
  const result: ArchitecturesResult = { rows: [], curves: [], blimp: [] };
  const configs: Record<string, unknown> = {};
  for (const d of dirs.sort()) {
    const r = await loadArchitectures(d);
    if (!r) continue;
    for (const row of r.rows) {
      if (result.rows.some((x) => x.model === row.model)) {
        throw new Error(
          `The model "${row.model}" appears in more than one folder under "${from}" (again in "${d}").`,
        );
      }
    }
    result.rows.push(...r.rows);
    result.curves.push(...r.curves);
    result.blimp.push(...r.blimp);
    configs[d.slice(from.length).replace(/^\//, "") || "."] = r.config ?? null;
  }
  if (!result.rows.length) {
    throw new Error(`No result.json with rows under "${from}" (nor in its subfolders).`);
  }
  return { result, configs };
}

if (import.meta.main) {
  const { values: a } = parseArgs({
    options: { from: { type: "string" }, out: { type: "string", default: "results/architectures" } },
  });
  if (!a.from) throw new Error("Option --from (the device's output folder) is required.");
  const { result, configs } = await mergeDeviceResults(a.from);
  await saveArchitectures(result, a.out!, { configs });
  console.log(`${result.rows.length} rows → ${a.out}/ (result.json, table, curves, blimp, charts)`);
}
