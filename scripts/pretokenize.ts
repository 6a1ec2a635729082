/**
 * Pre-tokenize a corpus with a tokenizer into a uint16 id file (docs/data.md: each line tokenized separately, EOS
 * after every line), for carrying to the GPU machine or for fast reloads.
 *
 * Usage: deno run -A scripts/pretokenize.ts --corpus wikitext2|babylm|text --split valid --dir DIR [--file F]
 *          [--tokenizer gpt2] --out OUT.u16 [--max-words N]
 */
import { parseArgs } from "node:util";
import { loadBabyLM, loadWikitext2, readText, splitLines } from "../src/data/corpora.ts";
import { saveIds, tokenizeLines } from "../src/data/batches.ts";
import { getTokenizer } from "../src/tokenizers/types.ts";

const { values } = parseArgs({
  options: {
    corpus: { type: "string", default: "wikitext2" },
    split: { type: "string", default: "validation" },
    dir: { type: "string" },
    file: { type: "string" },
    tokenizer: { type: "string", default: "gpt2" },
    out: { type: "string" },
    "max-words": { type: "string" },
  },
});
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
