/**
 * The character curriculum experiment (docs/models/char_curriculum.md): train stage 1 (the diffusion character
 * map), stage 2 (tinySSM on the frozen map) and stage 3 (mainSSM on frozen stages 1–2) one after the other, each
 * checkpointed in its own folder and loaded frozen by the next; then bits per character on held-out text, BLiMP
 * per stage (per paradigm, per phenomenon, overall; scoring variant named) and a greedy / sampled text probe.
 *
 * The post's open question (why mainSSM does not help) is a list of stage-3 variants run from the same frozen
 * stage 2 ({@linkcode OPEN_QUESTION_VARIANTS}): each loss, zero-init gate vs a plain residual, frozen vs unfrozen,
 * a longer context, and the control that matters most — stage 2 itself trained on for the same budget.
 *
 * @module
 */
import { join } from "node:path";
import {
  charConfig,
  type CharCurriculumConfig,
  CharCurriculumModel,
  type CharLoss,
  type CharStageKind,
  stageFrozenPrefixes,
} from "../models/char_curriculum.ts";
import { ArrayBatchSource } from "../train/batch_source.ts";
import { loadFrozenSubmodules } from "../train/checkpoint.ts";
import { type StepRecord, train } from "../train/trainer.ts";
import type { ScheduleName } from "../train/schedule.ts";
import { batchLosses } from "../eval/perplexity.ts";
import { type BlimpEvalPair, type BlimpResult, type BlimpVariant, evaluateBlimp } from "../eval/blimp.ts";
import { generate } from "../eval/generate.ts";
import { AsciiTokenizer } from "../tokenizers/ascii.ts";
import { Rng } from "../rng.ts";

/** How one stage is trained. */
export interface CharStageTraining {
  /** Optimizer steps (overrides `epochs`). */
  steps?: number;
  /** Epochs over the training stream (default 1, the post's budget). */
  epochs?: number;
  /** Rows per batch (default 32). */
  batch?: number;
  /** Characters per row (default 256). */
  seqLen?: number;
  /** Peak learning rate (default 2e-3; stage 1: 1e-2). */
  lr?: number;
  /** Schedule (default "cosine", decaying to lr / 10 at the last step). */
  schedule?: ScheduleName;
  /** AdamW weight decay (default 0). */
  weightDecay?: number;
  /** Checkpoint every N steps (default 500; a final checkpoint is always written). */
  saveEvery?: number;
  /** Validation loss every N steps (default 0: only at the end). */
  evalEvery?: number;
}

/** One stage-3 run of the open-question experiment, from the same frozen stages 1–2. */
export interface CharStage3Variant {
  /** Row name (also its checkpoint folder). */
  name: string;
  /** Training loss (default: the stage-2 model config's, soft-NN). */
  loss?: CharLoss;
  /** mainSSM's gate at init (default "zero"). */
  gateInit?: "zero" | "one";
  /** Train every parameter, stages 1–2 included (default false: they stay frozen). */
  unfreeze?: boolean;
  /** Train with this many characters per row instead of stage 3's `seqLen` (the longer-context probe). */
  seqLen?: number;
  /** The control: keep training tinySSM (stage 2) itself for stage 3's budget, instead of adding mainSSM. */
  continueTiny?: boolean;
}

/** The stage-3 variants of issue 14 item 8. */
export const OPEN_QUESTION_VARIANTS: readonly CharStage3Variant[] = [
  { name: "main_softnn" },
  { name: "main_mse", loss: "mse" },
  { name: "main_cosine", loss: "cosine" },
  { name: "main_mix", loss: "mix" },
  { name: "main_softnn_gate_one", gateInit: "one" },
  { name: "main_softnn_unfrozen", unfreeze: true },
  { name: "main_softnn_ctx4x", seqLen: 1024 },
  { name: "tiny_continued", continueTiny: true },
];

