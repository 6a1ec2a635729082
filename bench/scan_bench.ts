/**
 * Benchmark: reference loop (`diagScanRef`, one tf op chain per step) vs the fast `diagScan` kernels — `host`
 * (Float32Array loop, the default on cpu/wasm) and `parallel` (log-depth tf-op scan, the default elsewhere) —
 * forward, and forward + backward w.r.t. u, a, b.
 *
 * Usage: `deno run -A bench/scan_bench.ts [--backend cpu,wasm] [--T 256,1024,4096] [--B 2] [--D 64]`
 * Prints a table and writes `results/bench/scan_<backend>.csv` for each backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { describeEnvironment, initBackend } from "../src/backend.ts";
import { diagScan, diagScanRef } from "../src/nn/scan.ts";

function arg(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : dflt;
}

const backends = arg("backend", "cpu,wasm").split(",");
const Ts = arg("T", "256,1024,4096").split(",").map(Number);
const B = Number(arg("B", "2"));
const D = Number(arg("D", "64"));

type ScanFn = (u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor3D;

async function sync(ts: tf.Tensor[]): Promise<void> {
  for (const t of ts) await t.data();
}

/** Median milliseconds of `reps` runs after one warm-up. */
async function time(fn: () => tf.Tensor[], reps: number): Promise<number> {
  const warm = fn();
  await sync(warm);
  tf.dispose(warm);
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const out = fn();
    await sync(out);
    ms.push(performance.now() - t0);
    tf.dispose(out);
  }
  ms.sort((x, y) => x - y);
  return ms[Math.floor(ms.length / 2)];
}

interface Row {
  backend: string;
  T: number;
  B: number;
  D: number;
  impl: string;
  reps: number;
  fwdMs: number;
  fwdBwdMs: number;
}

const allRows: Row[] = [];
for (const backend of backends) {
  await initBackend({ backend });
  const rows: Row[] = [];
  for (const T of Ts) {
    const u = tf.randomNormal([B, T, D]) as tf.Tensor3D;
    const a = tf.sigmoid(tf.randomNormal([D], 0, 2)) as tf.Tensor1D;
    const b = tf.randomNormal([D]) as tf.Tensor1D;
    const kernels: [string, ScanFn][] = [
      ["loop", diagScanRef],
      ["host", diagScan.impls.host!],
      ["parallel", diagScan.impls.ops],
    ];
    for (const [impl, fn] of kernels) {
      const reps = impl === "loop" ? (T >= 4096 ? 1 : T >= 1024 ? 2 : 3) : (T >= 4096 ? 3 : 10);
      const fwdMs = await time(() => [fn(u, a, b)], reps);
      const g = tf.grads((u, a, b) => tf.sum(fn(u as tf.Tensor3D, a as tf.Tensor1D, b as tf.Tensor1D)));
      const fwdBwdMs = await time(() => g([u, a, b]), reps);
      rows.push({ backend, T, B, D, impl, reps, fwdMs, fwdBwdMs });
    }
    tf.dispose([u, a, b]);
  }
  allRows.push(...rows);
  const header = "backend,T,B,D,impl,reps,fwd_ms,fwd_bwd_ms,speedup_fwd_bwd";
  const lines = rows.map((r) => {
    const loop = rows.find((x) => x.T === r.T && x.impl === "loop")!;
    return [
      r.backend,
      r.T,
      r.B,
      r.D,
      r.impl,
      r.reps,
      r.fwdMs.toFixed(2),
      r.fwdBwdMs.toFixed(2),
      (loop.fwdBwdMs / r.fwdBwdMs).toFixed(1),
    ].join(",");
  });
  await Deno.mkdir("results/bench", { recursive: true });
  const env = describeEnvironment();
  await Deno.writeTextFile(
    `results/bench/scan_${backend}.csv`,
    `# diagScan benchmark; ${env.backend}; tfjs ${env.tfjs}; deno ${env.deno}; ${env.platform}; cpus ${env.cpus}; ` +
      `${env.timestamp}\n${header}\n${lines.join("\n")}\n`,
  );
}

console.log("\n| backend | T | B×D | impl | fwd ms | fwd+bwd ms | speed-up (fwd+bwd) |");
console.log("|---|---:|---:|---|---:|---:|---:|");
for (const r of allRows) {
  const loop = allRows.find((x) => x.backend === r.backend && x.T === r.T && x.impl === "loop")!;
  console.log(
    `| ${r.backend} | ${r.T} | ${r.B}×${r.D} | ${r.impl} | ${r.fwdMs.toFixed(2)} | ${
      r.fwdBwdMs.toFixed(2)
    } | ${(loop.fwdBwdMs / r.fwdBwdMs).toFixed(1)}× |`,
  );
}
