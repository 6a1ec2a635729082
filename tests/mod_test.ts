import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import * as ssmlab from "../mod.ts";
import { createModel, getTokenizer, initBackend, phenomenonOf, writeFileAtomic } from "../mod.ts";
import { writeFileAtomic as resultsWriteFileAtomic } from "../src/results/atomic.ts";
import { inJupyter as displayInJupyter } from "../src/results/display.ts";

Deno.test("mod.ts: re-exports the public API of every layer", () => {
  const names = [
    // backend, rng, models
    "initBackend",
    "describeEnvironment",
    "Rng",
    "createModel",
    "modelKinds",
    "BaselineSLM",
    "MhcSLM",
    "mhcConfig",
    "exportReferenceWeights",
    // nn, tokenizers, data
    "Params",
    "crossEntropy",
    "rmsNorm",
    "sinkhornKnopp",
    "selectiveScan",
    "getTokenizer",
    "AsciiTokenizer",
    "Gpt2Tokenizer",
    "Vocab20kTokenizer",
    "loadCorpus",
    "loadBlimp",
    "BLIMP_PHENOMENA",
    "BLIMP_UIDS",
    "PackedDataset",
    "HubClient",
    "DataError",
    // train, eval, results
    "AdamW",
    "train",
    "saveCheckpoint",
    "makeSchedule",
    "evaluateBlimp",
    "evaluatePerplexity",
    "generate",
    "measureThroughput",
    "createRun",
    "saveFrame",
    "lineChart",
    "inJupyter",
    "writeFileAtomic",
  ];
  const mod = ssmlab as Record<string, unknown>;
  const missing = names.filter((n) => mod[n] === undefined);
  assertEquals(missing, [], `missing exports: ${missing.join(", ")}`);
  for (const n of Object.keys(mod)) assert(mod[n] !== undefined, `export ${n} is undefined`);
});

Deno.test("mod.ts: clashing names resolve to one implementation", () => {
  assert(writeFileAtomic === resultsWriteFileAtomic);
  assert(ssmlab.inJupyter === displayInJupyter);
  assertEquals(phenomenonOf("wh_island"), "island_effects");
});

Deno.test("mod.ts: a tiny model scores ASCII text through the root module", async () => {
  await initBackend({ backend: "cpu" });
  const tok = getTokenizer("ascii");
  const model = createModel({ kind: "baseline", vocabSize: 128, maxLen: 32, dim: 16, layers: 1 }, 1);
  const ids = tok.encode("Hi");
  assertEquals(ids, [72, 105]);
  const lp = tf.tidy(() => model.logProbs(tf.tensor2d([ids], [1, 2], "int32")));
  assertEquals(lp.shape, [1, 2, 128]);
  lp.dispose();
  model.dispose();
});
