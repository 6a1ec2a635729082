/**
 * Model benchmark: training tokens/s (forward + backward + AdamW, `measureThroughput`'s protocol), forward-only
 * tokens/s and peak memory of every registered model kind (plus mHC with stream adapters) at the `tiny` preset, and
 * their scaling with the sequence length T (the position table's `maxLen` is set to T). On a hardware WebGPU
 * adapter (not llvmpipe/SwiftShader) the published configuration at B = 8, T = 256 is measured too.
 *
 * Usage: `deno run -A bench/model_bench.ts [--backends cpu,wasm] [--quick]` (prints a table; `bench/run.ts` saves
 * CSVs and charts).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend.ts";
import { createModel, modelConfig, type ModelVariant, modelVariants } from "../src/models/registry.ts";
import type { ModelConfig } from "../src/models/types.ts";
import { measureThroughput } from "../src/eval/throughput.ts";

/** One measured configuration. */
export interface ModelBenchRow {
  [key: string]: string | number | null;
  backend: string;
  model: string;
  preset: string;
  params: number;
  B: number;
  T: number;
  warmup: number;
  steps: number;
  train_tok_s: number;
  fwd_tok_s: number;
  peak_mib: number;
  peak_measure: string;
  final_loss: number;
}

/** Options of {@linkcode modelBench}. */
export interface ModelBenchOptions {
  /** Backends to measure (default cpu, wasm). webgpu runs only where an adapter exists. */
  backends?: string[];
  /** Fewer steps and sequence lengths. */
  quick?: boolean;
  /** Sequence lengths of the tiny-preset scaling sweep (default 64, 128, 256, 512; quick: 64, 256). */
  seqLens?: number[];
  /** Batch size of the tiny sweep (default 4: the cpu backend takes seconds per step at 4×512). */
  batch?: number;
  /** Called after each row (for progress output). */
  onRow?: (row: ModelBenchRow) => void;
}

/** The variants: every registered kind at its defaults and each spec's named variants (e.g. mhc_adapters). */
export function benchVariants(): ModelVariant[] {
  return modelVariants();
}

/** The config of a bench variant at a preset, with extra fields (e.g. `maxLen`) laid over it. */
export function benchConfig(
  v: ModelVariant,
  preset: string,
  extra: Record<string, unknown> = {},
): ModelConfig {
  return modelConfig(v.kind, { ...v.overrides, ...extra }, preset);
}

type GpuInfo = { isFallbackAdapter?: boolean; description?: string; vendor?: string; architecture?: string };

/** Whether a hardware WebGPU adapter exists (a software one — llvmpipe, SwiftShader — does not count). */
export async function hardwareWebGpu(): Promise<
  { present: boolean; hardware: boolean; description: string }
> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ info?: GpuInfo } | null> } }).gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) return { present: false, hardware: false, description: "" };
  const info = adapter.info ?? {};
  const description = [info.vendor, info.architecture, info.description].filter(Boolean).join(" ");
  const software = info.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader/i.test(description);
  return { present: true, hardware: !software, description };
}

async function measure(
  backend: string,
  name: string,
  preset: string,
  config: ModelConfig,
  B: number,
  T: number,
  warmup: number,
  steps: number,
): Promise<ModelBenchRow> {
  const model = createModel(config, 1337);
  try {
    const params = [...model.weights.values()].reduce((s, w) => s + w.size, 0);
    const r = await measureThroughput(model, {
      batch: B,
      seqLen: T,
      warmup,
      steps,
      forward: true,
      restoreWeights: false,
    });
    return {
      backend,
      model: name,
      preset,
      params,
      B,
      T,
      warmup,
      steps,
      train_tok_s: Math.round(r.tokensPerSec ?? 0),
      fwd_tok_s: Math.round(r.forwardTokensPerSec ?? 0),
      peak_mib: Math.round((r.peakBytes / 2 ** 20) * 100) / 100,
      peak_measure: r.peakMeasure,
      final_loss: Math.round(r.finalLoss * 1e4) / 1e4,
    };
  } finally {
    model.dispose();
  }
}

/**
 * Run the model benchmark on each backend and return one row per (backend, model, T).
 *
 * @example
 * ```ts
 * // const rows = await modelBench({ backends: ["cpu"], quick: true });
 * ```
 */
export async function modelBench(opts: ModelBenchOptions = {}): Promise<ModelBenchRow[]> {
  const backends = opts.backends ?? ["cpu", "wasm"];
  const quick = opts.quick ?? false;
  const seqLens = opts.seqLens ?? (quick ? [64, 256] : [64, 128, 256, 512]);
  const B = opts.batch ?? 4;
  const [warmup, steps] = quick ? [1, 2] : [1, 3];
  const rows: ModelBenchRow[] = [];
  const push = (r: ModelBenchRow) => {
    rows.push(r);
    opts.onRow?.(r);
  };
  for (const backend of backends) {
    let gpu: Awaited<ReturnType<typeof hardwareWebGpu>> | null = null;
    if (backend === "webgpu") {
      gpu = await hardwareWebGpu();
      if (!gpu.present) {
        console.warn("model_bench: skipping webgpu (no adapter here).");
        continue;
      }
    }
    await initBackend({ backend });
    for (const v of benchVariants()) {
      for (const T of seqLens) {
        const cfg = benchConfig(v, "tiny", { maxLen: T });
        push(await measure(backend, v.name, "tiny", cfg, B, T, warmup, steps));
      }
    }
    if (gpu?.hardware) {
      // The published configuration (GPT-2 vocabulary, d = 512, 8 layers) at the reference benchmark's B 8, T 256.
      for (const v of benchVariants()) {
        const cfg = benchConfig(v, "published", { maxLen: 256 });
        push(await measure(backend, v.name, "published", cfg, 8, 256, quick ? 2 : 5, quick ? 5 : 20));
      }
    } else if (gpu) {
      console.warn(`model_bench: software WebGPU adapter (${gpu.description}): published config skipped.`);
    }
  }
  tf.disposeVariables();
  return rows;
}

/** A Markdown table of the rows. */
export function modelBenchTable(rows: readonly ModelBenchRow[]): string {
  const lines = [
    "| backend | model | preset | params | B×T | train tok/s | fwd tok/s | peak MiB | loss |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.backend} | ${r.model} | ${r.preset} | ${r.params.toLocaleString("en")} | ${r.B}×${r.T} | ${
        r.train_tok_s.toLocaleString("en")
      } | ${r.fwd_tok_s.toLocaleString("en")} | ${r.peak_mib.toFixed(2)} | ${r.final_loss.toFixed(3)} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--backends");
  const backends = i >= 0 ? Deno.args[i + 1].split(",") : ["cpu", "wasm"];
  const rows = await modelBench({ backends, quick: Deno.args.includes("--quick") });
  console.log(modelBenchTable(rows));
}
