/**
 * GPU entry for the architecture comparison (src/experiments/architectures.ts, docs/architectures.md; bundled by
 * the device kit, `scripts/gpu_prepare.sh`: polars-free, so it writes JSON and CSV by hand). It reads a
 * BabyLM-style text folder (`*.train` or `*.txt`, one file per source), holds out the last `--held-out` fraction
 * of each source, tokenizes on the device (GPT-2 BPE is plain JavaScript) and trains every row for `--words`
 * words seen:
 *
 *   deno run -A .device/architectures_device.js --data DIR --out DIR [--blimp DIR] [--blimp-filtered DIR]
 *     [--rows baseline,mhc,mhc_adapters,h3,hssm,char_tiny,char_main] [--words 10000000] [--max-words N]
 *     [--held-out 0.01] [--preset published] [--tokenizer gpt2] [--batch 16] [--seq-len 256] [--lr 3e-4]
 *     [--eval-every-words 1000000] [--char-encoder-steps 200] [--max-pairs N] [--blimp-variant eos-prefixed]
 *     [--seed 1337] [--backend webgpu]
 *
 * Writes into --out: config.json, result.json (rewritten after every row: rows, curves, BLiMP per phenomenon),
 * table.csv, curves.csv, blimp.csv. One call can run a subset of rows (`--rows h3`) into its own folder;
 * `scripts/import_architectures.ts --from DIR` merges the folders into `results/architectures/`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { positiveNumbers } from "./options.ts";
import { join } from "node:path";
import { describeEnvironment, initBackend } from "../src/backend.ts";
import { loadBabyLM } from "../src/data/corpora.ts";
import { type BlimpPair, loadBlimp } from "../src/data/blimp.ts";
import type { BlimpVariant } from "../src/eval/blimp.ts";
import {
  architectureSpec,
  type ArchitecturesResult,
  runArchitectures,
  splitHeldOut,
} from "../src/experiments/architectures.ts";
import { writeTextAtomic } from "../src/results/atomic.ts";
import { toCsv } from "./csv.ts";

const { values: a } = parseArgs({
  options: {
    data: { type: "string" },
    out: { type: "string" },
    blimp: { type: "string" },
    "blimp-filtered": { type: "string" },
    rows: { type: "string", default: "baseline,mhc,mhc_adapters,h3,hssm,char_tiny,char_main" },
    words: { type: "string", default: "10000000" },
    "max-words": { type: "string" },
    "held-out": { type: "string", default: "0.01" },
    preset: { type: "string", default: "published" },
    tokenizer: { type: "string", default: "gpt2" },
    batch: { type: "string", default: "16" },
    "seq-len": { type: "string", default: "256" },
    lr: { type: "string", default: "3e-4" },
    "eval-every-words": { type: "string", default: "1000000" },
    "char-encoder-steps": { type: "string", default: "200" },
    "max-pairs": { type: "string" },
    "blimp-variant": { type: "string", default: "eos-prefixed" },
    seed: { type: "string", default: "1337" },
    backend: { type: "string", default: "webgpu" },
  },
});

/** A positive number option, or a clear error naming it. */
const num = positiveNumbers(a);

/** The result as JSON and CSV files in `out` (rewritten whole, so a partial run leaves consistent files). */
async function writeResult(out: string, config: unknown, r: ArchitecturesResult): Promise<void> {
  await writeTextAtomic(join(out, "result.json"), JSON.stringify({ config, ...r }, null, 2));
  await writeTextAtomic(join(out, "table.csv"), toCsv(r.rows));
  await writeTextAtomic(join(out, "curves.csv"), toCsv(r.curves));
  await writeTextAtomic(join(out, "blimp.csv"), toCsv(r.blimp));
}

if (!a.data || !a.out) throw new Error("Options --data (a BabyLM-style text folder) and --out are required.");
const rows = a.rows!.split(",").filter(Boolean);
rows.forEach(architectureSpec);
const backend = await initBackend({ backend: a.backend });
const corpus = await loadBabyLM({ dir: a.data, maxWords: a["max-words"] ? num("max-words") : undefined });
const { train, heldOut } = splitHeldOut(corpus.bySource, num("held-out"));
const maxPairs = a["max-pairs"] ? num("max-pairs") : undefined;
const sets: { name: string; pairs: BlimpPair[] }[] = [];
if (a.blimp) {
  sets.push({ name: "original", pairs: await loadBlimp({ dir: a.blimp, maxPairsPerParadigm: maxPairs }) });
}
if (a["blimp-filtered"]) {
  const pairs = await loadBlimp({ dir: a["blimp-filtered"], maxPairsPerParadigm: maxPairs });
  sets.push({ name: "filtered", pairs });
}
const config = {
  ...a,
  backend,
  corpus_words: corpus.words,
  train_lines: train.length,
  held_out_lines: heldOut.length,
  blimp_pairs: Object.fromEntries(sets.map((s) => [s.name, s.pairs.length])),
  environment: describeEnvironment(),
};
await Deno.mkdir(a.out, { recursive: true });
await writeTextAtomic(join(a.out, "config.json"), JSON.stringify(config, null, 2));
console.log(JSON.stringify(config));
const t0 = performance.now();
const result = await runArchitectures({
  train,
  heldOut,
  words: num("words"),
  preset: a.preset as "tiny" | "published",
  rows,
  tokenizer: a.tokenizer as "gpt2" | "ascii",
  batch: num("batch"),
  seqLen: num("seq-len"),
  lr: num("lr"),
  seed: Number(a.seed),
  evalEveryWords: num("eval-every-words"),
  charEncoderSteps: num("char-encoder-steps"),
  blimp: sets,
  blimpVariant: a["blimp-variant"] as BlimpVariant,
  log: (l) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${l}`),
  onResult: (r) => writeResult(a.out!, config, r),
});
await writeResult(a.out, config, result);
console.log(JSON.stringify(result.rows));
