/**
 * End-to-end test of scripts/run_notebooks.ts: runs tests/fixtures/notebooks/hello.ipynb (a copy, so the
 * committed fixture keeps no outputs) with the Deno kernel, and a failing notebook. Skipped, with a message,
 * when jupyter nbconvert or the Deno kernel is not installed.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import {
  denoBinary,
  findKernelSpec,
  hasJupyter,
  kernelEnv,
  kernelProgramOk,
  PROJECT_ROOT,
  projectKernelName,
  summarizeError,
} from "../scripts/run_notebooks.ts";
import { join } from "node:path";

const FIXTURES = join(PROJECT_ROOT, "tests", "fixtures", "notebooks");
const ready = (await hasJupyter()) && (await findKernelSpec(projectKernelName())) !== null;
if (!ready) {
  console.warn(
    "notebook_runner_test: SKIPPED — jupyter nbconvert or the Deno kernel is missing. Install with:\n" +
      "  apt-get install -y --no-install-recommends jupyter-nbconvert jupyter-core\n" +
      "  deno run -A scripts/run_notebooks.ts --install",
  );
}

async function runScript(args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(PROJECT_ROOT, "scripts", "run_notebooks.ts"), ...args],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** A temporary copy of a notebook in the fixtures folder (so its relative imports still resolve). */
function tempNotebook(nb: unknown): string {
  const path = join(FIXTURES, `_tmp_${crypto.randomUUID().slice(0, 8)}.ipynb`);
  Deno.writeTextFileSync(path, JSON.stringify(nb, null, 1));
  return path;
}

function codeCell(source: string) {
  return { cell_type: "code", execution_count: null, metadata: {}, outputs: [], source };
}

Deno.test("run_notebooks: the kernel is this clone's own and must run this clone's deno", () => {
  assertMatch(projectKernelName(), /^ssmlab-[0-9a-f]{8}$/);
  assertEquals(projectKernelName(), projectKernelName(PROJECT_ROOT));
  assert(projectKernelName("/tmp/another-clone") !== projectKernelName());
  assert(kernelProgramOk(denoBinary(), projectKernelName()));
  assert(!kernelProgramOk("/bin/sh", projectKernelName()), "another program under this clone's kernel name");
  assert(kernelProgramOk("/bin/sh", "someone-elses-kernel"), "a user-named kernel only needs to exist");
  assert(!kernelProgramOk("/no/such/deno", "someone-elses-kernel"));
});

Deno.test("run_notebooks: kernelEnv puts node_modules/.bin on PATH and passes --small", () => {
  const env = kernelEnv({ small: true });
  assert(env.PATH.startsWith(join(PROJECT_ROOT, "node_modules/.bin")));
  assertEquals(env.SSMLAB_SMALL, "1");
  assertEquals(kernelEnv().SSMLAB_SMALL, undefined);
  const err = summarizeError(
    "noise\nAn error occurred while executing the following cell:\n------------------\nthrow 1\nError: boom\n",
    1,
  );
  assert(err.startsWith("An error occurred while executing the following cell:") && err.includes("boom"));
});

Deno.test({
  name: "run_notebooks: executes hello.ipynb with the Deno kernel and saves its outputs",
  ignore: !ready,
  sanitizeResources: false,
  async fn() {
    const nb = JSON.parse(Deno.readTextFileSync(join(FIXTURES, "hello.ipynb")));
    const path = tempNotebook(nb);
    try {
      const { code, out } = await runScript(["--small", "--timeout=120", path]);
      assertEquals(code, 0, `runner output:\n${out}`);
      assertMatch(out, /✔ .*_tmp_\w+\.ipynb: \d+\.\d s/);
      const done = JSON.parse(Deno.readTextFileSync(path));
      const outputs = done.cells.flatMap((c: { outputs?: unknown[] }) => c.outputs ?? []) as {
        output_type: string;
        text?: string[] | string;
        data?: Record<string, unknown>;
      }[];
      const text = outputs.map((o) => [o.text ?? ""].flat().join("")).join("");
      assertStringIncludes(text, "hello from ssmlab (small=true, jupyter=true)");
      const html = outputs.map((o) => [o.data?.["text/html"] ?? ""].flat().join("")).join("");
      assertStringIncludes(html, "<th>model</th>");
      const charts = outputs.filter((o) => o.data?.["application/vnd.vegalite.v5+json"]);
      assertEquals(charts.length, 2, "showChart and the LiveChart each leave one chart display");
      // a PNG picture (base64 of the PNG signature "\x89PNG") for readers without a Vega-Lite renderer
      assert(charts.every((o) => String([o.data?.["image/png"]].flat().join("")).startsWith("iVBORw0KGgo")));
    } finally {
      Deno.removeSync(path);
    }
  },
});

Deno.test({
  name: "run_notebooks: a failing cell makes the runner exit non-zero and report the error",
  ignore: !ready,
  sanitizeResources: false,
  async fn() {
    const path = tempNotebook({
      cells: [codeCell('console.log("before");'), codeCell('throw new Error("deliberate failure 42");')],
      metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" } },
      nbformat: 4,
      nbformat_minor: 5,
    });
    try {
      const { code, out } = await runScript(["--timeout=60", path]);
      assertEquals(code, 1, `runner output:\n${out}`);
      assertStringIncludes(out, "FAILED");
      assertStringIncludes(out, "deliberate failure 42");
      assertStringIncludes(out, "0/1 notebooks passed");
    } finally {
      Deno.removeSync(path);
    }
  },
});
