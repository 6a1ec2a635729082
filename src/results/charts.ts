/**
 * Charts as Vega-Lite specs, rendered headless to SVG (vega, no browser or canvas) and PNG (resvg, with system
 * fonts loaded so that text is drawn).
 *
 * A spec is plain JSON: save it, show it in Jupyter, or render it to files with {@linkcode saveChart}.
 * Rendering PNGs needs one TrueType font on the machine (e.g. Debian's `fonts-dejavu-core`); without one,
 * resvg silently drops all text, so {@linkcode renderPng} warns when it finds no font.
 *
 * @example
 * ```ts
 * import { Buffer } from "node:buffer";
import { lineChart, saveChart } from "./charts.ts";
 * const spec = lineChart({
 *   data: [{ step: 0, loss: 3.1, model: "s4" }, { step: 100, loss: 2.4, model: "s4" }],
 *   x: "step", y: "loss", color: "model", title: "Validation loss",
 * });
 * await saveChart(spec, "results/demo/val_loss"); // val_loss.vl.json, val_loss.svg, val_loss.png
 * ```
 *
 * @module
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import { Resvg, type ResvgRenderOptions } from "@resvg/resvg-js";
import { dirname, join } from "node:path";
import { type DataFrame, isFrame, type Row } from "./frames.ts";
import { writeFileAtomic } from "./atomic.ts";
import { errorMessage } from "../data/errors.ts";

/** The `$schema` written into specs: Jupyter front ends render the `application/vnd.vegalite.v5+json` type. */
export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/** A Vega-Lite specification (plain JSON). */
export interface VegaLiteSpec {
  /** The Vega-Lite schema URL, e.g. {@linkcode VEGA_LITE_SCHEMA}. */
  $schema: string;
  /** Any other Vega-Lite property (`mark`, `encoding`, `data`, `layer`, …). */
  [key: string]: unknown;
}

/** Vega-Lite field types. */
export type FieldType = "quantitative" | "nominal" | "ordinal" | "temporal";

/** Options shared by {@linkcode lineChart} and {@linkcode barChart}. */
export interface ChartOptions {
  /** The rows to plot: an array of objects or a nodejs-polars DataFrame. */
  data: readonly Row[] | DataFrame;
  /** Column for the x axis. */
  x: string;
  /** Column for the y axis. */
  y: string;
  /** Column whose values get one colour each (one line / bar per value). */
  color?: string;
  /** Chart title. */
  title?: string;
  /** X axis title (default: the column name). */
  xTitle?: string;
  /** Y axis title (default: the column name). */
  yTitle?: string;
  /** X field type (default: quantitative for number columns, nominal otherwise; nominal for bars). */
  xType?: FieldType;
  /** Y field type (default: quantitative for number columns, nominal otherwise). */
  yType?: FieldType;
  /** Plot area width in pixels (default 480). */
  width?: number;
  /** Plot area height in pixels (default 300). */
  height?: number;
  /** Logarithmic y axis. */
  logY?: boolean;
  /** Angle of the x axis labels in degrees, e.g. -45 for long category names (default 0 for bars). */
  labelAngle?: number;
}

/** Options of {@linkcode lineChart}. */
export interface LineChartOptions extends ChartOptions {
  /** Draw a point at each value (default false). */
  points?: boolean;
  /** Column holding a spread (e.g. the std over seeds) drawn as a shaded y ± band around each line. */
  band?: string;
}

/** Options of {@linkcode barChart}. */
export interface BarChartOptions extends ChartOptions {
  /** Column holding an error (e.g. the std from `summarize`) drawn as ± error bars. */
  error?: string;
}

/** The colour channel of a column: one colour per value, legend labels never truncated (Vega cuts at 160 px). */
function colorChannel(field: string): Record<string, unknown> {
  return { field, type: "nominal", title: field, legend: { labelLimit: 0 } };
}

/**
 * A line chart spec, e.g. validation loss per step, one line per model.
 *
 * @example
 * ```ts
 * import { lineChart } from "./charts.ts";
 * const spec = lineChart({ data: rows, x: "step", y: "val_loss", color: "model", title: "Validation loss" });
 * ```
 */
