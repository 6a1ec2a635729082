import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { initBackend } from "../src/backend.ts";
import {
  charConfig,
  type CharCurriculumConfig,
  CharCurriculumModel,
  stageParamCount,
} from "../src/models/char_curriculum.ts";
import { createModel, modelConfig, modelSpec } from "../src/models/registry.ts";
import {
  cleanCharCorpus,
  formatCleaningReport,
  gunzipBytes,
  gzipBytes,
  packLines,
  subsampleStream,
} from "../src/data/char_corpus.ts";
import { loadBabyLM } from "../src/data/corpora.ts";
import { loadBlimp } from "../src/data/blimp.ts";
import { CharTimeUp, runCharCurriculum } from "../src/experiments/char_curriculum.ts";
import { loadSafetensors } from "../src/train/safetensors.ts";
import { latestCheckpoint } from "../src/train/checkpoint.ts";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";

await initBackend({ backend: "cpu" });

const ids = (b: number, t: number, seed = 1) => {
  const a = new Int32Array(b * t);
  for (let i = 0; i < a.length; i++) a[i] = 32 + ((i * 7 + seed * 13) % 90);
  return tf.tensor2d(a, [b, t], "int32");
};

Deno.test("char curriculum: the post's parameter counts, per stage and in the registry", () => {
  const count = (kind: string) => modelSpec(kind).paramCount(modelConfig(kind));
  assertEquals(count("char_encoder"), 65_536); // 128 × 512
  const pub = charConfig("char_main");
  assertEquals(stageParamCount("char_tiny", pub), 786_944); // six 512×256 matrices + one 512-vector
  assertEquals(stageParamCount("char_main", pub), 788_480); // three 512×512 matrices + four 512-vectors
  assertEquals(count("char_tiny"), 65_536 + 786_944);
  assertEquals(count("char_main"), 65_536 + 786_944 + 788_480);
  const m = new CharCurriculumModel(pub, 1, true);
  const main = [...m.params.shapes].filter(([n]) => n.startsWith("main."));
  assertEquals(main.filter(([, s]) => s.length === 2).map(([, s]) => s), [[512, 512], [512, 512], [
    512,
    512,
  ]]);
  assertEquals(main.filter(([, s]) => s.length === 1).length, 4);
});

Deno.test("char curriculum: validation and the encoder's missing log-probs are clear sentences", () => {
  assertThrows(() => charConfig("char_tiny", { rank: 64 }, "tiny"), Error, `"rank" must be ≤ dim (16)`);
  assertThrows(
    () => charConfig("char_tiny", { loss: "l1" as never }, "tiny"),
    Error,
    `"loss" must be one of`,
  );
  assertThrows(
    () => charConfig("char_encoder", { noiseMax: 0.1 }, "tiny"),
    Error,
    `"noiseMax" must be ≥ noiseMin`,
  );
  const enc = createModel(charConfig("char_encoder", {}, "tiny"));
  const x = ids(1, 4);
  assertThrows(() => enc.logProbs(x), Error, "not a language model");
  x.dispose();
  enc.dispose();
});

Deno.test("char curriculum: at init the stack's log-probs equal tinySSM's (zero gate), not with gate one", () => {
  const n0 = tf.memory().numTensors;
  const tiny = new CharCurriculumModel(charConfig("char_tiny", {}, "tiny"), 7);
  const main = new CharCurriculumModel(charConfig("char_main", {}, "tiny"), 7);
  const one = new CharCurriculumModel(charConfig("char_main", { gateInit: "one" }, "tiny"), 7);
  const x = ids(2, 9);
  const [ta, tb, tc] = [tiny, main, one].map((m) => tf.tidy(() => m.logProbs(x)));
  const [a, b, c] = [ta, tb, tc].map((t) => t.dataSync());
  tf.dispose([ta, tb, tc]);
  assertEquals(a.length, 2 * 9 * 128);
  assert(a.every((v, i) => v === b[i]), "bit-for-bit equal");
  assert(a.some((v, i) => Math.abs(v - c[i]) > 1e-6), "gate one changes the output");
  [tiny, main, one, x].forEach((m) => m.dispose());
  assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
});

