/**
 * ssmlab command line.
 *
 *   deno run -A src/cli.ts quickstart [--steps 150] [--backend auto]
 *   deno run -A src/cli.ts train --model KIND [--preset published] [model flags…] [--data DIR] [--steps N] [--resume]
 *   deno run -A src/cli.ts benchmark --ckpt RUN_DIR [--batch_size 8] [--steps 50] [--warmup 10] [--ppl_eval] [--ppl_batches 62]
 *   deno run -A src/cli.ts benchmark --model KIND [--preset tiny] [model flags…]   (a freshly initialised model)
 *
 * The model flags of `train` and `benchmark --model` are generated from the chosen kind's `ModelSpec` (one flag
 * per config field, its default from the preset, its help and accepted values from the field table), so every
 * registered kind is trainable from the command line. For the mHC family they are the flags of the reference's
 * `python -m mhc_slm.train`, with the same defaults.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { describeEnvironment, initBackend } from "./backend.ts";
import { modelConfig, modelKinds, modelSpec } from "./models/registry.ts";
import { expectation, fieldFlag, type FieldSpec, parseFieldFlag } from "./models/spec.ts";
import type { ModelConfig } from "./models/types.ts";

const USAGE = `Usage: ssmlab <command> [options]
Commands:
  quickstart   train, evaluate and chart tiny models on the shipped sample (results/quickstart/<run>/)
  train        train any registered model kind (baseline, mHC, …) with the reference's flags and defaults
  benchmark    throughput, memory and perplexity of a trained checkpoint or a fresh model
Run "ssmlab <command> --help" for its options.`;

/** A command-line option: a field spec (default, help, accepted values) whose default may be absent. */
type CliOption = Omit<FieldSpec, "value"> & { value?: unknown };

/** Options of `train` that are not model fields (the reference's training flags, then ssmlab's). */
const TRAIN_OPTIONS: Record<string, CliOption> = {
  model: { type: "string", value: "mhc", help: "Model kind (see the list above)." },
  preset: {
    type: "string",
    value: "published",
    help: "Preset of the kind that the model flags' defaults come from.",
  },
  batch_size: { type: "int", min: 1, value: 16, help: "Sequences per batch." },
  epochs: { type: "int", min: 1, value: 10, help: "Epochs over the training ids (unless --steps)." },
  lr: { type: "number", min: 0, minExclusive: true, value: 3e-4, help: "AdamW learning rate." },
  weight_decay: { type: "number", min: 0, value: 0.1, help: "AdamW decoupled weight decay." },
  grad_clip: { type: "number", min: 0, value: 1.0, help: "Global gradient-norm clip (0 = off)." },
  seed: { type: "int", value: 1337, help: "Seed of the initial weights, data order and dropout." },
  eval_every: {
    type: "int",
    min: 0,
    value: 500,
    help: "Validation loss every N steps (0 = only at the end).",
  },
  save_every: { type: "int", min: 0, value: 1000, help: "Checkpoint every N steps (0 = only at the end)." },
  out_dir: { type: "string", value: "runs/mhc_slm", help: "Root folder of the runs." },
  run_name: {
    type: "string",
    value: "",
    help: "Run folder name (default: the model's label, e.g. mhc_adapters).",
  },
  tokenizer: { type: "string", value: "gpt2", help: "Tokenizer name (gpt2, ascii, …); sets vocabSize." },
  data: { type: "string", help: "Local WikiText-2 folder (default: the Hugging Face Hub)." },
  valid_data: { type: "string", help: "Validation folder (default: --data)." },
  steps: { type: "int", min: 1, help: "Optimizer steps (overrides --epochs)." },
  eval_batches: { type: "int", min: 1, help: "At most this many validation batches per evaluation." },
  resume: { type: "boolean", value: false, help: "Resume from the run folder's latest checkpoint." },
  backend: { type: "string", help: "tfjs backend: auto, cpu, wasm, webgpu." },
  help: { type: "boolean", value: false, help: "Show this help." },
};

