/**
 * Show tables and charts in a Deno Jupyter notebook, and update one chart in place while a model trains.
 *
 * Inside the Deno kernel (`deno jupyter`), {@linkcode showFrame} displays an HTML table, {@linkcode showChart}
 * displays the Vega-Lite spec (`application/vnd.vegalite.v5+json`, interactive in JupyterLab/VS Code) with an
 * `image/png` fallback (GitHub, `nbconvert --to html`: nbconvert's HTML sanitizer strips an inline SVG, so an SVG
 * fallback shows as a blank chart there), and {@linkcode LiveChart} keeps one display updated through a
 * `display_id`. Outside Jupyter (scripts, tests, CI) tables print as compact text, charts print one line, and
 * live charts stay silent: everything is headless-safe.
 *
 * @example
 * ```ts
 * import { LiveChart, showFrame } from "./display.ts";
 * const live = new LiveChart({ x: "step", y: "loss", color: "split", title: "Training" });
 * for (let step = 0; step <= 1000; step += 100) {
 *   await live.push({ step, loss: 3 * Math.exp(-step / 400), split: "train" });
 * }
 * await live.finish();
 * showFrame(live.frame());
 * ```
 *
 * @module
 */
import { type DataFrame, isFrame, type Row, toFrame } from "./frames.ts";
import { Buffer } from "node:buffer";
import {
  lineChart,
  type LineChartOptions,
  pngSize,
  renderPng,
  renderSvg,
  type VegaLiteSpec,
} from "./charts.ts";

/** A Jupyter MIME bundle: MIME type → content. */
export type MimeBundle = Record<string, unknown>;

export { inJupyter, jupyter, type JupyterApi } from "./jupyter.ts";
import { jupyter } from "./jupyter.ts";

/** Options of {@linkcode showFrame} and the table formatters. */
export interface TableOptions {
  /** Rows shown (default 20): the first `maxRows - 5` and the last 5 when the table is longer. */
  maxRows?: number;
  /** Significant digits of non-integer numbers (default 5). */
  digits?: number;
  /** Caption above the table. */
  title?: string;
}

/**
 * Display a table: an HTML table in Jupyter, a compact text table on stdout elsewhere.
 *
 * @example
 * ```ts
 * import { showFrame } from "./display.ts";
 * await showFrame([{ model: "s4", ppl: 31.234 }, { model: "mamba", ppl: 27.5 }], { title: "Perplexity" });
 * ```
 */
export async function showFrame(df: DataFrame | readonly Row[], opts: TableOptions = {}): Promise<void> {
  const j = jupyter();
  if (!j) {
    console.log(frameToText(df, opts));
    return;
  }
  await j.display({ "text/html": frameToHtml(df, opts), "text/plain": frameToText(df, opts) }, { raw: true });
}

/** Options of {@linkcode showChart}. */
export interface ShowChartOptions {
  /** Add the `image/png` picture of the chart for readers without a Vega-Lite renderer (default true). */
  image?: boolean;
  /** Outside Jupyter, print nothing instead of one line (default false). */
  quiet?: boolean;
}

/**
 * Display a Vega-Lite chart in Jupyter (interactive spec + PNG fallback); elsewhere print one line.
 *
 * @example
 * ```ts
 * import { showChart } from "./display.ts";
 * import { barChart } from "./charts.ts";
 * await showChart(barChart({ data: [{ model: "s4", ppl: 31 }], x: "model", y: "ppl", title: "Perplexity" }));
 * ```
 */
export async function showChart(spec: VegaLiteSpec, opts: ShowChartOptions = {}): Promise<void> {
  const j = jupyter();
  if (!j) {
    if (!opts.quiet) console.log(chartLine(spec));
    return;
  }
  await j.broadcast("display_data", { ...(await chartDisplay(spec, opts.image ?? true)), transient: {} });
}

/**
 * The MIME bundle of a chart: `application/vnd.vegalite.v5+json`, `image/png` (base64, drawn at twice the
 * chart's size; unless `image` is false) and `text/plain`.
 *
 * @example
 * ```ts
 * import { chartBundle } from "./display.ts";
 * import { lineChart } from "./charts.ts";
 * const bundle = await chartBundle(lineChart({ data: [{ x: 1, y: 2 }], x: "x", y: "y" }));
 * console.log(Object.keys(bundle)); // the three MIME types
 * ```
 */
