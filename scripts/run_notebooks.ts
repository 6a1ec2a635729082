/**
 * Run notebooks headless with the Deno Jupyter kernel and keep their outputs.
 *
 * ```sh
 * deno run -A scripts/run_notebooks.ts                # every notebooks/*.ipynb
 * deno run -A scripts/run_notebooks.ts --small        # small configs: sets SSMLAB_SMALL=1 for the notebooks
 * deno run -A scripts/run_notebooks.ts notebooks/01_quickstart.ipynb
 * deno run -A scripts/run_notebooks.ts --install      # check/install jupyter (apt, as root) and the Deno kernel
 * deno run -A scripts/run_notebooks.ts --small --out results/tmp/notebooks   # leave the tracked files alone
 * ```
 *
 * Each notebook is executed by `jupyter nbconvert --to notebook --execute` with a per-cell timeout; its outputs
 * are saved into the file itself, or with `--out DIR` into a copy in DIR (the notebook still runs from its own
 * folder, so its relative imports resolve; its run folders then go to `DIR/results` instead of `results/`). The time per notebook is printed, and the script exits with
 * status 1 when any cell fails, after printing the failing cell's error. Notebooks see `SSMLAB_SMALL=1` with
 * `--small`, and `SSMLAB_RESULTS=<project>/results`, so their run folders land in the project's `results/`.
 *
 * Prerequisites (Debian/Ubuntu): `apt-get install -y --no-install-recommends jupyter-nbconvert jupyter-core`,
 * then `node_modules/.bin/deno jupyter --install` (or `--install` here, which does both when run as root).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The apt command that installs what nbconvert needs. */
export const APT_PACKAGES = ["jupyter-nbconvert", "jupyter-core"] as const;
/** The apt command line, printed when jupyter is missing. */
export const APT_COMMAND = `apt-get install -y --no-install-recommends ${APT_PACKAGES.join(" ")}`;

/** The project root (the folder above `scripts/`). */
export const PROJECT_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The Jupyter kernel name of this clone: `ssmlab-` and 8 hex digits of the SHA-256 of the project root's real
 * path. Each clone registers its own kernelspec, whose program is that clone's deno, so a notebook run never
 * starts the deno of another (possibly deleted or older) clone through a shared name such as `deno`.
 *
 * @example
 * ```ts
 * import { projectKernelName } from "./run_notebooks.ts";
 * console.log(projectKernelName()); // ssmlab-1a2b3c4d
 * ```
 */
export function projectKernelName(root: string = PROJECT_ROOT): string {
  let real = root;
  try {
    real = Deno.realPathSync(root);
  } catch { /* not there: hash the path as given */ }
  return `ssmlab-${createHash("sha256").update(real).digest("hex").slice(0, 8)}`;
}

/** Options of {@linkcode runNotebook}. */
export interface RunNotebookOptions {
  /** Pass `SSMLAB_SMALL=1` to the notebook. */
  small?: boolean;
  /** Seconds per cell (default 900). */
  cellTimeout?: number;
  /** Jupyter kernel name (default {@linkcode projectKernelName}: this clone's own kernelspec). */
  kernel?: string;
  /** Extra environment variables for the kernel. */
  env?: Record<string, string>;
  /** Write the executed notebook into this folder instead of over the file (default: in place). */
  outDir?: string;
}

/** Outcome of one notebook. */
export interface NotebookResult {
  path: string;
  ok: boolean;
  seconds: number;
  /** The failing cell's error, summarized from nbconvert's output (empty when ok). */
  error: string;
}

/**
 * The deno binary to use for the kernel: `node_modules/.bin/deno` (or `node_modules/deno/deno`) in the project,
 * else the deno running this script.
 *
 * @example
 * ```ts
 * import { denoBinary } from "./run_notebooks.ts";
 * console.log(denoBinary()); // <repo>/node_modules/deno/deno
 * ```
 */
export function denoBinary(root: string = PROJECT_ROOT): string {
  for (const p of [join(root, "node_modules/.bin/deno"), join(root, "node_modules/deno/deno")]) {
    try {
      if (Deno.statSync(p).isFile) return Deno.realPathSync(p);
    } catch { /* not there */ }
  }
  return Deno.execPath();
}

