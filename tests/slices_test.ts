/**
 * The ablation's data slices (issue 12 item 2): exact, disjoint, consecutive slices of one file's ids, tokenized as
 * the reference (each line separately, EOS after every line), streamed, with WikiText-2 valid out of domain.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import {
  loadAblationData,
  sliceCorpusIds,
  WIKITEXT2_TRAIN_TOKENS,
  WIKITEXT2_VALID_TOKENS,
} from "../src/data/slices.ts";
import { readText, splitLines } from "../src/data/corpora.ts";
import { tokenizeLines } from "../src/data/batches.ts";
import { Gpt2Tokenizer } from "../src/tokenizers/gpt2.ts";
import { AsciiTokenizer } from "../src/tokenizers/ascii.ts";
import type { Tokenizer } from "../src/tokenizers/types.ts";

const FIXTURE = new URL("./fixtures/slice_corpus.txt", import.meta.url).pathname;
const WIKI = new URL("./fixtures/wikitext_mini", import.meta.url).pathname;
const gpt2 = new Gpt2Tokenizer();

/** The whole file tokenized at once, the reference's way (docs/data.md), to compare the streamed slices with. */
async function allIds(file: string, tok: Tokenizer = gpt2): Promise<Int32Array> {
  return Int32Array.from(
    tokenizeLines(splitLines(await readText(file), { hfStyle: true }), tok, { eos: true }),
  );
}

Deno.test("sliceCorpusIds: exact sizes, consecutive and disjoint, tokenized line by line with EOS", async () => {
  const all = await allIds(FIXTURE);
  assert(all.length > 300, `fixture has ${all.length} GPT-2 ids`);
  const { train, valid, linesRead } = await sliceCorpusIds({
    file: FIXTURE,
    trainTokens: 200,
    validTokens: 60,
  });
  assertEquals([train.length, valid.length], [200, 60]);
  assertEquals([...train], [...all.subarray(0, 200)], "train = ids [0, 200)");
  assertEquals([...valid], [...all.subarray(200, 260)], "valid = ids [200, 260): no overlap with train");
  assert(train.includes(50256) && [...train].filter((v) => v === 50256).length >= 3, "EOS after every line");
  const title = gpt2.encode("CHAPTER I. THE MILL BY THE RIVER\n").length;
  assertEquals(
    [all[title], all[title + 1]],
    [50256, 50256],
    "EOS after the title, a blank line is a lone EOS",
  );
  assert(
    linesRead < splitLines(await readText(FIXTURE)).length,
    "reading stopped before the end of the file",
  );
  // Sizes at the boundary: every id of the file.
  const whole = await sliceCorpusIds({ file: FIXTURE, trainTokens: all.length - 1, validTokens: 1 });
  assertEquals(whole.valid[0], all[all.length - 1]);
  assertEquals([WIKITEXT2_TRAIN_TOKENS, WIKITEXT2_VALID_TOKENS], [2_400_000, 260_000]);
});

Deno.test("sliceCorpusIds: a file too short, missing or bad options give sentences naming them", async () => {
  const n = (await allIds(FIXTURE)).length;
  const e = await assertRejects(() => sliceCorpusIds({ file: FIXTURE, trainTokens: n, validTokens: 5 }));
  for (const part of [`"${FIXTURE}" is too short`, `gives ${n} gpt2 tokens`, `${n + 5} are needed`]) {
    assert((e as Error).message.includes(part), `"${part}" in: ${(e as Error).message}`);
  }
  await assertRejects(
    () => sliceCorpusIds({ file: "/nonexistent/corpus.txt" }),
    Error,
    '"/nonexistent/corpus.txt" does not exist',
  );
  await assertRejects(
    () => sliceCorpusIds({ file: FIXTURE, trainTokens: 0 }),
    Error,
    'trainTokens must be a positive integer, got "0"',
  );
  const bad = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeFile(bad, new Uint8Array([0x61, 0x0a, 0xff, 0xfe, 0x0a]));
  await assertRejects(
    () => sliceCorpusIds({ file: bad, trainTokens: 1, validTokens: 1 }),
    Error,
    "is not valid UTF-8",
  );
  await Deno.remove(bad);
});

Deno.test("sliceCorpusIds streams a file larger than one read chunk, CRLF split across chunks", async () => {
  // ~300 kB of CRLF lines (blank ones too): several read chunks; the result must equal tokenizing the whole text.
  const lines: string[] = [];
  // The first line puts its "\r" on byte 65,535 and its "\n" on byte 65,536: across Deno's 64 KiB read chunks.
  lines.push("a".repeat(65535));
  for (let i = 0; i < 6000; i++) lines.push(i % 7 === 3 ? "   " : `line ${i}: ${"x".repeat(i % 53)}`);
  const file = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(file, lines.join("\r\n") + "\r\n");
  const tok = new AsciiTokenizer();
  const all = await allIds(file, tok);
  const s = await sliceCorpusIds({ file, tokenizer: tok, trainTokens: all.length - 1000, validTokens: 1000 });
  assert(s.train.every((v, i) => v === all[i]), "train equals the whole-file tokenization");
  assert(s.valid.every((v, i) => v === all[s.train.length + i]), "valid follows it");
  await Deno.remove(file);
});

Deno.test("loadAblationData: corpus slices + WikiText-2 valid out of domain; without a corpus, WikiText-2 itself", async () => {
  const d = await loadAblationData({ corpus: FIXTURE, trainTokens: 100, validTokens: 50, wikitextDir: WIKI });
  assertEquals([d.train.length, d.valid.length], [100, 50]);
  const wikiValid = await allIds(`${WIKI}/wiki.valid.raw`);
  assertEquals([...d.validOutOfDomain!], [...wikiValid]);
  assertEquals(d.sources.train, `${FIXTURE} ids [0, 100)`);
  assertEquals(d.sources.valid, `${FIXTURE} ids [100, 150)`);
  assert(d.sources.validOutOfDomain!.endsWith("wiki.valid.raw"));
  const noOod = await loadAblationData({
    corpus: FIXTURE,
    trainTokens: 10,
    validTokens: 5,
    outOfDomain: false,
  });
  assertEquals(noOod.validOutOfDomain, null);
  // The reference's own data: WikiText-2 train → validation (here a local stand-in folder; the Hub without one).
  const w = await loadAblationData({ wikitextDir: WIKI });
  assertEquals([...w.train], [...await allIds(`${WIKI}/wiki.train.raw`)]);
  assertEquals([...w.valid], [...wikiValid]);
  assertEquals(w.validOutOfDomain, null);
});
