/**
 * Kneser-Ney n-gram baselines (src/eval/ngram.ts): probabilities sum to 1 over the vocabulary at every context,
 * hand-computed values on a two-line corpus, the restricted counts give the full model's probabilities, the
 * scoring variants, and errors on bad options.
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { neyDiscount, NgramModel, parseNgramSpec, trainNgram, wordUnits } from "../src/eval/ngram.ts";

const sumOver = (m: NgramModel, hist: string[]) => m.vocabulary().reduce((s, w) => s + m.prob(hist, w), 0);

Deno.test("ngram: hand-computed interpolated KN values (bigram, D = 0.5)", () => {
  // <s> a b </s> ; <s> a a </s>. V = {a, b, </s>, <unk>} (|V| = 4).
  // Continuation counts: N1+(•a) = 2 ({<s>, a}), N1+(•b) = 1, N1+(•</s>) = 2; N1+(••) = 5, 3 types.
  const m = NgramModel.train(["a b", "a a"], { unit: "word", order: 2, discounts: 0.5 });
  assertEquals(m.vocabSize, 4);
  const uniFloor = (0.5 * 3 / 5) / 4; // 0.075
  const p1a = 1.5 / 5 + uniFloor, p1b = 0.5 / 5 + uniFloor; // 0.375, 0.175
  assertAlmostEquals(m.prob([], "a"), p1a, 1e-12);
  assertAlmostEquals(m.prob([], "b"), p1b, 1e-12);
  assertAlmostEquals(m.prob([], "</s>"), 0.375, 1e-12);
  assertAlmostEquals(m.prob([], "zzz"), uniFloor, 1e-12); // unknown → <unk>
  // c(a•) = 3 over 3 types: p(b | a) = (1 − 0.5)/3 + 0.5·3/3·p1(b).
  assertAlmostEquals(m.prob(["a"], "b"), 0.5 / 3 + 0.5 * p1b, 1e-12);
  // c(<s> a) = 2, c(<s>•) = 2, one type: p(a | <s>) = 1.5/2 + 0.5·1/2·p1(a) = 0.84375.
  assertAlmostEquals(m.prob(["<s>"], "a"), 0.84375, 1e-12);
  // An unseen bigram backs off: p(a | b) = 0.5·1/1·p1(a).
  assertAlmostEquals(m.prob(["b"], "a"), 0.5 * p1a, 1e-12);
  // Sentence scores: eos-prefixed scores "a" after <s>; first-token-unscored only "b" after "a".
  const pba = 0.5 / 3 + 0.5 * p1b;
  assertAlmostEquals(m.sentenceLogProb("a b", "eos-prefixed"), Math.log(0.84375) + Math.log(pba), 1e-12);
  assertAlmostEquals(m.sentenceLogProb("A b", "first-token-unscored"), Math.log(pba), 1e-12); // lower-cased
  assertAlmostEquals(
    m.sentenceLogProb("a b", "eos-prefixed", true),
    Math.log(0.84375 * pba * m.prob(["b"], "</s>")),
    1e-12,
  );
});

Deno.test("ngram: Ney's discount n1 / (n1 + 2 n2) per order", () => {
  assertEquals(neyDiscount([1, 1, 2, 5]), 0.5);
  assertEquals(neyDiscount([2, 3]), 0.5); // no singletons: fallback
  assertEquals(neyDiscount([1, 1]), 1); // no doubletons
  // The bigram top order of the corpus above: counts <s>a:2, ab:1, b</s>:1, aa:1, a</s>:1 → 4/(4 + 2) = 2/3.
  const m = NgramModel.train(["a b", "a a"], { order: 2 });
  assertAlmostEquals(m.discounts[1], 2 / 3, 1e-12);
  assertAlmostEquals(m.discounts[0], 1 / (1 + 2 * 2), 1e-12); // continuation counts 2, 1, 2
});

Deno.test("ngram: probabilities sum to 1 over the vocabulary at every context (word and char)", () => {
  const text = [
    "The cat sat on the mat.",
    "The dog sat on the cat's mat, didn't it?",
    "A cat and a dog ran.",
    "The mat sat still.",
  ];
  const word = NgramModel.train(text, { unit: "word", order: 4 });
  for (
    const h of [[], ["the"], ["<s>", "<s>", "<s>"], ["sat", "on", "the"], ["on", "the"], ["zzz", "cat"], [
      "mat",
    ]]
  ) {
    assertAlmostEquals(sumOver(word, h), 1, 1e-9, `word context ${h.join(" ")}`);
  }
  const char = NgramModel.train(text, { unit: "char", order: 6 });
  for (
    const h of [[], ["T", "h", "e", " "], ["<s>", "<s>", "<s>", "<s>", "<s>"], ["x", "y"], [" ", "c", "a"]]
  ) {
    assertAlmostEquals(sumOver(char, h), 1, 1e-9, `char context ${h.join("")}`);
  }
  assertEquals(char.units("Ab c"), ["A", "b", " ", "c"]);
  const fixed = NgramModel.train(text, { unit: "word", order: 3, discounts: [1, 0.3, 0.9] });
  assertAlmostEquals(sumOver(fixed, ["the", "cat"]), 1, 1e-9);
});

Deno.test("ngram: restricted counts give the full model's scores for the given sentences", () => {
  const corpus = ["the cat sat on the mat .", "the dog sat on a log .", "a cat saw the dog ."];
  const queries = ["The cat sat on a log.", "The dog saw a cat."];
  for (const unit of ["word", "char"] as const) {
    const order = unit === "word" ? 3 : 5;
    const full = NgramModel.train(corpus, { unit, order });
    const small = NgramModel.train(corpus, { unit, order, restrictTo: queries, discounts: full.discounts });
    assert(small.restricted && !full.restricted);
    for (const q of queries) {
      for (const v of ["first-token-unscored", "eos-prefixed"] as const) {
        assertAlmostEquals(
          small.sentenceLogProb(q, v),
          full.sentenceLogProb(q, v),
          1e-12,
          `${unit} ${v} ${q}`,
        );
      }
    }
    assertThrows(() => small.sentenceLogProb("a log saw the mat", "eos-prefixed"), Error, "restrictTo");
  }
  // trainNgram estimates the discounts of a restricted model on a full model of a sample.
  const t = trainNgram(corpus, { unit: "word", order: 3, restrictTo: queries, discountSampleLines: 3 });
  assertEquals(t.discounts, NgramModel.train(corpus, { unit: "word", order: 3 }).discounts);
});

Deno.test("ngram: word units and specs", () => {
  assertEquals(wordUnits("Who should Derek hug?"), ["Who", "should", "Derek", "hug", "?"]);
  assertEquals(wordUnits("It doesn't, 3 days."), ["It", "doesn't", ",", "3", "days", "."]);
  assertEquals(parseNgramSpec("char:10"), { unit: "char", order: 10 });
  assertThrows(() => parseNgramSpec("word5"), Error, `"word:N" or "char:N"`);
  assertThrows(() => parseNgramSpec("byte:3"), Error, "--ngram");
});

Deno.test("ngram: bad options are clear errors", () => {
  assertThrows(() => NgramModel.train(["a b"], { order: 0 }), Error, "order must be an integer ≥ 1");
  assertThrows(
    () => NgramModel.train(["a b"], { order: 2, discounts: 1.5 }),
    Error,
    "discount of order 1 is 1.5",
  );
  assertThrows(() => NgramModel.train(["a b"], { order: 2, discounts: [0.5] }), Error, "one per order (2)");
  assertThrows(() => NgramModel.train([], { order: 2 }), Error, "no lines");
  assertThrows(() => NgramModel.train(["a"], { unit: "byte" as "word" }), Error, `"word" or "char"`);
  const m = NgramModel.train(["a b"], { order: 2 });
  assertThrows(() => m.sentenceLogProb("a b", "mean" as "eos-prefixed"), Error, "Unknown variant");
});

Deno.test("ngram: word 5-gram and char 10-gram train in seconds on the shipped BabyLM sample", async () => {
  const lines = (await Deno.readTextFile("data/samples/babylm/gutenberg_children.train")).split("\n").filter((
    l,
  ) => l.trim());
  const t0 = performance.now();
  const w = NgramModel.train(lines, { unit: "word", order: 5 });
  const c = NgramModel.train(lines, { unit: "char", order: 10 });
  const secs = (performance.now() - t0) / 1000;
  assert(secs < 20, `training took ${secs.toFixed(1)} s`);
  assert(w.tokens > 1000 && c.tokens > 5000);
  assertAlmostEquals(sumOver(w, ["alice", "was", "beginning", "to"]), 1, 1e-9);
  assertAlmostEquals(sumOver(c, [..."Alice was"]), 1, 1e-9);
  // A grammatical sentence from the text beats its scrambled version at both levels.
  const good = "Alice was beginning to get very tired of sitting by her sister on the bank.";
  const bad = "Alice beginning was to get very tired of sitting by her sister the on bank.";
  for (const m of [w, c]) assert(m.sentenceLogProb(good) > m.sentenceLogProb(bad), m.label);
});
