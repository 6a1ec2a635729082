/**
 * The GPU half of the benchmark suite: the entry bundled by the device kit (`scripts/gpu_prepare.sh`) and run on
 * the GPU (no native addons there, so it writes CSV and JSON by hand; `scripts/report_device_results.ts` turns
 * them into Parquet and charts here). Same measurements as `bench/run.ts` on a hardware WebGPU adapter, plus the
 * GPU-only ones:
 *
 * - `dispatch`: cost of one tfjs-webgpu kernel launch (chains of 2,000 dependent ops: tiny adds, 4 MiB adds,
 *   512² matmuls), issued vs completed;
 * - `models`: every model of {@linkcode benchVariants} at its published config, B = 8, T = 256 (the reference's
 *   benchmark protocol): training and forward-only tokens/s, peak GPU memory, GPU dispatches per training step,
 *   and how long the host takes to issue one step against how long the step takes, beside the PyTorch reference's
 *   numbers;
 * - `scaling`: the same at T = 256…4096 (B = 8);
 * - `scan`: the diagonal scan (forward + backward) at B = 8, D = 512 per implementation and T;
 * - `optim`: the AdamW step alone (clipped), fused webgpu step vs tf ops: host issue and completion time, tfjs
 *   dispatches and raw buffer copies;
 * - `matmul`: TFLOP/s of the tiled kernel (`src/nn/matmul_webgpu.ts`) on the LM-head, linear and 4096³ shapes,
 *   beside tfjs's own matMul;
 * - `capture`: per model at B = 8, T = 256, the training step uncaptured (`TrainStep.issue`) and captured and
 *   replayed (`CapturedStep`, `src/train/capture.ts`): dispatches per step (uncaptured: tfjs kernels, the fused
 *   AdamW's own dispatch not counted), host ms per step (tfjs issue vs replay encode, and the replay's submit
 *   call apart), wall ms per step and tokens/s over `--steps` deferred steps, and GPU ms per step of a replay
 *   (timestamp queries where the adapter offers 'timestamp-query', and submit-to-done on an idle queue); the
 *   GPU work of a replay is the uncaptured step's, kernel for kernel; then the forward-only loss (evaluation)
 *   through tfjs vs captured (`CapturedLoss`): dispatches, host ms and forward tokens/s. Then, end to end,
 *   `train()` itself with `capture: false` vs `capture: true` for `--capture-train-steps` (20) steps on the same
 *   synthetic data from the same initial weights (checked steps: one host read per step, the NaN guard before
 *   each update, the leak guard; two recorded steps included): wall s, tokens/s over the whole run and the
 *   median of the steps after the recording, and the largest relative difference of the two runs' losses
 *   (`capture_train.csv`).
 *
 * Usage (device): `deno run -A .device/device_bench.js --out $OUT/bench [--sections dispatch,models,scaling,scan,matmul,capture]
 *   [--steps 10] [--warmup 2] [--scaling-models baseline,mhc_adapters] [--scaling-T 256,1024,2048,4096]
 *   [--capture-batch 8] [--capture-seq 256] [--capture-train-steps 20]
 *   [--models baseline,mhc,mhc_adapters,…: the models and capture rows]`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { describeEnvironment, initBackend } from "../src/backend.ts";
import { createModel, type ModelVariant } from "../src/models/registry.ts";
import { measureThroughput } from "../src/eval/throughput.ts";
import { diagScan } from "../src/nn/scan.ts";
import { AdamW } from "../src/train/optim.ts";
import { CapturedLoss, CapturedStep } from "../src/train/capture.ts";
import { train } from "../src/train/trainer.ts";
import { ArrayBatchSource } from "../src/train/batch_source.ts";
import { Rng } from "../src/rng.ts";
import { adamwWebGPUCommands } from "../src/train/adamw_webgpu.ts";
import { type MatmulTile, mmWebGPU, TILE_LARGE, TILE_SMALL } from "../src/nn/matmul_webgpu.ts";
import { benchConfig, benchVariants } from "./model_bench.ts";
import { REFERENCE_H100 } from "./reference.ts";
import { syntheticStep } from "./synthetic_step.ts";
import { toCsv } from "./csv.ts";
import { timeOp } from "./matmul_bench.ts";

const { values: a } = parseArgs({
  options: {
    out: { type: "string", default: "results/bench/h100" },
    sections: { type: "string", default: "dispatch,models,scaling,scan,matmul,capture" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    "scaling-models": { type: "string", default: "baseline,mhc_adapters" },
    "scaling-T": { type: "string", default: "256,1024,2048,4096" },
    backend: { type: "string", default: "webgpu" },
    preset: { type: "string", default: "published" },
    models: { type: "string", default: "" },
    "capture-batch": { type: "string", default: "8" },
    "capture-seq": { type: "string", default: "256" },
    "capture-train-steps": { type: "string", default: "20" },
  },
});
const out = a.out!;
const sections = new Set(a.sections!.split(","));
const steps = Number(a.steps), warmup = Number(a.warmup);
/** The model variants of the models and capture sections: `--models a,b` (names of modelVariants()) or all. */
function selectedVariants(): ModelVariant[] {
  const want = a.models ? new Set(a.models.split(",")) : null;
  const all = benchVariants();
  const unknown = want ? [...want].filter((n) => !all.some((v) => v.name === n)) : [];
  if (unknown.length) {
    throw new Error(
      `--models: unknown ${unknown.join(", ")}; expected some of ${all.map((v) => v.name).join(", ")}.`,
    );
  }
  return want ? all.filter((v) => want.has(v.name)) : all;
}
await Deno.mkdir(out, { recursive: true });
const backend = await initBackend({ backend: a.backend });
const t00 = performance.now();
const secs = () => ((performance.now() - t00) / 1000).toFixed(0);
const env = { ...describeEnvironment(), date: new Date().toISOString(), args: Deno.args };
console.log(JSON.stringify(env));
await Deno.writeTextFile(`${out}/environment.json`, JSON.stringify(env, null, 2) + "\n");

