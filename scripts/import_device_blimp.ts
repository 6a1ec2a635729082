/**
 * Import the BLiMP results that `bench/blimp_device.ts` computed on the GPU machine (JSON with per-pair
 * scores) into the results layout: BabyLM-pipeline folders, frames (CSV + Parquet) and charts
 * (.vl.json/.svg/.png).
 *
 * Usage: deno run -A scripts/import_device_blimp.ts --from DIR --blimp BLIMP_DIR [--blimp-filtered DIR]
 *          [--out results/blimp/gpu] [--label RUN=Label …]
 *
 * `--from` holds one folder per training run (`DIR/<run>/milestones.json`, `final_original.json`,
 * optionally `final_filtered.json`), or such folders one level deeper (`DIR/<folder>/<run>/`), or is itself
 * one run folder. `--blimp` / `--blimp-filtered` must be the BLiMP folders the device scored: the scores are
 * checked pair by pair against `loadBlimp` (milestones: its `blimpFastSubset`). `--label` (repeatable) names
 * a run in frames and charts (default: the run folder's name).
 *
 * Writes under `--out`:
 * - `babylm/<run>/<chck_*|main>/zero_shot/<backend>/blimp/<dataset>/` (`writeBabyLMBlimp`): the milestones
 *   as `chck_*` revisions of `blimp_fast`, the finals as revision `main` of `blimp_original` and
 *   `blimp_filtered`
 * - `learning_curve` (one row per run × milestone, accuracies in [0, 1], as `blimpLearningCurve`), `overall`,
 *   `per_phenomenon`, `per_paradigm` (accuracies in %) as `.csv` + `.parquet`
 * - charts `learning_curve`, `heatmap_<set>` and `anchors_<set>` (`blimpComparison`) for each set present
 *
 * @module
 */
import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import { type BlimpPair, loadBlimp } from "../src/data/blimp.ts";
import { exists } from "../src/data/hub.ts";
import { type BlimpResult, blimpResultFromScores } from "../src/eval/blimp.ts";
import { writeBabyLMBlimp } from "../src/eval/blimp_babylm.ts";
import { blimpFastSubset } from "../src/eval/blimp_milestones.ts";
import { blimpComparison, learningCurveChart, type NamedBlimpResult } from "../src/eval/blimp_report.ts";
import { blimpRows, type BlimpSet } from "../src/eval/blimp_run.ts";
import { type Row, saveFrame, toFrame } from "../src/results/frames.ts";
import { saveChart } from "../src/results/charts.ts";

/** A result as `bench/blimp_device.ts` writes it: with per-pair scores and the checkpoint's step. */
type DeviceResult = BlimpResult & { step: number };

/** One imported run. */
interface DeviceRun {
  /** Run folder name (the BabyLM model name). */
  run: string;
  /** Label in frames and charts. */
  label: string;
  /** Milestones, fewest words first. */
  milestones: { name: string; words: number; result: DeviceResult }[];
  /** The fast-subset pairs the milestones scored. */
  fast: BlimpPair[];
  /** Final checkpoint results per set. */
  finals: Partial<Record<BlimpSet, DeviceResult>>;
}

/** The BabyLM dataset folder of each set (as `bench/blimp_ngram.ts` and `runBlimp` name them). */
const DATASETS: Record<BlimpSet, string> = { original: "blimp_original", filtered: "blimp_filtered" };

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    from: { type: "string" },
    blimp: { type: "string" },
    "blimp-filtered": { type: "string" },
    out: { type: "string", default: "results/blimp/gpu" },
    label: { type: "string", multiple: true },
  },
});
if (!a.from || !a.blimp) {
  throw new Error(
    "Options --from (the device's BLiMP output folder) and --blimp (BLiMP jsonl folder) are required.",
  );
}
const out = a.out!;
const pairs: Partial<Record<BlimpSet, BlimpPair[]>> = { original: await loadBlimp({ dir: a.blimp }) };
if (a["blimp-filtered"]) pairs.filtered = await loadBlimp({ dir: a["blimp-filtered"] });
const labels = parseLabels(a.label ?? []);
const runs: DeviceRun[] = [];
for (const dir of await findRunDirs(a.from)) runs.push(await loadRun(dir, labels));
for (const name of labels.keys()) {
  if (!runs.some((r) => r.run === name)) {
    throw new Error(
      `--label ${name}=…: no run "${name}" under "${a.from}" (runs: ${runs.map((r) => r.run).join(", ")}).`,
    );
  }
}
const taken = runs.map((r) => r.label);
const twice = taken.find((l, i) => taken.indexOf(l) !== i);
if (twice) throw new Error(`Option --label: two runs are labelled "${twice}".`);
for (const r of runs) await writeBabyLM(r);
await writeFrames(runs);
await writeCharts(runs);
console.log(`${runs.length} run(s) imported into ${out}: ${runs.map((r) => r.run).join(", ")}`);

