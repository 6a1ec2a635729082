/**
 * scripts/check_notebooks_html.ts: the judgement of a page, and (where jupyter nbconvert and Debian's chromium are
 * installed) a real run on a notebook whose outputs are made by the project's own chart display: a chart with a
 * title passes, an untitled chart shows no title ink, an SVG-only chart (what nbconvert strips) and an error
 * output fail.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { judgePage, main, notebookExpectations } from "../scripts/check_notebooks_html.ts";
import { chartDisplay } from "../src/results/display.ts";
import { barChart, lineChart, renderSvg } from "../src/results/charts.ts";

Deno.test("notebook html: expectations come from the chart and error outputs of the .ipynb", () => {
  const e = notebookExpectations({
    cells: [
      { cell_type: "markdown" },
      {
        cell_type: "code",
        outputs: [
          { output_type: "display_data", data: { "application/vnd.vegalite.v5+json": { title: "Loss" } } },
          {
            output_type: "display_data",
            data: { "application/vnd.vegalite.v5+json": { title: { text: "PPL" } } },
          },
          { output_type: "error", ename: "TypeError", evalue: "x is undefined" },
        ],
      },
    ],
  });
  assertEquals(e, { chartTitles: ["Loss", "PPL"], errors: ["cell 2: TypeError: x is undefined"] });
});

Deno.test("notebook html: a missing, undecoded, tiny or untitled picture is reported", () => {
  const ok = { decoded: true, width: 400, height: 300, titleInk: 500 };
  assertEquals(judgePage({ chartTitles: ["A"], errors: [] }, [ok]), []);
  assertEquals(judgePage({ chartTitles: [""], errors: [] }, [{ ...ok, titleInk: 0 }]), []);
  assertStringIncludes(judgePage({ chartTitles: ["A"], errors: [] }, [])[0], "1 chart output(s)");
  assertStringIncludes(
    judgePage({ chartTitles: ["A"], errors: [] }, [{ ...ok, decoded: false }])[0],
    "decode",
  );
  assertStringIncludes(judgePage({ chartTitles: ["A"], errors: [] }, [{ ...ok, width: 10 }])[0], "too small");
  assertStringIncludes(
    judgePage({ chartTitles: ["A"], errors: [] }, [{ ...ok, titleInk: 3 }])[0],
    "no title",
  );
  assertStringIncludes(judgePage({ chartTitles: [], errors: ["cell 1: E: x"] }, [])[0], "error output");
});

async function tool(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()).code === 0;
  } catch {
    return false;
  }
}
const ready = (await tool("jupyter", ["nbconvert", "--version"])) && (await tool("chromium", ["--version"]));
if (!ready) {
  console.warn("notebook_html_test: SKIPPED the Chromium run — jupyter nbconvert or chromium is missing.");
}

function notebook(outputs: unknown[]): string {
  return JSON.stringify({
    cells: [{ cell_type: "code", execution_count: 1, metadata: {}, source: "", outputs }],
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5,
  });
}

Deno.test({
  name: "notebook html: in Chromium, PNG charts pass with their title drawn; SVG-only charts and errors fail",
  ignore: !ready,
  sanitizeResources: false,
  async fn() {
    const data = [{ x: 1, y: 2 }, { x: 2, y: 1 }];
    const titled = await chartDisplay(lineChart({ data, x: "x", y: "y", title: "Held-out loss" }));
    const untitled = await chartDisplay(barChart({ data, x: "x", y: "y" }));
    const dir = await Deno.makeTempDir();
    const log: string[] = [];
    const orig = console.log;
    console.log = (...a: unknown[]) => log.push(a.join(" "));
    try {
      const good = `${dir}/good.ipynb`, svg = `${dir}/svg.ipynb`, err = `${dir}/err.ipynb`;
      const shown = (d: { data: unknown; metadata: unknown }) => ({ output_type: "display_data", ...d });
      await Deno.writeTextFile(good, notebook([shown(titled), shown(untitled)]));
      const svgOnly = {
        ...titled.data,
        "image/svg+xml": await renderSvg(titled.data["application/vnd.vegalite.v5+json"] as never),
      };
      delete (svgOnly as Record<string, unknown>)["image/png"];
      await Deno.writeTextFile(svg, notebook([{ output_type: "display_data", data: svgOnly, metadata: {} }]));
      await Deno.writeTextFile(
        err,
        notebook([{ output_type: "error", ename: "Error", evalue: "boom", traceback: [] }]),
      );
      assertEquals(await main([good, "--shots", dir]), 0, log.join("\n"));
      const ink = log[0].match(/title ink (\d+), (\d+)/);
      assert(ink && Number(ink[1]) > 100 && Number(ink[2]) < 20, `title ink of titled / untitled: ${log[0]}`);
      assert(Deno.statSync(`${dir}/good.jpg`).size > 1000, "a screenshot is saved");
      assertEquals(await main([svg, "--shots", dir]), 1, log.join("\n"));
      assertStringIncludes(log.join("\n"), "1 chart output(s) in the notebook, 0 picture(s) in the page");
      assertEquals(await main([err, "--shots", dir]), 1);
      assertStringIncludes(log.join("\n"), "error output in cell 1: Error: boom");
    } finally {
      console.log = orig;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
