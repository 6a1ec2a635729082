/**
 * Kneser-Ney n-gram baselines on BLiMP: train each n-gram once on a corpus, then score the original and the
 * filtered set with both variants; writes `table.csv` (overall per model × set × variant, with times),
 * `per_phenomenon.csv` and the BabyLM-layout files under `--out`.
 *
 * ```sh
 * deno run -A --v8-flags=--max-old-space-size=8000 bench/blimp_ngram.ts --data CORPUS_DIR \
 *   --blimp BLIMP_DIR [--filtered BLIMP_FILTERED_DIR] [--ngrams word:5,char:10] --out results/blimp/ngram
 * ```
 *
 * `ssmlab blimp --ngram word:5 --data CORPUS_DIR --blimp BLIMP_DIR` gives the same numbers one set and variant at
 * a time (it trains on the sentences of that set only; the probabilities are the same, see src/eval/ngram.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadBlimp } from "../src/data/blimp.ts";
import type { BlimpVariant } from "../src/eval/blimp.ts";
import { writeBabyLMBlimp } from "../src/eval/blimp_babylm.ts";
import { evaluateBlimpNgram, readTextLines } from "../src/eval/blimp_run.ts";
import { parseNgramSpec, trainNgram } from "../src/eval/ngram.ts";
import { saveFrame } from "../src/results/frames.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    data: { type: "string" },
    blimp: { type: "string" },
    filtered: { type: "string" },
    ngrams: { type: "string", default: "word:5,char:10" },
    out: { type: "string", default: "results/blimp/ngram" },
  },
});
if (!a.data || !a.blimp) {
  throw new Error("Options --data (training text) and --blimp (BLiMP jsonl folder) are required.");
}
const sets: [string, string, Awaited<ReturnType<typeof loadBlimp>>][] = [[
  "original",
  "blimp_original",
  await loadBlimp({ dir: a.blimp }),
]];
if (a.filtered) sets.push(["filtered", "blimp_filtered", await loadBlimp({ dir: a.filtered })]);
const lines = await readTextLines(a.data);
const sentences = [...new Set(sets.flatMap(([, , ps]) => ps.flatMap((p) => [p.good, p.bad])))];
const rows: Record<string, string | number>[] = [], phen: Record<string, string | number>[] = [];
for (const spec of a.ngrams!.split(",")) {
  const { unit, order } = parseNgramSpec(spec);
  const t0 = performance.now();
  const m = trainNgram(lines, { unit, order, restrictTo: sentences });
  const trainS = (performance.now() - t0) / 1000;
  const model = `ngram_${unit}${order}`;
  console.log(
    `${m.label}: ${m.tokens} tokens, ${trainS.toFixed(1)} s, discounts ${
      m.discounts.map((d) => d.toFixed(3))
    }`,
  );
  for (const [set, dataset, pairs] of sets) {
    for (const variant of ["first-token-unscored", "eos-prefixed"] as BlimpVariant[]) {
      const t1 = performance.now();
      const r = evaluateBlimpNgram(m, pairs, { variant, returnScores: true });
      const scoreS = (performance.now() - t1) / 1000;
      await writeBabyLMBlimp(r, pairs, { outDir: `${a.out}/babylm`, model, dataset });
      rows.push({
        model,
        set,
        variant,
        paradigms: r.perParadigm.length,
        pairs: r.pairs,
        overall: Math.round(1e4 * r.overall) / 100,
        ties: r.ties,
        train_tokens: m.tokens,
        train_s: Math.round(trainS * 10) / 10,
        score_s: Math.round(scoreS * 10) / 10,
      });
      for (const p of r.perPhenomenon) {
        phen.push({
          model,
          set,
          variant,
          phenomenon: p.phenomenon,
          accuracy: Math.round(1e4 * p.accuracy) / 100,
        });
      }
      console.log(`  ${set} ${variant}: ${(100 * r.overall).toFixed(2)} % (${r.ties} ties)`);
    }
  }
}
await saveFrame(rows, `${a.out}/table`);
await saveFrame(phen, `${a.out}/per_phenomenon`);
