/**
 * One comparison across every architecture of ssmlab (issue 15, docs/architectures.md): the diagonal-SSM
 * baseline, static mHC, mHC + stream adapters, H3, HSSM and the character curriculum (tinySSM, then mainSSM on
 * the frozen tinySSM), trained on the same corpus with the same budget in **words** seen, then compared on
 * held-out bits per character (comparable across tokenizers), BLiMP per phenomenon, throughput and memory.
 *
 * Bits per character: the held-out lines are encoded by each row's tokenizer with an EOS before the first line
 * and after every line, so every token of the text is predicted; bits/char = total nats over those predictions /
 * (ln 2 · characters of the held-out text), the characters being the lines' code points plus one newline per line
 * ({@linkcode bitsPerChar}, {@linkcode heldOutText}).
 *
 * Pure computation: returns plain rows (no Polars), so a GPU entry (`bench/architectures_device.ts`) bundles it;
 * tables and charts are in `architectures_report.ts`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { createModel, modelConfig } from "../models/registry.ts";
import { type LanguageModel, type ModelConfig, parameterCount } from "../models/types.ts";
import { ArrayBatchSource, type Batch } from "../train/batch_source.ts";
import { type StepRecord, train } from "../train/trainer.ts";
import { batchLosses } from "../eval/perplexity.ts";
import { measureThroughput } from "../eval/throughput.ts";
import { type BlimpEvalPair, type BlimpResult, type BlimpVariant, evaluateBlimp } from "../eval/blimp.ts";
import { loadCheckpoint, resolveCheckpoint, restoreModel } from "../train/checkpoint.ts";
import { wordsPerToken } from "../eval/blimp_milestones.ts";
import { tokenizeLines } from "../data/batches.ts";
import { cleanCharCorpus } from "../data/char_corpus.ts";
import { getTokenizer } from "../tokenizers/types.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { AsciiTokenizer } from "../tokenizers/ascii.ts";
import { currentBackend } from "../backend.ts";
import { runCharCurriculum } from "./char_curriculum.ts";

/** One row of the comparison: a registered kind and the config fields that set it apart. */
export interface ArchitectureSpec {
  /** Row name in the table, curves and BLiMP rows. */
  name: string;
  /** A registered model kind; `char_tiny` / `char_main` rows are trained by the character curriculum. */
  kind: string;
  /** "token": trained here on the row tokenizer's ids; "char": a stage of the character curriculum. */
  pipeline: "token" | "char";
  /** Config fields of this row at every size. */
  overrides?: Record<string, unknown>;
  /** Config fields over the "published" preset that give ≈ 30 M parameters at the GPT-2 vocabulary. */
  full?: Record<string, unknown>;
}

/**
 * Every architecture, as data. Baseline and mHC keep the reference's published size (32–34 M at GPT-2's
 * vocabulary); H3 uses its `small30m` fields; HSSM is shrunk from Config A (73.8 M at its 20k vocabulary, 89 M at
 * GPT-2's) to d 320, 4 blocks, experts of 512; the character curriculum keeps the post's sizes (< 1 M).
 */
export const ARCHITECTURES: readonly ArchitectureSpec[] = [
  { name: "baseline", kind: "baseline", pipeline: "token" },
  { name: "mhc", kind: "mhc", pipeline: "token", overrides: { streamAdapters: false } },
  { name: "mhc_adapters", kind: "mhc", pipeline: "token", overrides: { streamAdapters: true } },
  { name: "h3", kind: "h3", pipeline: "token", full: { dim: 384, layers: 6 } },
  {
    name: "hssm",
    kind: "hssm",
    pipeline: "token",
    full: { dim: 320, numBlocks: 4, expertDim: 512, dtRank: 20 },
  },
  { name: "char_tiny", kind: "char_tiny", pipeline: "char" },
  { name: "char_main", kind: "char_main", pipeline: "char" },
];

