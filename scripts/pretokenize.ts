/**
 * Pre-tokenize a corpus with a tokenizer into a uint16 id file (docs/data.md: each line tokenized separately, EOS
 * after every line), for carrying to the GPU machine or for fast reloads.
 *
 * Usage: deno run -A scripts/pretokenize.ts --corpus wikitext2|babylm|text --split valid --dir DIR [--file F]
 *          [--tokenizer gpt2] --out OUT.u16 [--max-words N]
 *
 * The mHC ablation's data (issue 12; `loadAblationData` in src/data/slices.ts), written as `train.u16`,
 * `valid.u16` and, when training on a corpus file, `valid_ood.u16` (WikiText-2 valid) in OUT_DIR, each xz-compressed
 * with `--xz` (for the GPU machine), and `slices.json` (sizes, sources, words per training token):
 *   deno run -A scripts/pretokenize.ts --corpus slices --file F [--train-tokens 2400000] [--valid-tokens 260000]
 *     [--dir WIKITEXT_DIR] --out-dir OUT_DIR [--xz]
 *   (without --file: the real WikiText-2 train and validation splits, from --dir or the Hub)
 */
import { parseArgs } from "node:util";
import { loadBabyLM, loadWikitext2, readText, splitLines } from "../src/data/corpora.ts";
import { saveIds, tokenizeLines } from "../src/data/batches.ts";
import { getTokenizer } from "../src/tokenizers/types.ts";
import { loadAblationData } from "../src/data/slices.ts";

const { values } = parseArgs({
  options: {
    corpus: { type: "string", default: "wikitext2" },
    split: { type: "string", default: "validation" },
    dir: { type: "string" },
    file: { type: "string" },
    tokenizer: { type: "string", default: "gpt2" },
    out: { type: "string" },
    "max-words": { type: "string" },
    "train-tokens": { type: "string" },
    "valid-tokens": { type: "string" },
    "out-dir": { type: "string" },
    xz: { type: "boolean", default: false },
  },
});
if (values.corpus === "slices") {
  await writeAblationSlices();
  Deno.exit(0);
}
if (!values.out) throw new Error("Option --out is required (the .u16 file to write).");
const tok = getTokenizer(values.tokenizer!);
let lines: string[];
if (values.corpus === "wikitext2") {
  lines = (await loadWikitext2({ split: values.split as never, dir: values.dir })).lines;
} else if (values.corpus === "babylm") {
  lines = (await loadBabyLM({
    dir: values.dir,
    maxWords: values["max-words"] ? Number(values["max-words"]) : undefined,
  })).lines;
} else if (values.corpus === "text") {
  if (!values.file) throw new Error("Option --file is required with --corpus text.");
  lines = splitLines(await readText(values.file), { hfStyle: true });
} else {
  throw new Error(`Unknown --corpus "${values.corpus}": expected wikitext2, babylm or text.`);
}
const t0 = performance.now();
const ids = tokenizeLines(lines, tok, { eos: true, dtype: "uint16" });
await saveIds(values.out, ids as Uint16Array);
console.log(
  JSON.stringify({
    out: values.out,
    lines: lines.length,
    tokens: ids.length,
    seconds: (performance.now() - t0) / 1000,
  }),
);

/** `--corpus slices`: the ablation's train / valid / valid_ood ids as uint16 files (optionally .xz). */
async function writeAblationSlices(): Promise<void> {
  const dir = values["out-dir"];
  if (!dir) throw new Error("Option --out-dir is required with --corpus slices (the folder to write).");
  const count = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`Option --${name} must be a positive integer, got "${v}".`);
    }
    return n;
  };
  const t0 = performance.now();
  const d = await loadAblationData({
    corpus: values.file,
    tokenizer: getTokenizer(values.tokenizer!),
    trainTokens: count("train-tokens", values["train-tokens"]),
    validTokens: count("valid-tokens", values["valid-tokens"]),
    wikitextDir: values.dir,
  });
  await Deno.mkdir(dir, { recursive: true });
  const files: Record<string, number> = {};
  const sets: [string, Int32Array | null][] = [["train", d.train], ["valid", d.valid], [
    "valid_ood",
    d.validOutOfDomain,
  ]];
  for (const [name, ids] of sets) {
    if (!ids) continue;
    const path = `${dir}/${name}.u16`;
    await saveIds(path, ids);
    if (values.xz) {
      const r = await new Deno.Command("xz", { args: ["-f", "-T2", "-6", path] }).output();
      if (!r.success) throw new Error(`xz failed on "${path}": ${new TextDecoder().decode(r.stderr)}`);
    }
    files[values.xz ? `${path}.xz` : path] = ids.length;
  }
  // Words per training token (whitespace words of the decoded training ids): places the BabyLM word milestones.
  const tok = getTokenizer(values.tokenizer!);
  const words = tok.decode(Array.from(d.train)).split(/\s+/).filter(Boolean).length;
  const meta = { files, sources: d.sources, train_words: words, words_per_token: words / d.train.length };
  await Deno.writeTextFile(`${dir}/slices.json`, JSON.stringify(meta, null, 2));
  console.log(JSON.stringify({ ...meta, seconds: (performance.now() - t0) / 1000 }));
}