export function lineChart(opts: LineChartOptions): VegaLiteSpec {
  const values = dataValues(opts.data, [opts.x, opts.y, opts.color, opts.band]);
  const encoding: Record<string, unknown> = {
    x: axis(opts.x, opts.xType ?? inferType(values, opts.x), opts.xTitle),
    y: { ...axis(opts.y, opts.yType ?? inferType(values, opts.y), opts.yTitle), ...yScale(opts) },
    tooltip: tooltips(values, [opts.x, opts.y, opts.color]),
  };
  if (opts.color) encoding.color = colorChannel(opts.color);
  if (opts.labelAngle !== undefined) {
    (encoding.x as Record<string, unknown>).axis = { labelAngle: opts.labelAngle };
  }
  const line = { mark: { type: "line", point: opts.points ?? false, clip: true }, encoding };
  if (!opts.band) return base(opts, values, line);
  const band = opts.band;
  // One legend for both layers, its symbols opaque (the band's fill would otherwise fade them).
  if (opts.color) {
    encoding.color = { ...colorChannel(opts.color), legend: { labelLimit: 0, symbolOpacity: 1 } };
  }
  const withBand = values.map((v) => {
    const y = v[opts.y] as number, e = (v[band] as number | null) ?? 0;
    return { ...v, [`${opts.y}_lo`]: y - e, [`${opts.y}_hi`]: y + e };
  });
  const area = {
    mark: { type: "area", opacity: 0.2, clip: true },
    encoding: {
      x: encoding.x,
      y: { ...(encoding.y as Record<string, unknown>), field: `${opts.y}_lo` },
      y2: { field: `${opts.y}_hi` },
      ...(opts.color ? { color: encoding.color } : {}),
    },
  };
  return base(opts, withBand, { layer: [area, line] });
}

/**
 * A bar chart spec, e.g. final perplexity per model; with `color`, bars are grouped side by side, and with
 * `error`, ± error bars are drawn on top.
 *
 * @example
 * ```ts
 * import { barChart } from "./charts.ts";
 * const spec = barChart({ data: summary, x: "model", y: "ppl_mean", error: "ppl_std", title: "Perplexity" });
 * ```
 */
export function barChart(opts: BarChartOptions): VegaLiteSpec {
  const values = dataValues(opts.data, [opts.x, opts.y, opts.color, opts.error]);
  const x = {
    ...axis(opts.x, opts.xType ?? "nominal", opts.xTitle),
    axis: { labelAngle: opts.labelAngle ?? 0 },
  };
  const y = {
    ...axis(opts.y, opts.yType ?? "quantitative", opts.yTitle),
    ...(opts.logY ? yScale(opts) : {}),
  };
  const shared: Record<string, unknown> = { x };
  if (opts.color) {
    shared.xOffset = { field: opts.color, type: "nominal" };
    shared.color = colorChannel(opts.color);
  }
  const bars = {
    mark: { type: "bar" },
    encoding: { y, tooltip: tooltips(values, [opts.x, opts.y, opts.color, opts.error]) },
  };
  if (!opts.error) return base(opts, values, { ...bars, encoding: { ...shared, ...bars.encoding } });
  const errorBars = {
    mark: { type: "errorbar", ticks: false, thickness: 1.5 },
    encoding: {
      y: { field: opts.y, type: "quantitative" },
      yError: { field: opts.error },
      color: { value: "black" },
    },
  };
  return base(opts, values, { encoding: shared, layer: [bars, errorBars] });
}

/** Options of {@linkcode heatmapChart}: `x` and `y` are the nominal axes, `value` the colour. */
export interface HeatmapChartOptions extends Omit<ChartOptions, "color" | "logY"> {
  /** Column holding the number shown as colour and printed in each cell. */
  value: string;
  /** Colour domain [min, max] (default: the data's range). */
  domain?: [number, number];
  /** d3 format of the printed value (default ".1f"). */
  format?: string;
}

