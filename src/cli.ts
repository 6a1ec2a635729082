/**
 * ssmlab command line.
 *
 *   deno run -A src/cli.ts quickstart [--steps 150] [--backend auto]
 *   deno run -A src/cli.ts train --model baseline|mhc [reference flags…] [--data DIR] [--steps N] [--resume]
 *   deno run -A src/cli.ts benchmark --ckpt RUN_DIR [--batch_size 8] [--steps 50] [--warmup 10] [--ppl_eval] [--ppl_batches 62]
 *
 * `train` and `benchmark` take the flags of the mHC-SSM reference's `python -m mhc_slm.train` / `benchmark`
 * (docs/models/mhc.md, "Configuration") with the same defaults.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { describeEnvironment, initBackend } from "./backend.ts";

const USAGE = `Usage: ssmlab <command> [options]
Commands:
  quickstart   train, evaluate and chart tiny models on the shipped sample (results/quickstart/<run>/)
  train        train baseline or mHC-SSM with the reference's flags (SPEC §1.0, §1.7)
  benchmark    throughput, memory and perplexity of a trained checkpoint (SPEC §1.8)
Run "ssmlab <command> --help" for its options.`;

/** Reference flags of `mhc_slm.train` with their defaults, plus ssmlab's own. */
const TRAIN_FLAGS = {
  model: { type: "string", default: "mhc" },
  n_streams: { type: "string", default: "4" },
  sinkhorn_iters: { type: "string", default: "8" },
  sinkhorn_temp: { type: "string", default: "1.0" },
  dim: { type: "string", default: "512" },
  layers: { type: "string", default: "8" },
  dropout: { type: "string", default: "0.0" },
  conv_kernel: { type: "string", default: "3" },
  norm: { type: "string", default: "rms" },
  seq_len: { type: "string", default: "256" },
  batch_size: { type: "string", default: "16" },
  epochs: { type: "string", default: "10" },
  lr: { type: "string", default: "3e-4" },
  weight_decay: { type: "string", default: "0.1" },
  grad_clip: { type: "string", default: "1.0" },
  seed: { type: "string", default: "1337" },
  eval_every: { type: "string", default: "500" },
  save_every: { type: "string", default: "1000" },
  out_dir: { type: "string", default: "runs/mhc_slm" },
  run_name: { type: "string", default: "" },
  tokenizer: { type: "string", default: "gpt2" },
  stream_adapters: { type: "boolean", default: false },
  adapter_rank: { type: "string", default: "64" },
  adapter_dropout: { type: "string", default: "0.1" },
  stream_diversity_coeff: { type: "string", default: "0.0" },
  // ssmlab additions
  data: { type: "string" },
  valid_data: { type: "string" },
  steps: { type: "string" },
  eval_batches: { type: "string" },
  resume: { type: "boolean", default: false },
  backend: { type: "string" },
  help: { type: "boolean", default: false },
} as const;

function num(flags: Record<string, unknown>, name: string, integer = false): number {
  const raw = flags[name];
  const v = Number(raw);
  if (raw === undefined || raw === "" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new Error(`Option --${name} expects ${integer ? "an integer" : "a number"}, got "${raw}".`);
  }
  return v;
}

function parse(
  argv: string[],
  options: Record<string, { type: "string" | "boolean"; default?: string | boolean }>,
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<
      string,
      unknown
    >;
  } catch (e) {
    throw new Error(`${(e as Error).message.replace(/\.$/, "")}. Run with --help to list the options.`);
  }
}

