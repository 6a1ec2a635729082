/**
 * Tests of src/results: tables (Polars CSV/Parquet), charts (SVG/PNG with visible text), display fallbacks and
 * run folders (config.json, atomic writes, name validation).
 */
import { assert, assertEquals, assertMatch, assertThrows } from "./assert.ts";
import { formatMeanStd, readFrame, saveFrame, summarize, toFrame } from "../src/results/frames.ts";
import {
  barChart,
  chartFont,
  decodePng,
  lineChart,
  pngSize,
  renderPng,
  renderSvg,
  saveChart,
} from "../src/results/charts.ts";
import {
  chartBundle,
  frameToHtml,
  frameToText,
  inJupyter,
  LiveChart,
  showChart,
} from "../src/results/display.ts";
import { createRun, validateName, writeFileAtomic } from "../src/results/run_dir.ts";
import { initBackend } from "../src/backend.ts";
import { join } from "node:path";
import { Buffer } from "node:buffer";

const curves = (() => {
  const rows: { model: string; step: number; loss: number }[] = [];
  for (const model of ["s4", "mamba"]) {
    for (let step = 0; step <= 1000; step += 100) {
      rows.push({ model, step, loss: 3 * Math.exp(-step / 500) + (model === "s4" ? 0.3 : 0) });
    }
  }
  return rows;
})();

/** Fraction of pixels that differ from white, and of "coloured" (non-grey) pixels. */
function ink(pixels: Uint8Array): { dark: number; colored: number } {
  let dark = 0, colored = 0;
  const n = pixels.length / 4;
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
    if (a > 0 && (r < 200 || g < 200 || b < 200)) dark++;
    if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) colored++;
  }
  return { dark: dark / n, colored: colored / n };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ssmlab-results-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

Deno.test("frames: Parquet and CSV round trip keep the values", async () => {
  await withTempDir(async (dir) => {
    const rows = [
      { model: "s4", seed: 1, loss: 2.125, note: null },
      { model: "mamba", seed: 2, loss: 1.5, note: "best" },
    ];
    const df = toFrame(rows);
    const { csv, parquet } = await saveFrame(df, join(dir, "sub", "table"));
    assertEquals(csv, join(dir, "sub", "table.csv"));
    assertEquals(readFrame(parquet).toRecords(), rows);
    assertEquals(readFrame(join(dir, "sub", "table")).toRecords(), rows); // no extension: Parquet first
    const text = Deno.readTextFileSync(csv);
    assertEquals(text.trim().split("\n")[0], "model,seed,loss,note");
    assertEquals(readFrame(csv).getColumn("loss").toArray(), [2.125, 1.5]);
    assertEquals(filesUnder(dir).filter((f) => f.includes(".tmp-")), []);
  });
});

Deno.test("frames: integer columns are saved as integers (seed 1337, not 1337.0)", async () => {
  await withTempDir(async (dir) => {
    const rows = [{ seed: 1337, step: 0, loss: 2.5, lr: 0 }, { seed: 7, step: null, loss: 3, lr: 0 }];
    const df = toFrame(rows, { floats: ["lr"] });
    assertEquals(df.dtypes.map(String), [
      "DataType(Int64)",
      "DataType(Int64)",
      "DataType(Float64)",
      "DataType(Float64)",
    ]);
    const { csv, parquet } = await saveFrame(df, join(dir, "t"));
    assertEquals(Deno.readTextFileSync(csv).trim().split("\n"), [
      "seed,step,loss,lr",
      "1337,0,2.5,0.0",
      "7,,3.0,0.0",
    ]);
    assertEquals(readFrame(parquet).toRecords(), rows);
    assertEquals(readFrame(parquet).dtypes.map(String), [
      "DataType(Int64)",
      "DataType(Int64)",
      "DataType(Float64)",
      "DataType(Float64)",
    ]);
  });
});

