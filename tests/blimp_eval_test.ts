import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import type { LanguageModel, ModelConfig } from "../src/models/types.ts";
import type { Tokenizer } from "../src/tokenizers/types.ts";
import {
  aggregateBlimp,
  type BlimpEvalPair,
  evaluateBlimp,
  scoringSequence,
  sequenceLogProbs,
} from "../src/eval/blimp.ts";
import {
  BLIMP_PHENOMENA,
  BLIMP_PHENOMENON_NAMES,
  BLIMP_UIDS,
  parseBlimpJsonl,
  phenomenonOf,
} from "../src/data/blimp.ts";
import { TinyLm } from "./fixtures/tiny_lm.ts";

/** Characters a–o → ids 1..15; 0 = EOS. */
const charTok: Tokenizer = {
  name: "fake-chars",
  vocabSize: 16,
  eosId: 0,
  encode: (text) => [...text].map((c) => c.charCodeAt(0) - 96),
  decode: (ids) => ids.filter((i) => i > 0).map((i) => String.fromCharCode(i + 96)).join(""),
};
const [EOS, A, B] = [0, 1, 2];

/** A bigram "model" whose scores are a fixed table: logProbs[b, t, :] = table[ids[b, t], :]. */
class TableLm implements LanguageModel {
  readonly config: ModelConfig;
  readonly weights = new Map<string, tf.Variable>();
  #table: tf.Tensor2D;
  constructor(table: number[][], maxLen: number | null = null) {
    this.config = { kind: "table", vocabSize: table.length, maxLen };
    this.#table = tf.tensor2d(table);
  }
  logProbs(ids: tf.Tensor2D): tf.Tensor3D {
    if (this.config.maxLen != null && ids.shape[1] > this.config.maxLen) throw new Error("too long");
    return tf.gather(this.#table, ids) as unknown as tf.Tensor3D;
  }
  loss(): tf.Scalar {
    throw new Error("not used");
  }
  dispose(): void {
    this.#table.dispose();
  }
}

/** Every entry −1, except: EOS→b = −10, a→b = −5. */
function table(): number[][] {
  const t = Array.from({ length: 16 }, () => new Array(16).fill(-1));
  t[EOS][B] = -10;
  t[A][B] = -5;
  return t;
}

const PAIRS: BlimpEvalPair[] = [
  { uid: "ellipsis_n_bar_1", pairId: 0, good: "ab", bad: "ba" }, // FT: −5 vs −1 ✗ | EOS: −6 vs −11 ✓
  { uid: "ellipsis_n_bar_1", pairId: 1, good: "ac", bad: "ad" }, // tie → ✓ | tie → ✓
  { uid: "ellipsis_n_bar_2", pairId: 0, good: "cab", bad: "cba" }, // FT: −6 vs −2 ✗ | EOS: −7 vs −3 ✗
  { uid: "wh_island", pairId: 0, good: "ba", bad: "ab" }, // FT: −1 vs −5 ✓ | EOS: −11 vs −6 ✗
  { uid: "wh_island", pairId: 1, good: "abc", bad: "b" }, // FT: −6 vs 0 ✗ | EOS: −7 vs −10 ✓
  { uid: "my_animacy", linguisticsTerm: "s-selection", pairId: 0, good: "dd", bad: "de" }, // tie ✓ | tie ✓
];

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`blimp: both variants by hand (${backend})`, async () => {
    await initBackend({ backend });
    const model = new TableLm(table());
    const before = tf.memory().numTensors;

    const ft = await evaluateBlimp(model, charTok, PAIRS, {
      variant: "first-token-unscored",
      batchSize: 3,
      returnScores: true,
    });
    assertEquals(ft.variant, "first-token-unscored");
    assertEquals(ft.scores!.map((s) => [s.good, s.bad]), [[-5, -1], [-1, -1], [-6, -2], [-1, -5], [-6, 0], [
      -1,
      -1,
    ]]);
    assertEquals(ft.perParadigm, [
      { uid: "ellipsis_n_bar_1", phenomenon: "ellipsis", accuracy: 0.5, n: 2 },
      { uid: "ellipsis_n_bar_2", phenomenon: "ellipsis", accuracy: 0, n: 1 },
      { uid: "wh_island", phenomenon: "island_effects", accuracy: 0.5, n: 2 },
      { uid: "my_animacy", phenomenon: "argument_structure", accuracy: 1, n: 1 },
    ]);
    assertAlmostEquals(ft.overall, 0.5, 1e-12);
    assertEquals(ft.perPhenomenon, [
      { phenomenon: "argument_structure", accuracy: 1, paradigms: 1 },
      { phenomenon: "ellipsis", accuracy: 0.25, paradigms: 2 },
      { phenomenon: "island_effects", accuracy: 0.5, paradigms: 1 },
    ]);
    assertEquals(ft.pairs, 6);

    const eos = await evaluateBlimp(model, charTok, PAIRS, {
      variant: "eos-prefixed",
      batchSize: 4,
      returnScores: true,
    });
    assertEquals(eos.scores!.map((s) => [s.good, s.bad]), [[-6, -11], [-2, -2], [-7, -3], [-11, -6], [
      -7,
      -10,
    ], [-2, -2]]);
    assertEquals(eos.perParadigm.map((p) => p.accuracy), [1, 0, 0.5, 1]);
    assertAlmostEquals(eos.overall, 0.625, 1e-12);
    assertEquals(eos.perPhenomenon.map((p) => [p.phenomenon, p.accuracy]), [
      ["argument_structure", 1],
      ["ellipsis", 0.5],
      ["island_effects", 0.5],
    ]);
    assertEquals(tf.memory().numTensors, before, "no tensor leaks");
    model.dispose();
  });

  Deno.test(`blimp: batching and padding do not change TinyLm scores (${backend})`, async () => {
    await initBackend({ backend });
    const model = new TinyLm({ vocabSize: 16, dim: 8 }, 3);
    const before = tf.memory().numTensors;
    const seqs = ["abcde", "a", "", "ba", "onmlkjihgfedcba", "cab"].map((s) =>
      scoringSequence(charTok.encode(s), "eos-prefixed", EOS)
    );
    const one = await sequenceLogProbs(model, seqs, { batchSize: 1 });
    const all = await sequenceLogProbs(model, seqs, { batchSize: 64, padId: 7 });
    for (let i = 0; i < seqs.length; i++) assertAlmostEquals(all[i], one[i], 1e-4, `sequence ${i}`);
    // A log-prob budget of 3 rows of the longest sentence (16 × 16 ids each): batches of ≤ 3, same scores.
    const sizes: number[] = [];
    let last = 0;
    const capped = await sequenceLogProbs(model, seqs, {
      batchSize: 64,
      maxLogitElements: 3 * 16 * 16,
      onProgress: (done) => void (sizes.push(done - last), last = done),
    });
    assertEquals(
      sizes,
      [3, 2],
      "rows per pass: 3 of the longest length, then the rest (shorter) under the budget",
    );
    for (let i = 0; i < seqs.length; i++) assertAlmostEquals(capped[i], one[i], 1e-4, `capped sequence ${i}`);
    assertEquals(one[2], 0, "an empty sentence scores 0");
    // Reference for one sequence from the full log-probs.
    const ids = [EOS, 1, 2, 3, 4];
    const lp = tf.tidy(() => model.logProbs(tf.tensor2d([ids], [1, 5], "int32")).arraySync()[0]);
    const ref = [1, 2, 3, 4, 5].reduce((a, tgt, t) => a + lp[t][tgt], 0);
    assertAlmostEquals(one[0], ref, 1e-4);
    assertEquals(tf.memory().numTensors, before, "no tensor leaks");
    model.dispose();
  });
}

