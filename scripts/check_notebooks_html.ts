/**
 * Check executed notebooks the way a reader sees them: each is turned into HTML by `jupyter nbconvert --to html`
 * and opened, offline, in headless Chromium (Debian's `chromium`), driven through the DevTools protocol.
 *
 * ```sh
 * deno run -A scripts/check_notebooks_html.ts                        # every notebooks/*.ipynb
 * deno run -A scripts/check_notebooks_html.ts notebooks/00_quickstart.ipynb --shots results/notebooks
 * ```
 *
 * Per notebook it asserts that no cell output is an error; that every chart output (a display with a Vega-Lite
 * spec) appears in the page as a picture that the browser decoded, at a visible size; and that the chart's title
 * is drawn: the band above the plot, where Vega puts the title, holds dark (text) pixels, read back from the
 * browser's own decoding of the image. A chart whose fonts failed to load, or whose picture nbconvert dropped
 * (an inline SVG is stripped by its HTML sanitizer), fails. A JPEG screenshot of the whole page is saved in the
 * `--shots` folder (default `results/tmp/notebook_shots/`; the committed ones are in `results/notebooks/`). Prints one line per notebook (✔ or ✘) and exits 1 on any
 * failure. Needs `jupyter nbconvert` and `chromium` (`node scripts/setup.mjs --browser` installs both).
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import { Buffer } from "node:buffer";
import { findNotebooks, PROJECT_ROOT } from "./run_notebooks.ts";

/** What the notebook file says should be on the page. */
export interface NotebookExpectations {
  /** Title of each chart output, in order ("" when a chart has none). */
  chartTitles: string[];
  /** One line per error output: `cell N: ename: evalue`. */
  errors: string[];
}

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}

/**
 * Read the chart titles and error outputs of an `.ipynb` file's JSON.
 *
 * @example
 * ```ts
 * import { notebookExpectations } from "./check_notebooks_html.ts";
 * const nb = { cells: [{ cell_type: "code", outputs: [{ output_type: "error", ename: "E", evalue: "bad" }] }] };
 * notebookExpectations(nb).errors; // ["cell 1: E: bad"]
 * ```
 */
export function notebookExpectations(
  nb: { cells?: { cell_type: string; outputs?: Output[] }[] },
): NotebookExpectations {
  const chartTitles: string[] = [];
  const errors: string[] = [];
  (nb.cells ?? []).forEach((cell, i) => {
    for (const o of cell.outputs ?? []) {
      if (o.output_type === "error") errors.push(`cell ${i + 1}: ${o.ename}: ${o.evalue}`);
      const spec = o.data?.["application/vnd.vegalite.v5+json"] as { title?: unknown } | undefined;
      if (!spec) continue;
      const t = spec.title;
      chartTitles.push(typeof t === "string" ? t : (t as { text?: string } | undefined)?.text ?? "");
    }
  });
  return { chartTitles, errors };
}

/** One chart picture as the browser shows it. */
export interface PageImage {
  /** Decoded by the browser (complete, natural size > 0). */
  decoded: boolean;
  /** Displayed width and height in CSS pixels. */
  width: number;
  height: number;
  /** Dark pixels (luminance < 90) in the top band where Vega draws the title, in the decoded image. */
  titleInk: number;
}

/**
 * Judge one notebook's page: the problems found (empty when it passes).
 *
 * @example
 * ```ts
 * import { judgePage } from "./check_notebooks_html.ts";
 * judgePage({ chartTitles: ["Loss"], errors: [] }, []); // ["1 chart output(s) in the notebook, 0 picture(s) …"]
 * ```
 */
export function judgePage(expect: NotebookExpectations, images: PageImage[], minInk = 20): string[] {
  const problems = [...expect.errors.map((e) => `error output in ${e}`)];
  if (images.length !== expect.chartTitles.length) {
    problems.push(
      `${expect.chartTitles.length} chart output(s) in the notebook, ${images.length} picture(s) in the page.`,
    );
  }
  images.forEach((img, i) => {
    const title = expect.chartTitles[i] ?? "?";
    if (!img.decoded) problems.push(`chart ${i + 1} ("${title}"): the browser could not decode its picture.`);
    else if (img.width < 50 || img.height < 50) {
      problems.push(
        `chart ${i + 1} ("${title}"): shown at ${img.width}×${img.height} px, too small to read.`,
      );
    } else if (title && img.titleInk < minInk) {
      problems.push(
        `chart ${i + 1} ("${title}"): no title text drawn (${img.titleInk} dark pixels in its band).`,
      );
    }
  });
  return problems;
}

