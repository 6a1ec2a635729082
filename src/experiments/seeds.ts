/**
 * Multi-seed runs of the mHC ablation: the same data and options for each seed, rows and curves concatenated,
 * and a per-variant mean ± std summary (sample std, ddof 1) of the table's metrics.
 *
 * @module
 */
import {
  MHC_VARIANTS,
  type MhcAblationOptions,
  type MhcAblationRow,
  type MhcCurvePoint,
  type MhcVariant,
  PUBLISHED_MHC_TABLE,
  runMhcAblation,
} from "./mhc_ablation.ts";
import { type DataFrame, formatMeanStd, readFrame, type Row, summarize, toFrame } from "../results/frames.ts";
import { barChart, lineChart, type VegaLiteSpec } from "../results/charts.ts";

/** Options of {@linkcode runMhcSeeds}: the ablation's options (without `seed`) plus the seeds. */
export interface MhcSeedsOptions extends Omit<MhcAblationOptions, "seed" | "onStep"> {
  /** Seeds to run (each seed trains every variant). */
  seeds: readonly number[];
  /** Called after each step, with the seed. */
  onStep?: (
    variant: string,
    seed: number,
    rec: Parameters<NonNullable<MhcAblationOptions["onStep"]>>[1],
  ) => void | Promise<void>;
}

/** What {@linkcode runMhcSeeds} returns. */
export interface MhcSeedsResult {
  /** One row per (seed, variant). */
  rows: MhcAblationRow[];
  /** Loss curves of every seed and variant. */
  curves: MhcCurvePoint[];
  /** Mean ± std per variant of {@linkcode MHC_SUMMARY_METRICS} (columns `<m>_mean`, `<m>_std`, `<m>`, `n`). */
  summary: DataFrame;
}

/** Metrics summarized per variant. */
export const MHC_SUMMARY_METRICS = [
  "val_loss",
  "ppl",
  "val_loss_ood",
  "ppl_ood",
  "tokens_per_sec",
  "peak_mb",
  "train_seconds",
] as const;

/**
 * Run {@linkcode runMhcAblation} once per seed and summarize per variant.
 *
 * @example
 * ```ts
 * // const { rows, summary } = await runMhcSeeds({ seeds: [1, 2, 3], train, valid, preset: "tiny", steps: 40 });
 * ```
 * @throws Error when `seeds` is empty or holds a non-integer or a repeated seed.
 */
export async function runMhcSeeds(opts: MhcSeedsOptions): Promise<MhcSeedsResult> {
  const { seeds, onStep, ...rest } = opts;
  if (!Array.isArray(seeds) || seeds.length === 0) throw new Error(`runMhcSeeds needs at least one seed.`);
  for (const s of seeds) {
    if (!Number.isInteger(s)) throw new Error(`Seed "${s}" is not an integer.`);
  }
  if (new Set(seeds).size !== seeds.length) throw new Error(`Seeds repeat: ${JSON.stringify(seeds)}.`);
  const rows: MhcAblationRow[] = [];
  const curves: MhcCurvePoint[] = [];
  for (const seed of seeds) {
    rest.log?.(`— seed ${seed} —`);
    const r = await runMhcAblation({
      ...rest,
      seed,
      onStep: onStep ? (variant, rec) => onStep(variant, seed, rec) : undefined,
    });
    rows.push(...r.rows);
    curves.push(...r.curves);
  }
  return { rows, curves, summary: summarizeMhcRows(rows) };
}

/**
 * Mean ± std per variant of the ablation rows (variants in the table's order: baseline, mHC, mHC + adapters).
 * Metrics that are null in every row (e.g. throughput turned off) are left out.
 *
 * @example
 * ```ts
 * // summarizeMhcRows(rows).toRecords()[0] // { variant: "baseline", ppl_mean: …, ppl_std: …, ppl: "3.1 ± 0.1", n: 3 }
 * ```
 */
export function summarizeMhcRows(rows: readonly MhcAblationRow[], digits = 4): DataFrame {
  if (rows.length === 0) throw new Error(`No ablation rows to summarize.`);
  const metrics = MHC_SUMMARY_METRICS.filter((m) => rows.some((r) => typeof r[m] === "number"));
  const flat = rows.map((r) => {
    const o: Record<string, number | string | null> = {
      variant: r.variant,
      order: (MHC_VARIANTS as readonly string[]).indexOf(r.variant),
    };
    for (const m of metrics) o[m] = (r[m] as number | null) ?? null;
    return o;
  });
  return summarize(toFrame(flat), ["order", "variant"], [...metrics], { digits }).drop("order");
}

/** One row of {@linkcode compareWithPublished}: our mean ± std beside the published single run. */
export interface MhcComparisonRow {
  /** Variant name. */
  variant: string;
  /** Seeds averaged. */
  n: number;
  /** Perplexity, mean ± std. */
  ppl: string;
  /** Published perplexity. */
  ppl_published: number | null;
  /** Validation loss, mean ± std. */
  val_loss: string;
  /** Published validation loss. */
  val_loss_published: number | null;
  /** Training tokens/s, mean ± std. */
  tokens_per_sec: string;
  /** Published tokens/s. */
  tokens_per_sec_published: number | null;
  /** Peak memory (MB), mean ± std. */
  peak_mb: string;
  /** Published peak memory (MB). */
  peak_mb_published: number | null;
  /** Further columns. */
  [key: string]: string | number | null;
}

