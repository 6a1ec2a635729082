/**
 * One folder per run: `results/<experiment>/<run>/`, holding `config.json` (the config, its seed and the
 * environment: backend and versions), JSON files, tables (CSV + Parquet) and charts (Vega-Lite JSON + SVG +
 * PNG). Every file is written to a temporary name and renamed into place, so a crash never leaves half a file.
 *
 * The results root defaults to the `SSMLAB_RESULTS` environment variable, else `results` (relative to the
 * working directory); the notebook runner sets `SSMLAB_RESULTS` to the project's `results/` folder.
 *
 * @example
 * ```ts
 * import { createRun } from "./run_dir.ts";
 * import { lineChart } from "./charts.ts";
 * const run = createRun("lm-small", undefined, { seed: 42 });
 * await run.writeConfig({ model: "s4", dModel: 64, seed: 42 });
 * await run.writeFrame("curves", [{ step: 0, loss: 3.1 }, { step: 100, loss: 2.5 }]);
 * await run.writeChart("val_loss", lineChart({ data: [{ step: 0, loss: 3.1 }], x: "step", y: "loss" }));
 * console.log(run.dir); // results/lm-small/2025-01-02T03-04-05-678Z
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { describeEnvironment, type EnvironmentInfo } from "../backend.ts";
import { type DataFrame, type Row, type SavedFrame, saveFrame } from "./frames.ts";
import { saveChart, type SavedChart, type VegaLiteSpec } from "./charts.ts";
import { writeTextAtomic } from "./atomic.ts";

/** Names of experiments, runs and files: letters, digits, `.`, `_`, `-`; starting with a letter or digit. */
export const NAME_PATTERN: RegExp = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Throw a clear error unless `name` is a valid experiment, run or file name (see {@linkcode NAME_PATTERN}).
 *
 * @example
 * ```ts
 * import { validateName } from "./run_dir.ts";
 * validateName("lm-small", "experiment"); // ok
 * validateName("../etc", "run"); // throws: Run name "../etc" is not valid: …
 * ```
 */
export function validateName(name: string, what = "name"): string {
  if (typeof name !== "string" || !NAME_PATTERN.test(name) || name.includes("..")) {
    const label = what.charAt(0).toUpperCase() + what.slice(1);
    throw new Error(
      `${label} name ${JSON.stringify(name)} is not valid: use 1–128 letters, digits, ".", "_" or "-", ` +
        `starting with a letter or digit (no slashes, spaces or "..").`,
    );
  }
  return name;
}

/** Options of {@linkcode createRun}. */
export interface RunOptions {
  /** Results root folder (default: `SSMLAB_RESULTS`, else `results`). */
  root?: string;
  /** Seed recorded in `config.json` when the config passed to `writeConfig` has no `seed`. */
  seed?: number;
}

/** What `writeConfig` writes to `config.json`: the config's keys plus these. */
export interface RunConfigRecord {
  /** The run's seed (the config's `seed`, else the `createRun` option, else null). */
  seed: number | null;
  /** The experiment name. */
  experiment: string;
  /** The run name. */
  run: string;
  /** Backend, versions and machine, from `describeEnvironment()`. */
  environment: EnvironmentInfo;
  /** The config's own keys. */
  [key: string]: unknown;
}

/** A run folder and writers for its files; see {@linkcode createRun}. */
export interface Run {
  /** Experiment name. */
  readonly experiment: string;
  /** Run name. */
  readonly run: string;
  /** The run's folder, `<root>/<experiment>/<run>`. */
  readonly dir: string;
  /** Path of a file in the run folder (the name is validated). */
  path(name: string): string;
  /** Write `config.json`: the config plus `seed`, `experiment`, `run` and `environment`. Returns its path. */
  writeConfig(config: Record<string, unknown>): Promise<string>;
  /** Write `<name>.json` (pretty-printed). Returns its path. */
  writeJson(name: string, obj: unknown): Promise<string>;
  /** Write `<name>.csv` and `<name>.parquet`. */
  writeFrame(name: string, df: DataFrame | readonly Row[]): Promise<SavedFrame>;
  /** Write `<name>.vl.json`, `<name>.svg` and `<name>.png`. */
  writeChart(name: string, spec: VegaLiteSpec): Promise<SavedChart>;
}

/**
 * Create (or reopen) the folder `<root>/<experiment>/<run>/` and return writers for it. Without a run name,
 * a UTC timestamp such as `2025-01-02T03-04-05-678Z` is used (with `-2`, `-3`… appended if taken); an
 * explicit name reopens an existing folder. The folder is created synchronously; the writers are async.
 *
 * @example
 * ```ts
 * import { createRun } from "./run_dir.ts";
 * const run = createRun("ablation", "seed-1", { root: "results" });
 * await run.writeJson("metrics", { ppl: 31.2 });
 * ```
 */
export function createRun(experiment: string, run?: string, opts: RunOptions = {}): Run {
  validateName(experiment, "experiment");
  if (run !== undefined) validateName(run, "run");
  const root = opts.root ?? envResultsRoot() ?? "results";
  const expDir = join(root, experiment);
  Deno.mkdirSync(expDir, { recursive: true });
  let name = run ?? timestampName();
  if (run === undefined) {
    // Claim a fresh folder: mkdir without `recursive` fails if it exists.
    for (let i = 2;; i++) {
      try {
        Deno.mkdirSync(join(expDir, name));
        break;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists) || i > 1000) throw e;
        name = `${timestampName()}-${i}`;
      }
    }
  } else {
    Deno.mkdirSync(join(expDir, name), { recursive: true });
  }
  const dir = join(expDir, name);
  const path = (file: string) => join(dir, validateName(file, "file"));
  return {
    experiment,
    run: name,
    dir,
    path,
    async writeConfig(config) {
      if (config === null || typeof config !== "object" || Array.isArray(config)) {
        throw new TypeError(`writeConfig expects a config object, got ${JSON.stringify(config)}.`);
      }
      const seed = typeof config.seed === "number" ? config.seed : opts.seed ?? null;
      const record: RunConfigRecord = {
        ...config,
        seed,
        experiment,
        run: name,
        environment: describeEnvironment(),
      };
      const p = join(dir, "config.json");
      await writeTextAtomic(p, JSON.stringify(record, jsonReplacer, 2) + "\n");
      return p;
    },
    async writeJson(file, obj) {
      const p = path(file.endsWith(".json") ? file : `${file}.json`);
      await writeTextAtomic(p, JSON.stringify(obj, jsonReplacer, 2) + "\n");
      return p;
    },
    writeFrame(file, df) {
      return saveFrame(df, path(file.replace(/\.(csv|parquet)$/i, "")));
    },
    writeChart(file, spec) {
      return saveChart(spec, path(file.replace(/\.(vl\.json|svg|png)$/i, "")));
    },
  };
}

export { writeFileAtomic, writeTextAtomic } from "./atomic.ts";

// ---- helpers ----

function timestampName(): string {
  return new Date().toISOString().replace(/[:.]/g, "-");
}

function envResultsRoot(): string | undefined {
  try {
    return Deno.env.get("SSMLAB_RESULTS") || undefined;
  } catch {
    return undefined;
  }
}

/** JSON cannot hold NaN, Infinity or bigint: write them as strings rather than losing them to null. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  return value;
}