export async function chartBundle(spec: VegaLiteSpec, image = true): Promise<MimeBundle> {
  return (await chartDisplay(spec, image)).data;
}

/**
 * A chart's display message content: its {@linkcode chartBundle} and the metadata that shows the double-size PNG
 * at the chart's own size (`metadata["image/png"].width/height`).
 *
 * @example
 * ```ts
 * import { chartDisplay } from "./display.ts";
 * import { lineChart } from "./charts.ts";
 * const { metadata } = await chartDisplay(lineChart({ data: [{ x: 1, y: 2 }], x: "x", y: "y" }));
 * ```
 */
export async function chartDisplay(
  spec: VegaLiteSpec,
  image = true,
): Promise<{ data: MimeBundle; metadata: Record<string, unknown> }> {
  const data: MimeBundle = { "application/vnd.vegalite.v5+json": spec, "text/plain": chartLine(spec) };
  if (!image) return { data, metadata: {} };
  const png = renderPng(await renderSvg(spec), { scale: 2 });
  const { width, height } = pngSize(png);
  data["image/png"] = Buffer.from(png).toString("base64");
  return {
    data,
    metadata: { "image/png": { width: Math.round(width / 2), height: Math.round(height / 2) } },
  };
}

/** Options of {@linkcode LiveChart}: a line chart's options without `data`, plus update pacing. */
export interface LiveChartOptions extends Omit<LineChartOptions, "data"> {
  /** Least time between display updates in milliseconds (default 1000); `finish()` always updates. */
  minIntervalMs?: number;
  /** Add the PNG fallback to every update, not just the last (default false: rendering it costs time). */
  imageEveryUpdate?: boolean;
  /** Outside Jupyter, print one text line per update (default false: silent). */
  log?: boolean;
}

let liveCounter = 0;

/**
 * A line chart that updates one Jupyter display in place (through a `display_id`) as rows arrive, e.g.
 * training and validation loss per step. Updates are throttled; `finish()` draws the final chart with its SVG
 * fallback so that saved notebooks show it everywhere. Outside Jupyter it only collects rows.
 *
 * @example
 * ```ts
 * import { LiveChart } from "./display.ts";
 * const live = new LiveChart({ x: "step", y: "loss", color: "split", title: "Loss", logY: true });
 * await live.push([{ step: 0, loss: 3.2, split: "train" }, { step: 0, loss: 3.3, split: "val" }]);
 * await live.finish();
 * ```
 */
export class LiveChart {
  /** The display id used for in-place updates. */
  readonly displayId: string;
  /** Every row pushed so far. */
  readonly rows: Row[] = [];
  #opts: LiveChartOptions;
  #shown = false;
  #last = -Infinity;

  /** Make a live chart; nothing is displayed until the first {@linkcode LiveChart.push}. */
  constructor(opts: LiveChartOptions) {
    this.#opts = opts;
    this.displayId = `ssmlab-live-${Date.now().toString(36)}-${++liveCounter}`;
  }

  /** The chart of the rows so far. */
  spec(): VegaLiteSpec {
    const { minIntervalMs: _a, imageEveryUpdate: _b, log: _c, ...chart } = this.#opts;
    return lineChart({ ...chart, data: this.rows });
  }

  /** The rows so far as a DataFrame. */
  frame(): DataFrame {
    return toFrame(this.rows);
  }

