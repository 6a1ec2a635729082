/**
 * ssmlab command line: one function per command, each in `src/cli/<command>.ts` with its option table.
 *
 *   deno run -A src/cli.ts quickstart [--steps 150] [--backend auto]
 *   deno run -A src/cli.ts train --model KIND [--preset published] [model flags…] [--data DIR_OR_FILE] [--steps N]
 *   deno run -A src/cli.ts benchmark (--ckpt RUN | --model KIND) [--batch_size 16] [--steps 50] [--ppl_eval]
 *   deno run -A src/cli.ts eval --ckpt RUN [--data DIR_OR_FILE] [--split validation]
 *   deno run -A src/cli.ts generate --ckpt RUN --prompt "TEXT" [--max_new_tokens 50] [--temperature 1] [--top_k 0]
 *   deno run -A src/cli.ts export --format pytorch --ckpt RUN --out FILE.safetensors [--tied_head once]
 *   deno run -A src/cli.ts import --file FILE.safetensors --out_dir RUN [--tokenizer gpt2]
 *   deno run -A src/cli.ts blimp (--ckpt RUN | --ngram word:5 --data FILE) [--set original] [--out DIR]
 *
 * The model flags of `train` and `benchmark --model` are generated from the chosen kind's `ModelSpec` (one flag
 * per config field, its default from the preset, its help and accepted values from the field table), so every
 * registered kind is trainable from the command line. Every command that takes `--ckpt` reads the model config
 * and the tokenizer from the checkpoint (docs/cli.md).
 *
 * @module
 */
import { runBenchmark } from "./cli/benchmark.ts";
import { runBlimpCommand } from "./cli/blimp.ts";
import { runEval } from "./cli/eval.ts";
import { runGenerate } from "./cli/generate.ts";
import { runExport, runImport } from "./cli/interop.ts";
import { runQuickstart } from "./cli/quickstart.ts";
import { runTrain } from "./cli/train.ts";

/** Every command: name → [one line of help, the function that runs it with the arguments after its name]. */
const COMMANDS: Record<string, [string, (argv: string[]) => Promise<void>]> = {
  quickstart: [
    "train, evaluate and chart tiny models on the shipped sample (results/quickstart/<run>/)",
    runQuickstart,
  ],
  train: [
    "train any registered model kind (baseline, mHC, …) with the reference's flags and defaults",
    runTrain,
  ],
  benchmark: ["throughput, memory and perplexity of a trained checkpoint or a fresh model", runBenchmark],
  eval: ["perplexity of a checkpoint on a text file or a split of a WikiText folder", runEval],
  generate: ["continue a prompt with a checkpoint (temperature, top-k, top-p, penalties)", runGenerate],
  export: ["write a checkpoint as a PyTorch safetensors file under the reference's names", runExport],
  import: ["turn a PyTorch safetensors file into an ssmlab checkpoint", runImport],
  blimp: ["BLiMP of a checkpoint or an n-gram baseline; BabyLM-pipeline output files", runBlimpCommand],
};

const USAGE = `Usage: ssmlab <command> [options]
Commands:
${Object.entries(COMMANDS).map(([name, [help]]) => `  ${name.padEnd(12)} ${help}`).join("\n")}
Run "ssmlab <command> --help" for its options and their defaults.`;

/** Entry point: dispatch a subcommand; an unknown command exits 2, a failing one prints one sentence and exits 1. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h") {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const command = COMMANDS[cmd];
  if (!command) {
    console.error(`Unknown command "${cmd}": expected one of ${Object.keys(COMMANDS).join(", ")}.`);
    return 2;
  }
  try {
    await command[1](rest);
    return 0;
  } catch (e) {
    console.error(`ssmlab ${cmd}: ${(e as Error).message}`);
    if (Deno.env.get("SSMLAB_DEBUG")) console.error((e as Error).stack);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