/** The spec of a row name, or a clear error naming the known rows. */
export function architectureSpec(name: string | ArchitectureSpec): ArchitectureSpec {
  if (typeof name !== "string") return name;
  const s = ARCHITECTURES.find((a) => a.name === name);
  if (!s) {
    throw new Error(
      `Unknown architecture row "${name}" in option rows: expected one of ${
        ARCHITECTURES.map((a) => a.name).join(", ")
      }.`,
    );
  }
  return s;
}

/**
 * The full config of a token-level row: its kind's defaults, the preset, the row's fields (and its ≈30 M fields
 * for the "published" preset), then the vocabulary and the sequence length.
 *
 * @example
 * ```ts
 * import { architectureConfig } from "./architectures.ts";
 * const cfg = architectureConfig("hssm", "published", { vocabSize: 50257, seqLen: 256 });
 * // { kind: "hssm", dim: 320, numBlocks: 4, expertDim: 512, maxLen: 256, … } (30,336,096 parameters)
 * ```
 */
export function architectureConfig(
  row: string | ArchitectureSpec,
  preset: string,
  o: { vocabSize: number; seqLen: number },
): ModelConfig {
  const s = architectureSpec(row);
  const full = preset === "published" ? s.full ?? {} : {};
  return modelConfig(s.kind, { ...full, ...s.overrides, vocabSize: o.vocabSize, maxLen: o.seqLen }, preset);
}

/**
 * Bits per character: total nats / (ln 2 · characters).
 *
 * @example
 * ```ts
 * import { bitsPerChar } from "./architectures.ts";
 * bitsPerChar(Math.LN2 * 10, 5); // 2
 * ```
 */
export function bitsPerChar(totalNats: number, chars: number): number {
  if (!(chars > 0)) throw new Error(`bitsPerChar: the held-out text has no characters (got ${chars}).`);
  return totalNats / (Math.LN2 * chars);
}

/** A held-out text as one row's ids: EOS first, then every line followed by EOS; and its character count. */
export interface HeldOutText {
  /** Token ids (every id after the first is predicted once). */
  ids: Int32Array;
  /** Characters of the text: the lines' code points plus one newline per line. */
  chars: number;
}

/**
 * The held-out lines as ids of `tokenizer`, with a leading EOS so that the first token is predicted too.
 *
 * @example
 * ```ts
 * import { heldOutText } from "./architectures.ts";
 * import { AsciiTokenizer } from "../tokenizers/ascii.ts";
 * heldOutText(["ab"], new AsciiTokenizer()); // { ids: [0, 97, 98, 0], chars: 3 }
 * ```
 */
export function heldOutText(lines: readonly string[], tokenizer: Tokenizer): HeldOutText {
  const chars = lines.reduce((a, l) => a + [...l].length + 1, 0);
  const body = tokenizeLines(lines, tokenizer) as Int32Array;
  const ids = new Int32Array(body.length + 1);
  ids[0] = tokenizer.eosId ?? 0;
  ids.set(body, 1);
  return { ids, chars };
}

/**
 * Non-overlapping windows over `ids` that predict every id after the first exactly once; the last window is
 * padded (inputs with `pad`, targets with −100).
 */
export function heldOutBatches(ids: Int32Array, batch: number, seqLen: number, pad = 0): Batch[] {
  const windows = Math.ceil((ids.length - 1) / seqLen);
  const out: Batch[] = [];
  for (let w0 = 0; w0 < windows; w0 += batch) {
    const b = Math.min(batch, windows - w0);
    const x = new Int32Array(b * seqLen).fill(pad), y = new Int32Array(b * seqLen).fill(-100);
    for (let r = 0; r < b; r++) {
      const start = (w0 + r) * seqLen;
      for (let t = 0; t < seqLen && start + t + 1 < ids.length; t++) {
        x[r * seqLen + t] = ids[start + t];
        y[r * seqLen + t] = ids[start + t + 1];
      }
    }
    out.push({ x, y, batch: b, seqLen });
  }
  return out;
}

