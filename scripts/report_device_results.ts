/**
 * Turn the CSV/JSON that the GPU entries bring back (no native addons run there) into the committed results:
 * Parquet beside each CSV, summaries and Vega-Lite charts (.vl.json/.svg/.png).
 *
 * - `results/mhc_ablation/` — one folder per variant and seed from `bench/mhc_ablation_device.ts` (table.csv,
 *   curves.csv, config.json, result.json): writes `summary.csv/.parquet` (mean ± std over seeds beside the published
 *   table, docs/models/mhc.md), the ordering per domain, and `val_loss_curves` (seed bands), `val_loss`,
 *   `val_loss_ood`, `train_tok_s` and `peak_mib` charts.
 * - `results/bench/h100/` — from `bench/device_bench.ts` (models.csv, scaling.csv, …): Parquet copies, a
 *   `train_tok_s_vs_reference`, `scaling_tok_s` and `matmul_tflops` charts.
 *
 * Usage: `deno run -A scripts/report_device_results.ts [--ablation results/mhc_ablation] [--bench results/bench/h100]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { barChart, lineChart, saveChart, type VegaLiteSpec } from "../src/results/charts.ts";
import { readFrame, type Row, saveFrame } from "../src/results/frames.ts";
import { exists } from "../src/data/hub.ts";
import { loadMhcResults, mhcResultsReport } from "../src/experiments/seeds.ts";

const { values: a } = parseArgs({
  options: {
    ablation: { type: "string", default: "results/mhc_ablation" },
    bench: { type: "string", default: "results/bench/h100" },
  },
});

const abl = await loadMhcResults(a.ablation!);
if (abl) {
  const dir = a.ablation!;
  const report = mhcResultsReport(abl);
  await saveFrame(report.comparison, `${dir}/summary`);
  console.log(`${dir}: ${abl.rows.length} runs from ${abl.files.join(", ")}`);
  console.table(report.comparison.toRecords());
  for (const v of report.verdicts) console.log(v);
  for (const [name, spec] of Object.entries(report.charts)) await saveChart(spec, `${dir}/${name}`);
}

const bench = a.bench!;
if (await exists(`${bench}/models.csv`)) {
  const frames = [
    "models",
    "scaling",
    "dispatch",
    "scan",
    "matmul",
    "optim",
    "models_before_fixes",
    "models_run2",
  ];
  for (const f of frames) {
    if (await exists(`${bench}/${f}.csv`)) await saveFrame(readFrame(`${bench}/${f}.csv`), `${bench}/${f}`);
  }
  const models = readFrame(`${bench}/models.csv`).toRecords() as Row[];
  const bars: Row[] = [];
  for (const m of models) {
    bars.push({ model: m.model, who: "ssmlab (tfjs-webgpu)", train_tok_s: m.train_tok_s });
    if (m.ref_train_tok_s) {
      bars.push({ model: m.model, who: "PyTorch reference", train_tok_s: m.ref_train_tok_s });
    }
  }
  await saveChart(
    barChart({
      data: bars,
      x: "model",
      y: "train_tok_s",
      color: "who",
      title: "Training tokens/s on the H100, published config, B 8, T 256",
      yTitle: "training tokens/s",
    }),
    `${bench}/train_tok_s_vs_reference`,
  );
  if (await exists(`${bench}/scaling.csv`)) {
    const sc = readFrame(`${bench}/scaling.csv`).toRecords() as Row[];
    await saveChart(
      lineChart({
        data: sc.filter((r) => typeof r.train_tok_s === "number"),
        x: "T",
        y: "train_tok_s",
        color: "model",
        points: true,
        title: "Training tokens/s against sequence length (B 8, H100)",
        xTitle: "T",
        yTitle: "training tokens/s",
      }),
      `${bench}/scaling_tok_s`,
    );
  }
  if (await exists(`${bench}/matmul.csv`)) {
    const mm = (readFrame(`${bench}/matmul.csv`).toRecords() as Row[]).filter((r) =>
      typeof r.tflops === "number"
    );
    const spec = barChart({
      data: mm,
      x: "case",
      y: "tflops",
      title: "fp32 matmul TFLOP/s on the H100 (tfjs-webgpu)",
      yTitle: "TFLOP/s",
    }) as unknown as VegaLiteSpec & { encoding: Record<string, Record<string, unknown>> };
    // horizontal bars: the case names are long
    const { x, y } = spec.encoding;
    spec.encoding.x = y;
    spec.encoding.y = { ...x, sort: null, title: null, axis: { labelLimit: 420 } };
    Object.assign(spec, { width: 360, height: 22 * mm.length });
    await saveChart(spec, `${bench}/matmul_tflops`);
  }
  console.log(`${bench}: parquet and charts written`);
}
