/**
 * BLiMP for any checkpoint (src/eval/blimp_run.ts, blimp_babylm.ts, blimp_milestones.ts, the trainer's word
 * milestones and `ssmlab blimp`): the BabyLM output layout, word-milestone checkpoints and the learning-curve
 * frame, and a clear error for each bad input (malformed jsonl line, unknown paradigm, checkpoint without its
 * tokenizer, sentence the tokenizer cannot encode).
 */
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { main } from "../src/cli.ts";
import { loadBlimp } from "../src/data/blimp.ts";
import { evaluateBlimp } from "../src/eval/blimp.ts";
import { babylmTaskDir, writeBabyLMBlimp } from "../src/eval/blimp_babylm.ts";
import { milestoneName, milestoneWords, wordsPerToken } from "../src/eval/blimp_milestones.ts";
import {
  blimpFastSubset,
  blimpLearningCurve,
  evaluateBlimpNgram,
  loadEvalCheckpoint,
  runBlimp,
} from "../src/eval/blimp_run.ts";
import { blimpComparison, trainTinyBlimpModel } from "../src/eval/blimp_report.ts";
import { NgramModel } from "../src/eval/ngram.ts";
import { createModel, modelConfig } from "../src/models/registry.ts";
import { getTokenizer } from "../src/tokenizers/types.ts";
import { renderSvg } from "../src/results/charts.ts";
import { ArrayBatchSource } from "../src/train/batch_source.ts";
import { train } from "../src/train/trainer.ts";

await initBackend({ backend: "cpu" });

const SAMPLE = "data/samples/blimp";
const sampleLines = async () =>
  (await Deno.readTextFile("data/samples/babylm/gutenberg_children.train")).split("\n").filter((l) =>
    l.trim()
  );

/** Run `main(argv)` with the console captured. */
async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const saved = { log: console.log, error: console.error };
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { code: await main(argv), out: out.join("\n"), err: err.join("\n") };
  } finally {
    Object.assign(console, saved);
  }
}

Deno.test("blimp milestones: names like the BabyLM revisions, words per token", () => {
  assertEquals([1e6, 10e6, 500e3, 1234].map(milestoneName), [
    "chck_1M",
    "chck_10M",
    "chck_500K",
    "chck_1234",
  ]);
  assertEquals(["chck_1M", "chck_500K", "chck_1234", "step-5"].map(milestoneWords), [1e6, 5e5, 1234, null]);
  // "the cat" = 2 words; ascii: 7 characters + EOS.
  assertEquals(wordsPerToken(["the cat"], getTokenizer("ascii")), 0.25);
  assertThrows(() => wordsPerToken([], getTokenizer("ascii")), Error, "no tokens");
});