/**
 * Total nats of a model over every predicted id of `ids` (evaluation mode; batches of `batch` × `seqLen`).
 *
 * @example
 * ```ts
 * // const { nats, tokens } = await heldOutNats(model, heldOutText(lines, tok).ids, { batch: 8, seqLen: 256 });
 * ```
 */
export async function heldOutNats(
  model: LanguageModel,
  ids: Int32Array,
  o: { batch: number; seqLen: number },
): Promise<{ nats: number; tokens: number }> {
  const batches = heldOutBatches(ids, o.batch, o.seqLen);
  const { values } = await batchLosses(model, batches, { what: "the held-out text" });
  let nats = 0, tokens = 0;
  batches.forEach((b, i) => {
    const kept = b.y.reduce((a, v) => a + (v === -100 ? 0 : 1), 0);
    nats += values[i] * kept;
    tokens += kept;
  });
  return { nats, tokens };
}

/**
 * Split a corpus by source into training and held-out lines: the last `fraction` of each source's lines is
 * held out (at least one line of a source with two or more), so the mix of sources is kept in both.
 *
 * @example
 * ```ts
 * import { splitHeldOut } from "./architectures.ts";
 * splitHeldOut({ a: ["1", "2", "3", "4"] }, 0.25); // { train: ["1", "2", "3"], heldOut: ["4"] }
 * ```
 */
export function splitHeldOut(
  bySource: Record<string, readonly string[]>,
  fraction: number,
): { train: string[]; heldOut: string[] } {
  if (!(fraction > 0 && fraction < 1)) {
    throw new Error(`The held-out fraction must be in (0, 1), got "${fraction}".`);
  }
  const train: string[] = [], heldOut: string[] = [];
  for (const lines of Object.values(bySource)) {
    const n = lines.length < 2 ? 0 : Math.max(1, Math.floor(lines.length * fraction));
    // A loop, not push(...lines): a source of millions of lines would overflow the call stack.
    for (let i = 0; i < lines.length; i++) (i < lines.length - n ? train : heldOut).push(lines[i]);
  }
  return { train, heldOut };
}

/** Optimizer steps that see at least `words` words: ⌈words / (wordsPerToken · batch · seqLen)⌉. */
export function stepsForWords(words: number, perToken: number, batch: number, seqLen: number): number {
  return Math.max(1, Math.ceil(words / (perToken * batch * seqLen)));
}

/** A named BLiMP set (e.g. "blimp" and "blimp_filtered"). */
export interface ArchitectureBlimpSet {
  /** Set name in the result rows. */
  name: string;
  /** Its pairs. */
  pairs: readonly BlimpEvalPair[];
}

/** Options of {@linkcode runArchitectures}. */
export interface ArchitecturesOptions {
  /** Training lines (e.g. `loadBabyLM(...).lines`). */
  train: readonly string[];
  /** Held-out lines: bits per character and the curves. */
  heldOut: readonly string[];
  /** Budget of every row in words seen (whitespace-separated words of the training text). */
  words: number;
  /** "tiny" (CPU) or "published" (≈ 30 M token rows, the curriculum's post sizes) (default "published"). */
  preset?: "tiny" | "published";
  /** Rows to run (default every row of {@linkcode ARCHITECTURES}). */
  rows?: (string | ArchitectureSpec)[];
  /** Tokenizer of the token rows (default "gpt2"; "ascii" keeps CPU runs fast). */
  tokenizer?: "gpt2" | "ascii";
  /** Rows per batch (default 16; the curriculum uses it too). */
  batch?: number;
  /** Tokens (curriculum: characters) per row (default 256). */
  seqLen?: number;
  /** Peak learning rate of the token rows and curriculum stages 2–3 (default 3e-4). */
  lr?: number;
  /** Seed of every initial value and data order (default 1337). */
  seed?: number;
  /** A held-out point on the curves every this many words (default words / 5). */
  evalEveryWords?: number;
  /** Optimizer steps of curriculum stage 1, the character map (default 200). */
  charEncoderSteps?: number;
  /** BLiMP sets (default none). */
  blimp?: readonly ArchitectureBlimpSet[];
  /** BLiMP scoring variant (default "eos-prefixed": the same for every tokenizer). */
  blimpVariant?: BlimpVariant;
  /** Peak-memory measurement: warm-up and timed steps of `measureThroughput` (default 1 / 2); false = skip. */
  memory?: { warmup?: number; steps?: number } | false;
  /** Folder for the curriculum's stage checkpoints (default a temporary folder, removed afterwards). */
  workDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Called with the result so far after every token row and after the curriculum (e.g. to write it). */
  onResult?: (partial: ArchitecturesResult) => void | Promise<void>;
}