Deno.test("blimp: maxLen, missing EOS and bad ids fail clearly; truncate works", async () => {
  await initBackend({ backend: "cpu" });
  const model = new TableLm(table(), 2);
  const long: BlimpEvalPair[] = [{ uid: "wh_island", pairId: 7, good: "abcd", bad: "ab" }];
  await assertRejects(
    () => evaluateBlimp(model, charTok, long),
    Error,
    `pair "wh_island/7" needs 3 input positions`,
  );
  const r = await evaluateBlimp(model, charTok, long, { overflow: "truncate", returnScores: true });
  assertEquals(r.truncated, 1);
  assertEquals([r.scores![0].good, r.scores![0].bad], [-6, -5]); // a→b −5, b→c −1 (d dropped) vs a→b −5
  const noEos: Tokenizer = { ...charTok, eosId: null };
  await assertRejects(
    () => evaluateBlimp(model, noEos, PAIRS, { variant: "eos-prefixed" }),
    Error,
    "prefixId",
  );
  await assertRejects(
    () => evaluateBlimp(model, charTok, [{ uid: "x", pairId: 0, good: "az", bad: "a" }]),
    Error,
    `token id "26"`,
  );
  model.dispose();
});

Deno.test("blimp: aggregation, phenomena table and jsonl parsing", () => {
  assertEquals(BLIMP_PHENOMENON_NAMES.length, 12);
  assertEquals(Object.keys(BLIMP_PHENOMENA), [...BLIMP_PHENOMENON_NAMES]);
  assertEquals(BLIMP_UIDS.length, 67);
  assertEquals(new Set(BLIMP_UIDS).size, 67);
  assertEquals(BLIMP_PHENOMENA.argument_structure.length, 9);
  assertEquals(phenomenonOf("animate_subject_passive", "s-selection"), "argument_structure");
  assertEquals(phenomenonOf("hypernym", "supplement"), "supplement");
  assertEquals(phenomenonOf("zzz"), "other");
  assertEquals(phenomenonOf("zzz", ""), "other");
  const agg = aggregateBlimp([
    { uid: "a1", phenomenon: "binding", accuracy: 0.2, n: 1000 },
    { uid: "a2", phenomenon: "binding", accuracy: 0.4, n: 10 },
    { uid: "q", phenomenon: "quantifiers", accuracy: 0.9, n: 5 },
    { uid: "s", phenomenon: "supplement", accuracy: 0.5, n: 5 },
  ]);
  assertAlmostEquals(agg.overall, 0.5, 1e-12); // unweighted by n
  assertEquals(agg.perPhenomenon.map((p) => p.phenomenon), ["binding", "quantifiers", "supplement"]);
  assertAlmostEquals(agg.perPhenomenon[0].accuracy, 0.3, 1e-12);
  // Pairs from the data loader carry their phenomenon, which the evaluator uses as is.
  const pairs = parseBlimpJsonl(
    '{"sentence_good": "A b.", "sentence_bad": "B a.", "field": "syntax", "linguistics_term": "binding", "UID": "principle_A_case_1", "pairID": "3"}\n\n' +
      '{"sentence_good": "x", "sentence_bad": "y", "pairID": "0"}\n',
    "turn_taking.jsonl",
  );
  assertEquals(pairs, [
    {
      uid: "principle_A_case_1",
      field: "syntax",
      linguisticsTerm: "binding",
      phenomenon: "binding",
      pairId: 3,
      good: "A b.",
      bad: "B a.",
    },
    {
      uid: "turn_taking",
      field: "",
      linguisticsTerm: "",
      phenomenon: "other",
      pairId: 0,
      good: "x",
      bad: "y",
    },
  ]);
  assert(scoringSequence([5], "first-token-unscored").targets.length === 0);
});
