/**
 * Tables and charts of the architecture comparison (`architectures.ts`; docs/architectures.md): one Polars table
 * (the rows with BLiMP per phenomenon as columns), the BLiMP phenomenon × model heatmap, held-out bits per
 * character against words seen, and the `results/architectures/` folder (written here, read back by
 * {@linkcode loadArchitectures}).
 *
 * @module
 */
import { join } from "node:path";
import type { DataFrame } from "../results/frames.ts";
import { saveFrame, toFrame } from "../results/frames.ts";
import { heatmapChart, lineChart, saveChart, type VegaLiteSpec } from "../results/charts.ts";
import { loadBabyLM } from "../data/corpora.ts";
import { loadBlimp } from "../data/blimp.ts";
import { modelConfig, modelSpec } from "../models/registry.ts";
import {
  architectureConfig,
  ARCHITECTURES,
  type ArchitecturesOptions,
  type ArchitecturesResult,
  runArchitectures,
  splitHeldOut,
} from "./architectures.ts";

/** Settings of {@linkcode runArchitecturesOn}: the data split, the BLiMP subset and the options of every row. */
export interface ArchitecturesRunSettings extends
  Pick<
    ArchitecturesOptions,
    | "words"
    | "evalEveryWords"
    | "preset"
    | "tokenizer"
    | "batch"
    | "seqLen"
    | "lr"
    | "charEncoderSteps"
    | "seed"
  > {
  /** Last fraction of each source's lines held out. */
  heldOutFraction: number;
  /** BLiMP pairs per paradigm (the first ones). */
  blimpPairsPerParadigm?: number;
}

/**
 * Small mode of notebook 04: tiny rows on the shipped BabyLM sample (ASCII characters for the token rows too:
 * GPT-2's 50k-wide output layer would dominate a CPU run), a few thousand words, 20 BLiMP pairs per paradigm of the
 * shipped BLiMP sample; about ten seconds on the wasm backend of a 2-core CPU.
 */
export const ARCHITECTURES_SMALL_SETTINGS: Readonly<ArchitecturesRunSettings> = {
  heldOutFraction: 0.1,
  blimpPairsPerParadigm: 20,
  words: 6000,
  evalEveryWords: 1000,
  preset: "tiny",
  tokenizer: "ascii",
  batch: 8,
  seqLen: 64,
  lr: 3e-3,
  charEncoderSteps: 20,
  seed: 1337,
};

/**
 * Run the comparison on a BabyLM-style folder (the last `heldOutFraction` of each source held out) with BLiMP
 * from a folder of jsonl files; defaults are {@linkcode ARCHITECTURES_SMALL_SETTINGS}.
 *
 * @example
 * ```ts
 * // const r = await runArchitecturesOn({ data: "data/samples/babylm", blimp: "data/samples/blimp" });
 * ```
 */
export async function runArchitecturesOn(
  o:
    & { data: string; blimp?: string; blimpFiltered?: string }
    & Partial<ArchitecturesRunSettings>
    & Pick<ArchitecturesOptions, "log" | "rows">,
): Promise<ArchitecturesResult> {
  const s = { ...ARCHITECTURES_SMALL_SETTINGS, ...o };
  const { train, heldOut } = splitHeldOut((await loadBabyLM({ dir: o.data })).bySource, s.heldOutFraction);
  const blimp = [];
  for (const [name, dir] of [["original", o.blimp], ["filtered", o.blimpFiltered]]) {
    if (dir) {
      blimp.push({
        name: name!,
        pairs: await loadBlimp({ dir, maxPairsPerParadigm: s.blimpPairsPerParadigm }),
      });
    }
  }
  return await runArchitectures({ ...s, train, heldOut, blimp });
}

/**
 * The rows as data, with their parameter count at a vocabulary and context (default GPT-2's 50,257 ids and 256:
 * the full-mode sizes; the curriculum's stages count every weight, frozen predecessors included).
 *
 * @example
 * ```ts
 * // architectureSizes() → [{ model: "baseline", kind: "baseline", fields: "{}", params: 32203776 }, …]
 * ```
 */
export function architectureSizes(
  preset: "tiny" | "published" = "published",
  vocabSize = 50257,
  seqLen = 256,
): { model: string; kind: string; fields: string; params: number }[] {
  return ARCHITECTURES.map((a) => {
    const token = a.pipeline === "token";
    const cfg = token
      ? architectureConfig(a, preset, { vocabSize, seqLen })
      : modelConfig(a.kind, {}, preset);
    const fields = { ...(preset === "published" ? a.full : {}), ...a.overrides };
    return {
      model: a.name,
      kind: a.kind,
      fields: JSON.stringify(fields),
      params: modelSpec(a.kind).paramCount(cfg),
    };
  });
}