/** Options of `benchmark` (model flags are added when --model is given). */
const BENCHMARK_OPTIONS: Record<string, CliOption> = {
  ckpt: { type: "string", help: "Checkpoint folder, or a run folder with a `latest` pointer." },
  model: {
    type: "string",
    help: "Benchmark a freshly initialised model of this kind instead of a checkpoint.",
  },
  preset: { type: "string", value: "published", help: "Preset of --model." },
  batch_size: { type: "int", min: 1, value: 16, help: "Sequences per batch." },
  seq_len: { type: "int", min: 1, help: "Sequence length (default: the model's maxLen, or 256)." },
  steps: { type: "int", min: 1, value: 50, help: "Timed training steps." },
  warmup: { type: "int", min: 0, value: 10, help: "Untimed warm-up steps." },
  ppl_eval: { type: "boolean", value: false, help: "Also evaluate validation perplexity." },
  ppl_batches: { type: "int", min: 1, value: 50, help: "Validation batches for --ppl_eval." },
  data: { type: "string", help: "Local WikiText-2 folder for --ppl_eval." },
  tokenizer: { type: "string", value: "gpt2", help: "Tokenizer name; sets vocabSize with --model." },
  seed: { type: "int", value: 1337, help: "Seed of the model and the random batch." },
  backend: { type: "string", help: "tfjs backend: auto, cpu, wasm, webgpu." },
  help: { type: "boolean", value: false, help: "Show this help." },
};

/** Options of `quickstart`. */
const QUICKSTART_OPTIONS: Record<string, CliOption> = {
  steps: { type: "int", min: 1, value: 150, help: "Training steps per model." },
  backend: { type: "string", help: "tfjs backend: auto, cpu, wasm, webgpu." },
  seed: { type: "int", value: 1337, help: "Seed of everything." },
  run: { type: "string", help: "Run folder name (default: a timestamp)." },
  help: { type: "boolean", value: false, help: "Show this help." },
};

/** The value of `--name V` / `--name=V` in argv without parsing the rest (to pick the spec before parsing). */
function peekFlag(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return undefined;
}

/** The model flags of a kind: flag name → [field name, field spec with the preset's value as default]. */
function modelFlags(kind: string, preset: string): Map<string, [string, FieldSpec]> {
  const spec = modelSpec(kind);
  if (!spec.presets[preset]) {
    const names = Object.keys(spec.presets).map((p) => `"${p}"`).join(", ");
    throw new Error(`Option --preset must be one of ${names} for --model ${kind}, got "${preset}".`);
  }
  const defaults = modelConfig(kind, {}, preset) as unknown as Record<string, unknown>;
  const out = new Map<string, [string, FieldSpec]>();
  for (const [name, field] of Object.entries(spec.defaults as Record<string, FieldSpec>)) {
    const flag = fieldFlag(name, field);
    if (flag) out.set(flag, [name, { ...field, value: defaults[name] }]);
  }
  return out;
}

/** The model kind named by --model, checked against the registry. */
function chosenKind(argv: string[], fallback: string | undefined): string | undefined {
  const kind = peekFlag(argv, "model") ?? fallback;
  if (kind !== undefined && !modelKinds().includes(kind)) {
    throw new Error(
      `Option --model must be one of ${modelKinds().map((k) => `"${k}"`).join(", ")}, got "${kind}".`,
    );
  }
  return kind;
}

