import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import {
  architectureConfig,
  ARCHITECTURES,
  type ArchitecturesResult,
  bitsPerChar,
  heldOutBatches,
  heldOutNats,
  heldOutText,
  runArchitectures,
  splitHeldOut,
  stepsForWords,
} from "../src/experiments/architectures.ts";
import {
  architecturesTable,
  bitsPerCharChart,
  blimpHeatmap,
  loadArchitectures,
} from "../src/experiments/architectures_report.ts";
import { createModel, modelSpec } from "../src/models/registry.ts";
import type { LanguageModel } from "../src/models/types.ts";
import { AsciiTokenizer } from "../src/tokenizers/ascii.ts";
import { loadBabyLM } from "../src/data/corpora.ts";
import { loadBlimp } from "../src/data/blimp.ts";

await initBackend({ backend: "cpu" });

Deno.test("architectures: the full-size token rows have ≈ 30 M parameters at the GPT-2 vocabulary", () => {
  const expected: Record<string, number> = {
    baseline: 32_203_776,
    mhc: 33_254_596,
    mhc_adapters: 33_791_684,
    h3: 30_690_432,
    hssm: 30_336_096,
  };
  for (const a of ARCHITECTURES.filter((a) => a.pipeline === "token")) {
    const cfg = architectureConfig(a, "published", { vocabSize: 50257, seqLen: 256 });
    const n = modelSpec(a.kind).paramCount(cfg);
    assertEquals(n, expected[a.name], `${a.name} parameters`);
    assert(n > 28e6 && n < 34e6, `${a.name}: ${n} parameters is not ≈ 30 M`);
  }
  assertEquals(ARCHITECTURES.map((a) => a.name), [...Object.keys(expected), "char_tiny", "char_main"]);
});

Deno.test("architectures: held-out ids start with EOS, characters count code points and newlines", () => {
  const h = heldOutText(["ab", "é!"], new AsciiTokenizer());
  assertEquals(h.chars, 6);
  assertEquals(h.ids[0], 0);
  assertEquals(h.ids[h.ids.length - 1], 0);
  // Windows predict every id after the first exactly once.
  const ids = Int32Array.from({ length: 23 }, (_, i) => i);
  const targets = heldOutBatches(ids, 2, 5).flatMap((b) => [...b.y].filter((v) => v !== -100));
  assertEquals(targets, Array.from({ length: 22 }, (_, i) => i + 1));
});

Deno.test("architectures: bits per character = total nats / (ln 2 · characters), checked by hand", async () => {
  assertAlmostEquals(bitsPerChar(Math.LN2 * 12, 4), 3, 1e-12);
  assertThrows(() => bitsPerChar(1, 0), Error, "no characters");
  // A uniform model over 128 ids costs ln 128 nats per id: 7 bits for each of the text's ASCII characters.
  const V = 128;
  const uniform = {
    config: { kind: "uniform", vocabSize: V, maxLen: null },
    weights: new Map(),
    logProbs: (x: tf.Tensor2D) => tf.fill([...x.shape, V], -Math.log(V)) as tf.Tensor3D,
    loss: () => tf.scalar(Math.log(V)),
  } as unknown as LanguageModel;
  const h = heldOutText(["the cat", "sat"], new AsciiTokenizer());
  const { nats, tokens } = await heldOutNats(uniform, h.ids, { batch: 2, seqLen: 3 });
  assertEquals(tokens, h.chars);
  assertAlmostEquals(bitsPerChar(nats, h.chars), 7, 1e-5);
  // A real model: the sum of −log p(target) over one window equals heldOutNats.
  const model = createModel({ kind: "baseline", vocabSize: V, maxLen: 16, dim: 8, layers: 1 }, 3);
  const ids = h.ids;
  const lp = tf.tidy(() => model.logProbs(tf.tensor2d(ids.slice(0, -1), [1, ids.length - 1], "int32")));
  const v = await lp.array();
  let hand = 0;
  for (let t = 0; t < ids.length - 1; t++) hand -= v[0][t][ids[t + 1]];
  const got = await heldOutNats(model, ids, { batch: 4, seqLen: 16 });
  assertAlmostEquals(got.nats, hand, 1e-3);
  lp.dispose();
  model.dispose();
});