/** `--label RUN=Label` options as a map. */
function parseLabels(list: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const s of list) {
    const i = s.indexOf("=");
    if (i < 1 || i === s.length - 1) throw new Error(`Option --label "${s}": expected RUN=Label.`);
    if (m.has(s.slice(0, i))) {
      throw new Error(`Option --label: the run "${s.slice(0, i)}" is labelled twice.`);
    }
    m.set(s.slice(0, i), s.slice(i + 1));
  }
  return m;
}

/** The run folders (holding `milestones.json`) of `--from`: itself, its children, or its grandchildren. */
async function findRunDirs(from: string): Promise<string[]> {
  if (await exists(join(from, "milestones.json"))) return [from];
  for (const depth of [1, 2]) {
    const runs: string[] = [];
    for (const d of await subdirs(from, depth)) if (await exists(join(d, "milestones.json"))) runs.push(d);
    if (!runs.length) continue;
    const names = runs.map((d) => basename(d));
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice) throw new Error(`Option --from "${from}": two run folders are named "${twice}".`);
    return runs.sort();
  }
  throw new Error(
    `Option --from "${from}": no run folder with milestones.json in it, its subfolders or theirs (bench/blimp_device.ts writes <out>/<run>/milestones.json).`,
  );
}

/** The folders `depth` levels below `dir` (hidden ones skipped). */
async function subdirs(dir: string, depth: number): Promise<string[]> {
  let level = [dir];
  for (let k = 0; k < depth; k++) {
    const next: string[] = [];
    for (const d of level) {
      try {
        for await (const e of Deno.readDir(d)) {
          if (e.isDirectory && !e.name.startsWith(".")) next.push(join(d, e.name));
        }
      } catch (e) {
        throw new Error(`Cannot read the folder "${d}" (option --from): ${(e as Error).message}`);
      }
    }
    level = next;
  }
  return level;
}

/** Read and check one run folder: every result's scores must match its pairs. */
async function loadRun(dir: string, labels: Map<string, string>): Promise<DeviceRun> {
  const run = basename(dir);
  const file = join(dir, "milestones.json");
  const m = await readJson(file) as { fastPerParadigm?: number; milestones?: DeviceRun["milestones"] };
  if (!Array.isArray(m.milestones)) throw new Error(`The file "${file}" has no "milestones" list.`);
  if (m.milestones.length && typeof m.fastPerParadigm !== "number") {
    throw new Error(`The file "${file}" has milestones but no "fastPerParadigm".`);
  }
  const fast = m.milestones.length ? blimpFastSubset(pairs.original!, m.fastPerParadigm as number) : [];
  for (const [i, ms] of m.milestones.entries()) {
    if (typeof ms.name !== "string" || typeof ms.words !== "number") {
      throw new Error(`The file "${file}": milestone ${i} has no "name" and "words".`);
    }
    checkResult(ms.result, fast, `${file}, milestone ${ms.name}`);
  }
  const finals: DeviceRun["finals"] = {};
  for (const set of ["original", "filtered"] as const) {
    const f = join(dir, `final_${set}.json`);
    if (!(await exists(f))) continue;
    if (!pairs[set]) throw new Error(`The file "${f}" needs its BLiMP pairs: pass --blimp-${set} DIR.`);
    finals[set] = checkResult(await readJson(f) as DeviceResult, pairs[set]!, f);
  }
  const milestones = [...m.milestones].sort((x, y) => x.words - y.words);
  return { run, label: labels.get(run) ?? run, milestones, fast, finals };
}

/** Parse a JSON file, naming it in errors. */
async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    throw new Error(`Cannot read the JSON file "${file}": ${(e as Error).message}`);
  }
}

/**
 * Check that a device result scored `pairs` in order (same uid and pairId at every index) and that its scores
 * give its overall accuracy; returns it.
 */
function checkResult(r: DeviceResult | undefined, pairs: readonly BlimpPair[], where: string): DeviceResult {
  if (!r || !Array.isArray(r.scores) || typeof r.step !== "number") {
    throw new Error(
      `"${where}": expected a BLiMP result with per-pair "scores" and the checkpoint's "step".`,
    );
  }
  if (r.scores.length !== pairs.length) {
    throw new Error(
      `"${where}" has ${r.scores.length} pair scores but the BLiMP folder gives ${pairs.length} pairs: is it the set the device scored?`,
    );
  }
  for (const [i, s] of r.scores.entries()) {
    const p = pairs[i];
    if (s.uid !== p.uid || s.pairId !== p.pairId) {
      throw new Error(
        `"${where}": score ${i} is for pair "${s.uid}/${s.pairId}" but pair ${i} of the BLiMP folder is "${p.uid}/${p.pairId}".`,
      );
    }
  }
  const again = blimpResultFromScores(pairs, r.scores.flatMap((s) => [s.good, s.bad]), r.variant);
  if (Math.abs(again.overall - r.overall) > 1e-9) {
    throw new Error(`"${where}": its scores give ${again.overall} overall, but it records ${r.overall}.`);
  }
  return r;
}

