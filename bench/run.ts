/**
 * `deno task bench` / `npm run bench`: the whole benchmark suite.
 *
 * 1. scan — `bench/scan_bench.ts` (reference loop vs the fast diagonal scans, forward and forward + backward,
 *    T = 256/1024/4096), run as a child process per the backends given (cpu/wasm; webgpu only on a hardware adapter);
 * 2. models — `bench/model_bench.ts`: training and forward-only tokens/s and peak memory of every registered model
 *    kind (+ mHC with adapters) at the `tiny` preset for T = 64…512, and the published config at B = 8, T = 256 on a
 *    hardware WebGPU adapter;
 * 3. matmul — `bench/matmul_bench.ts` (TFLOP/s of the LM-head product forms), on a hardware WebGPU adapter only.
 *
 * Writes to `--out` (default `results/bench/`): `scan_<backend>.csv`, `scan.csv/.parquet`, `models.csv/.parquet`,
 * `matmul.csv/.parquet` (webgpu), charts `models_train_tok_s`, `models_peak_mib`, `scan_fwd_bwd_ms`
 * (`.vl.json/.svg/.png`) and `environment.json`, and prints Markdown tables.
 *
 * Usage: `deno run -A bench/run.ts [--backends cpu,wasm] [--quick] [--out results/bench] [--skip scan,models,matmul]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { describeEnvironment, initBackend } from "../src/backend.ts";
import { lineChart, saveChart } from "../src/results/charts.ts";
import { type Row, saveFrame } from "../src/results/frames.ts";
import { hardwareWebGpu, modelBench, type ModelBenchRow, modelBenchTable } from "./model_bench.ts";

const USAGE =
  "deno run -A bench/run.ts [--backends cpu,wasm] [--quick] [--out results/bench] [--skip scan,models,matmul]";

const { values: flags } = (() => {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        backends: { type: "string", default: "cpu,wasm" },
        quick: { type: "boolean", default: false },
        out: { type: "string", default: "results/bench" },
        skip: { type: "string", default: "" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\nUsage: ${USAGE}`);
    Deno.exit(2);
  }
})();
if (flags.help) {
  console.log(`Usage: ${USAGE}`);
  Deno.exit(0);
}

const backends = flags.backends!.split(",").map((s) => s.trim()).filter(Boolean);
const known = ["cpu", "wasm", "webgpu", "tensorflow"];
const bad = backends.filter((b) => !known.includes(b));
if (bad.length) {
  console.error(`bench: unknown backend(s) ${bad.join(", ")}: expected some of ${known.join(", ")}.`);
  Deno.exit(2);
}
const skip = new Set(flags.skip!.split(",").map((s) => s.trim()).filter(Boolean));
const quick = flags.quick!;
const out = flags.out!.replace(/\/+$/, "");
await Deno.mkdir(out, { recursive: true });

const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(0);
const gpu = backends.includes("webgpu") ? await hardwareWebGpu() : null;
const repo = new URL("../", import.meta.url);
const summary: Record<string, unknown> = {};

// ---------------------------------------------------------------------------------------------------------------
// 1. scan benchmark (child process: bench/scan_bench.ts is a script that writes results/bench/scan_<backend>.csv
//    relative to its working directory, so it runs in a temporary folder and its CSVs are copied to --out)
// ---------------------------------------------------------------------------------------------------------------
const scanBackends = backends.filter((b) => b !== "webgpu" || gpu?.hardware);
if (!skip.has("scan") && scanBackends.length) {
  console.log(`\n## scan benchmark (${scanBackends.join(", ")}) [${secs()} s]`);
  const tmp = await Deno.makeTempDir({ prefix: "ssmlab_scan_bench_" });
  try {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        new URL("deno.json", repo).pathname,
        new URL("bench/scan_bench.ts", repo).pathname,
        "--backend",
        scanBackends.join(","),
        "--T",
        quick ? "256,1024" : "256,1024,4096",
      ],
      cwd: tmp,
      stdout: "piped",
      stderr: "inherit",
    });
    const res = await cmd.output();
    const text = new TextDecoder().decode(res.stdout);
    console.log(text.trim());
    if (!res.success) throw new Error(`bench/scan_bench.ts exited with ${res.code}`);
    const rows: Row[] = [];
    for (const b of scanBackends) {
      const src = `${tmp}/results/bench/scan_${b}.csv`;
      const csv = await Deno.readTextFile(src);
      await Deno.writeTextFile(`${out}/scan_${b}.csv`, csv);
      const lines = csv.split("\n").filter((l) => l && !l.startsWith("#"));
      const head = lines[0].split(",");
      for (const l of lines.slice(1)) {
        const cells = l.split(",");
        const r: Row = {};
        head.forEach((h, i) => (r[h] = ["backend", "impl"].includes(h) ? cells[i] : Number(cells[i])));
        r.series = `${r.impl} (${r.backend})`;
        rows.push(r);
      }
    }
    await saveFrame(rows, `${out}/scan`);
    await saveChart(
      lineChart({
        data: rows,
        x: "T",
        y: "fwd_bwd_ms",
        color: "series",
        logY: true,
        points: true,
        title: "Diagonal scan, forward + backward (B×D = 2×64)",
        xTitle: "sequence length T",
        yTitle: "ms (log scale)",
      }),
      `${out}/scan_fwd_bwd_ms`,
    );
    summary.scan = rows;
  } catch (e) {
    console.error(`scan benchmark failed: ${(e as Error).message}`);
    summary.scanError = (e as Error).message;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. model benchmark
// ---------------------------------------------------------------------------------------------------------------
let modelRows: ModelBenchRow[] = [];
if (!skip.has("models")) {
  console.log(`\n## model benchmark (${backends.join(", ")}${quick ? ", quick" : ""}) [${secs()} s]`);
  modelRows = await modelBench({
    backends,
    quick,
    onRow: (r) =>
      console.log(
        `  ${r.backend} ${r.model} ${r.preset} B×T=${r.B}×${r.T}: train ${r.train_tok_s} tok/s, fwd ${r.fwd_tok_s} tok/s, ` +
          `peak ${r.peak_mib} MiB [${secs()} s]`,
      ),
  });
  if (modelRows.length) {
    await saveFrame(modelRows, `${out}/models`);
    const tiny = modelRows.filter((r) => r.preset === "tiny").map((r) => ({
      ...r,
      series: `${r.model} (${r.backend})`,
    }));
    await saveChart(
      lineChart({
        data: tiny,
        x: "T",
        y: "train_tok_s",
        color: "series",
        logY: true,
        points: true,
        title: `Training throughput, tiny preset (B = ${tiny[0]?.B})`,
        xTitle: "sequence length T",
        yTitle: "training tokens/s (log scale)",
      }),
      `${out}/models_train_tok_s`,
    );
    await saveChart(
      lineChart({
        data: tiny,
        x: "T",
        y: "peak_mib",
        color: "series",
        points: true,
        title: `Peak memory of a training step, tiny preset (B = ${tiny[0]?.B})`,
        xTitle: "sequence length T",
        yTitle: "peak MiB",
      }),
      `${out}/models_peak_mib`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. matmul benchmark (hardware WebGPU only)
// ---------------------------------------------------------------------------------------------------------------
let matmulRows: Record<string, number | string>[] = [];
if (!skip.has("matmul") && gpu?.hardware) {
  console.log(`\n## matmul benchmark (webgpu: ${gpu.description}) [${secs()} s]`);
  const { matmulBench } = await import("./matmul_bench.ts");
  await initBackend({ backend: "webgpu" });
  matmulRows = await matmulBench(quick ? 1024 : 2048, 512, 50257, quick ? 3 : 5);
  await saveFrame(matmulRows as Row[], `${out}/matmul`);
} else if (!skip.has("matmul") && gpu?.present) {
  console.log(`\n(matmul benchmark skipped: software WebGPU adapter ${gpu.description})`);
}

// ---------------------------------------------------------------------------------------------------------------
// environment and summary
// ---------------------------------------------------------------------------------------------------------------
const env = {
  ...describeEnvironment(),
  backend: backends.join(","),
  webgpuAdapter: gpu ? gpu.description || null : null,
  date: new Date().toISOString(),
  command: `deno run -A bench/run.ts ${Deno.args.join(" ")}`.trim(),
  quick,
  elapsedSec: Math.round((performance.now() - t0) / 1000),
  hardwareConcurrency: navigator.hardwareConcurrency,
};
await Deno.writeTextFile(`${out}/environment.json`, JSON.stringify(env, null, 2) + "\n");

if (modelRows.length) console.log(`\n## models\n\n${modelBenchTable(modelRows)}`);
if (matmulRows.length) {
  console.log("\n## matmul (webgpu)\n\n| case | ms | TFLOP/s |\n|---|---:|---:|");
  for (const r of matmulRows) console.log(`| ${r.name} | ${r.ms} | ${r.tflops} |`);
}
console.log(`\nbench finished in ${env.elapsedSec} s; outputs in ${out}/`);