/** One row of the comparison table (a type literal, so rows are frame rows as they are). */
export type ArchitectureRow = {
  model: string;
  kind: string;
  tokenizer: string;
  params: number;
  steps: number;
  /** Tokens (curriculum: characters) trained on. */
  tokens: number;
  /** Words seen: tokens · words per token. */
  words: number;
  /** Words per token of the training text under this row's tokenizer. */
  words_per_token: number;
  /** Held-out loss: mean nats per predicted token. */
  val_loss: number;
  /** Held-out bits per character ({@linkcode bitsPerChar}). */
  bits_per_char: number;
  /** BLiMP overall per set (mean over paradigms), as `blimp_<set>`. */
  [blimp: `blimp_${string}`]: number | null;
  /** Training tokens/s of the training steps (forward, backward, update, one read). */
  tokens_per_sec: number;
  /** tokens_per_sec · words per token. */
  words_per_sec: number;
  /** Peak memory of one training step in MiB (`measureThroughput`), or null when skipped. */
  peak_mb: number | null;
  /** How the peak was measured, or null. */
  peak_measure: string | null;
  backend: string;
};

/** One point of the held-out curve. */
export type ArchitectureCurvePoint = { model: string; step: number; words: number; bits_per_char: number };

/** BLiMP accuracy of one row on one set, per phenomenon and overall. */
export type ArchitectureBlimpRow = {
  model: string;
  set: string;
  variant: string;
  phenomenon: string;
  accuracy: number;
};

/** The result of {@linkcode runArchitectures}. */
export interface ArchitecturesResult {
  /** One row per architecture: size, budget, held-out loss and bits/char, BLiMP overall, speed, memory. */
  rows: ArchitectureRow[];
  /** Held-out bits/char against words seen, per architecture. */
  curves: ArchitectureCurvePoint[];
  /** BLiMP accuracy per architecture, set and phenomenon. */
  blimp: ArchitectureBlimpRow[];
}

/** Resolved options shared by every row. */
interface Ctx {
  o: ArchitecturesOptions;
  preset: "tiny" | "published";
  batch: number;
  seqLen: number;
  lr: number;
  seed: number;
  log: (line: string) => void;
}

function positive(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!(Number.isFinite(x) && x > 0)) {
    throw new Error(`Option ${name} must be a positive number, got "${v}".`);
  }
  return x;
}

/** Throw a clear error for options that cannot run. */
function resolveOptions(o: ArchitecturesOptions): Ctx {
  if (!o.train?.length) throw new Error("Option train must hold the training lines; it is empty.");
  if (!o.heldOut?.length) throw new Error("Option heldOut must hold the held-out lines; it is empty.");
  positive("words", o.words, NaN);
  const preset = o.preset ?? "published";
  if (preset !== "tiny" && preset !== "published") {
    throw new Error(`Option preset must be "tiny" or "published", got "${preset}".`);
  }
  if (o.tokenizer !== undefined && o.tokenizer !== "gpt2" && o.tokenizer !== "ascii") {
    throw new Error(`Option tokenizer must be "gpt2" or "ascii", got "${o.tokenizer}".`);
  }
  (o.rows ?? []).forEach(architectureSpec);
  return {
    o,
    preset,
    batch: positive("batch", o.batch, 16),
    seqLen: positive("seqLen", o.seqLen, 256),
    lr: positive("lr", o.lr, 3e-4),
    seed: o.seed ?? 1337,
    log: o.log ?? (() => {}),
  };
}