/**
 * The environment for jupyter and the kernel: `node_modules/.bin` first on PATH (so a kernelspec whose argv[0]
 * is plain `deno` resolves), `SSMLAB_RESULTS`, and `SSMLAB_SMALL` when `small`.
 *
 * @example
 * ```ts
 * import { kernelEnv } from "./run_notebooks.ts";
 * console.log(kernelEnv({ small: true }).SSMLAB_SMALL); // "1"
 * ```
 */
export function kernelEnv(
  opts: { small?: boolean; env?: Record<string, string> } = {},
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: [join(PROJECT_ROOT, "node_modules/.bin"), dirname(denoBinary()), Deno.env.get("PATH") ?? ""].join(
      ":",
    ),
    SSMLAB_RESULTS: Deno.env.get("SSMLAB_RESULTS") ?? join(PROJECT_ROOT, "results"),
    NO_COLOR: "1",
    ...opts.env,
  };
  if (opts.small) env.SSMLAB_SMALL = "1";
  return env;
}

/** Run a command, capturing output; null when the program is not installed. */
async function capture(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string } | null> {
  try {
    const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * True when `jupyter nbconvert` can be run.
 *
 * @example
 * ```ts
 * import { hasJupyter } from "./run_notebooks.ts";
 * if (!(await hasJupyter())) console.log("install jupyter first");
 * ```
 */
export async function hasJupyter(): Promise<boolean> {
  const r = await capture("jupyter", ["nbconvert", "--version"]);
  return r !== null && r.code === 0;
}

/**
 * Path of the installed kernelspec folder for `name`, searched in `jupyter --paths --json` data dirs.
 *
 * @example
 * ```ts
 * import { findKernelSpec } from "./run_notebooks.ts";
 * console.log(await findKernelSpec("deno")); // ~/.local/share/jupyter/kernels/deno/kernel.json
 * ```
 */
export async function findKernelSpec(name = "deno"): Promise<string | null> {
  const r = await capture("jupyter", ["--paths", "--json"]);
  if (!r || r.code !== 0) return null;
  let data: string[] = [];
  try {
    data = (JSON.parse(r.stdout) as { data?: string[] }).data ?? [];
  } catch {
    return null;
  }
  for (const d of data) {
    const p = join(d, "kernels", name, "kernel.json");
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return null;
}

/**
 * Check whether the kernelspec's program (argv[0]) can be started: for this clone's own kernel
 * ({@linkcode projectKernelName}) it must be this clone's deno; for a kernel named by the user, an absolute path
 * that exists or a bare name found on the PATH that notebooks run with.
 *
 * @example
 * ```ts
 * import { kernelProgramOk, projectKernelName } from "./run_notebooks.ts";
 * kernelProgramOk("/bin/sh", projectKernelName()); // false: not this clone's deno
 * ```
 */
export function kernelProgramOk(argv0: string, kernel: string): boolean {
  const candidates = argv0.includes("/") ? [argv0] : (kernelEnv().PATH.split(":").map((d) => join(d, argv0)));
  return candidates.some((p) => {
    try {
      if (!Deno.statSync(p).isFile) return false;
      return kernel !== projectKernelName() || Deno.realPathSync(p) === denoBinary();
    } catch {
      return false;
    }
  });
}

/**
 * Check the prerequisites and, with `install`, install what is missing: jupyter through apt (root only;
 * otherwise the apt command is printed) and the Deno kernelspec through `deno jupyter --install` with the
 * project's deno, under this clone's own name. A kernelspec that runs another deno (another clone's, or one that no
 * longer exists) is reinstalled.
 * Returns true when notebooks can run.
 *
 * @example
 * ```ts
 * import { ensurePrerequisites } from "./run_notebooks.ts";
 * if (!(await ensurePrerequisites({ install: true }))) Deno.exit(1);
 * ```
 */
export async function ensurePrerequisites(
  opts: { install?: boolean; kernel?: string } = {},
): Promise<boolean> {
  const kernel = opts.kernel ?? projectKernelName();
  if (!(await hasJupyter())) {
    console.error(`jupyter nbconvert was not found. Install it with:\n  ${APT_COMMAND}`);
    const isRoot = Deno.uid?.() === 0;
    if (!opts.install) {
      console.error("(or run this script with --install, as root, to do it for you)");
      return false;
    }
    if (!isRoot) {
      console.error("--install needs root to run apt-get; run the command above with sudo.");
      return false;
    }
    console.error(`Running: apt-get update && ${APT_COMMAND}`);
    for (const args of [["update"], APT_COMMAND.split(" ").slice(1)]) {
      const code = (await new Deno.Command("apt-get", {
        args,
        env: { DEBIAN_FRONTEND: "noninteractive" },
        stdout: "inherit",
        stderr: "inherit",
      }).output()).code;
      if (code !== 0) {
        console.error(`apt-get ${args.join(" ")} failed with exit code ${code}.`);
        return false;
      }
    }
    if (!(await hasJupyter())) {
      console.error("jupyter nbconvert is still missing after apt-get install.");
      return false;
    }
  }
  const spec = await findKernelSpec(kernel);
  let specOk = false;
  if (spec) {
    try {
      const argv = (JSON.parse(Deno.readTextFileSync(spec)) as { argv?: string[] }).argv ?? [];
      specOk = argv.length > 0 && kernelProgramOk(argv[0], kernel);
      if (!specOk) {
        console.error(
          `The "${kernel}" kernelspec at ${spec} runs "${
            argv[0]
          }", not this project's deno (${denoBinary()}).`,
        );
      }
    } catch (e) {
      console.error(`Could not read the kernelspec ${spec}: ${e instanceof Error ? e.message : e}`);
    }
  }
  if (specOk) return true;
  const deno = denoBinary();
  const args = ["jupyter", "--install", "--force", "--name", kernel, "--display", `Deno (${kernel})`];
  if (!opts.install) {
    console.error(
      `The "${kernel}" Jupyter kernel is missing or broken. Install it with:\n  ${deno} ${args.join(" ")}` +
        `\n(or run this script with --install)`,
    );
    return false;
  }
  console.error(`Installing the Deno kernel: ${deno} ${args.join(" ")}`);
  const r = await capture(deno, args, kernelEnv());
  if (!r || r.code !== 0) {
    console.error(`deno jupyter --install failed:\n${r?.stderr ?? "deno not found"}`);
    return false;
  }
  return (await findKernelSpec(kernel)) !== null;
}

/**
 * Execute one notebook in place with nbconvert and the Deno kernel, saving its outputs.
 *
 * @example
 * ```ts
 * import { runNotebook } from "./run_notebooks.ts";
 * const r = await runNotebook("notebooks/01_quickstart.ipynb", { small: true });
 * console.log(r.ok, r.seconds);
 * ```
 */
export async function runNotebook(path: string, opts: RunNotebookOptions = {}): Promise<NotebookResult> {
  const abs = resolve(path);
  const args = [
    "nbconvert",
    "--to",
    "notebook",
    "--execute",
    ...(opts.outDir ? ["--output-dir", resolve(opts.outDir)] : ["--inplace"]),
    `--ExecutePreprocessor.timeout=${opts.cellTimeout ?? 900}`,
    `--ExecutePreprocessor.kernel_name=${opts.kernel ?? projectKernelName()}`,
    abs,
  ];
  const t0 = performance.now();
  const env = opts.outDir ? { SSMLAB_RESULTS: join(resolve(opts.outDir), "results"), ...opts.env } : opts.env;
  const r = await capture("jupyter", args, kernelEnv({ ...opts, env }));
  const seconds = (performance.now() - t0) / 1000;
  if (r === null) {
    return { path, ok: false, seconds, error: `jupyter was not found; install it with: ${APT_COMMAND}` };
  }
  return { path, ok: r.code === 0, seconds, error: r.code === 0 ? "" : summarizeError(r.stderr, r.code) };
}

/**
 * Pull the useful part out of nbconvert's stderr: the `CellExecutionError` section (the failing cell's source
 * and the kernel's error), or the last lines.
 */
export function summarizeError(stderr: string, code: number): string {
  // deno-lint-ignore no-control-regex
  const text = stderr.replace(/\x1b\[[0-9;]*m/g, "");
  const i = text.search(/An error occurred while executing the following cell:/);
  if (i >= 0) return text.slice(i).trim().split("\n").slice(0, 60).join("\n");
  const j = text.lastIndexOf("Traceback (most recent call last)");
  const tail = (j >= 0 ? text.slice(j) : text).trim().split("\n").slice(-30).join("\n");
  return `nbconvert exited with code ${code}:\n${tail}`;
}

/**
 * The notebooks to run: the given paths, or every `notebooks/*.ipynb` in the project (sorted).
 *
 * @example
 * ```ts
 * import { findNotebooks } from "./run_notebooks.ts";
 * console.log(findNotebooks([])); // ["notebooks/01_quickstart.ipynb", …]
 * ```
 */
export function findNotebooks(args: string[], root: string = PROJECT_ROOT): string[] {
  if (args.length > 0) {
    for (const a of args) {
      if (!a.endsWith(".ipynb")) {
        throw new Error(`"${a}" is not a notebook: expected a path ending in .ipynb.`);
      }
      try {
        Deno.statSync(a);
      } catch {
        throw new Error(`Notebook "${a}" does not exist.`);
      }
    }
    return args;
  }
  const dir = join(root, "notebooks");
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".ipynb")).map((e) =>
      e.name
    );
  } catch { /* no folder */ }
  return names.sort().map((n) => relative(Deno.cwd(), join(dir, n)) || n);
}

const USAGE = `Usage: deno run -A scripts/run_notebooks.ts [--small] [--install] [--check] [--timeout=SECONDS]
                      [--kernel=NAME] [NOTEBOOK.ipynb ...]

  --small          pass SSMLAB_SMALL=1 to the notebooks (small configs, for CI)
  --install        install missing prerequisites (jupyter via apt as root; the Deno kernelspec)
  --check          only check the prerequisites
  --timeout=S      seconds allowed per cell (default 900)
  --out DIR        save the executed notebooks (and their run folders) in DIR, leaving the files alone
  --kernel=NAME    Jupyter kernel name (default: this clone's own, ssmlab-<hash of its path>)
Without notebook paths, runs every notebooks/*.ipynb.`;

/** Command-line entry point; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let small = false, install = false, check = false, cellTimeout = 900, kernel = projectKernelName();
  let outDir: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--small") small = true;
    else if (a === "--out" || a.startsWith("--out=")) {
      outDir = a === "--out" ? argv[++i] : a.slice(6);
      if (!outDir) {
        console.error(`--out needs a folder, e.g. --out results/tmp/notebooks.`);
        return 2;
      }
    } else if (a === "--install") install = true;
    else if (a === "--check") check = true;
    else if (a.startsWith("--timeout=")) {
      cellTimeout = Number(a.slice(10));
      if (!(cellTimeout > 0)) {
        console.error(`The timeout must be a positive number of seconds, got "${a.slice(10)}".`);
        return 2;
      }
    } else if (a.startsWith("--kernel=")) kernel = a.slice(9);
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      return 0;
    } else if (a.startsWith("-")) {
      console.error(`Unknown option "${a}".\n${USAGE}`);
      return 2;
    } else files.push(a);
  }
  if (!(await ensurePrerequisites({ install, kernel }))) return 1;
  if (check || (install && files.length === 0 && !small)) {
    console.log("Prerequisites OK: jupyter nbconvert and the Deno kernel are installed.");
    return 0;
  }
  let notebooks: string[];
  try {
    notebooks = findNotebooks(files);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  if (notebooks.length === 0) {
    console.error(`No notebooks found in ${join(PROJECT_ROOT, "notebooks")}.`);
    return 1;
  }
  const results: NotebookResult[] = [];
  for (const nb of notebooks) {
    console.log(`▶ ${nb}${small ? " (SSMLAB_SMALL=1)" : ""}`);
    const r = await runNotebook(nb, { small, cellTimeout, kernel, outDir });
    results.push(r);
    const where = outDir ? ` → ${join(outDir, basename(nb))}` : "";
    console.log(`${r.ok ? "✔" : "✘"} ${nb}${where}: ${r.seconds.toFixed(1)} s${r.ok ? "" : " — FAILED"}`);
    if (!r.ok) console.error(indent(r.error));
  }
  const failed = results.filter((r) => !r.ok);
  const total = results.reduce((s, r) => s + r.seconds, 0);
  console.log(
    `\n${results.length - failed.length}/${results.length} notebooks passed in ${total.toFixed(1)} s.`,
  );
  if (failed.length > 0) {
    console.error(`Failed: ${failed.map((r) => basename(r.path)).join(", ")}`);
    return 1;
  }
  return 0;
}

function indent(s: string): string {
  return s.split("\n").map((l) => "    " + l).join("\n");
}

if (import.meta.main) Deno.exit(await main(Deno.args));
