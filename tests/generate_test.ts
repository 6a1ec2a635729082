import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertNotEquals, assertRejects } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import {
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  bannedNgramTokens,
  banRepeatedNgrams,
  generate,
  processScores,
  sampleFrom,
} from "../src/eval/generate.ts";
import type { LanguageModel } from "../src/models/types.ts";
import { Rng } from "../src/rng.ts";
import { TinyLm } from "./fixtures/tiny_lm.ts";

const f32 = (a: number[]) => Float32Array.from(a);
const NEG = -Infinity;

Deno.test("generate: repetition penalty (HF)", () => {
  const s = f32([2, -2, 1, 0.5]);
  assertEquals(applyRepetitionPenalty(s, [0, 1, 0], 2), f32([1, -4, 1, 0.5]));
  assertEquals(applyRepetitionPenalty(s, [2], 0.5), f32([2, -2, 2, 0.5]));
  assertEquals(s, f32([2, -2, 1, 0.5]), "pure: input unchanged");
});

Deno.test("generate: no-repeat n-gram ban (HF)", () => {
  assertEquals(bannedNgramTokens([1, 2, 3, 1], 2), [2]);
  assertEquals(bannedNgramTokens([1, 2, 3, 1, 4, 1], 2).sort(), [2, 4]);
  assertEquals(bannedNgramTokens([1, 2, 3, 1, 2], 3), [3]);
  assertEquals(bannedNgramTokens([1, 2, 3, 1, 3], 3), []);
  assertEquals(bannedNgramTokens([4, 2, 4], 1).sort(), [2, 4]);
  assertEquals(bannedNgramTokens([1], 3), []);
  assertEquals(banRepeatedNgrams(f32([0, 0, 0, 0]), [1, 2, 3, 1], 2), f32([0, 0, NEG, 0]));
});