/** BLiMP of one model on every set: the per-phenomenon rows and the overall per set. */
async function blimpOf(
  ctx: Ctx,
  name: string,
  model: LanguageModel,
  tok: Tokenizer,
): Promise<{ rows: ArchitectureBlimpRow[]; overall: Record<string, number> }> {
  const rows: ArchitectureBlimpRow[] = [], overall: Record<string, number> = {};
  for (const set of ctx.o.blimp ?? []) {
    const r: BlimpResult = await evaluateBlimp(model, tok, set.pairs, {
      variant: ctx.o.blimpVariant ?? "eos-prefixed",
      overflow: "truncate",
    });
    overall[`blimp_${set.name}`] = r.overall;
    for (const p of r.perPhenomenon) {
      rows.push({
        model: name,
        set: set.name,
        variant: r.variant,
        phenomenon: p.phenomenon,
        accuracy: p.accuracy,
      });
    }
    rows.push({ model: name, set: set.name, variant: r.variant, phenomenon: "overall", accuracy: r.overall });
    ctx.log(`${name}: BLiMP ${set.name} ${(100 * r.overall).toFixed(1)} %`);
  }
  return { rows, overall };
}

/** Peak memory of a training step of `model` (weights restored afterwards). */
async function peakMemory(
  ctx: Ctx,
  model: LanguageModel,
): Promise<{ mb: number | null; how: string | null }> {
  if (ctx.o.memory === false) return { mb: null, how: null };
  const r = await measureThroughput(model, {
    batch: ctx.batch,
    seqLen: ctx.seqLen,
    warmup: ctx.o.memory?.warmup ?? 1,
    steps: ctx.o.memory?.steps ?? 2,
    seed: ctx.seed,
    restoreWeights: true,
  });
  return { mb: Math.round((10 * r.peakBytes) / 2 ** 20) / 10, how: r.peakMeasure };
}

/** Seconds of the training steps of a history (each step's tokens over its tokens/s). */
function stepSeconds(history: StepRecord[], tokensPerStep: number): number {
  return history.reduce((a, r) => a + tokensPerStep / r.tokensPerSec, 0);
}