  /** Add one row or several; updates the display if `minIntervalMs` has passed since the last update. */
  async push(rows: Row | readonly Row[]): Promise<void> {
    if (Array.isArray(rows)) this.rows.push(...rows);
    else this.rows.push(rows as Row);
    if (performance.now() - this.#last >= (this.#opts.minIntervalMs ?? 1000)) await this.#update(false);
  }

  /** Update the display now. */
  flush(): Promise<void> {
    return this.#update(false);
  }

  /** Draw the final chart, with its PNG fallback. */
  finish(): Promise<void> {
    return this.#update(true);
  }

  async #update(final: boolean): Promise<void> {
    this.#last = performance.now();
    const j = jupyter();
    if (!j) {
      if (this.#opts.log && this.rows.length > 0) {
        const r = this.rows[this.rows.length - 1];
        const parts = Object.entries(r).map(([k, v]) => `${k}=${formatCell(v, 5)}`);
        console.log(`[${this.#opts.title ?? "live"}] ${parts.join(" ")}`);
      }
      return;
    }
    if (this.rows.length === 0 && !final) return;
    const shown = await chartDisplay(this.spec(), final || (this.#opts.imageEveryUpdate ?? false));
    const content = { ...shown, transient: { display_id: this.displayId } };
    await j.broadcast(this.#shown ? "update_display_data" : "display_data", content);
    this.#shown = true;
  }
}

/**
 * Format a table as compact aligned text.
 *
 * @example
 * ```ts
 * import { frameToText } from "./display.ts";
 * console.log(frameToText([{ model: "s4", ppl: 31.234 }]));
 * // model  ppl
 * // s4     31.234
 * ```
 */
export function frameToText(df: DataFrame | readonly Row[], opts: TableOptions = {}): string {
  const { columns, rows, hidden, total } = tableCells(df, opts);
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => r[i] === "" || isNumText(r[i])));
  const pad = (s: string, i: number) => numeric[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]);
  const lines: string[] = [];
  if (opts.title) lines.push(opts.title);
  lines.push(columns.map(pad).join("  ").trimEnd());
  const at = hidden > 0 ? rows.length - 5 : -1;
  rows.forEach((r, k) => {
    if (k === at) lines.push(`… ${hidden} more rows …`);
    lines.push(r.map(pad).join("  ").trimEnd());
  });
  if (hidden > 0 || total === 0) lines.push(`(${total} rows × ${columns.length} columns)`);
  return lines.join("\n");
}

/**
 * Format a table as an HTML `<table>` (values escaped).
 *
 * @example
 * ```ts
 * import { frameToHtml } from "./display.ts";
 * const html = frameToHtml([{ model: "s4", ppl: 31.2 }], { title: "Perplexity" });
 * ```
 */
export function frameToHtml(df: DataFrame | readonly Row[], opts: TableOptions = {}): string {
  const { columns, rows, hidden, total } = tableCells(df, opts);
  const at = hidden > 0 ? rows.length - 5 : -1;
  const body = rows.map((r, k) => {
    const gap = k === at
      ? `<tr><td colspan="${columns.length}" style="text-align:center">… ${hidden} more rows …` +
        `</td></tr>`
      : "";
    return gap +
      `<tr>${
        r.map((c) => `<td${isNumText(c) ? ' style="text-align:right"' : ""}>${esc(c)}</td>`).join("")
      }</tr>`;
  });
  const caption = opts.title
    ? `<caption style="caption-side:top;font-weight:bold">${esc(opts.title)}</caption>`
    : "";
  return `<table class="ssmlab-frame">${caption}<thead><tr>${
    columns.map((c) => `<th>${esc(c)}</th>`).join("")
  }` +
    `</tr></thead><tbody>${body.join("")}</tbody></table>` +
    `<small>${total} rows × ${columns.length} columns</small>`;
}

// ---- helpers ----

function tableCells(
  df: DataFrame | readonly Row[],
  opts: TableOptions,
): { columns: string[]; rows: string[][]; hidden: number; total: number } {
  const records = (isFrame(df) ? df.toRecords() : df) as Record<string, unknown>[];
  const columns = isFrame(df) ? [...df.columns] : [...new Set(records.flatMap((r) => Object.keys(r)))];
  const maxRows = Math.max(6, opts.maxRows ?? 20);
  const digits = opts.digits ?? 5;
  const total = records.length;
  let shown = records;
  let hidden = 0;
  if (total > maxRows) {
    shown = [...records.slice(0, maxRows - 5), ...records.slice(total - 5)];
    hidden = total - shown.length;
  }
  return { columns, rows: shown.map((r) => columns.map((c) => formatCell(r[c], digits))), hidden, total };
}

function formatCell(v: unknown, digits: number): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
    return String(Number(v.toPrecision(digits)));
  }
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function isNumText(s: string): boolean {
  return s !== "" && !Number.isNaN(Number(s));
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function chartLine(spec: VegaLiteSpec): string {
  const title = typeof spec.title === "string"
    ? spec.title
    : (spec.title as { text?: string })?.text ?? "untitled";
  const values = (spec.data as { values?: unknown[] } | undefined)?.values;
  return `[chart] ${title}${Array.isArray(values) ? ` (${values.length} rows)` : ""}`;
}