Deno.test("generate: temperature, top-k, top-p, argmax", () => {
  assertEquals(applyTemperature(f32([1, 2]), 2), f32([0.5, 1]));
  assertEquals(applyTopK(f32([1, 3, 2, 0]), 2), f32([NEG, 3, 2, NEG]));
  assertEquals(applyTopK(f32([1, 3, 3, 0]), 1), f32([NEG, 3, 3, NEG]), "ties with the k-th are kept");
  assertEquals(applyTopK(f32([1, 3]), 0), f32([1, 3]));
  const lp = f32([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
  assertEquals(applyTopP(lp, 0.7), f32([lp[0], lp[1], NEG]));
  assertEquals(applyTopP(lp, 0.4), f32([lp[0], NEG, NEG]));
  assertEquals(applyTopP(lp, 0.01), f32([lp[0], NEG, NEG]), "the top token is always kept");
  assertEquals(applyTopP(lp, 0.9), lp);
  assertEquals(argmax(f32([0, 2, 2])), 1);
  // The whole chain: penalty then ban then temperature then top-k.
  const s = processScores(f32([4, 2, -1, 3]), [0, 2, 0], {
    repetitionPenalty: 2,
    noRepeatNgramSize: 2,
    temperature: 0.5,
    topK: 2,
  });
  // penalty → [2, 2, −2, 3]; "0 2" exists and the last token is 0 → ban 2 → [2, 2, −∞, 3]; /0.5 → [4, 4, −∞, 6]; top-2 keeps ≥ 4.
  assertEquals(s, f32([4, 4, NEG, 6]));
});

Deno.test("generate: sampleFrom follows the distribution and never draws −∞", () => {
  const rng = new Rng(9);
  const counts = [0, 0, 0];
  const s = f32([Math.log(0.25), NEG, Math.log(0.75)]);
  for (let i = 0; i < 4000; i++) counts[sampleFrom(s, rng)]++;
  assertEquals(counts[1], 0);
  assertAlmostEquals(counts[2] / 4000, 0.75, 0.03);
  assertEquals(sampleFrom(f32([NEG, 5, NEG]), new Rng(1)), 1);
});

/** TinyLm that refuses inputs longer than maxLen, to check the sliding window. */
class CappedLm extends TinyLm {
  seen: number[] = [];
  override logProbs(ids: tf.Tensor2D): tf.Tensor3D {
    this.seen.push(ids.shape[1]);
    if (ids.shape[1] > this.config.maxLen!) throw new Error(`too long: ${ids.shape[1]}`);
    return super.logProbs(ids);
  }
}

Deno.test("generate: greedy deterministic, seeded sampling, n-gram ban, window, eos", async () => {
  await initBackend({ backend: "cpu" });
  const model = new TinyLm({ vocabSize: 16, dim: 8 }, 4);
  const before = tf.memory().numTensors;
  const prompt = [1, 2, 3];
  const g1 = await generate(model, prompt, { maxNewTokens: 12, greedy: true });
  const g2 = await generate(model, prompt, { maxNewTokens: 12, temperature: 0 });
  assertEquals(g1, g2);
  assertEquals(g1.length, 15);
  assertEquals(g1.slice(0, 3), prompt);
  // The greedy first token is the argmax of the last position.
  const first = tf.tidy(() =>
    argmax(model.logProbs(tf.tensor2d([prompt], [1, 3], "int32")).arraySync()[0][2])
  );
  assertEquals(g1[3], first);

  const s1 = await generate(model, prompt, { maxNewTokens: 20, seed: 7, topK: 10, topP: 0.95 });
  const s2 = await generate(model, prompt, { maxNewTokens: 20, seed: 7, topK: 10, topP: 0.95 });
  const s3 = await generate(model, prompt, { maxNewTokens: 20, seed: 8, topK: 10, topP: 0.95 });
  assertEquals(s1, s2);
  assertNotEquals(s1, s3);

  for (const opts of [{ greedy: true }, { seed: 3, temperature: 1.5 }]) {
    const ids = await generate(model, prompt, { maxNewTokens: 30, noRepeatNgramSize: 2, ...opts });
    const bigrams = new Set<string>();
    for (let i = 0; i + 1 < ids.length; i++) {
      const key = `${ids[i]},${ids[i + 1]}`;
      assert(!bigrams.has(key), `bigram ${key} repeated in ${ids}`);
      bigrams.add(key);
    }
  }

  const stop = await generate(model, prompt, { maxNewTokens: 10, greedy: true, eosId: first });
  assertEquals(stop, [...prompt, first]);
  assertEquals(tf.memory().numTensors, before, "no tensor leaks");
  model.dispose();

  const capped = new CappedLm({ vocabSize: 16, dim: 8, maxLen: 4 }, 4);
  const ids = await generate(capped, prompt, { maxNewTokens: 6, greedy: true });
  assertEquals(ids.length, 9);
  assertEquals(capped.seen, [3, 4, 4, 4, 4, 4]);
  capped.dispose();
});

Deno.test("generate: uses a model's raw logits when it has them; errors", async () => {
  await initBackend({ backend: "cpu" });
  // logits [2, 1.5, −5], ρ = 1.5 on token 0: logits 2 → 1.33 < 1.5, so token 1 wins (HF). On log-probs
  // [−0.474, −0.974, …] the penalty gives −0.711 > −0.974, so token 0 would stay the argmax.
  const logits = (ids: tf.Tensor2D) =>
    tf.tidy(() => tf.tensor1d([2, 1.5, -5]).reshape([1, 1, 3]).tile([1, ids.shape[1], 1]) as tf.Tensor3D);
  const logProbsOnly: LanguageModel = {
    config: { kind: "fixed", vocabSize: 3, maxLen: null },
    weights: new Map(),
    logProbs: (ids: tf.Tensor2D) => tf.tidy(() => tf.logSoftmax(logits(ids)) as tf.Tensor3D),
    loss: () => tf.scalar(0),
    dispose() {},
  };
  const withLogits = { ...logProbsOnly, logits };
  const ids = await generate(withLogits, [0], { maxNewTokens: 1, greedy: true, repetitionPenalty: 1.5 });
  assertEquals(ids, [0, 1]);
  const ids2 = await generate(logProbsOnly, [0], { maxNewTokens: 1, greedy: true, repetitionPenalty: 1.5 });
  assertEquals(ids2, [0, 0]);
  await assertRejects(() => generate(withLogits, [], { maxNewTokens: 1 }), Error, "empty");
  await assertRejects(() => generate(withLogits, [5], { maxNewTokens: 1 }), Error, `"5"`);
  await assertRejects(() => generate(withLogits, [0], { maxNewTokens: 1, topP: 2 }), Error, `"2"`);
});