/** Train, evaluate and summarise one token-level row. */
async function runTokenRow(
  ctx: Ctx,
  spec: ArchitectureSpec,
  tok: Tokenizer,
  trainIds: Int32Array,
  held: HeldOutText,
  wpt: number,
): Promise<ArchitecturesResult> {
  const { batch, seqLen } = ctx;
  const model = createModel(
    architectureConfig(spec, ctx.preset, { vocabSize: tok.vocabSize, seqLen }),
    ctx.seed,
  );
  try {
    const steps = stepsForWords(ctx.o.words, wpt, batch, seqLen);
    const evalEvery = stepsForWords(ctx.o.evalEveryWords ?? ctx.o.words / 5, wpt, batch, seqLen);
    const curves: ArchitectureCurvePoint[] = [];
    const point = async (step: number) => {
      const { nats } = await heldOutNats(model, held.ids, { batch, seqLen });
      const bpc = bitsPerChar(nats, held.chars);
      curves.push({ model: spec.name, step, words: step * batch * seqLen * wpt, bits_per_char: bpc });
      ctx.log(`${spec.name}: step ${step}/${steps}, held-out ${bpc.toFixed(3)} bits/char`);
    };
    const firstBatch = heldOutBatches(held.ids, 1, seqLen).slice(0, 1);
    const history = await train({
      model,
      data: new ArrayBatchSource(trainIds, { batch, seqLen, rng: ctx.seed, name: "the training text" }),
      // The trainer's own evaluation (one window) only marks the step: the curve point is the whole held-out text.
      valData: () => firstBatch,
      evalEvery,
      steps,
      lr: ctx.lr,
      schedule: { name: "cosine", warmup: Math.min(100, Math.floor(steps / 10)), minLr: ctx.lr / 10 },
      weightDecay: 0.1,
      gradClip: 1,
      seed: ctx.seed,
      progress: "none",
      onEval: (r) => point(r.step),
    });
    const { nats, tokens } = await heldOutNats(model, held.ids, { batch, seqLen });
    const blimp = await blimpOf(ctx, spec.name, model, tok);
    const mem = await peakMemory(ctx, model);
    const tps = (history.length * batch * seqLen) / stepSeconds(history, batch * seqLen);
    const row: ArchitectureRow = {
      model: spec.name,
      kind: spec.kind,
      tokenizer: tok.name,
      params: parameterCount(model),
      steps: history.length,
      tokens: history.length * batch * seqLen,
      words: history.length * batch * seqLen * wpt,
      words_per_token: wpt,
      val_loss: nats / tokens,
      bits_per_char: bitsPerChar(nats, held.chars),
      ...blimp.overall,
      tokens_per_sec: tps,
      words_per_sec: tps * wpt,
      peak_mb: mem.mb,
      peak_measure: mem.how,
      backend: currentBackend(),
    };
    return { rows: [row], curves, blimp: blimp.rows };
  } finally {
    model.dispose();
  }
}

/** A finished stage's model from its run folder (the `latest` checkpoint), in evaluation mode. */
async function loadStage(dir: string): Promise<{ model: LanguageModel }> {
  const ck = await loadCheckpoint(await resolveCheckpoint(dir));
  const model = createModel(ck.config, 0);
  restoreModel(model, ck);
  model.setTraining?.(false);
  return { model };
}

/** The curriculum's stage-2 and stage-3 rows: trained by `runCharCurriculum`, evaluated here from checkpoints. */
async function runCharRows(ctx: Ctx, specs: ArchitectureSpec[]): Promise<ArchitecturesResult> {
  const { batch, seqLen } = ctx;
  const tok = new AsciiTokenizer();
  const clean = (lines: readonly string[]) =>
    cleanCharCorpus({ bySource: { text: [...lines] } }, { heldOutFraction: 0 }).train;
  const trainChars = clean(ctx.o.train), heldChars = clean(ctx.o.heldOut);
  const words = ctx.o.train.reduce((a, l) => a + l.split(/\s+/).filter(Boolean).length, 0);
  const wpc = words / trainChars.length;
  const held = heldOutText(ctx.o.heldOut, tok);
  held.ids = Int32Array.from([0, ...heldChars]);
  const steps = stepsForWords(ctx.o.words, wpc, batch, seqLen);
  const evalEvery = stepsForWords(ctx.o.evalEveryWords ?? ctx.o.words / 5, wpc, batch, seqLen);
  const lm = { steps, batch, seqLen, lr: ctx.lr, evalEvery, saveEvery: steps };
  const workDir = ctx.o.workDir ?? await Deno.makeTempDir({ prefix: "ssmlab_arch_char_" });
  const out: ArchitecturesResult = { rows: [], curves: [], blimp: [] };
  try {
    const r = await runCharCurriculum({
      train: trainChars,
      valid: heldChars,
      outDir: workDir,
      preset: ctx.preset,
      stages: { 1: { steps: ctx.o.charEncoderSteps ?? 200, batch, seqLen }, 2: lm, 3: lm },
      probePrompts: [],
      seed: ctx.seed,
      log: ctx.log,
    });
    const dirs: Record<string, [string, string]> = {
      char_tiny: ["stage2", "stage2"],
      char_main: ["main_softnn", "stage3_main_softnn"],
    };
    for (const spec of specs) {
      const [stage, dir] = dirs[spec.kind];
      const sr = r.rows.find((x) => x.model === stage)!;
      // Curve points: the trainer's held-out loss (mean nats per cleaned character over its full windows) times
      // the cleaned characters predicted, over the raw characters; the final row is exact (heldOutNats).
      for (const c of r.curves.filter((c) => c.model === stage && c.valLoss !== undefined)) {
        const bpc = bitsPerChar(c.valLoss! * heldChars.length, held.chars);
        out.curves.push({
          model: spec.name,
          step: c.step,
          words: c.step * batch * seqLen * wpc,
          bits_per_char: bpc,
        });
      }
      const ck = await loadStage(join(workDir, dir));
      try {
        const { nats, tokens } = await heldOutNats(ck.model, held.ids, { batch, seqLen });
        const blimp = await blimpOf(ctx, spec.name, ck.model, tok);
        out.blimp.push(...blimp.rows);
        const mem = await peakMemory(ctx, ck.model);
        out.rows.push({
          model: spec.name,
          kind: spec.kind,
          tokenizer: "ascii (cleaned)",
          params: sr.params,
          steps: sr.steps,
          tokens: sr.chars,
          words: sr.chars * wpc,
          words_per_token: wpc,
          val_loss: nats / tokens,
          bits_per_char: bitsPerChar(nats, held.chars),
          ...blimp.overall,
          tokens_per_sec: sr.charsPerSec,
          words_per_sec: sr.charsPerSec * wpc,
          peak_mb: mem.mb,
          peak_measure: mem.how,
          backend: currentBackend(),
        });
      } finally {
        ck.model.dispose();
      }
    }
  } finally {
    if (!ctx.o.workDir) await Deno.remove(workDir, { recursive: true });
  }
  return out;
}