type Row = Record<string, string | number | null>;
async function writeCsv(name: string, rows: Row[]): Promise<void> {
  if (rows.length) await Deno.writeTextFile(`${out}/${name}.csv`, toCsv(rows));
}
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Count the backend's GPU dispatches (tfjs-webgpu `recordAndSubmit` calls) while `fn` runs. */
function countDispatches(fn: () => void): number {
  const be = tf.backend() as unknown as { recordAndSubmit?: (...args: unknown[]) => unknown };
  if (typeof be.recordAndSubmit !== "function") return NaN;
  const orig = be.recordAndSubmit;
  let n = 0;
  be.recordAndSubmit = function (this: unknown, ...args: unknown[]) {
    n++;
    return orig.apply(be, args);
  };
  try {
    fn();
  } finally {
    be.recordAndSubmit = orig;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
if (sections.has("dispatch")) {
  console.log(`\n## dispatch cost [${secs()} s]`);
  const rows: Row[] = [];
  const cases: [string, number[], (x: tf.Tensor, c: tf.Tensor) => tf.Tensor][] = [
    ["add [4]", [4], (x, c) => tf.add(x, c)],
    ["add [1M] (4 MiB)", [1 << 20], (x, c) => tf.add(x, c)],
    ["matmul 512x512", [512, 512], (x, c) => tf.matMul(x, c)],
  ];
  for (const [name, shape, f] of cases) {
    const c = tf.mul(tf.ones(shape), shape.length === 2 ? 1 / 512 : 1e-6);
    for (let rep = 0; rep < 2; rep++) {
      let x = tf.ones(shape);
      await x.data();
      const n = 2000;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const y = f(x, c);
        x.dispose();
        x = y;
      }
      const t1 = performance.now();
      await x.data();
      const t2 = performance.now();
      x.dispose();
      if (rep === 1) {
        const r = {
          case: name,
          ops: n,
          issue_us_per_op: round((t1 - t0) * 1000 / n, 1),
          total_us_per_op: round((t2 - t0) * 1000 / n, 1),
        };
        rows.push(r);
        console.log(JSON.stringify(r));
      }
    }
    c.dispose();
  }
  await writeCsv("dispatch", rows);
}

// ---------------------------------------------------------------------------------------------------------------
/**
 * One training step's dispatches and host issue time vs completion time (after the benchmark's warm-up): the
 * trainer's own step (`TrainStep.issue` of `src/train/step.ts`, through `syntheticStep`).
 */
async function stepAnatomy(model: ReturnType<typeof createModel>, B: number, T: number): Promise<Row> {
  const s = syntheticStep(model, B, T);
  try {
    s.step();
    await s.sync();
    const dispatches = countDispatches(() => s.step());
    await s.sync();
    const t0 = performance.now();
    s.step();
    const t1 = performance.now();
    await s.sync();
    const t2 = performance.now();
    const fwd = countDispatches(() => tf.tidy(() => model.loss(s.x, s.y)));
    return {
      dispatches_per_step: dispatches,
      fwd_dispatches: fwd,
      issue_ms: round(t1 - t0, 1),
      step_ms: round(t2 - t0, 1),
    };
  } finally {
    s.dispose();
  }
}

async function benchModel(
  v: ModelVariant,
  B: number,
  T: number,
  st: number,
  wu: number,
  anatomy: boolean,
): Promise<Row> {
  const name = v.name;
  const model = createModel(benchConfig(v, a.preset!, { maxLen: Math.max(256, T) }), 1337);
  try {
    const params = [...model.weights.values()].reduce((s, w) => s + w.size, 0);
    console.log(`  ${name} B=${B} T=${T}: ${params.toLocaleString("en")} parameters [${secs()} s]`);
    const r = await measureThroughput(model, {
      batch: B,
      seqLen: T,
      warmup: wu,
      steps: st,
      forward: true,
      restoreWeights: false,
    });
    const ref = a.preset === "published" ? REFERENCE_H100[name] : undefined;
    const row: Row = {
      backend,
      model: name,
      preset: a.preset!,
      params,
      B,
      T,
      warmup: wu,
      steps: st,
      train_tok_s: Math.round(r.tokensPerSec ?? 0),
      fwd_tok_s: Math.round(r.forwardTokensPerSec ?? 0),
      peak_mib: round(r.peakBytes / 2 ** 20, 1),
      peak_measure: r.peakMeasure,
      pool_mib: r.memory.gpuAllocatedPeak !== undefined
        ? round(r.memory.gpuAllocatedPeak / 2 ** 20, 1)
        : null,
      final_loss: round(r.finalLoss, 4),
      ref_train_tok_s: ref?.tokS ?? null,
      ref_peak_mib: ref?.peakMiB ?? null,
      ratio_to_ref: ref ? round((r.tokensPerSec ?? 0) / ref.tokS, 3) : null,
    };
    if (anatomy) Object.assign(row, await stepAnatomy(model, B, T));
    return row;
  } finally {
    model.dispose();
  }
}

if (sections.has("models")) {
  console.log(`\n## models, published config, B 8, T 256 [${secs()} s]`);
  const rows: Row[] = [];
  for (const v of selectedVariants()) {
    try {
      const r = await benchModel(v, 8, 256, steps, warmup, true);
      rows.push(r);
      console.log(`[${secs()} s] ${JSON.stringify(r)}`);
    } catch (e) {
      console.log(`[${secs()} s] ${v.name}: FAILED ${(e as Error).message}`);
      rows.push({ model: v.name, error: (e as Error).message });
    }
    await writeCsv("models", rows);
  }
}

if (sections.has("scaling")) {
  console.log(`\n## scaling with T, B 8 [${secs()} s]`);
  const rows: Row[] = [];
  const wanted = a["scaling-models"]!.split(",");
  for (const v of benchVariants().filter((v) => wanted.includes(v.name))) {
    for (const T of a["scaling-T"]!.split(",").map(Number)) {
      try {
        const st = T >= 2048 ? 2 : 4;
        const r = await benchModel(v, 8, T, st, 1, false);
        rows.push(r);
        console.log(`[${secs()} s] ${JSON.stringify(r)}`);
      } catch (e) {
        console.log(`[${secs()} s] ${v.name} T=${T}: FAILED ${(e as Error).message}`);
        rows.push({ model: v.name, T, error: (e as Error).message });
      }
      await writeCsv("scaling", rows);
    }
  }
}

if (sections.has("optim")) {
  console.log(`\n## AdamW step alone: fused webgpu step vs tf ops [${secs()} s]`);
  const rows: Row[] = [];
  for (const v of benchVariants().filter((v) => v.name === "baseline" || v.name === "mhc_adapters")) {
    const model = createModel(benchConfig(v, a.preset!), 1337);
    const s = syntheticStep(model, 2, 64);
    const { value, grads } = s.grads();
    const probe = [...model.weights.values()][0];
    for (const gpuFused of [true, false]) {
      const opt = new AdamW(model.weights, { weightDecay: 0.01, noDecay: model.noDecay ?? [], gpuFused });
      for (let i = 0; i < 2; i++) opt.applyGradients(grads, 1e-6, { clipNorm: 1 }).dispose();
      await probe.data();
      const c0 = { ...adamwWebGPUCommands };
      const dispatches = countDispatches(() => opt.applyGradients(grads, 1e-6, { clipNorm: 1 }).dispose());
      const copies = adamwWebGPUCommands.copies - c0.copies;
      await probe.data();
      const reps = 10;
      let issue = 0;
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) {
        const t = performance.now();
        opt.applyGradients(grads, 1e-6, { clipNorm: 1 }).dispose();
        issue += performance.now() - t;
      }
      await probe.data();
      const r = {
        model: v.name,
        params: opt.flatSize,
        tensors: opt.trainableNames().length,
        step: gpuFused ? "fused webgpu" : "tf ops",
        tfjs_dispatches: dispatches,
        raw_copies: copies,
        issue_ms: round(issue / reps, 2),
        step_ms: round((performance.now() - t0) / reps, 2),
      };
      rows.push(r);
      console.log(JSON.stringify(r));
      opt.dispose();
    }
    tf.dispose([value, ...grads.values()]);
    s.dispose();
    model.dispose();
  }
  await writeCsv("optim", rows);
}