Deno.test("char curriculum: soft-NN log-probs equal the direct −‖ŷ − Ē_c‖²/τ softmax (slow reference)", () => {
  const m = new CharCurriculumModel(charConfig("char_tiny", {}, "tiny"), 3);
  const x = ids(2, 5);
  const fast = m.logProbs(x).dataSync();
  const ref = tf.tidy(() => {
    const map = m.embeddingMap();
    const y = m.predict(x, map); // [2, 5, d]
    const d2 = tf.sum(tf.square(tf.sub(tf.expandDims(y, 2), map)), 3); // [2, 5, V]
    return tf.logSoftmax(tf.div(tf.neg(d2), m.config.temperature));
  });
  const r = ref.dataSync();
  for (let i = 0; i < r.length; i++) assertAlmostEquals(fast[i], r[i], 2e-3);
  [m, x, ref].forEach((t) => t.dispose());
});

Deno.test("char curriculum: fast and ref scans give the same losses and gradients (every loss)", () => {
  const n0 = tf.memory().numTensors;
  for (const loss of ["softnn", "mse", "cosine", "mix"] as const) {
    const grads = (scan: "fast" | "ref") => {
      const cfg: CharCurriculumConfig = charConfig("char_main", { scan, loss, gateInit: "one" }, "tiny");
      const m = new CharCurriculumModel(cfg, 5);
      const x = ids(2, 7), y = ids(2, 7, 2);
      const { value, grads } = tf.variableGrads(() => m.loss(x, y));
      const out = {
        value: value.dataSync()[0],
        g: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync()])),
      };
      tf.dispose([value, x, y, ...Object.values(grads)]);
      m.dispose();
      return out;
    };
    const f = grads("fast"), r = grads("ref");
    assertAlmostEquals(f.value, r.value, 1e-4, `${loss}: loss`);
    const fk = Object.keys(f.g).map((k) => k.split("@")[0]).sort();
    assertEquals(fk.length, 15, `${loss}: every weight gets a gradient`);
    for (const [k, g] of Object.entries(f.g)) {
      const name = k.split("@")[0];
      const rg = Object.entries(r.g).find(([rk]) => rk.split("@")[0] === name)![1];
      for (let i = 0; i < g.length; i++) {
        assertAlmostEquals(g[i], rg[i], 1e-3 * (1 + Math.abs(rg[i])), `${loss} ${name}[${i}]`);
      }
    }
  }
  assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
});

Deno.test("char curriculum: the mix loss is the sum of its named terms; stage 1 reports its denoising MSE", () => {
  const m = new CharCurriculumModel(charConfig("char_main", { loss: "mix", mixMse: 0.5 }, "tiny"), 2);
  const x = ids(1, 6), y = ids(1, 6, 3);
  const l = m.loss(x, y);
  const aux = m.lastAux();
  assertEquals(Object.keys(aux).sort(), ["cosine", "mse", "softnn"]);
  assertAlmostEquals(l.dataSync()[0], aux.softnn + aux.mse + aux.cosine, 1e-4);
  const enc = new CharCurriculumModel(charConfig("char_encoder", { contextWeight: 0.1 }, "tiny"), 2);
  const le = enc.loss(x, y);
  assertEquals(Object.keys(enc.lastAux()).sort(), ["context", "denoise_mse"]);
  assert(Number.isFinite(le.dataSync()[0]) && le.dataSync()[0] > 0);
  [m, enc, x, y, l, le].forEach((t) => t.dispose());
});