/**
 * A heatmap spec: one cell per (x, y) pair, coloured and labelled by `value`, e.g. BLiMP accuracy per phenomenon
 * (rows) and model (columns).
 *
 * @example
 * ```ts
 * import { heatmapChart } from "./charts.ts";
 * const spec = heatmapChart({ data: rows, x: "model", y: "phenomenon", value: "accuracy", domain: [0, 100] });
 * ```
 */
export function heatmapChart(opts: HeatmapChartOptions): VegaLiteSpec {
  const values = dataValues(opts.data, [opts.x, opts.y, opts.value]);
  const color: Record<string, unknown> = { field: opts.value, type: "quantitative", title: opts.value };
  color.scale = { scheme: "viridis", ...(opts.domain ? { domain: opts.domain } : {}) };
  const encoding = {
    x: { ...axis(opts.x, opts.xType ?? "nominal", opts.xTitle), axis: { labelAngle: -30 } },
    y: axis(opts.y, opts.yType ?? "nominal", opts.yTitle),
  };
  return base(opts, values, {
    encoding,
    layer: [
      {
        mark: { type: "rect" },
        encoding: { color, tooltip: tooltips(values, [opts.x, opts.y, opts.value]) },
      },
      {
        mark: { type: "text", fontSize: 10 },
        encoding: {
          text: { field: opts.value, type: "quantitative", format: opts.format ?? ".1f" },
          color: { value: "white" },
        },
      },
    ],
  });
}

/**
 * Render a Vega-Lite (or Vega) spec to an SVG string, headless: no browser, no canvas.
 *
 * @example
 * ```ts
 * import { lineChart, renderSvg } from "./charts.ts";
 * const svg = await renderSvg(lineChart({ data: [{ x: 1, y: 2 }, { x: 2, y: 1 }], x: "x", y: "y" }));
 * ```
 */