/** The help text of a command: its own options, then the model flags of the chosen kind. */
function helpText(
  head: string,
  options: Record<string, CliOption>,
  model?: { kind: string; preset: string; flags: Map<string, [string, FieldSpec]> },
): string {
  const line = (flag: string, o: CliOption) => {
    const arg = o.type === "boolean" ? "" : ` ${o.value === undefined || o.value === "" ? "…" : o.value}`;
    const plain = o.type === "boolean" || (o.type === "string" && !o.choices);
    const accepts = plain ? "" : ` (${expectation({ ...o, value: undefined } as FieldSpec)})`;
    return `  ${`--${flag}${arg}`.padEnd(30)} ${o.help}${accepts}`;
  };
  const kinds = modelKinds().map((k) => `  ${k.padEnd(12)} ${modelSpec(k).description}`);
  const out = "model" in options ? [head, "Model kinds:", ...kinds, "Options:"] : [head, "Options:"];
  out.push(...Object.entries(options).filter(([k]) => !model?.flags.has(k)).map(([k, o]) => line(k, o)));
  if (model) {
    out.push(`Model flags of --model ${model.kind} (defaults of preset "${model.preset}"):`);
    out.push(...[...model.flags].map(([flag, [, f]]) => line(flag, f)));
  }
  return out.join("\n");
}

/** `--dim -8` → `--dim=-8`, so a negative number reaches the value check instead of parseArgs' "ambiguous". */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (/^--[^=]+$/.test(argv[i]) && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

function parse(argv: string[], options: Record<string, CliOption>): Record<string, unknown> {
  const spec: Record<string, { type: "string" | "boolean" }> = {};
  for (const [k, o] of Object.entries(options)) {
    spec[k] = { type: o.type === "boolean" ? "boolean" : "string" };
  }
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: joinNegativeValues(argv),
      options: spec,
      strict: true,
      allowPositionals: false,
    })
      .values as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${(e as Error).message.replace(/\.$/, "")}. Run with --help to list the options.`);
  }
  // Check every given value before starting a backend or loading data, so a typo fails at once; fill defaults.
  const out: Record<string, unknown> = {};
  for (const [k, o] of Object.entries(options)) {
    const raw = values[k] as string | boolean | undefined;
    if (raw === undefined) out[k] = o.value;
    else if (o.type === "string" && !o.choices) out[k] = raw;
    else out[k] = parseFieldFlag(k, { ...o, flag: k, value: undefined } as FieldSpec, raw);
  }
  return out;
}

/**
 * The model config from parsed flags: the preset's fields, the tokenizer's vocabulary size, then the model flags
 * given on the command line (a model flag has no parse default, so `undefined` = not given).
 */
function configFromFlags(
  kind: string,
  preset: string,
  flags: Map<string, [string, FieldSpec]>,
  parsed: Record<string, unknown>,
  vocabSize: number,
): ModelConfig {
  const overrides: Record<string, unknown> = { vocabSize };
  for (const [flag, [name]] of flags) if (parsed[flag] !== undefined) overrides[name] = parsed[flag];
  return modelConfig(kind, overrides, preset);
}

async function cmdQuickstart(argv: string[]): Promise<void> {
  const f = parse(argv, QUICKSTART_OPTIONS);
  if (f.help) return console.log(helpText("ssmlab quickstart [options]", QUICKSTART_OPTIONS));
  const { quickstart } = await import("./experiments/quickstart.ts");
  const t0 = performance.now();
  const { run, rows } = await quickstart({
    steps: f.steps as number,
    backend: f.backend as string | undefined,
    seed: f.seed as number,
    runName: f.run as string | undefined,
  });
  console.log(`\nvariant        params  steps  bits/char  BLiMP(first-token-unscored)  tokens/s`);
  for (const r of rows) {
    console.log(
      `${r.variant.padEnd(13)} ${String(r.params).padStart(7)} ${String(r.steps).padStart(6)} ${
        r.bits_per_char.toFixed(3).padStart(10)
      } ${(r.blimp_first_token_unscored * 100).toFixed(1).padStart(26)}% ${
        Math.round(r.tokens_per_sec ?? 0).toString().padStart(9)
      }`,
    );
  }
  console.log(`\n${run.dir}: table.csv/.parquet, loss_curves.svg/.png, bits_per_char.svg/.png, config.json`);
  console.log(`quickstart finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function loadTrainIds(
  dir: string | undefined,
  split: "train" | "validation",
  tokenizer: string,
): Promise<Int32Array> {
  const { loadWikitext2 } = await import("./data/corpora.ts");
  const { tokenizeLines } = await import("./data/batches.ts");
  const { getTokenizer } = await import("./tokenizers/types.ts");
  const corpus = await loadWikitext2({ split, dir });
  return tokenizeLines(corpus.lines, getTokenizer(tokenizer)) as Int32Array;
}