/** A named BLiMP set (e.g. "blimp" and "blimp_filtered"). */
export interface CharBlimpSet {
  /** Set name in the result tables. */
  name: string;
  /** Its pairs. */
  pairs: readonly BlimpEvalPair[];
}

/** Options of {@linkcode runCharCurriculum}. */
export interface CharCurriculumOptions {
  /** Training ids (ASCII codes, 0 = EOS between lines), e.g. `cleanCharCorpus(...).train`. */
  train: Uint8Array | Int32Array;
  /** Held-out ids for bits per character. */
  valid: Uint8Array | Int32Array;
  /** Folder of the stage checkpoints (`stage1/`, `stage2/`, `stage3_<variant>/`); an existing run resumes. */
  outDir: string;
  /** Model preset (default "published": d = 512, r = 256). */
  preset?: string;
  /** Config fields over the preset (all stages). */
  model?: Partial<CharCurriculumConfig>;
  /** Training of each stage (stage 3's also applies to every variant). */
  stages?: { 1?: CharStageTraining; 2?: CharStageTraining; 3?: CharStageTraining };
  /** Stage-3 variants (default: one, "main_softnn"). */
  variants?: readonly CharStage3Variant[];
  /** BLiMP sets to score every language-model stage on (default none). */
  blimp?: readonly CharBlimpSet[];
  /** BLiMP scoring variant (default "eos-prefixed": every character scored after the line-start EOS). */
  blimpVariant?: BlimpVariant;
  /** Sentences per BLiMP forward pass (default 64). */
  blimpBatch?: number;
  /** At most this many held-out batches for bits/char (default all). */
  bpcBatches?: number;
  /** Probe prompts (default a few sentence starts); empty for none. */
  probePrompts?: readonly string[];
  /** Characters generated per probe (default 120). */
  probeChars?: number;
  /** Seed of every initial value, data order and noise (default 1337). */
  seed?: number;
  /** One line of progress (default none). */
  log?: (line: string) => void;
  /** Called with the result so far after each stage (e.g. to write partial results). */
  onStage?: (partial: CharCurriculumResult) => void | Promise<void>;
  /**
   * Stop training at this time (`performance.now()` milliseconds): the last completed step is checkpointed and
   * {@linkcode CharTimeUp} is thrown; the same call again resumes there.
   */
  deadline?: number;
}

/** Thrown when `deadline` passes during training; the run is checkpointed and resumes on the next call. */
export class CharTimeUp extends Error {
  /**
   * The error for an interrupted stage.
   * @param stage the row name of the stage that was interrupted
   */
  constructor(readonly stage: string) {
    super(
      `The time limit was reached while training "${stage}"; its last step is saved: run again to resume.`,
    );
    this.name = "CharTimeUp";
  }
}

/** One stage's summary row. */
export interface CharStageRow {
  /** "stage1", "stage2", or the stage-3 variant's name. */
  model: string;
  /** 1, 2 or 3 ("tiny_continued" is a stage-2 model). */
  stage: number;
  /** All parameters of the model (frozen predecessors included). */
  params: number;
  /** Parameters trained in this stage. */
  trainable: number;
  /** Optimizer steps. */
  steps: number;
  /** Characters trained on (steps × batch × seqLen). */
  chars: number;
  /** Seconds of training steps (forward, backward, update; no evaluation or saving), summed over sessions. */
  seconds: number;
  /** Characters trained per second of training steps, over every session of the stage (`timing.json`). */
  charsPerSec: number;
  /** Last training loss. */
  finalLoss: number;
  /** Held-out loss (the stage's training loss; stage 1: denoising MSE). */
  valLoss: number;
  /** Bits per character on the held-out text (null for stage 1). */
  bpc: number | null;
  /** BLiMP overall per set name (mean over paradigms). */
  blimp: Record<string, number>;
}

/** One point of a loss curve. */
export interface CharCurvePoint {
  /** Row name of the model. */
  model: string;
  /** Step. */
  step: number;
  /** Training loss. */
  loss: number;
  /** Validation loss, on evaluation steps. */
  valLoss?: number;
}

