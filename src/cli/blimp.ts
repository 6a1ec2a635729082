/**
 * `ssmlab blimp`: BLiMP accuracy of a checkpoint (its tokenizer and config read from the checkpoint) or of a
 * Kneser-Ney n-gram baseline trained on `--data`; prints overall and per-phenomenon scores and, with `--out`,
 * writes the BabyLM evaluation pipeline's files (docs/blimp.md).
 *
 * @module
 */
import { initBackend } from "../backend.ts";
import { BACKEND_OPTION, type CliOption, HELP_OPTION, helpText, parse } from "./options.ts";

/** Options of `blimp`. */
export const BLIMP_OPTIONS: Record<string, CliOption> = {
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
  fast: { type: "int", min: 1, help: "Only the first N pairs of each paradigm (BabyLM fast eval uses 200)." },
  out: { type: "string", help: "Write the BabyLM-layout files under this folder." },
  model_name: { type: "string", help: "Model name in the output layout (default: the run folder's name)." },
  revision: { type: "string", help: "Revision in the output layout (default: chck_* name or main)." },
  tokenizer: { type: "string", help: "Tokenizer name, overriding the checkpoint's tokenizer.json." },
  backend: BACKEND_OPTION,
  help: HELP_OPTION,
};

/** Run `ssmlab blimp` with the arguments after the command name. */
export async function runBlimpCommand(argv: string[]): Promise<void> {
  const f = parse(argv, BLIMP_OPTIONS);
  if (f.help) {
    return console.log(
      helpText("ssmlab blimp (--ckpt DIR | --ngram word:5 --data FILE) [options]", BLIMP_OPTIONS),
    );
  }
  if (f.ckpt) await initBackend({ backend: f.backend as string | undefined });
  const { runBlimp } = await import("../eval/blimp_run.ts");
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