if (sections.has("scan")) {
  console.log(`\n## diagonal scan forward + backward, B 8, D 512 [${secs()} s]`);
  const rows: Row[] = [];
  const B = 8, D = 512;
  for (const T of [256, 1024, 4096]) {
    for (const impl of ["webgpu", "parallel"] as const) {
      const scan = impl === "webgpu" ? diagScan.impls.webgpu! : diagScan.impls.ops;
      const u = tf.randomNormal([B, T, D]) as tf.Tensor3D;
      const av = tf.randomUniform([D], 0.5, 0.999) as tf.Tensor1D;
      const bv = tf.randomNormal([D]) as tf.Tensor1D;
      const f = () => {
        const g = tf.grads((u: tf.Tensor, a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(scan(u as tf.Tensor3D, a as tf.Tensor1D, b as tf.Tensor1D)) as tf.Scalar
        )([u, av, bv]);
        return g;
      };
      try {
        const ms = await timeOp(f, 5);
        const r = { impl, B, D, T, fwd_bwd_ms: round(ms, 3) };
        rows.push(r);
        console.log(JSON.stringify(r));
      } catch (e) {
        rows.push({ impl, B, D, T, error: (e as Error).message });
      }
      tf.dispose([u, av, bv]);
    }
  }
  await writeCsv("scan", rows);
}

if (sections.has("matmul")) {
  console.log(`\n## matmul [${secs()} s]`);
  const rows: Row[] = [];
  const N = 2048, d = 512, V = 50257;
  const x = tf.randomNormal([N, d]) as tf.Tensor2D, E = tf.randomNormal([V, d]) as tf.Tensor2D;
  const Et = tf.transpose(E) as tf.Tensor2D, G = tf.randomNormal([N, V]) as tf.Tensor2D;
  const W = tf.randomNormal([2048, d]) as tf.Tensor2D, y = tf.randomNormal([N, 2048]) as tf.Tensor2D;
  const sq = tf.randomNormal([4096, 4096]) as tf.Tensor2D;
  const plan = (k: number, tile: MatmulTile) => ({
    tile,
    splits: 1,
    kc: Math.ceil(k / tile.bk) * tile.bk,
  });
  const big = 2 * N * d * V;
  const cases: [string, () => tf.Tensor, number][] = [
    ["head fwd x·Eᵀ (tiled, mmWebGPU NT)", () => mmWebGPU(x, E, false, true), big],
    ["head dX G·E (tiled, NN, split-K)", () => mmWebGPU(G, E), big],
    ["head dE Gᵀ·x (tiled, TN)", () => mmWebGPU(G, x, true, false), big],
    [
      "head fwd x·Eᵀ (tiled, 64x64 tiles forced)",
      () => mmWebGPU(x, E, false, true, plan(d, TILE_SMALL)),
      big,
    ],
    ["linear 2048x512 · 512x2048ᵀ (tiled NT)", () => mmWebGPU(x, W, false, true), 2 * N * d * 2048],
    ["linear dW 2048ᵀx512 · 2048x2048 (tiled TN)", () => mmWebGPU(y, x, true, false), 2 * N * d * 2048],
    ["square 4096³ (tiled NN)", () => mmWebGPU(sq, sq), 2 * 4096 ** 3],
    [
      "square 4096³ (tiled, 128x128, k loop not unrolled)",
      () => mmWebGPU(sq, sq, false, false, plan(4096, { ...TILE_LARGE, unroll: false })),
      2 * 4096 ** 3,
    ],
    [
      "square 4096³ (tiled, 64x64, k loop not unrolled)",
      () => mmWebGPU(sq, sq, false, false, plan(4096, { ...TILE_SMALL, unroll: false })),
      2 * 4096 ** 3,
    ],
    [
      "head fwd x·Eᵀ (tiled NT, 128x128, k loop not unrolled)",
      () => mmWebGPU(x, E, false, true, plan(d, { ...TILE_LARGE, unroll: false })),
      big,
    ],
    [
      "square 4096³ (tiled, 64x64 tiles forced)",
      () => mmWebGPU(sq, sq, false, false, plan(4096, TILE_SMALL)),
      2 * 4096 ** 3,
    ],
    ["head fwd x·Eᵀ (tfjs vec4 on E untransposed copy)", () => tf.matMul(x, Et), big],
    ["head fwd x·Eᵀ (tf.matMul transposeB)", () => tf.matMul(x, E, false, true), big],
    ["square 4096³ (tf.matMul)", () => tf.matMul(sq, sq), 2 * 4096 ** 3],
  ];
  for (const [name, f, flops] of cases) {
    const ms = await timeOp(f, 5);
    const r = { case: name, ms: round(ms, 2), tflops: round(flops / ms / 1e9, 2) };
    rows.push(r);
    console.log(JSON.stringify(r));
  }
  tf.dispose([x, E, Et, G, W, y, sq]);
  await writeCsv("matmul", rows);
}
// ---------------------------------------------------------------------------------------------------------------
/** The training step uncaptured vs captured and replayed (see the module notes). */
async function benchCapture(v: ModelVariant, B: number, T: number, st: number): Promise<Row[]> {
  const model = createModel(benchConfig(v, a.preset!, { maxLen: Math.max(256, T) }), 1337);
  const s = syntheticStep(model, B, T);
  const micro = [{ ids: s.x, targets: s.y }];
  let n = 0;
  const input = () => ({ micro, lr: 1e-4, step: ++n });
  const rows: Row[] = [];
  try {
    for (let i = 0; i < 2; i++) s.trainStep.issue(input());
    await s.trainStep.flush();
    const dispatches = countDispatches(() => s.trainStep.issue(input()));
    await s.trainStep.flush();
    let host = 0;
    const t0 = performance.now();
    for (let i = 0; i < st; i++) {
      const t = performance.now();
      s.trainStep.issue(input());
      host += performance.now() - t;
    }
    await s.trainStep.flush();
    const wall = (performance.now() - t0) / st;
    rows.push({
      model: v.name,
      B,
      T,
      mode: "uncaptured",
      dispatches_per_step: dispatches,
      host_ms_per_step: round(host / st, 2),
      step_ms: round(wall, 2),
      train_tok_s: Math.round(B * T / wall * 1000),
    });
    const cap = new CapturedStep(s.trainStep);
    try {
      for (let i = 0; i < 6 && cap.counts.captures === 0 && !cap.fallbackReason(); i++) cap.issue(input());
      await cap.flush();
      if (cap.counts.captures === 0) {
        rows.push({ model: v.name, B, T, mode: "captured", error: cap.fallbackReason() ?? "not captured" });
        return rows;
      }
      host = 0;
      let submit = 0;
      const t1 = performance.now();
      for (let i = 0; i < st; i++) {
        cap.issue(input());
        host += cap.lastEncodeMs;
        submit += cap.lastSubmitMs;
      }
      await cap.flush();
      const wallC = (performance.now() - t1) / st;
      const timed = [];
      for (let i = 0; i < 3; i++) timed.push(await cap.timeReplay(input()));
      await cap.flush();
      const ok = timed.filter((t) => t !== null);
      const gpu = ok.map((t) => t.gpuMs).filter((x): x is number => x !== null);
      const median = (xs: number[]) => xs.length ? [...xs].sort((p, q) => p - q)[xs.length >> 1] : NaN;
      rows.push({
        model: v.name,
        B,
        T,
        mode: "captured",
        dispatches_per_step: cap.dispatches,
        host_ms_per_step: round(host / st, 2),
        host_submit_ms_per_step: round(submit / st, 2),
        step_ms: round(wallC, 2),
        train_tok_s: Math.round(B * T / wallC * 1000),
        gpu_ms_per_step: gpu.length ? round(median(gpu), 2) : null,
        gpu_measure: gpu.length ? "timestamp-query" : "submit-to-done",
        submit_to_done_ms: round(median(ok.map((t) => t.submitToDoneMs)), 2),
        recorded_steps: cap.counts.recorded,
        pinned_mib: round(cap.pinnedBytes / 2 ** 20, 1),
      });
    } finally {
      cap.dispose();
    }
    rows.push(...await benchCapturedForward(v.name, model, s.x, s.y, st));
    return rows;
  } finally {
    s.dispose();
    model.dispose();
  }
}

/** Forward-only loss (evaluation) through tfjs vs captured and replayed ({@linkcode CapturedLoss}). */
async function benchCapturedForward(
  name: string,
  model: ReturnType<typeof createModel>,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  st: number,
): Promise<Row[]> {
  const [B, T] = x.shape;
  const fwd = () => tf.tidy(() => model.loss(x, y));
  const last = async (l: tf.Scalar) => {
    await l.data();
    l.dispose();
  };
  await last(fwd());
  const dispatches = countDispatches(() => fwd().dispose());
  let host = 0;
  const t0 = performance.now();
  let l: tf.Scalar | null = null;
  for (let i = 0; i < st; i++) {
    l?.dispose();
    const t = performance.now();
    l = fwd();
    host += performance.now() - t;
  }
  await last(l!);
  const wall = (performance.now() - t0) / st;
  const rows: Row[] = [{
    model: name,
    B,
    T,
    mode: "forward uncaptured",
    dispatches_per_step: dispatches,
    host_ms_per_step: round(host / st, 2),
    step_ms: round(wall, 2),
    fwd_tok_s: Math.round(B * T / wall * 1000),
  }];
  const ev = new CapturedLoss(model);
  try {
    for (let i = 0; i < 4; i++) ev.issue(x, y);
    await ev.flush();
    if (ev.counts.captures === 0) {
      rows.push({
        model: name,
        B,
        T,
        mode: "forward captured",
        error: ev.fallbackReason() ?? "not captured",
      });
      return rows;
    }
    host = 0;
    const t1 = performance.now();
    for (let i = 0; i < st; i++) {
      const t = performance.now();
      ev.issue(x, y);
      host += performance.now() - t;
    }
    await ev.flush();
    const wallC = (performance.now() - t1) / st;
    rows.push({
      model: name,
      B,
      T,
      mode: "forward captured",
      dispatches_per_step: ev.dispatches,
      host_ms_per_step: round(host / st, 2),
      step_ms: round(wallC, 2),
      fwd_tok_s: Math.round(B * T / wallC * 1000),
      recorded_steps: ev.counts.recorded,
      replayed_steps: ev.counts.replayed,
    });
  } finally {
    ev.dispose();
  }
  return rows;
}

/**
 * `train()` end to end, `capture` off vs on: `st` steps of the published config on synthetic tokens, each run
 * from the same initial weights and data order (a short run of each mode first compiles the pipelines).
 */
async function benchCaptureTrain(v: ModelVariant, B: number, T: number, st: number): Promise<Row[]> {
  const cfg = benchConfig(v, a.preset!, { maxLen: Math.max(256, T) });
  const rows: Row[] = [];
  const losses: Record<string, number[]> = {};
  for (
    const [capture, n, timed] of [[false, 3, false], [true, 4, false], [false, st, true], [
      true,
      st,
      true,
    ]] as const
  ) {
    const model = createModel(cfg, 1337);
    const r = new Rng(7); // the same tokens for both modes
    const tokens = Int32Array.from({ length: n * B * T + 1 }, () => r.int(cfg.vocabSize));
    const rng = new Rng(1);
    const data = new ArrayBatchSource(tokens, { batch: B, seqLen: T, shuffle: false, dropLast: true });
    try {
      const t0 = performance.now();
      const h = await train({
        model,
        data,
        rng,
        rngs: (model as { rngs?: Record<string, Rng> }).rngs,
        steps: n,
        lr: 3e-4,
        weightDecay: 0.1,
        gradClip: 1,
        progress: "none",
        capture,
      });
      const wall = (performance.now() - t0) / 1000;
      if (!timed) continue;
      losses[String(capture)] = h.map((x) => x.loss);
      const steady = h.slice(3).map((x) => x.tokensPerSec).sort((p, q) => p - q);
      rows.push({
        model: v.name,
        B,
        T,
        mode: capture ? "train() captured" : "train() uncaptured",
        steps: n,
        wall_s: round(wall, 3),
        train_tok_s_run: Math.round(n * B * T / wall),
        train_tok_s_median_after_step_3: Math.round(steady[steady.length >> 1] ?? NaN),
        first_loss: round(h[0].loss, 5),
        last_loss: round(h[h.length - 1].loss, 5),
      });
    } finally {
      model.dispose();
    }
  }
  const [u, c] = [losses["false"], losses["true"]];
  if (u && c) {
    let d = 0;
    u.forEach((x, i) => d = Math.max(d, Math.abs(c[i] - x) / Math.max(1, Math.abs(x))));
    for (const row of rows) row.max_rel_loss_diff = d;
    const [ru, rc] = rows;
    rc.speedup = round(Number(rc.train_tok_s_run) / Number(ru.train_tok_s_run), 3);
  }
  return rows;
}

if (sections.has("capture")) {
  const B = Number(a["capture-batch"]), T = Number(a["capture-seq"]);
  console.log(`\n## captured training step vs uncaptured, B ${B}, T ${T} [${secs()} s]`);
  const rows: Row[] = [];
  for (const v of selectedVariants()) {
    try {
      for (const r of await benchCapture(v, B, T, Math.max(steps, 10))) {
        rows.push(r);
        console.log(`[${secs()} s] ${JSON.stringify(r)}`);
      }
    } catch (e) {
      console.log(`[${secs()} s] ${v.name}: FAILED ${(e as Error).message}`);
      rows.push({ model: v.name, error: (e as Error).message });
    }
    await writeCsv("capture", rows);
  }
  console.log(`\n## train() end to end, capture off vs on, B ${B}, T ${T} [${secs()} s]`);
  const trainRows: Row[] = [];
  for (const v of selectedVariants()) {
    try {
      for (const r of await benchCaptureTrain(v, B, T, Number(a["capture-train-steps"]))) {
        trainRows.push(r);
        console.log(`[${secs()} s] ${JSON.stringify(r)}`);
      }
    } catch (e) {
      console.log(`[${secs()} s] ${v.name}: train() FAILED ${(e as Error).message}`);
      trainRows.push({ model: v.name, error: (e as Error).message });
    }
    await writeCsv("capture_train", trainRows);
  }
}
console.log(`\ndevice bench finished in ${secs()} s; outputs in ${out}/`);