/** BLiMP accuracy of one model on one set, one paradigm or phenomenon. */
export interface CharBlimpRow {
  /** Row name of the model. */
  model: string;
  /** BLiMP set name. */
  set: string;
  /** Scoring variant. */
  variant: BlimpVariant;
  /** "paradigm", "phenomenon" or "overall". */
  level: "paradigm" | "phenomenon" | "overall";
  /** Paradigm uid, phenomenon name, or "overall". */
  name: string;
  /** Phenomenon of a paradigm row. */
  phenomenon: string;
  /** Accuracy in [0, 1]. */
  accuracy: number;
}

/** One probe generation. */
export interface CharProbeRow {
  /** Row name of the model. */
  model: string;
  /** "greedy" or "sampled" (temperature 0.8). */
  mode: "greedy" | "sampled";
  /** The prompt. */
  prompt: string;
  /** The generated continuation (without the prompt). */
  text: string;
}

/** The result of {@linkcode runCharCurriculum}. */
export interface CharCurriculumResult {
  /** One row per stage / variant. */
  rows: CharStageRow[];
  /** Loss curves of every stage. */
  curves: CharCurvePoint[];
  /** BLiMP per paradigm, phenomenon and overall. */
  blimp: CharBlimpRow[];
  /** Probe generations. */
  probe: CharProbeRow[];
}

const DEFAULT_PROMPTS = ["The cat ", "Once upon a time ", "I think that "];

function stageTraining(
  opts: CharCurriculumOptions,
  stage: 1 | 2 | 3,
): Required<Omit<CharStageTraining, "steps">> & {
  steps?: number;
} {
  const t = opts.stages?.[stage] ?? {};
  return {
    steps: t.steps,
    epochs: t.epochs ?? 1,
    batch: t.batch ?? 32,
    seqLen: t.seqLen ?? 256,
    lr: t.lr ?? (stage === 1 ? 1e-2 : 2e-3),
    schedule: t.schedule ?? "cosine",
    weightDecay: t.weightDecay ?? 0,
    saveEvery: t.saveEvery ?? 500,
    evalEvery: t.evalEvery ?? 0,
  };
}

/** Context of one stage's training. */
interface StageJob {
  model: string;
  kind: CharStageKind;
  config: CharCurriculumConfig;
  dir: string;
  prev: string | null;
  /** Weight prefixes loaded from `prev`. */
  load: string[];
  /** Of those, the ones kept frozen (unless `unfreeze`). */
  freeze: string[];
  unfreeze: boolean;
  training: ReturnType<typeof stageTraining>;
}