/**
 * Our per-variant summary (from {@linkcode summarizeMhcRows}) beside the published table (docs/models/mhc.md).
 *
 * @example
 * ```ts
 * // await showFrame(compareWithPublished(summary), { title: "ours (mean ± std) vs published" });
 * ```
 */
export function compareWithPublished(summary: DataFrame, digits = 2): MhcComparisonRow[] {
  const recs = summary.toRecords() as Record<string, unknown>[];
  const fmt = (r: Record<string, unknown>, m: string, d = digits) => {
    const mean = r[`${m}_mean`] as number | null | undefined;
    const std = r[`${m}_std`] as number | null | undefined;
    if (mean === undefined) return "–";
    return formatMeanStd(mean ?? null, std ?? null, d);
  };
  return recs.map((r) => {
    const pub = PUBLISHED_MHC_TABLE.find((p) => p.variant === r.variant);
    return {
      variant: String(r.variant),
      n: Number(r.n),
      ppl: fmt(r, "ppl"),
      ppl_published: pub?.ppl ?? null,
      val_loss: fmt(r, "val_loss", 4),
      val_loss_published: pub?.val_loss ?? null,
      tokens_per_sec: fmt(r, "tokens_per_sec", 0),
      tokens_per_sec_published: pub?.tokens_per_sec ?? null,
      peak_mb: fmt(r, "peak_mb", 0),
      peak_mb_published: pub?.peak_mb ?? null,
      ...(r.ppl_ood_mean === undefined ? {} : {
        val_loss_ood: fmt(r, "val_loss_ood", 4),
        ppl_ood: fmt(r, "ppl_ood"),
      }),
    };
  });
}

/** What {@linkcode checkPplOrdering} returns. */
export interface PplOrdering {
  /** True when mean perplexity is strictly baseline > mHC > mHC + adapters (as published). */
  holds: boolean;
  /** Variants from highest to lowest mean perplexity. */
  order: string[];
  /** A sentence saying what was found. */
  text: string;
}

/**
 * Check the published ordering baseline > mHC > mHC + adapters of mean perplexity. Each adjacent gap is also
 * compared with the seeds' spread (std): a gap smaller than the larger of the two stds is called "within noise".
 *
 * @example
 * ```ts
 * // console.log(checkPplOrdering(summary).text);
 * ```
 */
export function checkPplOrdering(summary: DataFrame, metric: "ppl" | "ppl_ood" = "ppl"): PplOrdering {
  const domain = metric === "ppl" ? "in-domain" : "out-of-domain";
  const recs = summary.toRecords() as Record<string, unknown>[];
  const get = (v: MhcVariant) => recs.find((r) => r.variant === v);
  const missing = MHC_VARIANTS.filter((v) => !get(v));
  if (missing.length > 0) {
    return {
      holds: false,
      order: [],
      text: `Cannot check the ${domain} ordering: no rows for ${missing.join(", ")}.`,
    };
  }
  const mean = (v: MhcVariant) => get(v)![`${metric}_mean`] as number;
  const std = (v: MhcVariant) => (get(v)![`${metric}_std`] as number | null) ?? 0;
  const order = [...MHC_VARIANTS].sort((a, b) => mean(b) - mean(a));
  const holds = mean("baseline") > mean("mhc") && mean("mhc") > mean("mhc_adapters");
  const gaps = (["baseline", "mhc"] as const).map((a, i) => {
    const b = MHC_VARIANTS[i + 1];
    const gap = mean(a) - mean(b);
    const noise = Math.max(std(a), std(b));
    return `${a} − ${b} = ${gap.toFixed(2)}${noise > 0 && Math.abs(gap) < noise ? " (within noise)" : ""}`;
  });
  const n = Math.min(...MHC_VARIANTS.map((v) => Number(get(v)!.n)));
  const list = order.map((v) => `${v} ${mean(v).toFixed(2)}`).join(" > ");
  const text = `${holds ? "The published ordering holds" : "The published ordering does NOT hold"}` +
    ` (${domain} mean perplexity over ${n} seed${n === 1 ? "" : "s"}: ${list}; gaps ${gaps.join(", ")}).`;
  return { holds, order, text };
}

/**
 * Mean loss per (variant, step) over seeds for one split, for line charts (`loss`, `loss_std`, `n`).
 *
 * @example
 * ```ts
 * // await showChart(lineChart({ data: meanCurves(curves, "valid"), x: "step", y: "loss", color: "variant" }));
 * ```
 */