Deno.test("frames: a truncated or empty table file gives an error naming the file", async () => {
  await withTempDir(async (dir) => {
    const { csv, parquet } = await saveFrame([{ a: 1, b: "x" }], join(dir, "t"));
    const bytes = Deno.readFileSync(parquet);
    Deno.writeFileSync(parquet, bytes.slice(0, Math.floor(bytes.length / 2)));
    let err = assertThrows(() => readFrame(parquet), Error);
    assertMatch(err.message, /^The file ".*t\.parquet" is not a readable parquet table \(parquet: /);
    assertMatch(err.message, /truncated or corrupt/);
    Deno.writeFileSync(csv, new Uint8Array());
    err = assertThrows(() => readFrame(csv), Error);
    assertMatch(err.message, /t\.csv" is not a readable CSV table \(it is empty\)/);
    err = assertThrows(() => readFrame(join(dir, "t")), Error); // no extension: Parquet first
    assertMatch(err.message, /t\.parquet" is not a readable parquet table/);
  });
});

Deno.test("frames: toFrame fills missing keys and rejects mixed columns with a clear error", () => {
  const df = toFrame([{ a: 1 }, { b: "x" }]);
  assertEquals(df.columns, ["a", "b"]);
  assertEquals(df.toRecords(), [{ a: 1, b: null }, { a: null, b: "x" }]);
  const err = assertThrows(() => toFrame([{ a: 1 }, { a: "two" }]), TypeError);
  assertMatch(err.message, /Column "a" mixes numbers and strings \(row 1 is "two"\)/);
  assertEquals(toFrame([]).height, 0);
});

Deno.test("frames: summarize gives mean ± sample std per group", () => {
  const df = toFrame([
    { model: "s4", seed: 1, loss: 2.1 },
    { model: "s4", seed: 2, loss: 2.3 },
    { model: "mamba", seed: 1, loss: 1.9 },
  ]);
  const recs = summarize(df, "model", "loss").toRecords();
  assertEquals(recs.map((r) => r.model), ["mamba", "s4"]);
  assertEquals(recs[0].loss_std, null);
  assertEquals(recs[0].loss, "1.9000");
  assert(Math.abs((recs[1].loss_mean as number) - 2.2) < 1e-12);
  assert(Math.abs((recs[1].loss_std as number) - Math.sqrt(0.02)) < 1e-12);
  assertEquals(recs[1].loss, "2.2000 ± 0.1414");
  assertEquals(recs[1].n, 2);
  assertEquals(formatMeanStd(2.2, 0.1414, 2), "2.20 ± 0.14");
  assertThrows(() => summarize(df, "nope", "loss"), Error, 'Column "nope" is not in the table');
});

Deno.test("charts: SVG has the title, axis titles and tick labels as text", async () => {
  const spec = lineChart({ data: curves, x: "step", y: "loss", color: "model", title: "Validation loss" });
  assertEquals(spec.$schema, "https://vega.github.io/schema/vega-lite/v5.json");
  const svg = await renderSvg(spec);
  assert(svg.startsWith("<svg"), "renderSvg returns an <svg> document");
  const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
  assert(texts.length >= 10, `expected many <text> elements, got ${texts.length}`);
  for (const t of ["Validation loss", "step", "loss", "model", "s4", "mamba"]) {
    assert(texts.includes(t), `the SVG has a text element "${t}"`);
  }
  const bars = await renderSvg(barChart({ data: toFrame(curves), x: "model", y: "loss", error: "step" }));
  assert(bars.includes("<path"), "bar chart draws paths");
  assertThrows(() => lineChart({ data: curves, x: "epoch", y: "loss" }), Error, 'Column "epoch"');
});

Deno.test("charts: PNG is a valid PNG, not blank, with coloured lines", async () => {
  const svg = await renderSvg(
    lineChart({ data: curves, x: "step", y: "loss", color: "model", title: "Loss" }),
  );
  const png = renderPng(svg);
  const { width, height } = pngSize(png);
  const svgW = Number(svg.match(/width="(\d+)"/)![1]);
  assertEquals(width, svgW * 2); // default scale 2
  assert(height > 300);
  const img = decodePng(png);
  assertEquals([img.width, img.height], [width, height]);
  assertEquals(img.pixels.length, width * height * 4);
  const { dark, colored } = ink(img.pixels);
  assert(dark > 0.01, `the chart has ink (dark fraction ${dark})`);
  assert(dark < 0.5, `the chart is not a solid block (dark fraction ${dark})`);
  assert(colored > 0.002, `the chart has coloured lines (coloured fraction ${colored})`);
  assertThrows(() => pngSize(new TextEncoder().encode("not a png, really not")), Error, "not a PNG");
});

Deno.test("charts: text is visible in PNGs (a font is found and loaded)", () => {
  const font = chartFont();
  assert(font.family !== null, "a TrueType font is installed (e.g. apt-get install -y fonts-dejavu-core)");
  const textOnly = (family: string) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="28" font-size="20" ` +
    `font-family="${family}" fill="black">Hello ssmlab</text></svg>`;
  for (const family of ["sans-serif", "Helvetica Neue, Arial, sans-serif"]) {
    const { dark } = ink(decodePng(renderPng(textOnly(family), { scale: 1 })).pixels);
    assert(dark > 0.02, `text in font-family "${family}" is drawn (dark fraction ${dark})`);
  }
  const blank = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"></svg>`;
  assertEquals(ink(decodePng(renderPng(blank, { scale: 1 })).pixels).dark, 0);
});

Deno.test("charts: saveChart writes .vl.json, .svg and .png", async () => {
  await withTempDir(async (dir) => {
    const spec = barChart({
      data: [{ model: "s4", ppl: 31 }, { model: "mamba", ppl: 27 }],
      x: "model",
      y: "ppl",
    });
    const out = await saveChart(spec, join(dir, "charts", "ppl"));
    assertEquals(JSON.parse(Deno.readTextFileSync(out.spec)), spec);
    assert(Deno.readTextFileSync(out.svg).includes("<text"));
    pngSize(Deno.readFileSync(out.png));
    assertEquals(filesUnder(dir).length, 3);
  });
});

Deno.test("display: outside Jupyter, tables print as text and charts stay headless", async () => {
  assertEquals(inJupyter(), false);
  const rows = [{ model: "s4", ppl: 31.23456789 }, { model: "mamba<b>", ppl: 27 }];
  const text = frameToText(rows);
  assertEquals(text.split("\n"), ["model        ppl", "s4        31.235", "mamba<b>      27"]);
  assert(text.includes("31.235"));
  const html = frameToHtml(toFrame(rows), { title: "PPL" });
  assert(html.includes("<th>model</th>") && html.includes("mamba&lt;b&gt;") && html.includes("<caption"));
  const long = frameToText(Array.from({ length: 50 }, (_, i) => ({ i })), { maxRows: 10 });
  assert(long.includes("… 40 more rows …") && long.includes("(50 rows × 1 columns)"));
  const bundle = await chartBundle(lineChart({ data: curves, x: "step", y: "loss" }));
  assert(typeof bundle["image/png"] === "string");
  assert(!("image/svg+xml" in bundle), "an SVG fallback would be chosen (and stripped) by nbconvert's HTML");
  const png = decodePng(new Uint8Array(Buffer.from(bundle["image/png"] as string, "base64")));
  assert(png.width > 100 && png.height > 100, `chart PNG ${png.width}×${png.height}`);
  assert("application/vnd.vegalite.v5+json" in bundle);
  await showChart(lineChart({ data: curves, x: "step", y: "loss" }), { quiet: true });
  const live = new LiveChart({ x: "step", y: "loss", color: "model", minIntervalMs: 0 });
  await live.push(curves.slice(0, 3));
  await live.push(curves[3]);
  await live.finish();
  assertEquals(live.frame().height, 4);
  assertEquals((live.spec().data as { values: unknown[] }).values.length, 4);
});

Deno.test("run_dir: config.json has seed, backend and versions; writers fill the run folder", async () => {
  await initBackend({ backend: "cpu" });
  await withTempDir(async (root) => {
    const run = createRun("lm-small", "seed-7", { root });
    assertEquals(run.dir, join(root, "lm-small", "seed-7"));
    const cfgPath = await run.writeConfig({ model: "s4", dModel: 64, seed: 7, lr: 3e-4 });
    const cfg = JSON.parse(Deno.readTextFileSync(cfgPath));
    assertEquals(cfg.seed, 7);
    assertEquals(cfg.model, "s4");
    assertEquals(cfg.experiment, "lm-small");
    assertEquals(cfg.run, "seed-7");
    assertEquals(cfg.environment.backend, "cpu");
    assertMatch(cfg.environment.tfjs, /^\d+\.\d+\.\d+/);
    assertMatch(cfg.environment.deno, /^\d+\.\d+\.\d+/);
    // Under Deno, `node` is not Deno's Node-compatibility level (that is `nodeCompat`).
    assertEquals(cfg.environment.runtime, "deno");
    assertEquals(cfg.environment.node, null);
    assertEquals(cfg.environment.deno, Deno.version.deno);
    assertEquals(cfg.environment.v8, Deno.version.v8);
    assertEquals(cfg.environment.typescript, Deno.version.typescript);
    assert(typeof cfg.environment.ssmlab === "string");

    const other = createRun("lm-small", undefined, { root, seed: 3 });
    assertEquals(JSON.parse(Deno.readTextFileSync(await other.writeConfig({ model: "mamba" }))).seed, 3);
    assertMatch(other.run, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z(-\d+)?$/);
    assert(createRun("lm-small", undefined, { root }).run !== other.run, "default run names are unique");

    await run.writeJson("metrics", { ppl: 31.2, bad: NaN });
    assertEquals(JSON.parse(Deno.readTextFileSync(join(run.dir, "metrics.json"))), { ppl: 31.2, bad: "NaN" });
    await run.writeFrame("curves", curves);
    await run.writeChart("val_loss", lineChart({ data: curves, x: "step", y: "loss", color: "model" }));
    const names = [...Deno.readDirSync(run.dir)].map((e) => e.name).sort();
    assertEquals(names, [
      "config.json",
      "curves.csv",
      "curves.parquet",
      "metrics.json",
      "val_loss.png",
      "val_loss.svg",
      "val_loss.vl.json",
    ]);
    assertEquals(readFrame(join(run.dir, "curves.parquet")).height, curves.length);
    assertEquals(filesUnder(root).filter((f) => f.includes(".tmp")), [], "no temp files left behind");
  });
});

Deno.test("run_dir: bad names are rejected with the name quoted", () => {
  assertThrows(
    () => createRun("bad/name", undefined, { root: "/nonexistent" }),
    Error,
    'Experiment name "bad/name"',
  );
  assertThrows(() => createRun("ok", "../escape", { root: "/nonexistent" }), Error, 'Run name "../escape"');
  assertThrows(() => createRun("ok", "has space", { root: "/nonexistent" }), Error, 'Run name "has space"');
  assertThrows(() => validateName("", "file"), Error, 'File name ""');
  assertEquals(validateName("seed-1.v2_a"), "seed-1.v2_a");
});

Deno.test("run_dir: a failed atomic write leaves the old file and no temp file", async () => {
  await withTempDir(async (dir) => {
    const target = join(dir, "state.json");
    await writeFileAtomic(target, new TextEncoder().encode("old"));
    await writeFileAtomic(target, new TextEncoder().encode("new"));
    assertEquals(Deno.readTextFileSync(target), "new");
    // Renaming a file over a non-empty directory fails: the write must clean up after itself.
    const blocker = join(dir, "blocker");
    Deno.mkdirSync(join(blocker, "inner"), { recursive: true });
    let failed = false;
    try {
      await writeFileAtomic(blocker, new TextEncoder().encode("x"));
    } catch {
      failed = true;
    }
    assert(failed, "writing over a directory fails");
    assertEquals(filesUnder(dir).filter((f) => f.includes(".tmp")), []);
    assertEquals(Deno.readTextFileSync(target), "new");
  });
});

Deno.test("charts: long legend labels are kept whole and bar labels can be angled", async () => {
  const long = "mhc_adapters_seed_1337_with_a_rather_long_run_name_that_vega_would_cut_at_160_pixels";
  const rows = [{ model: long, step: 1, loss: 2 }, { model: "b", step: 1, loss: 3 }];
  const line = lineChart({ data: rows, x: "step", y: "loss", color: "model", labelAngle: -45 });
  const enc =
    (line as unknown as { encoding: Record<string, { legend?: unknown; axis?: unknown }> }).encoding;
  assertEquals(enc.color.legend, { labelLimit: 0 });
  assertEquals(enc.x.axis, { labelAngle: -45 });
  const bars = barChart({ data: rows, x: "model", y: "loss", labelAngle: -30 });
  assert(JSON.stringify(bars).includes('"labelAngle":-30'));
  const svg = await renderSvg(lineChart({ data: rows, x: "step", y: "loss", color: "model" }));
  assert(svg.includes(long), "the whole legend label is drawn");
});
