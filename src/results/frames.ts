/**
 * Tables of results as nodejs-polars DataFrames: build them from rows, save them as CSV + Parquet, read them
 * back, and summarize multi-seed runs as mean ± std per group.
 *
 * @example
 * ```ts
 * import { saveFrame, summarize, toFrame } from "./frames.ts";
 * const df = toFrame([
 *   { model: "s4", seed: 1, loss: 2.1 },
 *   { model: "s4", seed: 2, loss: 2.3 },
 *   { model: "mamba", seed: 1, loss: 1.9 },
 * ]);
 * await saveFrame(summarize(df, "model", "loss"), "results/demo/summary"); // summary.csv + summary.parquet
 * ```
 *
 * @module
 */
import pl from "nodejs-polars";
import { dirname, extname } from "node:path";
import { writeViaTemp } from "./atomic.ts";

/** A nodejs-polars DataFrame. */
export type DataFrame = pl.DataFrame;

/** One row of a results table: column name → number, string, boolean or null. */
export type Row = Record<string, number | string | boolean | null | undefined>;

/** Options of {@linkcode toFrame}. */
export interface ToFrameOptions {
  /** Number columns kept Float64 even when every value is an integer (default none). */
  floats?: readonly string[];
}

/**
 * True when `x` is a nodejs-polars DataFrame.
 *
 * @example
 * ```ts
 * import { isFrame, toFrame } from "./frames.ts";
 * isFrame(toFrame([{ a: 1 }])); // true
 * isFrame([{ a: 1 }]); // false
 * ```
 */
export function isFrame(x: unknown): x is DataFrame {
  const o = x as { toRecords?: unknown; writeParquet?: unknown; columns?: unknown } | null;
  return !!o && typeof o === "object" && typeof o.toRecords === "function" &&
    typeof o.writeParquet === "function" && Array.isArray(o.columns);
}

/**
 * Build a DataFrame from an array of row objects. Columns are the union of the rows' keys in first-seen order;
 * a key missing from a row becomes null. Each column must hold one kind of value (numbers, strings or booleans,
 * plus nulls). A number column whose values are all safe integers becomes Int64 (so a seed is saved as `1337`,
 * not `1337.0`), unless it is named in `opts.floats`; other number columns and all-null columns become Float64.
 *
 * @example
 * ```ts
 * import { toFrame } from "./frames.ts";
 * const df = toFrame([{ step: 0, loss: 3.2, model: "s4" }, { step: 100, loss: 2.7, model: "s4" }]);
 * console.log(df.height, String(df.getColumn("step").dtype)); // 2 "DataType(Int64)"
 * ```
 */
export function toFrame(rows: readonly Row[], opts: ToFrameOptions = {}): DataFrame {
  if (!Array.isArray(rows)) {
    throw new TypeError(`toFrame expects an array of row objects, got ${describe(rows)}.`);
  }
  const keys: string[] = [];
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    if (row === null || typeof row !== "object" || Array.isArray(row)) {
      throw new TypeError(`toFrame expects row objects, but row ${i} is ${describe(row)}.`);
    }
    for (const k of Object.keys(row)) if (!seen.has(k)) seen.add(k), keys.push(k);
  });
  if (keys.length === 0) return pl.DataFrame();
  const series = keys.map((k) => {
    const values = rows.map((r) => (r[k] === undefined ? null : r[k]));
    let kind: string | null = null;
    values.forEach((v, i) => {
      if (v === null) return;
      const t = typeof v;
      if (t !== "number" && t !== "string" && t !== "boolean") {
        throw new TypeError(
          `Column "${k}" row ${i} holds ${describe(v)}; use numbers, strings, booleans or null.`,
        );
      }
      if (kind === null) kind = t;
      else if (kind !== t) {
        throw new TypeError(
          `Column "${k}" mixes ${kind}s and ${t}s (row ${i} is ${describe(v)}); give each column one type.`,
        );
      }
    });
    const integral = kind === "number" && !opts.floats?.includes(k) &&
      values.every((v) => v === null || Number.isSafeInteger(v));
    const dtype = kind === "string"
      ? pl.Utf8
      : kind === "boolean"
      ? pl.Bool
      : integral
      ? pl.Int64
      : pl.Float64;
    return pl.Series(k, values as unknown[], dtype);
  });
  return pl.DataFrame(series);
}

/** The files written by {@linkcode saveFrame}. */
export interface SavedFrame {
  /** Path of the CSV file. */
  csv: string;
  /** Path of the Parquet file. */
  parquet: string;
}

/**
 * Save a DataFrame (or rows) as `<pathWithoutExt>.csv` and `<pathWithoutExt>.parquet`, creating the folder.
 * Each file is written to a temporary name first and renamed into place, so readers never see half a file.
 *
 * @example
 * ```ts
 * import { saveFrame, toFrame } from "./frames.ts";
 * const { csv, parquet } = await saveFrame(toFrame([{ a: 1 }]), "results/demo/table");
 * console.log(csv, parquet); // results/demo/table.csv results/demo/table.parquet
 * ```
 */
export async function saveFrame(df: DataFrame | readonly Row[], pathWithoutExt: string): Promise<SavedFrame> {
  const frame = isFrame(df) ? df : toFrame(df as Row[]);
  const base = stripKnownExt(pathWithoutExt);
  await Deno.mkdir(dirname(base) || ".", { recursive: true });
  const csv = `${base}.csv`;
  const parquet = `${base}.parquet`;
  await writeViaTemp(csv, (tmp) => frame.writeCSV(tmp), { keepExtension: true });
  await writeViaTemp(parquet, (tmp) => frame.writeParquet(tmp), { keepExtension: true });
  return { csv, parquet };
}