/**
 * The comparison table: one row per model, BLiMP overall per set and per phenomenon (`<set>:<phenomenon>`) as
 * columns, accuracies in [0, 1].
 *
 * @example
 * ```ts
 * // await showFrame(architecturesTable(result), { title: "Architectures" });
 * ```
 */
export function architecturesTable(r: ArchitecturesResult): DataFrame {
  return toFrame(r.rows.map((row) => {
    const phen = r.blimp.filter((b) => b.model === row.model && b.phenomenon !== "overall");
    return { ...row, ...Object.fromEntries(phen.map((b) => [`${b.set}:${b.phenomenon}`, b.accuracy])) };
  }));
}

/**
 * BLiMP accuracy (in %) per phenomenon (rows) and model (columns) for one set (default the first).
 *
 * @example
 * ```ts
 * // await showChart(blimpHeatmap(result, "blimp"));
 * ```
 */
export function blimpHeatmap(r: ArchitecturesResult, set?: string): VegaLiteSpec {
  const name = set ?? r.blimp[0]?.set;
  const data = r.blimp.filter((b) => b.set === name).map((b) => ({ ...b, accuracy: 100 * b.accuracy }));
  if (!data.length) {
    throw new Error(`No BLiMP rows for the set "${name}": pass blimp sets to runArchitectures.`);
  }
  return heatmapChart({
    data,
    x: "model",
    y: "phenomenon",
    value: "accuracy",
    domain: [0, 100],
    title: `BLiMP (${name}) accuracy % by phenomenon, scoring ${data[0].variant}`,
  });
}

/**
 * Held-out bits per character against words seen, one line per model.
 *
 * @example
 * ```ts
 * // await showChart(bitsPerCharChart(result));
 * ```
 */
export function bitsPerCharChart(r: ArchitecturesResult): VegaLiteSpec {
  return lineChart({
    data: r.curves,
    x: "words",
    y: "bits_per_char",
    color: "model",
    points: true,
    xTitle: "words seen",
    yTitle: "held-out bits per character",
    title: "Held-out bits per character vs words seen",
  });
}

/**
 * Write a result as `dir/result.json`, the frames `table`, `curves`, `blimp` (CSV + Parquet) and the charts
 * `bits_per_char` and `blimp_heatmap[_<set>]` (Vega-Lite, SVG, PNG).
 *
 * @example
 * ```ts
 * // await saveArchitectures(result, "results/architectures", { config });
 * ```
 */
export async function saveArchitectures(
  r: ArchitecturesResult,
  dir: string,
  extra: Record<string, unknown> = {},
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "result.json"), JSON.stringify({ ...extra, ...r }, null, 2));
  const files = [join(dir, "result.json")];
  await saveFrame(architecturesTable(r), join(dir, "table"));
  if (r.curves.length) await saveFrame(toFrame(r.curves), join(dir, "curves"));
  if (r.blimp.length) await saveFrame(toFrame(r.blimp), join(dir, "blimp"));
  files.push(join(dir, "table.csv"));
  if (r.curves.length) await saveChart(bitsPerCharChart(r), join(dir, "bits_per_char"));
  const sets = [...new Set(r.blimp.map((b) => b.set))];
  for (const [i, set] of sets.entries()) {
    await saveChart(blimpHeatmap(r, set), join(dir, i === 0 ? "blimp_heatmap" : `blimp_heatmap_${set}`));
  }
  return files;
}

/**
 * A saved comparison (`dir/result.json`, as written by {@linkcode saveArchitectures} or
 * `bench/architectures_device.ts`), or null when the folder has none.
 *
 * @example
 * ```ts
 * // const r = await loadArchitectures("results/architectures"); // null until a GPU run is committed
 * ```
 */
export async function loadArchitectures(
  dir: string,
): Promise<(ArchitecturesResult & Record<string, unknown>) | null> {
  const file = join(dir, "result.json");
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`Cannot read "${file}": ${(e as Error).message}.`);
  }
  const r = JSON.parse(text);
  if (!Array.isArray(r.rows)) {
    throw new Error(`"${file}" has no "rows" array: is it an architectures result?`);
  }
  return { ...r, rows: r.rows, curves: r.curves ?? [], blimp: r.blimp ?? [] };
}