/** The final results of a run, original set first. */
function finals(r: DeviceRun): [BlimpSet, DeviceResult][] {
  return (["original", "filtered"] as const).flatMap((set) => {
    const res = r.finals[set];
    return res ? [[set, res] as [BlimpSet, DeviceResult]] : [];
  });
}

/** The BabyLM-layout files of a run's milestones (`blimp_fast`) and final results (revision `main`). */
async function writeBabyLM(r: DeviceRun): Promise<void> {
  const outDir = join(out, "babylm");
  for (const m of r.milestones) {
    await writeBabyLMBlimp(m.result, r.fast, {
      outDir,
      model: r.run,
      revision: m.name,
      dataset: "blimp_fast",
    });
  }
  for (const [set, res] of finals(r)) {
    await writeBabyLMBlimp(res, pairs[set]!, {
      outDir,
      model: r.run,
      revision: "main",
      dataset: DATASETS[set],
    });
  }
}

/** An accuracy in [0, 1] as % with two decimals. */
function pct(x: number): number {
  return Math.round(1e4 * x) / 100;
}

/** One row per run × milestone, as `blimpLearningCurve` (src/eval/blimp_run.ts) returns, plus the step. */
function curveRows(r: DeviceRun): Row[] {
  return r.milestones.map(({ name, words, result }) => {
    const row: Row = {
      model: r.label,
      checkpoint: name,
      words,
      step: result.step,
      variant: result.variant,
      overall: result.overall,
    };
    for (const p of result.perPhenomenon) row[p.phenomenon] = p.accuracy;
    return row;
  });
}

/** The `overall`, `per_phenomenon` and `per_paradigm` rows of a run's final results (accuracies in %). */
function finalRows(r: DeviceRun): { overall: Row[]; phenomena: Row[]; paradigms: Row[] } {
  const rows = { overall: [] as Row[], phenomena: [] as Row[], paradigms: [] as Row[] };
  for (const [set, res] of finals(r)) {
    const id = { run: r.run, model: r.label, set };
    const { phenomena, paradigms } = blimpRows(res, r.label);
    rows.overall.push({
      ...id,
      step: res.step,
      pairs: res.pairs,
      overall: pct(res.overall),
      variant: res.variant,
      ties: res.ties,
      truncated: res.truncated,
    });
    for (const p of phenomena) {
      if (p.phenomenon !== "overall") {
        rows.phenomena.push({ ...id, phenomenon: p.phenomenon, accuracy: pct(p.accuracy as number) });
      }
    }
    for (const p of paradigms) {
      rows.paradigms.push({
        ...id,
        uid: p.paradigm,
        phenomenon: p.phenomenon,
        accuracy: pct(p.accuracy as number),
        n: p.n,
      });
    }
  }
  return rows;
}

/** Save the four frames (CSV + Parquet); accuracy columns stay Float64 even when integral. */
async function writeFrames(runs: DeviceRun[]): Promise<void> {
  const curve = runs.flatMap(curveRows);
  const fin = runs.map(finalRows);
  const phenomena = [
    ...new Set(
      runs.flatMap((r) => r.milestones.flatMap((m) => m.result.perPhenomenon.map((p) => p.phenomenon))),
    ),
  ];
  const frames: [string, Row[], string[]][] = [
    ["learning_curve", curve, ["overall", ...phenomena]],
    ["overall", fin.flatMap((f) => f.overall), ["overall"]],
    ["per_phenomenon", fin.flatMap((f) => f.phenomena), ["accuracy"]],
    ["per_paradigm", fin.flatMap((f) => f.paradigms), ["accuracy"]],
  ];
  for (const [name, rows, floats] of frames) {
    if (!rows.length) continue;
    const { csv } = await saveFrame(toFrame(rows, { floats }), join(out, name));
    console.log(`${csv.replace(/\.csv$/, "")}.{csv,parquet}: ${rows.length} rows`);
  }
}

/** The learning-curve chart and, for each set with results, the phenomena × runs heatmap and anchors bars. */
async function writeCharts(runs: DeviceRun[]): Promise<void> {
  const curve = runs.flatMap(curveRows);
  if (curve.length) await saveChart(learningCurveChart([toFrame(curve)]), join(out, "learning_curve"));
  for (const set of ["original", "filtered"] as const) {
    const named: NamedBlimpResult[] = runs.flatMap((r) =>
      r.finals[set] ? [{ model: r.label, result: r.finals[set]! }] : []
    );
    if (!named.length) continue;
    const cmp = blimpComparison(named, { set: `BLiMP ${set}` });
    await saveChart(cmp.heatmap, join(out, `heatmap_${set}`));
    await saveChart(cmp.anchors, join(out, `anchors_${set}`));
  }
  console.log(`${out}: charts learning_curve, heatmap_<set>, anchors_<set> (.vl.json/.svg/.png)`);
}
