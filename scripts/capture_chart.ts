/**
 * Chart of the H100 capture benchmark beside the PyTorch figures of issue 11's table: training tokens/s per model
 * for the PyTorch reference, PyTorch + `torch.compile`, ssmlab's uncaptured step and its captured step.
 *
 * ```sh
 * deno run -A scripts/capture_chart.ts results/bench/h100/capture/final/capture.csv results/bench/h100/capture/tokens_per_s
 * ```
 *
 * @module
 */
import { barChart, readFrame, saveChart } from "../mod.ts";

/** PyTorch rows of issue 11's table (one H100 machine, 2026-11-25; static mHC was not compiled there). */
const PYTORCH: { model: string; run: string; tokens_per_s: number }[] = [
  { model: "baseline", run: "PyTorch reference", tokens_per_s: 2509 },
  { model: "mhc", run: "PyTorch reference", tokens_per_s: 2041 },
  { model: "mhc_adapters", run: "PyTorch reference", tokens_per_s: 2090 },
  { model: "baseline", run: "PyTorch torch.compile", tokens_per_s: 125713 },
  { model: "mhc_adapters", run: "PyTorch torch.compile", tokens_per_s: 72833 },
];

if (import.meta.main) {
  const [csv, out] = Deno.args;
  if (!csv || !out) {
    throw new Error("Usage: deno run -A scripts/capture_chart.ts CAPTURE_CSV OUT_PATH_WITHOUT_EXT");
  }
  const rows = (await readFrame(csv)).toRecords() as {
    model: string;
    mode: string;
    train_tok_s: number | null;
  }[];
  const ours = rows.filter((r) => r.mode === "uncaptured" || r.mode === "captured").map((r) => ({
    model: r.model,
    run: `ssmlab ${r.mode} step`,
    tokens_per_s: Number(r.train_tok_s),
  }));
  const spec = barChart({
    data: [...PYTORCH, ...ours],
    x: "model",
    y: "tokens_per_s",
    color: "run",
    yTitle: "training tokens/s (B 8, T 256)",
    title: "Training throughput on an H100: PyTorch vs ssmlab's captured step",
  });
  console.log(await saveChart(spec, out));
}