/** In the page: every output picture, decoded by the browser, with the dark pixels of its title band. */
const PAGE_PROBE = `(async () => {
  const imgs = [...document.querySelectorAll(".jp-RenderedImage img")];
  await Promise.all(imgs.map((i) => i.decode().catch(() => {})));
  return imgs.map((img) => {
    const decoded = img.complete && img.naturalWidth > 0;
    const r = img.getBoundingClientRect();
    let titleInk = 0;
    if (decoded) {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const g = c.getContext("2d"); g.drawImage(img, 0, 0);
      // Vega centres the title above the plot: the top 20 CSS pixels, middle 60 % of the width (tick labels sit
      // at the left edge, gridlines are light grey, marks start below the title).
      const band = Math.max(1, Math.round(img.naturalHeight * 20 / Math.max(1, r.height)));
      const x0 = Math.round(c.width * 0.2), w = Math.max(1, Math.round(c.width * 0.6));
      const px = g.getImageData(x0, 0, w, Math.min(band, c.height)).data;
      for (let k = 0; k < px.length; k += 4) {
        if (0.299 * px[k] + 0.587 * px[k + 1] + 0.114 * px[k + 2] < 90 && px[k + 3] > 128) titleInk++;
      }
    }
    return { decoded, width: Math.round(r.width), height: Math.round(r.height), titleInk };
  });
})()`;

/** A minimal DevTools-protocol client over the browser's WebSocket. */
class Cdp {
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, { ok: (v: any) => void; fail: (e: Error) => void }>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(String(ev.data));
      const p = msg.id !== undefined ? this.#pending.get(msg.id) : undefined;
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.error) p.fail(new Error(`DevTools: ${msg.error.message}`));
      else p.ok(msg.result);
    };
  }

  static open(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    return new Promise((ok, fail) => {
      ws.onopen = () => ok(new Cdp(ws));
      ws.onerror = () => fail(new Error(`Could not connect to Chromium's DevTools at ${url}.`));
    });
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> {
    const id = ++this.#id;
    this.#ws.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((ok, fail) => this.#pending.set(id, { ok, fail }));
  }

  close(): void {
    this.#ws.close();
  }
}

/** Start headless Chromium with remote debugging; returns the DevTools URL and a stop function. */
async function startChromium(): Promise<{ url: string; stop: () => Promise<void> }> {
  const profile = await Deno.makeTempDir({ prefix: "ssmlab-chromium-" });
  const child = new Deno.Command("chromium", {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "--window-size=1100,900",
      "about:blank",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  for (let i = 0; i < 200; i++) {
    try {
      const [port, path] = (await Deno.readTextFile(join(profile, "DevToolsActivePort"))).trim().split("\n");
      if (port && path) return { url: `ws://127.0.0.1:${port}${path}`, stop };
    } catch { /* not written yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error("Chromium did not open its DevTools port within 20 s (is Debian's chromium installed?).");
}

/** Open `html` in a new tab, probe its pictures and save a full-page JPEG screenshot to `shot`. */
async function probePage(cdp: Cdp, html: string, shot: string): Promise<PageImage[]> {
  const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
  try {
    await cdp.send("Page.enable", {}, sessionId);
    await cdp.send("Page.navigate", { url: `file://${html}` }, sessionId);
    const evaluate = async (expression: string) =>
      (await cdp.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId))
        .result.value;
    for (let i = 0; i < 300 && (await evaluate("document.readyState")) !== "complete"; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const images = await evaluate(PAGE_PROBE) as PageImage[];
    const size = await evaluate(
      "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]",
    );
    const { data } = await cdp.send("Page.captureScreenshot", {
      format: "jpeg",
      quality: 60,
      captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: size[0], height: Math.min(size[1], 16_000), scale: 1 },
    }, sessionId);
    await Deno.writeFile(shot, Buffer.from(data, "base64"));
    return images;
  } finally {
    await cdp.send("Target.closeTarget", { targetId });
  }
}

/** nbconvert one notebook to HTML in `dir`; returns the HTML path. */
async function toHtml(notebook: string, dir: string): Promise<string> {
  const out = await new Deno.Command("jupyter", {
    args: ["nbconvert", "--to", "html", "--output-dir", dir, notebook],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`nbconvert --to html failed for ${notebook}:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return join(dir, basename(notebook).replace(/\.ipynb$/, ".html"));
}

/** Command-line entry point; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const i = argv.indexOf("--shots");
  const shots = resolve(i >= 0 ? argv[i + 1] : join(PROJECT_ROOT, "results", "tmp", "notebook_shots"));
  const files = findNotebooks(i >= 0 ? argv.filter((_, k) => k !== i && k !== i + 1) : argv);
  await Deno.mkdir(shots, { recursive: true });
  const htmlDir = await Deno.makeTempDir({ prefix: "ssmlab-html-" });
  const browser = await startChromium();
  const cdp = await Cdp.open(browser.url);
  let failed = 0;
  try {
    for (const nb of files) {
      const expect = notebookExpectations(JSON.parse(await Deno.readTextFile(nb)));
      const shot = join(shots, basename(nb).replace(/\.ipynb$/, ".jpg"));
      const images = await probePage(cdp, await toHtml(resolve(nb), htmlDir), shot);
      const problems = judgePage(expect, images);
      const inks = images.map((m) => m.titleInk).join(", ");
      console.log(
        `${problems.length ? "✘" : "✔"} ${nb} in Chromium: ${images.length} chart picture(s) ` +
          `(title ink ${inks || "-"}), ${expect.errors.length} error output(s); screenshot ${shot}`,
      );
      for (const p of problems) console.log(`    ${p}`);
      if (problems.length) failed++;
    }
  } finally {
    cdp.close();
    await browser.stop();
    await Deno.remove(htmlDir, { recursive: true }).catch(() => {});
  }
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