export async function renderSvg(spec: VegaLiteSpec | Record<string, unknown>): Promise<string> {
  const isVega = typeof spec.$schema === "string" && /\/schema\/vega\/v/.test(spec.$schema);
  let vegaSpec: vega.Spec;
  try {
    vegaSpec = isVega ? (spec as vega.Spec) : vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  } catch (e) {
    throw new Error(
      `Could not compile the Vega-Lite spec titled ${JSON.stringify(spec.title ?? null)}: ${errorMessage(e)}`,
    );
  }
  const view = new vega.View(vega.parse(vegaSpec), { renderer: "none", logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Options of {@linkcode renderPng}. */
export interface PngOptions {
  /** Pixel scale (default 2: sharp on high-DPI screens and in papers). */
  scale?: number;
  /** Background colour (default white). */
  background?: string;
}

/**
 * Rasterize an SVG string to PNG bytes with resvg, loading the system fonts so text is drawn.
 *
 * @example
 * ```ts
 * import { renderPng, renderSvg, lineChart } from "./charts.ts";
 * const png = renderPng(await renderSvg(lineChart({ data: [{ x: 1, y: 2 }], x: "x", y: "y" })));
 * ```
 */
export function renderPng(svg: string, opts: PngOptions = {}): Uint8Array {
  const scale = opts.scale ?? 2;
  if (!(scale > 0)) throw new RangeError(`The PNG scale must be positive, got ${scale}.`);
  const resvg = new Resvg(svg, {
    ...resvgFontOptions(),
    background: opts.background ?? "white",
    fitTo: scale === 1 ? { mode: "original" } : { mode: "zoom", value: scale },
  });
  return new Uint8Array(resvg.render().asPng());
}

/** Decoded pixels: `pixels` holds `width * height` RGBA quadruples. */
export interface RgbaImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGBA bytes, row by row. */
  pixels: Uint8Array;
}

/**
 * Decode PNG bytes to RGBA pixels (through resvg: the PNG is embedded in an SVG and rendered 1:1). Useful to
 * check that a chart is not blank.
 *
 * @example
 * ```ts
 * import { decodePng, renderPng } from "./charts.ts";
 * const img = decodePng(renderPng('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'));
 * console.log(img.width, img.pixels.length); // 8 256
 * ```
 */
export function decodePng(png: Uint8Array): RgbaImage {
  const { width, height } = pngSize(png);
  const b64 = Buffer.from(png).toString("base64");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ` +
    `width="${width}" height="${height}"><image width="${width}" height="${height}" ` +
    `xlink:href="data:image/png;base64,${b64}"/></svg>`;
  const img = new Resvg(svg, { font: { loadSystemFonts: false } }).render();
  return { width: img.width, height: img.height, pixels: new Uint8Array(img.pixels) };
}

/**
 * Width and height from a PNG's IHDR chunk; throws when the bytes are not a PNG.
 *
 * @example
 * ```ts
 * import { pngSize } from "./charts.ts";
 * pngSize(Deno.readFileSync("results/demo/val_loss.png")); // { width: 1104, height: 712 }
 * ```
 */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (png.length < 24 || sig.some((b, i) => png[i] !== b)) {
    throw new Error(`These ${png.length} bytes are not a PNG: the signature is missing.`);
  }
  const type = String.fromCharCode(...png.subarray(12, 16));
  if (type !== "IHDR") throw new Error(`This PNG's first chunk is "${type}", not "IHDR".`);
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

/** The files written by {@linkcode saveChart}. */
export interface SavedChart {
  /** Vega-Lite JSON (`.vl.json`). */
  spec: string;
  /** Path of the SVG file. */
  svg: string;
  /** Path of the PNG file. */
  png: string;
}

/**
 * Save a chart as `<path>.vl.json` (the spec), `<path>.svg` and `<path>.png`, creating the folder.
 *
 * @example
 * ```ts
 * import { barChart, saveChart } from "./charts.ts";
 * await saveChart(barChart({ data: [{ model: "s4", ppl: 31 }], x: "model", y: "ppl" }), "results/demo/ppl");
 * ```
 */
export async function saveChart(
  spec: VegaLiteSpec,
  pathWithoutExt: string,
  opts: PngOptions = {},
): Promise<SavedChart> {
  const base = pathWithoutExt.replace(/\.(vl\.json|json|svg|png)$/i, "");
  await Deno.mkdir(dirname(base) || ".", { recursive: true });
  const svg = await renderSvg(spec);
  const png = renderPng(svg, opts);
  const out = { spec: `${base}.vl.json`, svg: `${base}.svg`, png: `${base}.png` };
  await writeFileAtomic(out.spec, new TextEncoder().encode(JSON.stringify(spec, null, 2) + "\n"));
  await writeFileAtomic(out.svg, new TextEncoder().encode(svg));
  await writeFileAtomic(out.png, png);
  return out;
}

/** The font family resvg uses for text, and the file it came from (null when none was found). */
export interface ChartFont {
  /** Font family name, e.g. `DejaVu Sans`. */
  family: string | null;
  /** Path of the font file. */
  file: string | null;
}

const KNOWN_FONTS: [file: string, family: string][] = [
  ["DejaVuSans.ttf", "DejaVu Sans"],
  ["LiberationSans-Regular.ttf", "Liberation Sans"],
  ["NotoSans-Regular.ttf", "Noto Sans"],
  ["FreeSans.ttf", "FreeSans"],
  ["Arial.ttf", "Arial"],
  ["arial.ttf", "Arial"],
  ["Helvetica.ttc", "Helvetica"],
];

let cachedFont: ChartFont | null = null;
let warned = false;

/**
 * Find a sans-serif font for PNG text: `SSMLAB_FONT_FILE` + `SSMLAB_FONT_FAMILY` when set, else the first of
 * DejaVu Sans, Liberation Sans, Noto Sans, FreeSans, Arial in the usual font folders.
 *
 * @example
 * ```ts
 * import { chartFont } from "./charts.ts";
 * console.log(chartFont()); // { family: "DejaVu Sans", file: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" }
 * ```
 */
export function chartFont(): ChartFont {
  if (cachedFont) return cachedFont;
  const envFile = env("SSMLAB_FONT_FILE");
  const envFamily = env("SSMLAB_FONT_FAMILY");
  if (envFile && envFamily) return (cachedFont = { family: envFamily, file: envFile });
  const home = env("HOME");
  const dirs = ["/usr/share/fonts", "/usr/local/share/fonts", "/System/Library/Fonts", "/Library/Fonts"];
  if (home) dirs.push(join(home, ".fonts"), join(home, ".local/share/fonts"), join(home, "Library/Fonts"));
  const windir = env("WINDIR");
  if (windir) dirs.push(join(windir, "Fonts"));
  const found = new Map<string, string>();
  for (const d of dirs) walkFonts(d, found, 0);
  for (const [file, family] of KNOWN_FONTS) {
    const path = found.get(file);
    if (path) return (cachedFont = { family, file: path });
  }
  return (cachedFont = { family: null, file: null });
}

function resvgFontOptions(): Pick<ResvgRenderOptions, "font"> {
  const f = chartFont();
  if (!f.family) {
    if (!warned) {
      warned = true;
      console.warn(
        "ssmlab: no known TrueType font found (looked for DejaVu Sans, Liberation Sans, Noto Sans, FreeSans, " +
          "Arial); PNG charts may have no text. Install one, e.g. `apt-get install -y fonts-dejavu-core`.",
      );
    }
    return { font: { loadSystemFonts: true } };
  }
  const fam = f.family;
  return {
    font: {
      loadSystemFonts: true,
      fontFiles: f.file ? [f.file] : [],
      defaultFontFamily: fam,
      sansSerifFamily: fam,
      serifFamily: fam,
      monospaceFamily: fam,
      cursiveFamily: fam,
      fantasyFamily: fam,
    },
  };
}

// ---- helpers ----

function walkFonts(dir: string, found: Map<string, string>, depth: number): void {
  if (depth > 4) return;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory) walkFonts(p, found, depth + 1);
    else if (!found.has(e.name)) found.set(e.name, p);
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env
  }
}

function base(
  opts: ChartOptions,
  values: Record<string, unknown>[],
  body: Record<string, unknown>,
): VegaLiteSpec {
  const spec: VegaLiteSpec = { $schema: VEGA_LITE_SCHEMA };
  if (opts.title) spec.title = opts.title;
  spec.width = opts.width ?? 480;
  spec.height = opts.height ?? 300;
  spec.data = { values };
  Object.assign(spec, body);
  spec.config = { background: "white", view: { stroke: null } };
  return spec;
}

function axis(field: string, type: FieldType, title?: string): Record<string, unknown> {
  return { field, type, title: title ?? field };
}

function yScale(opts: ChartOptions): Record<string, unknown> {
  return opts.logY ? { scale: { type: "log" } } : { scale: { zero: false } };
}

function tooltips(
  values: Record<string, unknown>[],
  fields: (string | undefined)[],
): Record<string, unknown>[] {
  return fields.filter((f): f is string => !!f).map((f) => ({ field: f, type: inferType(values, f) }));
}

function inferType(values: Record<string, unknown>[], field: string): FieldType {
  for (const r of values) {
    const v = r[field];
    if (v === null || v === undefined) continue;
    return typeof v === "number" ? "quantitative" : "nominal";
  }
  return "quantitative";
}

function dataValues(
  data: readonly Row[] | DataFrame,
  fields: (string | undefined)[],
): Record<string, unknown>[] {
  const rows = (isFrame(data) ? data.toRecords() : data) as Record<string, unknown>[];
  if (!Array.isArray(rows)) throw new TypeError("Chart data must be an array of row objects or a DataFrame.");
  const columns = new Set(rows.flatMap((r) => Object.keys(r)));
  for (const f of fields) {
    if (f && rows.length > 0 && !columns.has(f)) {
      throw new Error(
        `Column "${f}" is not in the chart data; its columns are ${JSON.stringify([...columns])}.`,
      );
    }
  }
  // JSON has no NaN/Infinity: make them null so the spec stays valid JSON (vega skips nulls).
  return rows.map((r) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) o[k] = typeof v === "number" && !Number.isFinite(v) ? null : v;
    return o;
  });
}