Deno.test("char corpus: cleaning counts kept and dropped characters per source", async () => {
  const c = cleanCharCorpus({
    bySource: {
      a: ["Café — naïve!!!!! ok", "   ", "日本", "x\u0007y"],
      b: ["plain text", "more"],
    },
  }, { heldOutFraction: 0.5 });
  const [a, b, total] = c.report;
  assertEquals(a.source, "a");
  assertEquals(a.lines, 3);
  assertEquals(a.rawChars, 20 + 2 + 3);
  assertEquals(a.folded, 3); // é, —, ï
  assertEquals(a.droppedNonAscii, 2);
  assertEquals(a.droppedControl, 1);
  assertEquals(a.droppedSymbolRuns, 5);
  assertEquals(a.droppedLines, 1);
  assertEquals(a.keptChars, "Cafe - naive ok".length + 2);
  assertEquals(b.keptChars, 14);
  assertEquals(total.keptChars, a.keptChars + b.keptChars);
  // half of each source's kept lines are held out (the last ones)
  assertEquals(new TextDecoder().decode(c.valid).split("\0").filter(Boolean), ["xy", "more"]);
  assert(formatCleaningReport(c.report).includes("droppedSymbolRuns"));
  assertEquals(packLines(["Hi", ""]), Uint8Array.from([72, 105, 0, 0]));
  assertThrows(() => packLines(["é"]), Error, "non-ASCII character");
  assertThrows(
    () => cleanCharCorpus({ bySource: { a: ["x"] } }, { heldOutFraction: 1 }),
    Error,
    "heldOutFraction",
  );
  const z = Uint8Array.from([1, 2, 3, 0, 127]);
  assertEquals(await gunzipBytes(await gzipBytes(z)), z);
  assertEquals(
    subsampleStream(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 4, 2),
    Uint8Array.from([1, 2, 5, 6]),
  );
  assertEquals(subsampleStream(Uint8Array.from([1, 2, 3]), 5, 2), Uint8Array.from([1, 2, 3]));
  assertEquals(subsampleStream(Uint8Array.from([1, 2, 3, 4, 5, 6, 7]), 3, 1), Uint8Array.from([1, 3, 5]));
  assertThrows(() => subsampleStream(z, 0), Error, "maxChars must be a positive integer");
  const runs = cleanCharCorpus({ bySource: { a: ["ok!!!!! yes"] } }, { cleaning: { maxSymbolRun: null } });
  assertEquals(runs.report[0].droppedSymbolRuns, 0);
});

