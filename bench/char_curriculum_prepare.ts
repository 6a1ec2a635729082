/**
 * Prepare the character curriculum's GPU run (here, on the CPU machine): clean the BabyLM folder to ASCII
 * (`cleanCharCorpus`), and write into --out the gzip files that bench/char_curriculum_device.ts reads —
 * `char_train.u8.gz`, `char_valid.u8.gz` (ASCII codes, 0 after every line), `char_blimp.json.gz` (the BLiMP sets)
 * — and `char_cleaning.json` (the per-source report), printing the report.
 *
 *   deno run -A bench/char_curriculum_prepare.ts --babylm DIR --blimp DIR [--blimp-filtered DIR] --out .device/data
 *     [--max-symbol-run 3|none] [--symbol-run-mode remove|truncate] [--no-fold] [--held-out 0.01] [--max-words N]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadBabyLM } from "../src/data/corpora.ts";
import { loadBlimp } from "../src/data/blimp.ts";
import { cleanCharCorpus, formatCleaningReport, gzipBytes } from "../src/data/char_corpus.ts";
import type { BlimpEvalPair } from "../src/eval/blimp.ts";

const { values: a } = parseArgs({
  options: {
    babylm: { type: "string" },
    blimp: { type: "string" },
    "blimp-filtered": { type: "string" },
    out: { type: "string" },
    "max-symbol-run": { type: "string", default: "3" },
    "symbol-run-mode": { type: "string", default: "remove" },
    "no-fold": { type: "boolean", default: false },
    "held-out": { type: "string", default: "0.01" },
    "max-words": { type: "string" },
  },
});

/** A positive number option, or a clear error naming it. */
function num(name: keyof typeof a): number {
  const v = Number(a[name]);
  if (!Number.isFinite(v) || v <= 0) {
    throw new Error(`Option --${name} must be a positive number, got "${a[name]}".`);
  }
  return v;
}

async function writeGz(path: string, bytes: Uint8Array): Promise<void> {
  await Deno.writeFile(path, await gzipBytes(bytes));
}

async function prepare(): Promise<void> {
  if (!a.babylm || !a.out || !a.blimp) {
    throw new Error("prepare needs --babylm DIR, --blimp DIR and --out DIR.");
  }
  const maxRun = a["max-symbol-run"] === "none" ? null : num("max-symbol-run");
  const corpus = await loadBabyLM({ dir: a.babylm, maxWords: a["max-words"] ? num("max-words") : undefined });
  const c = cleanCharCorpus(corpus, {
    heldOutFraction: Number(a["held-out"]),
    cleaning: {
      foldAccents: !a["no-fold"],
      maxSymbolRun: maxRun,
      symbolRunMode: a["symbol-run-mode"] as "remove" | "truncate",
    },
  });
  await Deno.mkdir(a.out, { recursive: true });
  await writeGz(join(a.out, "char_train.u8.gz"), c.train);
  await writeGz(join(a.out, "char_valid.u8.gz"), c.valid);
  const sets: Record<string, BlimpEvalPair[]> = {};
  const dirs: [string, string | undefined][] = [["blimp", a.blimp], ["blimp_filtered", a["blimp-filtered"]]];
  for (const [name, dir] of dirs) {
    if (!dir) continue;
    sets[name] = (await loadBlimp({ dir })).map(({ uid, pairId, good, bad, phenomenon }) => ({
      uid,
      pairId,
      good,
      bad,
      phenomenon,
    }));
  }
  await writeGz(join(a.out, "char_blimp.json.gz"), new TextEncoder().encode(JSON.stringify(sets)));
  const info = {
    source: a.babylm,
    words: corpus.words,
    cleaning: c.cleaning,
    report: c.report,
    train: c.train.length,
    valid: c.valid.length,
  };
  await Deno.writeTextFile(join(a.out, "char_cleaning.json"), JSON.stringify(info, null, 2));
  console.log(formatCleaningReport(c.report));
  console.log(
    `train ${c.train.length} chars, held out ${c.valid.length}; BLiMP sets ${Object.keys(sets).join(", ")}`,
  );
}

await prepare();