async function cmdQuickstart(argv: string[]): Promise<void> {
  const f = parse(argv, {
    steps: { type: "string", default: "150" },
    backend: { type: "string" },
    seed: { type: "string", default: "1337" },
    run: { type: "string" },
    help: { type: "boolean", default: false },
  });
  if (f.help) {
    return console.log(
      "ssmlab quickstart [--steps 150] [--backend auto|cpu|wasm|webgpu] [--seed 1337] [--run NAME]",
    );
  }
  const { quickstart } = await import("./experiments/quickstart.ts");
  const t0 = performance.now();
  const { run, rows } = await quickstart({
    steps: num(f, "steps", true),
    backend: f.backend as string | undefined,
    seed: num(f, "seed", true),
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

async function cmdTrain(argv: string[]): Promise<void> {
  const f = parse(argv, TRAIN_FLAGS as never);
  if (f.help) {
    return console.log(
      "ssmlab train " +
        Object.entries(TRAIN_FLAGS).map(([k, v]) =>
          `[--${k}${v.type === "string" ? ` ${(v as { default?: string }).default ?? "…"}` : ""}]`
        ).join(" "),
    );
  }
  // Check every numeric option before starting a backend or loading data, so a typo fails at once.
  for (
    const k of [
      "lr",
      "weight_decay",
      "grad_clip",
      "dropout",
      "sinkhorn_temp",
      "adapter_dropout",
      "stream_diversity_coeff",
    ]
  ) num(f, k);
  for (
    const k of [
      "dim",
      "layers",
      "seq_len",
      "batch_size",
      "epochs",
      "seed",
      "eval_every",
      "save_every",
      "n_streams",
      "sinkhorn_iters",
      "conv_kernel",
      "adapter_rank",
    ]
  ) {
    num(f, k, true);
  }
  for (const k of ["steps", "eval_batches"]) if (f[k] !== undefined) num(f, k, true);
  const backend = await initBackend({ backend: f.backend as string | undefined });
  const { mhcConfig } = await import("./models/diag_ssm.ts");
  const { makeMhcVariant, checkIds } = await import("./experiments/mhc_ablation.ts");
  const { ArrayBatchSource } = await import("./train/batch_source.ts");
  const { train } = await import("./train/trainer.ts");
  const { getTokenizer } = await import("./tokenizers/types.ts");
  if (!["baseline", "mhc"].includes(f.model as string)) {
    throw new Error(`Option --model must be "baseline" or "mhc", got "${f.model}".`);
  }
  const tok = getTokenizer(f.tokenizer as string);
  const seqLen = num(f, "seq_len", true);
  const cfg = mhcConfig({
    vocabSize: tok.vocabSize,
    maxLen: seqLen,
    dim: num(f, "dim", true),
    layers: num(f, "layers", true),
    dropout: num(f, "dropout"),
    convKernel: num(f, "conv_kernel", true),
    norm: f.norm as "rms" | "ln",
    nStreams: num(f, "n_streams", true),
    sinkhornIters: num(f, "sinkhorn_iters", true),
    sinkhornTemp: num(f, "sinkhorn_temp"),
    adapterRank: num(f, "adapter_rank", true),
    adapterDropout: num(f, "adapter_dropout"),
    streamDiversityCoeff: num(f, "stream_diversity_coeff"),
  });
  const variant = f.model === "baseline" ? "baseline" : f.stream_adapters ? "mhc_adapters" : "mhc";
  const seed = num(f, "seed", true);
  const trainIds = await loadTrainIds(f.data as string | undefined, "train", f.tokenizer as string);
  const validIds = await loadTrainIds(
    (f.valid_data ?? f.data) as string | undefined,
    "validation",
    f.tokenizer as string,
  );
  checkIds(trainIds, cfg.vocabSize, "the training ids");
  const model = makeMhcVariant(variant, cfg, "published", seed);
  const runName = (f.run_name as string) || `${variant}`;
  const outDir = `${f.out_dir}/${runName}`;
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(
    `${outDir}/run.json`,
    JSON.stringify({ flags: f, config: model.config, seed, environment: describeEnvironment() }, null, 2),
  );
  console.log(
    `training ${variant} (${
      model.numParams().toLocaleString("en")
    } parameters) on ${backend}; ${trainIds.length} training tokens`,
  );
  const batch = num(f, "batch_size", true);
  await train({
    model,
    data: new ArrayBatchSource(trainIds, { batch, seqLen, rng: seed, dropLast: true }),
    valData: () => new ArrayBatchSource(validIds, { batch, seqLen, shuffle: false }),
    steps: f.steps ? num(f, "steps", true) : undefined,
    epochs: f.steps ? undefined : num(f, "epochs", true),
    lr: num(f, "lr"),
    weightDecay: num(f, "weight_decay"),
    gradClip: num(f, "grad_clip"),
    seed,
    evalEvery: num(f, "eval_every", true),
    evalBatches: f.eval_batches ? num(f, "eval_batches", true) : undefined,
    saveEvery: num(f, "save_every", true),
    outDir,
    resume: f.resume as boolean,
    rngs: { dropout: model.dropoutRng },
    progress: "auto",
  });
  console.log(`done: checkpoints in ${outDir}`);
}

async function cmdBenchmark(argv: string[]): Promise<void> {
  const f = parse(argv, {
    ckpt: { type: "string", default: "" },
    batch_size: { type: "string", default: "16" },
    seq_len: { type: "string" },
    steps: { type: "string", default: "50" },
    warmup: { type: "string", default: "10" },
    ppl_eval: { type: "boolean", default: false },
    ppl_batches: { type: "string", default: "50" },
    data: { type: "string" },
    tokenizer: { type: "string", default: "gpt2" },
    seed: { type: "string", default: "1337" },
    backend: { type: "string" },
    help: { type: "boolean", default: false },
  });
  if (f.help) {
    return console.log(
      "ssmlab benchmark --ckpt RUN_OR_CHECKPOINT [--batch_size 16] [--steps 50] [--warmup 10] [--ppl_eval] [--ppl_batches 50] [--data DIR]",
    );
  }
  if (!f.ckpt) {
    throw new Error(
      "Option --ckpt is required: a checkpoint folder or a run folder with a `latest` pointer.",
    );
  }
  const backend = await initBackend({ backend: f.backend as string | undefined });
  const { loadCheckpoint, restoreModel } = await import("./train/checkpoint.ts");
  const { createModel } = await import("./models/registry.ts");
  const { measureThroughput } = await import("./eval/throughput.ts");
  const ck = await loadCheckpoint(f.ckpt as string);
  const model = createModel(ck.config, num(f, "seed", true));
  restoreModel(model, ck);
  const seqLen = f.seq_len ? num(f, "seq_len", true) : (ck.config.maxLen ?? 256);
  const batch = num(f, "batch_size", true);
  model.setTraining?.(true);
  const t = await measureThroughput(model, {
    batch,
    seqLen,
    warmup: num(f, "warmup", true),
    steps: num(f, "steps", true),
    restoreWeights: true,
  });
  const result: Record<string, unknown> = {
    backend,
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
    model.setTraining?.(false);
    const p = await evaluatePerplexity(model, it, {
      maxBatches: num(f, "ppl_batches", true),
      source: "loss",
    });
    Object.assign(result, { val_loss: p.loss, ppl: p.ppl, ppl_batches: p.batches });
  }
  console.log(JSON.stringify(result, null, 2));
  model.dispose();
}

/** Entry point: dispatch a subcommand; bad input prints one clear sentence and exits 2. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const commands: Record<string, (a: string[]) => Promise<void>> = {
    quickstart: cmdQuickstart,
    train: cmdTrain,
    benchmark: cmdBenchmark,
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