Deno.test("trainer: saveAtWords writes chck_* checkpoints when the words seen first reach each milestone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = createModel(modelConfig("baseline", { vocabSize: 128 }, "tiny"), 1);
    const ids = new Int32Array(2000).map((_, i) => 97 + (i % 26));
    // 2 × 16 = 32 tokens per step, 0.5 words per token → 16 words per step: 100 words after step 7, 300 after 19.
    await train({
      model,
      data: new ArrayBatchSource(ids, { batch: 2, seqLen: 16, rng: 1, dropLast: true }),
      steps: 20,
      outDir: dir,
      saveAtWords: [100, 300],
      wordsPerToken: 0.5,
      progress: "none",
    });
    model.dispose();
    const state = async (name: string) => JSON.parse(await Deno.readTextFile(`${dir}/${name}/state.json`));
    assertEquals((await state("chck_100")).step, 7);
    assertEquals((await state("chck_300")).step, 19);
    assertEquals((await state("chck_300")).tokensSeen, 19 * 32);
    assertEquals((await Deno.readTextFile(`${dir}/latest`)).trim(), "step-20");
    // Resumed at step 10 (tokensSeen restored from state.json), the run still places chck_300 at step 19.
    const again = async (steps: number, resume: boolean) => {
      const m = createModel(modelConfig("baseline", { vocabSize: 128 }, "tiny"), 1);
      await train({
        model: m,
        data: new ArrayBatchSource(ids, { batch: 2, seqLen: 16, rng: 1, dropLast: true }),
        steps,
        outDir: `${dir}/resumed`,
        resume,
        saveAtWords: [100, 300],
        wordsPerToken: 0.5,
        progress: "none",
      });
      m.dispose();
    };
    await again(10, false);
    await again(20, true);
    assertEquals((await state("resumed/chck_100")).step, 7);
    assertEquals((await state("resumed/chck_300")).step, 19);
    await assertRejects(
      () =>
        train({
          model,
          data: new ArrayBatchSource(ids, { batch: 2, seqLen: 16 }),
          steps: 1,
          saveAtWords: [1],
        }),
      Error,
      "saveAtWords needs outDir",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("blimp: BabyLM layout — predictions.json, report, per-pair jsonl and results.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pairs = await loadBlimp({ dir: SAMPLE });
    const m = NgramModel.train(await sampleLines(), { unit: "char", order: 6 });
    const r = evaluateBlimpNgram(m, pairs, { returnScores: true });
    const out = await writeBabyLMBlimp(r, pairs, {
      outDir: dir,
      model: "char6",
      dataset: "blimp_fast",
      revision: "chck_1M",
    });
    assertEquals(out.dir, `${dir}/char6/chck_1M/zero_shot/causal/blimp/blimp_fast`);
    assertEquals(
      out.dir,
      babylmTaskDir({ outDir: dir, model: "char6", dataset: "blimp_fast", revision: "chck_1M" }, r.variant),
    );
    const preds = JSON.parse(await Deno.readTextFile(`${out.dir}/predictions.json`));
    assertEquals(Object.keys(preds).sort(), [
      "adjunct_island",
      "determiner_noun_agreement_1",
      "principle_A_case_2",
    ]);
    assertEquals(preds.adjunct_island.predictions.length, 50);
    assertEquals(preds.adjunct_island.predictions[3].id, "adjunct_island_3");
    const lines = (await Deno.readTextFile(`${out.dir}/predictions.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assertEquals(lines.length, 150);
    for (const l of lines) {
      assertEquals(l.correct, l.logprob_good >= l.logprob_bad);
      assertEquals(l.pred, l.correct ? l.sentence_good : l.sentence_bad);
    }
    const correct = lines.filter((l) => l.correct).length;
    const results = JSON.parse(await Deno.readTextFile(`${out.dir}/results.json`));
    assertEquals(results.average, 100 * r.overall);
    assertEquals(results.accuracies.field["syntax/semantics"], results.accuracies.UID.principle_A_case_2);
    assertAlmostEquals(correct / 150, r.overall, 1e-12); // equal paradigm sizes: mean over pairs = mean over paradigms
    const report = await Deno.readTextFile(`${out.dir}/best_temperature_report.txt`);
    assertStringIncludes(report, "TEMPERATURE: 1.00\n\n### FIELD ACCURACY\n");
    assertStringIncludes(report, `### AVERAGE ACCURACY\n${(100 * r.overall).toFixed(2)}\n`);
    // eos-prefixed goes to its own backend folder; scores are required.
    const r2 = evaluateBlimpNgram(m, pairs, { variant: "eos-prefixed", returnScores: true });
    assert(
      (await writeBabyLMBlimp(r2, pairs, { outDir: dir, model: "char6" })).dir.includes(
        "/causal_eos_prefixed/blimp/blimp_filtered",
      ),
    );
    await assertRejects(
      () => writeBabyLMBlimp(evaluateBlimpNgram(m, pairs), pairs, { outDir: dir, model: "x" }),
      Error,
      "returnScores",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("blimp: a tiny checkpoint's learning curve by words seen, comparison tables and charts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = await trainTinyBlimpModel({
      lines: await sampleLines(),
      outDir: `${dir}/tiny`,
      steps: 8,
      saveAtWords: [200, 500],
    });
    const pairs = blimpFastSubset(await loadBlimp({ dir: SAMPLE }), 4);
    assertEquals(pairs.length, 12);
    const curve = await blimpLearningCurve(run.dir, pairs, { outDir: `${dir}/out` });
    assertEquals(curve.getColumn("checkpoint").toArray(), ["chck_200", "chck_500"]);
    assertEquals(curve.getColumn("words").toArray(), [200, 500]);
    assert(curve.columns.includes("island_effects") && curve.columns.includes("overall"));
    await Deno.stat(`${dir}/out/tiny/chck_500/zero_shot/causal/blimp/blimp_fast/predictions.json`);
    const ck = await loadEvalCheckpoint(run.dir);
    const r = await evaluateBlimp(ck.model, ck.tokenizer, pairs, { overflow: "truncate" });
    ck.model.dispose();
    const cmp = blimpComparison([{ model: "tiny", result: r }, {
      model: "w3",
      result: evaluateBlimpNgram(NgramModel.train(await sampleLines(), { order: 3 }), pairs),
    }]);
    assertEquals(cmp.perPhenomenon.columns, ["phenomenon", "tiny", "w3"]);
    assertEquals(cmp.perPhenomenon.height, 4); // 3 phenomena + overall
    assertEquals((cmp.heatmap.data as { values: unknown[] }).values.length, 8);
    const svg = await renderSvg(cmp.heatmap);
    for (const t of ["island_effects", "overall", "tiny", "w3", "first-token-unscored"]) {
      assertStringIncludes(svg, t);
    }
    assertStringIncludes(await renderSvg(cmp.anchors), "GPT-2 baseline (BabyLM 2026)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("blimp bad input: malformed jsonl line, unknown paradigm, no tokenizer, unencodable sentence", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/blimp`);
    const good = (await Deno.readTextFile(`${SAMPLE}/adjunct_island.jsonl`)).split("\n").slice(0, 2).join(
      "\n",
    );
    await Deno.writeTextFile(
      `${dir}/blimp/adjunct_island.jsonl`,
      good + '\n{"sentence_good": "A.", "sentence_bad": \n',
    );
    await assertRejects(
      () => runBlimp({ ngram: "word:3", data: "data/samples/babylm", blimpDir: `${dir}/blimp` }),
      Error,
      `${dir}/blimp/adjunct_island.jsonl" line 3 is not valid JSON`,
    );
    await assertRejects(
      () =>
        runBlimp({
          ngram: "word:3",
          data: "data/samples/babylm",
          blimpDir: SAMPLE,
          paradigms: ["adjunct_islnd"],
        }),
      Error,
      `Unknown BLiMP paradigm "adjunct_islnd"`,
    );
    // A checkpoint whose run folder has no tokenizer.json nor run.json.
    const model = createModel(modelConfig("baseline", { vocabSize: 128, maxLen: 256 }, "tiny"), 1);
    await train({
      model,
      data: new ArrayBatchSource(new Int32Array(200).fill(65), { batch: 2, seqLen: 8 }),
      steps: 1,
      outDir: `${dir}/run`,
      progress: "none",
    });
    await assertRejects(
      () => loadEvalCheckpoint(`${dir}/run`),
      Error,
      `The checkpoint "${dir}/run/step-1" has no tokenizer`,
    );
    const cli = await runCli(["blimp", "--ckpt", `${dir}/run`, "--blimp", SAMPLE, "--backend", "cpu"]);
    assertEquals(cli.code, 1);
    assertStringIncludes(cli.err, "has no tokenizer");
    // A sentence the ASCII tokenizer cannot encode (no ASCII character left): named by its pair.
    const pairs = [{ uid: "p", pairId: 7, good: "日本語", bad: "A b." }];
    await assertRejects(
      () => evaluateBlimp(model, getTokenizer("ascii"), pairs),
      Error,
      `cannot encode the good sentence of pair "p/7" ("日本語"): it gives no token`,
    );
    // Ids outside the checkpoint's vocabulary (a mismatched tokenizer).
    await assertRejects(
      () =>
        evaluateBlimp(model, getTokenizer("gpt2"), [{
          uid: "q",
          pairId: 1,
          good: "Hello there.",
          bad: "Hello.",
        }]),
      Error,
      `pair "q/1"`,
    );
    model.dispose();
    assertEquals((await runCli(["blimp", "--ngram", "word5", "--data", "x"])).code, 1);
    assertStringIncludes(
      (await runCli(["blimp", "--set", "filtered", "--ngram", "word:2", "--data", "x"])).err,
      "--blimp",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ssmlab blimp: an n-gram baseline prints overall and per-phenomenon scores and writes the BabyLM files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { code, out } = await runCli([
      "blimp",
      "--ngram",
      "char:6",
      "--data",
      "data/samples/babylm",
      "--blimp",
      SAMPLE,
      "--variant",
      "eos-prefixed",
      "--paradigms",
      "adjunct_island,principle_A_case_2",
      "--out",
      dir,
    ]);
    assertEquals(code, 0);
    assertStringIncludes(out, "ngram_char6 · BLiMP original · eos-prefixed · 100 pairs");
    assertStringIncludes(out, "island_effects");
    assertStringIncludes(out, "overall");
    const res = JSON.parse(
      await Deno.readTextFile(
        `${dir}/ngram_char6/main/zero_shot/causal_eos_prefixed/blimp/blimp_original/results.json`,
      ),
    );
    assertEquals(Object.keys(res.accuracies.UID), ["adjunct_island", "principle_A_case_2"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
