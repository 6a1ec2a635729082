import { assert, assertEquals, assertThrows } from "./assert.ts";
import { AsciiTokenizer } from "../src/tokenizers/ascii.ts";
import { Gpt2Tokenizer } from "../src/tokenizers/gpt2.ts";
import { preTokenize, Vocab20kTokenizer } from "../src/tokenizers/vocab20k.ts";
import { getTokenizer } from "../src/tokenizers/types.ts";

const FIXTURE = new URL("./fixtures/tokenizer_text.txt", import.meta.url);
const text = Deno.readTextFileSync(FIXTURE);
const lines = text.split("\n").map((l) => l + "\n");

Deno.test("ascii: folds accents and typography, removes long symbol runs, drops non-ASCII", () => {
  const tok = new AsciiTokenizer();
  assertEquals(tok.vocabSize, 128);
  assertEquals(tok.eosId, 0);
  assertEquals(tok.clean("Café déjà vu, naïve Zoë"), "Cafe deja vu, naive Zoe");
  assertEquals(tok.clean("Straße, Æsop, cœur, Søren"), "Strasse, AEsop, coeur, Soren");
  assertEquals(tok.clean("“quoted” ‘single’ – dash — em…"), `"quoted" 'single' - dash - em...`);
  assertEquals(tok.clean("wait!!!! ok... ====== done ---"), "wait ok...  done ---");
  assertEquals(tok.clean("日本 text 🙂"), " text ");
  assertEquals(tok.clean("a\r\nb\u0000c\u0007d\te"), "a\nbcd\te");
  assertEquals(tok.clean(tok.clean("Ünïcödé!!!!!")), tok.clean("Ünïcödé!!!!!"));
});

Deno.test("ascii: options are configurable", () => {
  assertEquals(new AsciiTokenizer({ foldAccents: false }).clean("Café “x”"), "Caf x");
  assertEquals(
    new AsciiTokenizer({ maxSymbolRun: 2, symbolRunMode: "truncate" }).clean("a!!!!! b.."),
    "a!! b..",
  );
  assertEquals(new AsciiTokenizer({ maxSymbolRun: null }).clean("*****"), "*****");
  assertThrows(() => new AsciiTokenizer({ maxSymbolRun: 0 }), Error, '"0"');
});

Deno.test("ascii: encode/decode round trip on clean ASCII; EOS (0) is skipped by decode", () => {
  const tok = new AsciiTokenizer({ maxSymbolRun: null });
  const ids = tok.encode(text);
  assert(ids.every((i) => i > 0 && i < 128));
  assertEquals(tok.decode(ids), text);
  assertEquals(tok.encode("Hi"), [72, 105]);
  assertEquals(tok.decode([72, 0, 105]), "Hi");
  assertThrows(() => tok.decode([200]), Error, '"200"');
});

Deno.test("gpt2: known ids, EOS 50256, exact round trip", () => {
  const tok = new Gpt2Tokenizer();
  assertEquals(tok.vocabSize, 50257);
  assertEquals(tok.eosId, 50256);
  assertEquals(tok.encode("Hello world"), [15496, 995]);
  assertEquals(tok.encode(" = Robert Boulter = \n"), tok.encode(" = Robert Boulter = \n"));
  for (const l of lines) assertEquals(tok.decode(tok.encode(l)), l);
  assertEquals(tok.decode(tok.encode("héllo 日本 🙂")), "héllo 日本 🙂");
  assertEquals(tok.decode([15496, 995, 50256]), "Hello world<|endoftext|>");
  // The special token's text is plain text by default, one id when allowSpecial.
  assert(tok.encode("<|endoftext|>").length > 1);
  assertEquals(new Gpt2Tokenizer({ allowSpecial: true }).encode("a<|endoftext|>a"), [64, 50256, 64]);
});

Deno.test("vocab20k: pre-tokenisation is lossless", () => {
  assertEquals(preTokenize(text).join(""), text);
  assertEquals(preTokenize("It's 42 cats!"), ["It", "'s", " 42", " cats", "!"]);
});

Deno.test("vocab20k: train, exact round trip for in-vocabulary text, unk for unseen characters", () => {
  const tok = Vocab20kTokenizer.train(lines, { vocabSize: 150 });
  assertEquals(tok.vocabSize, 150);
  assertEquals([tok.padId, tok.unkId, tok.bosId, tok.eosId], [0, 1, 2, 3]);
  for (const l of lines) assertEquals(tok.decode(tok.encode(l)), l);
  // frequent whole words are single ids
  assertEquals(tok.encode(" the").length, 1);
  // unseen words fall back to sub-pieces / characters, still exact for ASCII
  const unseen = "Zebras quizzically vex jumpy wizards\n";
  assertEquals(tok.decode(tok.encode(unseen)), unseen);
  // a character outside the vocabulary → <unk> (lossy, documented)
  const ids = tok.encode("snow ☃ man");
  assert(ids.includes(tok.unkId));
  assertEquals(tok.decode(ids), "snow <unk> man");
  assertEquals(tok.decode([tok.bosId, ...tok.encode("The"), tok.eosId, tok.padId]), "The");
  // deterministic training
  assertEquals(Vocab20kTokenizer.train(lines, { vocabSize: 150 }).toJSON(), tok.toJSON());
});

Deno.test("vocab20k: default size 20,000 caps at the pieces available; JSON save/load round trip", async () => {
  const tok = Vocab20kTokenizer.train(lines);
  assert(tok.vocabSize <= 20000 && tok.vocabSize > 100);
  const json = tok.toJSON();
  assertEquals(json.id_to_token.length, tok.vocabSize);
  assertEquals(json.token_to_id["<eos>"], 3);
  assertEquals(json.id_to_token[json.token_to_id[" television"]], " television");
  const dir = await Deno.makeTempDir({ prefix: "ssmlab_tok_" });
  try {
    const p = `${dir}/vocab.json`;
    await tok.save(p);
    const back = await Vocab20kTokenizer.load(p);
    for (const l of lines) assertEquals(back.encode(l), tok.encode(l));
    const viaFactory = getTokenizer("vocab20k", { path: p });
    assertEquals(viaFactory.encode("The end.\n"), tok.encode("The end.\n"));
    await Deno.writeTextFile(p, "{broken");
    assertThrows(() => Vocab20kTokenizer.loadSync(p), Error, p);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const bad = structuredClone(json);
  bad.token_to_id["The"] = 0;
  assertThrows(() => Vocab20kTokenizer.fromJSON(bad), Error, "maps disagree");
});

Deno.test("getTokenizer: factory and clear errors", () => {
  assertEquals(getTokenizer("ascii").name, "ascii");
  assertEquals(getTokenizer("gpt2").encode("Hello world"), [15496, 995]);
  assertThrows(() => getTokenizer("bpe"), Error, '"bpe"');
  assertThrows(() => getTokenizer("vocab20k"), Error, "trained vocabulary");
});
