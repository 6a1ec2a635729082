import * as tf from "@tensorflow/tfjs";
import { assertAlmostEquals, assertEquals, assertRejects } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import type { LanguageModel, ModelConfig } from "../src/models/types.ts";
import { evaluatePerplexity, type TokenBatch } from "../src/eval/perplexity.ts";
import { TinyLm } from "./fixtures/tiny_lm.ts";
import { Rng } from "../src/rng.ts";
import { ArrayBatchSource } from "../src/train/batch_source.ts";
import { BatchIterator, PackedDataset } from "../src/data/batches.ts";

/** A bigram model whose log-probs are log softmax of a fixed table row: next-token p depends on the input id only. */
class TableLm implements LanguageModel {
  readonly config: ModelConfig;
  readonly weights = new Map<string, tf.Variable>();
  training = true;
  #lp: tf.Tensor2D;
  constructor(probs: number[][]) {
    this.config = { kind: "table", vocabSize: probs.length, maxLen: null };
    this.#lp = tf.log(tf.tensor2d(probs));
  }
  setTraining(t: boolean) {
    this.training = t;
  }
  logProbs(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.gather(this.#lp, ids) as unknown as tf.Tensor3D;
  }
  loss(): tf.Scalar {
    return tf.scalar(123); // a training loss with a huge "auxiliary term": must not be used by default
  }
  dispose(): void {
    this.#lp.dispose();
  }
}

function batch(rows: number[][], targets: number[][]): TokenBatch {
  return {
    x: Int32Array.from(rows.flat()),
    y: Int32Array.from(targets.flat()),
    batch: rows.length,
    seqLen: rows[0].length,
  };
}

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`perplexity: hand-checked mean of batch means (${backend})`, async () => {
    await initBackend({ backend });
    // From id 0: p(0)=0.5, p(1)=0.25, p(2)=0.25. From ids 1, 2: uniform 1/3.
    const model = new TableLm([[0.5, 0.25, 0.25], [1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]]);
    const before = tf.memory().numTensors;
    const b1 = batch([[0, 0], [0, 1]], [[0, 1], [2, 0]]); // −log p: ln2, ln4, ln4, ln3
    const b2 = batch([[1, 0]], [[-100, 0]]); // partial batch, one ignored target: ln2
    const l1 = (Math.log(2) + Math.log(4) + Math.log(4) + Math.log(3)) / 4;
    const l2 = Math.log(2);
    const r = await evaluatePerplexity(model, [b1, b2]);
    assertAlmostEquals(r.loss, (l1 + l2) / 2, 1e-5);
    assertAlmostEquals(r.ppl, Math.exp((l1 + l2) / 2), 1e-4);
    assertEquals([r.batches, r.tokens], [2, 5]);
    assertEquals(model.training, false, "evaluation mode");
    const one = await evaluatePerplexity(model, [b1, b2, b2], { maxBatches: 1 });
    assertAlmostEquals(one.loss, l1, 1e-5);
    assertEquals(one.batches, 1);
    const viaLoss = await evaluatePerplexity(model, [b1], { source: "loss" });
    assertAlmostEquals(viaLoss.loss, 123, 1e-4);
    assertEquals(tf.memory().numTensors, before, "no tensor leaks");
    model.dispose();
  });

  Deno.test(`perplexity: matches TinyLm's own loss, async batches (${backend})`, async () => {
    await initBackend({ backend });
    const model = new TinyLm({ vocabSize: 16, dim: 8 }, 1);
    const rng = new Rng(5);
    const batches: TokenBatch[] = [3, 3, 1].map((b) => {
      const x = Int32Array.from({ length: b * 6 }, () => rng.int(16));
      const y = Int32Array.from({ length: b * 6 }, () => rng.int(16));
      return { x, y, batch: b, seqLen: 6 };
    });
    const before = tf.memory().numTensors;
    const expected = batches.map((b) =>
      tf.tidy(() =>
        model.loss(tf.tensor2d(b.x, [b.batch, 6], "int32"), tf.tensor2d(b.y, [b.batch, 6], "int32"))
          .dataSync()[0]
      )
    );
    async function* stream() {
      for (const b of batches) yield b;
    }
    const r = await evaluatePerplexity(model, stream());
    assertAlmostEquals(r.loss, (expected[0] + expected[1] + expected[2]) / 3, 1e-4);
    assertEquals(r.tokens, 42);
    assertEquals(tf.memory().numTensors, before, "no tensor leaks");
    model.dispose();
  });
}

Deno.test("perplexity: errors name the offending value", async () => {
  await initBackend({ backend: "cpu" });
  const model = new TinyLm({ vocabSize: 16, dim: 8 }, 1);
  await assertRejects(() => evaluatePerplexity(model, []), Error, "empty");
  await assertRejects(
    () => evaluatePerplexity(model, [{ x: new Int32Array(3), y: new Int32Array(4), batch: 2, seqLen: 2 }]),
    Error,
    `holds "3" inputs`,
  );
  await assertRejects(
    () =>
      evaluatePerplexity(model, [{ x: new Int32Array(2), y: Int32Array.from([1, 99]), batch: 1, seqLen: 2 }]),
    Error,
    `"99"`,
  );
  model.dispose();
});

Deno.test("perplexity: one batch type — ArrayBatchSource, BatchIterator, arrays, generators give the same result", async () => {
  await initBackend({ backend: "cpu" });
  const model = new TinyLm({ vocabSize: 16, dim: 8 }, 1);
  const r = new Rng(9);
  const ids = Int32Array.from({ length: 101 }, () => r.int(16)); // 10 sequences of 10 → batches of 3, 3, 3, 1
  const source = () => new ArrayBatchSource(ids, { batch: 3, seqLen: 10, shuffle: false });
  const iterator = () => new BatchIterator(new PackedDataset(ids, 10), { batchSize: 3 });
  const array: TokenBatch[] = [];
  const s = source();
  for (let b = s.next(); b; b = s.next()) array.push(b);
  async function* stream() {
    for (const b of array) yield b;
  }
  const before = tf.memory().numTensors;
  const viaSource = await evaluatePerplexity(model, source());
  assertEquals([viaSource.batches, viaSource.tokens], [4, 100]);
  for (
    const [name, input] of [
      ["BatchIterator", iterator()],
      ["BatchIterator.epoch()", iterator().epoch()],
      ["array", array],
      ["async generator", stream()],
      [
        "batchSize-only batches",
        array.map((b) => ({ x: b.x, y: b.y, batchSize: b.batch, seqLen: b.seqLen })),
      ],
    ] as const
  ) {
    assertEquals(await evaluatePerplexity(model, input), viaSource, name);
  }
  // maxBatches on a source, and "loss" mode over a BatchIterator
  assertEquals((await evaluatePerplexity(model, source(), { maxBatches: 2 })).batches, 2);
  assertAlmostEquals(
    (await evaluatePerplexity(model, iterator(), { source: "loss" })).loss,
    viaSource.loss,
    1e-5,
  );
  assertEquals(tf.memory().numTensors, before, "no tensor leaks");
  await assertRejects(
    () =>
      evaluatePerplexity(model, [{ x: Int32Array.of(1, 20), y: Int32Array.of(1, 2), batch: 1, seqLen: 2 }]),
    Error,
    `input id "20" at row 0, column 1 is outside the model's vocabulary [0, 16) (vocabSize 16)`,
  );
  await assertRejects(() => evaluatePerplexity(model, 5 as never), Error, "is not a source of batches");
  model.dispose();
});