/** The options of a command with the model flags of `kind` (a model flag that a command option also has is shared). */
function withModelFlags(
  options: Record<string, CliOption>,
  flags: Map<string, [string, FieldSpec]>,
): Record<string, CliOption> {
  const out: Record<string, CliOption> = {};
  for (const [flag, [, f]] of flags) out[flag] = { ...f, value: undefined };
  return { ...out, ...options };
}

async function cmdTrain(argv: string[]): Promise<void> {
  const kind = chosenKind(argv, "mhc")!;
  const preset = peekFlag(argv, "preset") ?? "published";
  const flags = modelFlags(kind, preset);
  // A family without a sequence-length field still needs one for batching.
  const own = [...flags.keys()].includes("seq_len") ? TRAIN_OPTIONS : {
    ...TRAIN_OPTIONS,
    seq_len: { type: "int", min: 1, value: 256, help: "Training sequence length." } as CliOption,
  };
  const f = parse(argv, withModelFlags(own, flags));
  if (f.help) {
    return console.log(helpText("ssmlab train --model KIND [options]", own, { kind, preset, flags }));
  }
  const backend = await initBackend({ backend: f.backend as string | undefined });
  const { checkIds } = await import("./experiments/mhc_ablation.ts");
  const { createModel } = await import("./models/registry.ts");
  const { parameterCount } = await import("./models/types.ts");
  const { ArrayBatchSource } = await import("./train/batch_source.ts");
  const { train } = await import("./train/trainer.ts");
  const { getTokenizer } = await import("./tokenizers/types.ts");
  const tok = getTokenizer(f.tokenizer as string);
  const cfg = configFromFlags(kind, preset, flags, f, tok.vocabSize);
  const seqLen = (flags.has("seq_len") ? cfg.maxLen : f.seq_len) as number;
  const seed = f.seed as number;
  const trainIds = await loadTrainIds(f.data as string | undefined, "train", f.tokenizer as string);
  const validIds = await loadTrainIds(
    (f.valid_data ?? f.data) as string | undefined,
    "validation",
    f.tokenizer as string,
  );
  checkIds(trainIds, cfg.vocabSize, "the training ids");
  const spec = modelSpec(kind);
  const label = spec.label?.(cfg) ?? kind;
  const model = createModel(cfg, seed);
  const runName = (f.run_name as string) || label;
  const outDir = `${f.out_dir}/${runName}`;
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(
    `${outDir}/run.json`,
    JSON.stringify({ flags: f, config: model.config, seed, environment: describeEnvironment() }, null, 2),
  );
  console.log(
    `training ${label} (${
      parameterCount(model).toLocaleString("en")
    } parameters) on ${backend}; ${trainIds.length} training tokens`,
  );
  const batch = f.batch_size as number;
  await train({
    model,
    data: new ArrayBatchSource(trainIds, { batch, seqLen, rng: seed, dropLast: true }),
    valData: () => new ArrayBatchSource(validIds, { batch, seqLen, shuffle: false }),
    steps: f.steps as number | undefined,
    epochs: f.steps ? undefined : f.epochs as number,
    lr: f.lr as number,
    weightDecay: f.weight_decay as number,
    gradClip: f.grad_clip as number,
    seed,
    evalEvery: f.eval_every as number,
    evalBatches: f.eval_batches as number | undefined,
    saveEvery: f.save_every as number,
    outDir,
    resume: f.resume as boolean,
    rngs: model.rngs,
    progress: "auto",
  });
  console.log(`done: checkpoints in ${outDir}`);
}

