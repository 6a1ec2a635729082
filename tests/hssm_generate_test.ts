/**
 * Generation with the HSSM card's controls (maxLength 48, temperature 0.3, topK 12, topP 0.78,
 * repetitionPenalty 1.45, noRepeatNgramSize 4): each control's effect on one fixed logits vector, the whole
 * chain, streaming token by token from the tiny model, and the bad inputs (unknown prompt characters, topK larger
 * than the vocabulary, a tokenizer that does not fit the checkpoint).
 */
import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import {
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  banRepeatedNgrams,
  checkTokenizerFits,
  encodePrompt,
  generate,
  processScores,
} from "../src/eval/generate.ts";
import { HSSM_GENERATION as G, hssmConfig, HssmLM } from "../src/models/hssm.ts";
import { Vocab20kTokenizer } from "../src/tokenizers/vocab20k.ts";

/** 16 fixed logits, largest first. */
const L = Float32Array.from([4, 3.5, 3, 2.5, 2, 1.5, 1, 0.5, 0, -0.5, -1, -1.5, -2, -2.5, -3, -4]);
const finite = (s: Float32Array) => [...s].filter(Number.isFinite).length;

Deno.test("card control: repetitionPenalty 1.45 divides positive and multiplies negative scores of seen ids", () => {
  const s = applyRepetitionPenalty(L, [0, 10, 0], G.repetitionPenalty);
  assert(Math.abs(s[0] - 4 / 1.45) < 1e-6 && Math.abs(s[10] + 1.45) < 1e-6, `${s[0]} ${s[10]}`);
  assertEquals([...s].filter((v, i) => v !== L[i]).length, 2);
});

Deno.test("card control: noRepeatNgramSize 4 bans the token that would repeat a 4-gram", () => {
  const s = banRepeatedNgrams(L, [1, 2, 3, 9, 5, 1, 2, 3], G.noRepeatNgramSize);
  assertEquals(s[9], -Infinity);
  assertEquals(finite(s), 15);
  assertEquals(finite(banRepeatedNgrams(L, [1, 2, 3, 9, 5, 2, 3], 4)), 16, "a 3-token match is not a 4-gram");
});

Deno.test("card control: temperature 0.3 sharpens (scores / 0.3)", () => {
  const s = applyTemperature(L, G.temperature);
  assert(s.every((v, i) => Math.abs(v - L[i] / 0.3) < 1e-5));
});

Deno.test("card control: topK 12 keeps the 12 highest of 16", () => {
  const s = applyTopK(L, G.topK);
  assertEquals(finite(s), 12);
  assertEquals(s[11], L[11]);
  assertEquals(s[12], -Infinity);
});

Deno.test("card control: topP 0.78 keeps the smallest top set with probability ≥ 0.78", () => {
  const s = applyTopP(L, G.topP);
  const p = [...L].map(Math.exp), z = p.reduce((a, b) => a + b);
  let cum = 0, keep = 0;
  while (cum < G.topP - 1e-12) cum += p[keep++] / z;
  assertEquals(finite(s), keep);
  assert(keep > 1 && keep < 16, `keep ${keep}`);
});

Deno.test("card settings: the whole chain on the fixed vector", () => {
  const s = processScores(L, [0, 1, 2, 0, 1, 2], G);
  // penalty on 0, 1, 2; the ban removes 0 (it would repeat the 4-gram "0 1 2 0"); /0.3; top-12; top-p 0.78
  assertEquals(s[0], -Infinity);
  const kept = [...s.keys()].filter((i) => Number.isFinite(s[i]));
  assert(kept.length >= 1 && kept.length <= 12, `kept ${kept}`);
  assertEquals(Math.max(...kept.map((i) => s[i])), s[3], "after the penalty, id 3 leads");
});

Deno.test("[cpu] maxLength 48 streamed token by token from the tiny model; bad inputs get clear errors", async () => {
  await initBackend({ backend: "cpu" });
  const tok = Vocab20kTokenizer.train(["the cat sat on the mat", "a dog ran in the park"], {
    vocabSize: 140,
  });
  const model = new HssmLM(hssmConfig({ vocabSize: tok.vocabSize }, "tiny"), 2);
  const prompt = encodePrompt(tok, "the cat");
  const streamed: number[] = [];
  const out = await generate(model, prompt, { ...G, seed: 1, onToken: (id) => void streamed.push(id) });
  assertEquals(out.length, prompt.length + 48);
  assertEquals(streamed, out.slice(prompt.length));
  assertThrows(() => encodePrompt(tok, "the ☃ cat"), Error, `does not know: "☃"`);
  await assertRejects(
    () => generate(model, prompt, { ...G, topK: tok.vocabSize + 1 }),
    Error,
    `topK = ${tok.vocabSize + 1} is larger than the vocabulary (${tok.vocabSize} ids)`,
  );
  assertThrows(
    () => checkTokenizerFits({ vocabSize: 20000 }, tok.vocabSize, "other/tokenizer.json"),
    Error,
    `"other/tokenizer.json" has 20000 ids but the checkpoint's model has vocabSize ${tok.vocabSize}`,
  );
  model.dispose();
});