Deno.test("char curriculum: three stages checkpoint, load frozen, stay bit-for-bit frozen; unfreeze moves them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const corpus = cleanCharCorpus(await loadBabyLM({ dir: "data/samples/babylm", maxWords: 4000 }), {
      heldOutFraction: 0.1,
    });
    const pairs = await loadBlimp({ dir: "data/samples/blimp", maxPairsPerParadigm: 4 });
    const n0 = tf.memory().numTensors;
    const r = await runCharCurriculum({
      train: corpus.train,
      valid: corpus.valid,
      outDir: dir,
      preset: "tiny",
      stages: {
        1: { steps: 3, batch: 2, seqLen: 16 },
        2: { steps: 3, batch: 2, seqLen: 16 },
        3: { steps: 3, batch: 2, seqLen: 16 },
      },
      variants: [{ name: "main" }, { name: "main_unfrozen", unfreeze: true }, {
        name: "tiny_more",
        continueTiny: true,
      }],
      blimp: [{ name: "sample", pairs }],
      bpcBatches: 2,
      probePrompts: ["The "],
      probeChars: 5,
    });
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
    assertEquals(r.rows.map((x) => x.model), ["stage1", "stage2", "main", "main_unfrozen", "tiny_more"]);
    assertEquals(r.rows.map((x) => x.trainable), [
      2048,
      6 * 16 * 8 + 16,
      3 * 256 + 64,
      2048 + 784 + 832,
      784,
    ]);
    for (const row of r.rows.slice(1)) {
      assert(row.bpc !== null && row.bpc > 0 && row.bpc < 10, `${row.model}: bpc ${row.bpc}`);
      assert(row.blimp.sample >= 0 && row.blimp.sample <= 1);
    }
    assertEquals(r.probe.length, 4 * 2);
    assertEquals(r.blimp.filter((b) => b.level === "overall").length, 4);
    const weights = async (sub: string) =>
      (await loadSafetensors(join((await latestCheckpoint(join(dir, sub)))!, "model.safetensors"))).tensors;
    const [s1, s2, s3, s3u, s3t] = await Promise.all(
      ["stage1", "stage2", "stage3_main", "stage3_main_unfrozen", "stage3_tiny_more"].map(weights),
    );
    const same = (
      a: Map<string, { data: ArrayLike<number> }>,
      b: Map<string, { data: ArrayLike<number> }>,
      prefix: string,
    ) =>
      [...a].filter(([n]) => n.startsWith(prefix)).every(([n, t]) => {
        const u = b.get(n)!.data;
        return t.data.length === u.length && Array.from(t.data).every((v, i) => Object.is(v, u[i]));
      });
    // deno-lint-ignore no-explicit-any
    const W = (m: Map<string, any>) => m as Map<string, { data: ArrayLike<number> }>;
    assert(same(W(s1), W(s2), "enc."), "stage 2 leaves the map bit-for-bit unchanged");
    assert(same(W(s2), W(s3), "enc.") && same(W(s2), W(s3), "tiny."), "stage 3 leaves stages 1-2 unchanged");
    assert(same(W(s2), W(s3t), "enc.") && !same(W(s2), W(s3t), "tiny."), "the control trains tinySSM only");
    assert(!same(W(s2), W(s3u), "enc.") && !same(W(s2), W(s3u), "tiny."), "unfreeze trains everything");
    // a second call resumes every finished stage instead of retraining it
    const again = await runCharCurriculum({
      train: corpus.train,
      valid: corpus.valid,
      outDir: dir,
      preset: "tiny",
      stages: {
        1: { steps: 3, batch: 2, seqLen: 16 },
        2: { steps: 3, batch: 2, seqLen: 16 },
        3: { steps: 3, batch: 2, seqLen: 16 },
      },
      variants: [{ name: "main" }],
      bpcBatches: 2,
      probePrompts: [],
    });
    assertEquals(again.rows.map((x) => x.steps), [3, 3, 3]);
    // characters/s come from the stages' timing files, not from this (training-free) session
    assertEquals(again.rows.map((x) => x.charsPerSec), r.rows.slice(0, 3).map((x) => x.charsPerSec));
    assert(r.rows.every((x) => x.charsPerSec > 0 && x.seconds > 0));
    assertEquals(again.rows[2].bpc, r.rows[2].bpc);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("char curriculum: a deadline stops with CharTimeUp after a saved step; the next call resumes to the end", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const corpus = cleanCharCorpus(await loadBabyLM({ dir: "data/samples/babylm", maxWords: 2000 }), {
      heldOutFraction: 0.1,
    });
    const opts = {
      train: corpus.train,
      valid: corpus.valid,
      outDir: dir,
      preset: "tiny",
      stages: {
        1: { steps: 4, batch: 2, seqLen: 16 },
        2: { steps: 4, batch: 2, seqLen: 16 },
        3: { steps: 4, batch: 2, seqLen: 16 },
      },
      bpcBatches: 1,
      probePrompts: [],
    };
    const n0 = tf.memory().numTensors;
    const err = await assertRejects(() => runCharCurriculum({ ...opts, deadline: 0 }), CharTimeUp);
    assertStringIncludes(err.message, `"stage1"`);
    assertEquals((await latestCheckpoint(join(dir, "stage1")))?.endsWith("step-1"), true);
    const stages: string[] = [];
    const r = await runCharCurriculum({ ...opts, onStage: (p) => void stages.push(p.rows.at(-1)!.model) });
    assertEquals(stages, ["stage1", "stage2", "main_softnn"]);
    assertEquals(r.rows.map((x) => x.steps), [4, 4, 4]);
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