/** The model to benchmark: restored from --ckpt, or freshly initialised from --model, its preset and flags. */
async function benchmarkModel(
  f: Record<string, unknown>,
  model?: { kind: string; preset: string; flags: Map<string, [string, FieldSpec]> },
) {
  const { createModel } = await import("./models/registry.ts");
  if (f.ckpt) {
    const { loadCheckpoint, restoreModel } = await import("./train/checkpoint.ts");
    const ck = await loadCheckpoint(f.ckpt as string);
    const m = createModel(ck.config, f.seed as number);
    restoreModel(m, ck);
    return m;
  }
  const { getTokenizer } = await import("./tokenizers/types.ts");
  const vocab = getTokenizer(f.tokenizer as string).vocabSize;
  return createModel(
    configFromFlags(model!.kind, model!.preset, model!.flags, f, vocab),
    f.seed as number,
  );
}

async function cmdBenchmark(argv: string[]): Promise<void> {
  const kind = chosenKind(argv, undefined);
  const preset = peekFlag(argv, "preset") ?? "published";
  const model = kind ? { kind, preset, flags: modelFlags(kind, preset) } : undefined;
  const f = parse(argv, model ? withModelFlags(BENCHMARK_OPTIONS, model.flags) : BENCHMARK_OPTIONS);
  if (f.help) {
    return console.log(
      helpText(
        "ssmlab benchmark (--ckpt RUN_OR_CHECKPOINT | --model KIND) [options]",
        BENCHMARK_OPTIONS,
        model,
      ),
    );
  }
  if (!f.ckpt && !kind) {
    throw new Error(
      "Option --ckpt is required: a checkpoint folder or a run folder with a `latest` pointer " +
        "(or --model KIND to benchmark a freshly initialised model).",
    );
  }
  const backend = await initBackend({ backend: f.backend as string | undefined });
  const { measureThroughput } = await import("./eval/throughput.ts");
  const m = await benchmarkModel(f, model);
  const seqLen = (f.seq_len as number | undefined) ?? m.config.maxLen ?? 256;
  const batch = f.batch_size as number;
  m.setTraining?.(true);
  const t = await measureThroughput(m, {
    batch,
    seqLen,
    warmup: f.warmup as number,
    steps: f.steps as number,
    restoreWeights: true,
  });
  const result: Record<string, unknown> = {
    backend,
    kind: m.config.kind,
    tokens_per_sec: t.tokensPerSec,
    peak_mib: t.peakBytes / 2 ** 20,
    peak_measure: t.peakMeasure,
  };
  if (f.ppl_eval) {
    const { evaluatePerplexity } = await import("./eval/perplexity.ts");
    const { ArrayBatchSource } = await import("./train/batch_source.ts");
    const ids = await loadTrainIds(f.data as string | undefined, "validation", f.tokenizer as string);
    const src = new ArrayBatchSource(ids, { batch, seqLen, shuffle: false });
    const it = {
      *[Symbol.iterator]() {
        for (let b = src.next(); b; b = src.next()) yield b;
      },
    };
    m.setTraining?.(false);
    const p = await evaluatePerplexity(m, it, { maxBatches: f.ppl_batches as number, source: "loss" });
    Object.assign(result, { val_loss: p.loss, ppl: p.ppl, ppl_batches: p.batches });
  }
  console.log(JSON.stringify(result, null, 2));
  m.dispose();
}