export function meanCurves(curves: readonly MhcCurvePoint[], split: "train" | "valid" = "valid"): Row[] {
  const groups = new Map<string, { variant: string; step: number; tokens: number; losses: number[] }>();
  for (const c of curves) {
    if (c.split !== split) continue;
    const k = `${c.variant}\u0000${c.step}`;
    let g = groups.get(k);
    if (!g) groups.set(k, g = { variant: c.variant, step: c.step, tokens: c.tokens, losses: [] });
    g.losses.push(c.loss);
  }
  return [...groups.values()]
    .sort((a, b) =>
      MHC_VARIANTS.indexOf(a.variant as MhcVariant) - MHC_VARIANTS.indexOf(b.variant as MhcVariant) ||
      a.step - b.step
    )
    .map((g) => {
      const n = g.losses.length;
      const m = g.losses.reduce((s, x) => s + x, 0) / n;
      const sd = n > 1 ? Math.sqrt(g.losses.reduce((s, x) => s + (x - m) ** 2, 0) / (n - 1)) : null;
      return { variant: g.variant, step: g.step, tokens: g.tokens, loss: m, loss_std: sd, n };
    });
}

/** Results read back by {@linkcode loadMhcResults}. */
export interface LoadedMhcResults {
  /** One row per (seed, variant). */
  rows: MhcAblationRow[];
  /** Loss curves from `curves.csv` (empty when the folder has none). */
  curves: MhcCurvePoint[];
  /** Mean ± std per variant. */
  summary: DataFrame;
  /** The `table.csv` files read. */
  files: string[];
}

/**
 * Read committed ablation results: `<dir>/table.csv` and, one level down, `<dir>/<run>/table.csv` (e.g. one
 * folder per GPU run or seed), plus the `curves.csv` beside each. Returns null when no `table.csv` is found.
 *
 * @example
 * ```ts
 * // const got = await loadMhcResults("../results/mhc_ablation");
 * // if (!got) console.log("no committed results");
 * ```
 */
export async function loadMhcResults(dir: string): Promise<LoadedMhcResults | null> {
  const dirs = [dir];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isDirectory) dirs.push(`${dir}/${e.name}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  dirs.sort();
  const rows: MhcAblationRow[] = [];
  const curves: MhcCurvePoint[] = [];
  const files: string[] = [];
  for (const d of dirs) {
    let table: DataFrame;
    try {
      table = readFrame(`${d}/table.csv`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    files.push(`${d}/table.csv`);
    rows.push(...(table.toRecords() as unknown as MhcAblationRow[]));
    try {
      curves.push(...(readFrame(`${d}/curves.csv`).toRecords() as unknown as MhcCurvePoint[]));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  if (rows.length === 0) return null;
  return { rows, curves, summary: summarizeMhcRows(rows), files };
}

/** The committed GPU results as the notebook and `scripts/report_device_results.ts` show them. */
export interface MhcResultsReport {
  /** Every run (variant × seed). */
  runs: DataFrame;
  /** Mean ± std per variant beside the published table. */
  comparison: DataFrame;
  /** The published ordering checked per domain (in-domain, then out-of-domain when measured). */
  verdicts: string[];
  /** Charts by file name: held-out curves with seed bands, final losses, throughput, memory. */
  charts: Record<string, VegaLiteSpec>;
}

/**
 * Tables, orderings and charts of ablation results (e.g. {@linkcode loadMhcResults} of `results/mhc_ablation`).
 *
 * @example
 * ```ts
 * // const r = mhcResultsReport((await loadMhcResults("results/mhc_ablation"))!);
 * // r.verdicts.forEach((v) => console.log(v));
 * ```
 */
export function mhcResultsReport(
  res: Pick<LoadedMhcResults, "rows" | "curves" | "summary">,
): MhcResultsReport {
  const runs = res.rows.map((r) => ({ ...r, run: `${r.variant} (seed ${r.seed})` })) as unknown as Row[];
  const hasOod = res.rows.some((r) => typeof r.val_loss_ood === "number");
  const bar = (y: string, title: string, yTitle: string) =>
    barChart({ data: runs, x: "run", y, yTitle, title, labelAngle: -30 });
  const charts: Record<string, VegaLiteSpec> = {
    val_loss_curves: lineChart({
      data: meanCurves(res.curves, "valid"),
      x: "step",
      y: "loss",
      band: "loss_std",
      color: "variant",
      points: true,
      title: "Held-out loss (in-domain); band: ± std over seeds",
      xTitle: "optimizer step",
      yTitle: "nats per token",
    }),
    val_loss: bar("val_loss", "Held-out loss after the run (in-domain)", "nats per token"),
    ...(hasOod
      ? { val_loss_ood: bar("val_loss_ood", "Held-out loss after the run (out of domain)", "nats per token") }
      : {}),
    train_tok_s: bar("tokens_per_sec", "Training throughput (benchmark protocol: B 8, T 256)", "tokens/s"),
    peak_mib: bar("peak_mb", "Peak memory of a training step", "MiB"),
  };
  const verdicts = [checkPplOrdering(res.summary, "ppl").text];
  if (hasOod) verdicts.push(checkPplOrdering(res.summary, "ppl_ood").text);
  return {
    runs: toFrame(runs),
    comparison: toFrame(compareWithPublished(res.summary) as unknown as Row[]),
    verdicts,
    charts,
  };
}