/** Build, load predecessors frozen, train (resuming), and summarise one stage; the model stays alive. */
async function runStage(job: StageJob, opts: CharCurriculumOptions): Promise<{
  model: CharCurriculumModel;
  row: CharStageRow;
  curve: CharCurvePoint[];
}> {
  const seed = opts.seed ?? 1337;
  const model = new CharCurriculumModel(job.config, seed);
  try {
    let frozen: string[] = [];
    if (job.prev) {
      const loaded = await loadFrozenSubmodules(model, job.prev, { prefixes: job.load });
      frozen = job.unfreeze ? [] : loaded.filter((n) => job.freeze.some((p) => n.startsWith(p)));
    }
    const t = job.training;
    const rng = new Rng(seed + 10);
    const data = new ArrayBatchSource(Int32Array.from(opts.train), {
      batch: t.batch,
      seqLen: t.seqLen,
      rng,
      name: "the training characters",
      dropLast: true,
    });
    const valData = () =>
      new ArrayBatchSource(Int32Array.from(opts.valid), { batch: t.batch, seqLen: t.seqLen, shuffle: false });
    const session = { steps: 0, seconds: 0 };
    const record = () => addTiming(job.dir, session);
    let history: StepRecord[];
    try {
      history = await train({
        model,
        data,
        valData,
        steps: t.steps,
        epochs: t.steps === undefined ? t.epochs : undefined,
        lr: t.lr,
        schedule: t.schedule === "cosine" ? { name: "cosine", minLr: t.lr / 10 } : t.schedule,
        weightDecay: t.weightDecay,
        frozen,
        evalEvery: t.evalEvery,
        evalBatches: opts.bpcBatches,
        saveEvery: t.saveEvery,
        keepLast: 2,
        outDir: job.dir,
        resume: true,
        rng,
        rngs: model.rngs,
        seed,
        progress: "none",
        onStep: (r) => {
          session.steps++;
          session.seconds += (t.batch * t.seqLen) / r.tokensPerSec;
          if (opts.deadline !== undefined && performance.now() > opts.deadline) {
            throw new CharTimeUp(job.model);
          }
          if (r.step % 100 === 0) opts.log?.(`${job.model} step ${r.step} loss ${r.loss.toFixed(4)}`);
        },
      });
    } catch (e) {
      if (e instanceof CharTimeUp) await record();
      throw e;
    }
    const timing = await record();
    const last = history[history.length - 1];
    const trainable = [...model.weights].filter(([n]) => !frozen.includes(n)).reduce(
      (a, [, v]) => a + v.size,
      0,
    );
    const valLoss = await heldOutLoss(model, opts, t, "loss");
    const bpc = model.stage === 1 ? null : (await heldOutLoss(model, opts, t, "logprobs")) / Math.LN2;
    const row: CharStageRow = {
      model: job.model,
      stage: model.stage,
      params: model.numParams(),
      trainable,
      steps: last?.step ?? 0,
      chars: (last?.step ?? 0) * t.batch * t.seqLen,
      seconds: timing.seconds,
      charsPerSec: timing.seconds > 0 ? (timing.steps * t.batch * t.seqLen) / timing.seconds : 0,
      finalLoss: last?.loss ?? NaN,
      valLoss,
      bpc,
      blimp: {},
    };
    const curve = history.map((r) => ({ model: job.model, step: r.step, loss: r.loss, valLoss: r.valLoss }));
    opts.log?.(
      `${job.model}: ${row.steps} steps, ${row.charsPerSec.toFixed(0)} chars/s, val ${valLoss.toFixed(4)}`,
    );
    return { model, row, curve };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Add one session's training steps and seconds to `dir/timing.json`; returns the totals. */
async function addTiming(
  dir: string,
  session: { steps: number; seconds: number },
): Promise<{ steps: number; seconds: number }> {
  const file = join(dir, "timing.json");
  let prev = { steps: 0, seconds: 0 };
  try {
    prev = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new Error(`Cannot read "${file}": ${(e as Error).message}.`);
    }
  }
  const total = { steps: prev.steps + session.steps, seconds: prev.seconds + session.seconds };
  if (session.steps > 0) {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(file, JSON.stringify(total));
  }
  return total;
}

/** Mean held-out loss (nats) over at most `bpcBatches` batches. */
async function heldOutLoss(
  model: CharCurriculumModel,
  opts: CharCurriculumOptions,
  t: { batch: number; seqLen: number },
  source: "loss" | "logprobs",
): Promise<number> {
  const src = new ArrayBatchSource(Int32Array.from(opts.valid), {
    batch: t.batch,
    seqLen: t.seqLen,
    shuffle: false,
    name: "the held-out characters",
  });
  const { values } = await batchLosses(model, src, {
    source,
    maxBatches: opts.bpcBatches,
    what: "the held-out text",
  });
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** BLiMP rows (paradigm, phenomenon, overall) of one result. */
export function blimpRows(model: string, set: string, r: BlimpResult): CharBlimpRow[] {
  return [
    ...r.perParadigm.map((p) => ({
      model,
      set,
      variant: r.variant,
      level: "paradigm" as const,
      name: p.uid,
      phenomenon: p.phenomenon,
      accuracy: p.accuracy,
    })),
    ...r.perPhenomenon.map((p) => ({
      model,
      set,
      variant: r.variant,
      level: "phenomenon" as const,
      name: p.phenomenon,
      phenomenon: p.phenomenon,
      accuracy: p.accuracy,
    })),
    {
      model,
      set,
      variant: r.variant,
      level: "overall",
      name: "overall",
      phenomenon: "",
      accuracy: r.overall,
    },
  ];
}

/** BLiMP and the probe of a language-model stage, added to `out`. */
async function evaluateStage(
  model: CharCurriculumModel,
  row: CharStageRow,
  opts: CharCurriculumOptions,
  out: CharCurriculumResult,
): Promise<void> {
  const tok = new AsciiTokenizer();
  for (const set of opts.blimp ?? []) {
    const r = await evaluateBlimp(model, tok, set.pairs, {
      variant: opts.blimpVariant ?? "eos-prefixed",
      batchSize: opts.blimpBatch ?? 64,
    });
    row.blimp[set.name] = r.overall;
    out.blimp.push(...blimpRows(row.model, set.name, r));
    opts.log?.(`${row.model} BLiMP ${set.name} (${r.variant}): ${(100 * r.overall).toFixed(2)}%`);
  }
  for (const prompt of opts.probePrompts ?? DEFAULT_PROMPTS) {
    const ids = [0, ...tok.encode(prompt)];
    for (const mode of ["greedy", "sampled"] as const) {
      const seq = await generate(model, ids, {
        maxNewTokens: opts.probeChars ?? 120,
        greedy: mode === "greedy",
        temperature: mode === "greedy" ? 0 : 0.8,
        seed: opts.seed ?? 1337,
        eosId: 0,
      });
      out.probe.push({ model: row.model, mode, prompt, text: tok.decode(seq.slice(ids.length)) });
    }
  }
}

/**
 * Run the curriculum: stage 1, stage 2 on frozen stage 1, then every stage-3 variant on frozen stages 1–2;
 * evaluate each language-model stage. Checkpoints go to `outDir`; calling again resumes (finished stages are
 * loaded, not retrained).
 *
 * @example
 * ```ts
 * // const c = cleanCharCorpus(await loadBabyLM({ dir: "data/samples/babylm" }));
 * // const r = await runCharCurriculum({ train: c.train, valid: c.valid, outDir: "runs/char", preset: "tiny",
 * //   stages: { 1: { steps: 20 }, 2: { steps: 50 }, 3: { steps: 50 } } });
 * // console.table(r.rows);
 * ```
 */
export async function runCharCurriculum(opts: CharCurriculumOptions): Promise<CharCurriculumResult> {
  const preset = opts.preset ?? "published";
  const cfg = (kind: CharStageKind, o: Partial<CharCurriculumConfig> = {}) =>
    charConfig(kind, { ...opts.model, ...o }, preset);
  const out: CharCurriculumResult = { rows: [], curves: [], blimp: [], probe: [] };
  const dir = (name: string) => join(opts.outDir, name);
  const s1 = await runStage({
    model: "stage1",
    kind: "char_encoder",
    config: cfg("char_encoder"),
    dir: dir("stage1"),
    prev: null,
    load: [],
    freeze: [],
    unfreeze: false,
    training: stageTraining(opts, 1),
  }, opts);
  s1.model.dispose();
  out.rows.push(s1.row);
  out.curves.push(...s1.curve);
  await opts.onStage?.(out);
  const stages: StageJob[] = [{
    model: "stage2",
    kind: "char_tiny",
    config: cfg("char_tiny"),
    dir: dir("stage2"),
    prev: dir("stage1"),
    load: stageFrozenPrefixes("char_tiny"),
    freeze: stageFrozenPrefixes("char_tiny"),
    unfreeze: false,
    training: stageTraining(opts, 2),
  }];
  for (const v of opts.variants ?? [{ name: "main_softnn" }]) {
    const t3 = stageTraining(opts, 3);
    const kind: CharStageKind = v.continueTiny ? "char_tiny" : "char_main";
    const over: Partial<CharCurriculumConfig> = {
      ...(v.loss ? { loss: v.loss } : {}),
      ...(v.gateInit ? { gateInit: v.gateInit } : {}),
    };
    stages.push({
      model: v.name,
      kind,
      config: cfg(kind, over),
      dir: dir(`stage3_${v.name}`),
      prev: dir("stage2"),
      load: ["enc.", "tiny."],
      freeze: v.continueTiny ? ["enc."] : stageFrozenPrefixes("char_main"),
      unfreeze: v.unfreeze ?? false,
      training: { ...t3, seqLen: v.seqLen ?? t3.seqLen },
    });
  }
  for (const job of stages) {
    const s = await runStage(job, opts);
    try {
      out.curves.push(...s.curve);
      await evaluateStage(s.model, s.row, opts, out);
      out.rows.push(s.row);
      await opts.onStage?.(out);
    } finally {
      s.model.dispose();
    }
  }
  return out;
}

/** One stage-3 variant against stage 2 (and against the stage-2 control trained on for the same budget). */
export interface CharStage3Comparison {
  /** Variant row name. */
  model: string;
  /** Its bits/char minus stage 2's (negative = better). */
  dBpc: number | null;
  /** Its BLiMP overall minus stage 2's, in points, per set. */
  dBlimp: Record<string, number>;
  /** Its bits/char minus the `tiny_continued` control's (when that ran). */
  dBpcVsControl: number | null;
}

/**
 * Stage-3 variants (every row after stage 2) compared with stage 2 and with the `tiny_continued` control.
 *
 * @example
 * ```ts
 * // compareStage3(result.rows) → [{ model: "main_softnn", dBpc: -0.01, dBlimp: { blimp: 0.4 }, dBpcVsControl: 0.002 }, …]
 * ```
 */
export function compareStage3(rows: readonly CharStageRow[]): CharStage3Comparison[] {
  const s2 = rows.find((r) => r.model === "stage2");
  if (!s2) return [];
  const control = rows.find((r) => r.model === "tiny_continued");
  const diff = (a: number | null, b: number | null | undefined) => (a === null || b == null ? null : a - b);
  return rows.filter((r) => r.model !== "stage1" && r.model !== "stage2").map((r) => ({
    model: r.model,
    dBpc: diff(r.bpc, s2.bpc),
    dBlimp: Object.fromEntries(
      Object.entries(r.blimp).map(([k, v]) => [k, 100 * (v - (s2.blimp[k] ?? NaN))]),
    ),
    dBpcVsControl: r === control ? null : diff(r.bpc, control?.bpc),
  }));
}

/**
 * A finished (or partial) GPU run written by `bench/char_curriculum_device.ts` (its `result.json`), with the
 * cleaning report when present; null when the folder has no `result.json`.
 */
export async function loadCharResults(
  dir: string,
): Promise<(CharCurriculumResult & { cleaning: unknown; config: unknown; status: unknown }) | null> {
  const read = async (name: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(join(dir, name)));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw new Error(`Cannot read "${join(dir, name)}": ${(e as Error).message}.`);
    }
  };
  const r = await read("result.json");
  if (!r) return null;
  return {
    rows: r.rows ?? [],
    curves: r.curves ?? [],
    blimp: r.blimp ?? [],
    probe: r.probe ?? [],
    cleaning: await read("cleaning.json"),
    config: await read("config.json"),
    status: await read("status.json"),
  };
}

/** Rows for charts and tables: the summary with BLiMP per set as columns (`blimp_<set>`). */
export function charSummaryRows(rows: readonly CharStageRow[]): Record<string, number | string | null>[] {
  return rows.map(({ blimp, ...r }) => ({
    ...r,
    ...Object.fromEntries(Object.entries(blimp).map(([k, v]) => [`blimp_${k}`, v])),
  }));
}