/**
 * Train every row on the same text for the same words, then evaluate held-out bits/char, BLiMP, throughput and
 * memory. Token rows train with AdamW (cosine schedule, decay 0.1, clip 1); the curriculum's stages 2 and 3 each
 * see the words budget (stage 3 on top of the frozen stage 2).
 *
 * @example
 * ```ts
 * // const lines = (await loadBabyLM({ dir: "data/samples/babylm" })).lines;
 * // const r = await runArchitectures({ train: lines.slice(0, 110), heldOut: lines.slice(110), words: 3000,
 * //   preset: "tiny", tokenizer: "ascii", batch: 8, seqLen: 64, lr: 3e-3 });
 * // console.table(r.rows);
 * ```
 */
export async function runArchitectures(o: ArchitecturesOptions): Promise<ArchitecturesResult> {
  const ctx = resolveOptions(o);
  const specs = (o.rows ?? [...ARCHITECTURES]).map(architectureSpec);
  const tok = getTokenizer(o.tokenizer ?? "gpt2");
  const out: ArchitecturesResult = { rows: [], curves: [], blimp: [] };
  const add = async (r: ArchitecturesResult) => {
    out.rows.push(...r.rows);
    out.curves.push(...r.curves);
    out.blimp.push(...r.blimp);
    await o.onResult?.(out);
  };
  const tokenSpecs = specs.filter((s) => s.pipeline === "token");
  if (tokenSpecs.length) {
    const trainIds = tokenizeLines(o.train, tok) as Int32Array;
    const held = heldOutText(o.heldOut, tok);
    const wpt = wordsPerToken(o.train, tok);
    ctx.log(`${trainIds.length} training ${tok.name} tokens, ${wpt.toFixed(3)} words/token`);
    for (const s of tokenSpecs) await add(await runTokenRow(ctx, s, tok, trainIds, held, wpt));
  }
  const charSpecs = specs.filter((s) => s.pipeline === "char");
  if (charSpecs.length) await add(await runCharRows(ctx, charSpecs));
  if (tf.memory().numTensors > 10_000) ctx.log(`warning: ${tf.memory().numTensors} tensors alive`);
  return out;
}