/** `ssmlab blimp`: BLiMP of a checkpoint or an n-gram baseline; prints the scores, writes the BabyLM files. */
async function cmdBlimp(argv: string[]): Promise<void> {
  const options: Record<string, CliOption> = {
    ckpt: { type: "string", help: "Checkpoint folder, or a run folder with a `latest` pointer." },
    ngram: {
      type: "string",
      help: "An n-gram baseline instead: word:N or char:N (Kneser-Ney), trained on --data.",
    },
    data: { type: "string", help: "Training text of --ngram: a file, or a folder of *.txt / *.train files." },
    set: { type: "string", value: "original", choices: ["original", "filtered"], help: "BLiMP set." },
    blimp: { type: "string", help: "Folder of BLiMP *.jsonl files (default: the Hub for --set original)." },
    variant: {
      type: "string",
      value: "first-token-unscored",
      choices: ["first-token-unscored", "eos-prefixed"],
      help: "Scoring variant.",
    },
    paradigms: { type: "string", help: "Comma-separated paradigm ids (default: all)." },
    fast: {
      type: "int",
      min: 1,
      help: "Only the first N pairs of each paradigm (BabyLM fast eval uses 200).",
    },
    out: { type: "string", help: "Write the BabyLM-layout files under this folder." },
    model_name: { type: "string", help: "Model name in the output layout (default: the run folder's name)." },
    revision: { type: "string", help: "Revision in the output layout (default: chck_* name or main)." },
    tokenizer: { type: "string", help: "Tokenizer name, overriding the checkpoint's tokenizer.json." },
    backend: { type: "string", help: "tfjs backend: auto, cpu, wasm, webgpu." },
    help: { type: "boolean", value: false, help: "Show this help." },
  };
  const f = parse(argv, options);
  if (f.help) {
    return console.log(helpText("ssmlab blimp (--ckpt DIR | --ngram word:5 --data FILE) [options]", options));
  }
  if (f.ckpt) await initBackend({ backend: f.backend as string | undefined });
  const { runBlimp } = await import("./eval/blimp_run.ts");
  const r = await runBlimp({
    ckpt: f.ckpt as string | undefined,
    ngram: f.ngram as string | undefined,
    data: f.data as string | undefined,
    set: f.set as "original" | "filtered",
    blimpDir: f.blimp as string | undefined,
    variant: f.variant as "first-token-unscored" | "eos-prefixed",
    paradigms: f.paradigms
      ? (f.paradigms as string).split(",").map((p) => p.trim()).filter(Boolean)
      : undefined,
    fast: f.fast as number | undefined,
    out: f.out as string | undefined,
    model: f.model_name as string | undefined,
    revision: f.revision as string | undefined,
    tokenizer: f.tokenizer as string | undefined,
    log: (l) => console.log(l),
  });
  const pct = (a: number) => `${(100 * a).toFixed(1)}%`.padStart(7);
  console.log(`\n${r.model} · BLiMP ${f.set} · ${r.result.variant} · ${r.result.pairs} pairs`);
  for (const p of r.result.perPhenomenon) {
    console.log(`  ${p.phenomenon.padEnd(28)} ${pct(p.accuracy)}  (${p.paradigms} paradigms)`);
  }
  console.log(
    `  ${"overall".padEnd(28)} ${pct(r.result.overall)}  (${r.result.perParadigm.length} paradigms)`,
  );
  console.log(
    `train ${r.seconds.train.toFixed(1)} s, score ${r.seconds.score.toFixed(1)} s${
      r.dir ? `; files in ${r.dir}` : ""
    }`,
  );
}

/** Entry point: dispatch a subcommand; bad input prints one clear sentence and exits 2. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const commands: Record<string, (a: string[]) => Promise<void>> = {
    quickstart: cmdQuickstart,
    train: cmdTrain,
    benchmark: cmdBenchmark,
    blimp: cmdBlimp,
  };
  if (!cmd || cmd === "--help" || cmd === "-h") {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const f = commands[cmd];
  if (!f) {
    console.error(`Unknown command "${cmd}": expected one of ${Object.keys(commands).join(", ")}.`);
    return 2;
  }
  try {
    await f(rest);
    return 0;
  } catch (e) {
    console.error(`ssmlab ${cmd}: ${(e as Error).message}`);
    if (Deno.env.get("SSMLAB_DEBUG")) console.error((e as Error).stack);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