Deno.test("architectures: splitHeldOut and stepsForWords", () => {
  assertEquals(splitHeldOut({ a: ["1", "2", "3", "4"], b: ["x"] }, 0.25), {
    train: ["1", "2", "3", "x"],
    heldOut: ["4"],
  });
  assertThrows(() => splitHeldOut({ a: ["1"] }, 1), Error, "held-out fraction");
  // A source of a million lines (the stand-in corpus has sources this long): no call-stack overflow.
  const big = splitHeldOut({ a: Array.from({ length: 1_000_000 }, (_, i) => String(i)) }, 0.01);
  assertEquals([big.train.length, big.heldOut.length, big.heldOut[0]], [990_000, 10_000, "990000"]);
  assertEquals(stepsForWords(1000, 0.25, 4, 10), 100);
  assertEquals(stepsForWords(1001, 0.25, 4, 10), 101);
});

Deno.test("architectures: bad options give clear errors", async () => {
  const base = { train: ["a b"], heldOut: ["c d"], words: 10 };
  await assertRejects(() => runArchitectures({ ...base, train: [] }), Error, "Option train");
  await assertRejects(() => runArchitectures({ ...base, heldOut: [] }), Error, "Option heldOut");
  await assertRejects(() => runArchitectures({ ...base, words: 0 }), Error, "Option words");
  await assertRejects(
    () => runArchitectures({ ...base, rows: ["gpt"] }),
    Error,
    'Unknown architecture row "gpt"',
  );
  // deno-lint-ignore no-explicit-any
  await assertRejects(() => runArchitectures({ ...base, preset: "huge" as any }), Error, "Option preset");
  // deno-lint-ignore no-explicit-any
  await assertRejects(
    () => runArchitectures({ ...base, tokenizer: "bpe" as any }),
    Error,
    "Option tokenizer",
  );
  await assertRejects(() => runArchitectures({ ...base, batch: -1 }), Error, "Option batch");
});

Deno.test("architectures: a tiny end-to-end run of every row on the cpu, no tensor leaks", async () => {
  const corpus = await loadBabyLM({ dir: "data/samples/babylm" });
  const { train, heldOut } = splitHeldOut(corpus.bySource, 0.04);
  const pairs = await loadBlimp({ dir: "data/samples/blimp", maxPairsPerParadigm: 2 });
  const before = tf.memory().numTensors;
  const r = await runArchitectures({
    train,
    heldOut,
    words: 150,
    evalEveryWords: 75,
    preset: "tiny",
    tokenizer: "ascii",
    batch: 2,
    seqLen: 24,
    lr: 3e-3,
    charEncoderSteps: 3,
    blimp: [{ name: "original", pairs }],
    memory: { warmup: 1, steps: 1 },
  });
  assertEquals(tf.memory().numTensors, before, "tensors leaked");
  assertEquals(r.rows.map((x) => x.model), ARCHITECTURES.map((a) => a.name));
  for (const row of r.rows) {
    for (
      const k of ["params", "val_loss", "bits_per_char", "tokens_per_sec", "words_per_sec", "blimp_original"]
    ) {
      const v = row[k as keyof typeof row] as number;
      assert(Number.isFinite(v) && v > 0, `${row.model}.${k} = ${v}`);
    }
    assert(row.words >= 150, `${row.model} saw ${row.words} words`);
    assert(r.curves.filter((c) => c.model === row.model).length >= 2, `${row.model} has a curve`);
  }
  const phen = r.blimp.filter((b) => b.phenomenon !== "overall");
  assertEquals(phen.length, 3 * r.rows.length);
  const table = architecturesTable(r);
  assertEquals(table.height, r.rows.length);
  assert(table.columns.includes("original:island_effects"));
  assertEquals(blimpHeatmap(r).title, "BLiMP (original) accuracy % by phenomenon, scoring eos-prefixed");
  assert(JSON.stringify(bitsPerCharChart(r)).includes("words seen"));
});

Deno.test("architectures: loadArchitectures is null without results and reads a result.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(await loadArchitectures(dir), null);
    const r: ArchitecturesResult = { rows: [], curves: [], blimp: [] };
    await Deno.writeTextFile(`${dir}/result.json`, JSON.stringify({ config: { words: 1 }, ...r }));
    assertEquals((await loadArchitectures(dir))?.rows, []);
    await Deno.writeTextFile(`${dir}/result.json`, "{}");
    await assertRejects(() => loadArchitectures(dir), Error, 'no "rows" array');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
