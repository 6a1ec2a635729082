/**
 * Turn the CSV/JSON that the GPU entries bring back (no native addons run there) into the committed results:
 * Parquet beside each CSV, summaries and Vega-Lite charts (.vl.json/.svg/.png).
 *
 * - `results/mhc_ablation/` — one folder per variant from `bench/mhc_ablation_device.ts` (table.csv, curves.csv,
 *   config.json, result.json): writes `summary.csv/.parquet` (ours beside the published table, docs/models/mhc.md),
 *   `val_loss_curves`, `val_loss`, `train_tok_s` and `peak_mib` charts.
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
import {
  checkPplOrdering,
  compareWithPublished,
  loadMhcResults,
  meanCurves,
} from "../src/experiments/seeds.ts";

const { values: a } = parseArgs({
  options: {
    ablation: { type: "string", default: "results/mhc_ablation" },
    bench: { type: "string", default: "results/bench/h100" },
  },
});

const abl = await loadMhcResults(a.ablation!);
if (abl) {
  const dir = a.ablation!;
  const cmp = compareWithPublished(abl.summary);
  await saveFrame(cmp as unknown as Row[], `${dir}/summary`);
  console.log(`${dir}: ${abl.rows.length} runs from ${abl.files.join(", ")}`);
  console.table(cmp);
  console.log(checkPplOrdering(abl.summary).text);
  const rows = abl.rows.map((r) => ({ ...r })) as unknown as Row[];
  await saveChart(
    lineChart({
      data: meanCurves(abl.curves, "valid"),
      x: "step",
      y: "loss",
      color: "variant",
      logY: true,
      points: true,
      title: "Held-out loss, published config on the H100 (WikiText-2 valid)",
      xTitle: "optimizer step (batch 16 × 256 GPT-2 tokens)",
      yTitle: "nats per token (log scale)",
    }),
    `${dir}/val_loss_curves`,
  );
  for (
    const [y, title, yTitle, name] of [
      ["val_loss", "Held-out loss after the run", "nats per token", "val_loss"],
      ["tokens_per_sec", "Training throughput (B 8, T 256)", "tokens/s", "train_tok_s"],
      ["peak_mb", "Peak GPU memory (allocated by tfjs-webgpu)", "MiB", "peak_mib"],
    ] as const
  ) {
    await saveChart(barChart({ data: rows, x: "variant", y, yTitle, title }), `${dir}/${name}`);
  }
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