/**
 * Read a DataFrame from a `.parquet` or `.csv` file. A path without extension tries `.parquet`, then `.csv`.
 *
 * @throws Deno.errors.NotFound when there is no such file; Error naming the file when it is not a readable
 *   parquet or CSV table (empty, truncated, corrupt).
 * @example
 * ```ts
 * import { readFrame } from "./frames.ts";
 * const df = readFrame("results/demo/table.parquet");
 * console.log(df.toRecords());
 * ```
 */
export function readFrame(path: string): DataFrame {
  const ext = extname(path).toLowerCase();
  if (ext === ".parquet") return readTable(mustExist(path), "parquet", (p) => pl.readParquet(p));
  if (ext === ".csv") return readTable(mustExist(path), "CSV", (p) => pl.readCSV(p));
  for (const candidate of [`${path}.parquet`, `${path}.csv`]) {
    if (exists(candidate)) return readFrame(candidate);
  }
  throw new Deno.errors.NotFound(
    `No table at "${path}": expected a .parquet or .csv file (or "${path}.parquet").`,
  );
}

function readTable(path: string, kind: string, read: (p: string) => DataFrame): DataFrame {
  try {
    return read(path);
  } catch (e) {
    const size = Deno.statSync(path).size;
    const why = String((e as Error)?.message ?? e).split("\n")[0];
    throw new Error(
      `The file "${path}" is not a readable ${kind} table (${size === 0 ? "it is empty" : why}); it may be ` +
        `truncated or corrupt: write it again (saveFrame writes atomically).`,
      { cause: e },
    );
  }
}

/** Options of {@linkcode summarize}. */
export interface SummarizeOptions {
  /** Digits after the point in the formatted `"<mean> ± <std>"` column (default 4). */
  digits?: number;
}

/**
 * Mean ± sample standard deviation (ddof 1) of one or more value columns per group, for multi-seed tables.
 * For each value column `v` the result has `v_mean`, `v_std` (null for a single-seed group) and a formatted
 * string column `v` (`"2.2000 ± 0.1414"`), plus `n` (rows per group); rows are sorted by the group columns.
 *
 * @example
 * ```ts
 * import { summarize, toFrame } from "./frames.ts";
 * const df = toFrame([
 *   { model: "s4", seed: 1, loss: 2.1 },
 *   { model: "s4", seed: 2, loss: 2.3 },
 * ]);
 * console.log(summarize(df, "model", "loss").toRecords());
 * // [{ model: "s4", loss_mean: 2.2, loss_std: 0.1414…, loss: "2.2000 ± 0.1414", n: 2 }]
 * ```
 */
export function summarize(
  df: DataFrame | readonly Row[],
  groupBy: string | readonly string[],
  value: string | readonly string[],
  opts: SummarizeOptions = {},
): DataFrame {
  const frame = isFrame(df) ? df : toFrame(df as Row[]);
  const groups = typeof groupBy === "string" ? [groupBy] : [...groupBy];
  const values = typeof value === "string" ? [value] : [...value];
  const digits = opts.digits ?? 4;
  for (const c of [...groups, ...values]) {
    if (!frame.columns.includes(c)) {
      throw new Error(`Column "${c}" is not in the table; its columns are ${JSON.stringify(frame.columns)}.`);
    }
  }
  const aggs = values.flatMap((v) => [
    pl.col(v).cast(pl.Float64).mean().alias(`${v}_mean`),
    pl.col(v).cast(pl.Float64).std().alias(`${v}_std`),
  ]);
  const out = frame.groupBy(groups).agg(...aggs, pl.len().alias("n")).sort(groups);
  // Add the formatted "mean ± std" columns in JS: simple, and exact about null handling.
  const recs = out.toRecords() as Record<string, unknown>[];
  const cols = values.map((v) =>
    pl.Series(
      v,
      recs.map((r) => formatMeanStd(r[`${v}_mean`] as number | null, r[`${v}_std`] as number | null, digits)),
      pl.Utf8,
    )
  );
  const order = [...groups, ...values.flatMap((v) => [`${v}_mean`, `${v}_std`, v]), "n"];
  return out.withColumns(...cols).select(...order);
}

/**
 * Format a mean and standard deviation as `"1.2345 ± 0.0123"` (just the mean when std is null or NaN).
 *
 * @example
 * ```ts
 * import { formatMeanStd } from "./frames.ts";
 * formatMeanStd(2.2, 0.1414, 2); // "2.20 ± 0.14"
 * ```
 */
export function formatMeanStd(mean: number | null, std: number | null, digits = 4): string {
  if (mean === null || mean === undefined || Number.isNaN(mean)) return "–";
  const m = mean.toFixed(digits);
  return std === null || std === undefined || Number.isNaN(std) ? m : `${m} ± ${std.toFixed(digits)}`;
}

// ---- helpers ----

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "object") return `an object (${Object.prototype.toString.call(v)})`;
  return `${typeof v} ${String(v)}`;
}

function stripKnownExt(p: string): string {
  return p.replace(/\.(csv|parquet)$/i, "");
}

function exists(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

function mustExist(p: string): string {
  if (!exists(p)) throw new Deno.errors.NotFound(`No table file at "${p}".`);
  return p;
}
