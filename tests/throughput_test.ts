import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertNotEquals, assertRejects } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { measureThroughput } from "../src/eval/throughput.ts";
import { TinyLm } from "./fixtures/tiny_lm.ts";
import { Rng } from "../src/rng.ts";
import { microBatch, TrainStep } from "../src/train/step.ts";
import { ArrayBatchSource } from "../src/train/batch_source.ts";
import { BatchIterator, PackedDataset } from "../src/data/batches.ts";

async function snapshot(model: TinyLm): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const v of model.weights.values()) out.push((await v.data()) as Float32Array);
  return out;
}

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`throughput: training + forward, weights restored, no leaks (${backend})`, async () => {
    await initBackend({ backend });
    const model = new TinyLm({ vocabSize: 32, dim: 16 }, 2);
    const w0 = await snapshot(model);
    const before = tf.memory().numTensors;
    const r = await measureThroughput(model, {
      batch: 2,
      seqLen: 8,
      warmup: 2,
      steps: 5,
      forward: true,
      seed: 1,
    });
    assertEquals(tf.memory().numTensors, before, "no tensor leaks");
    assertEquals([r.batch, r.seqLen, r.warmup, r.steps, r.backend], [2, 8, 2, 5, backend]);
    assert(r.tokensPerSec! > 0 && Number.isFinite(r.tokensPerSec!), `tokens/s ${r.tokensPerSec}`);
    assert(r.forwardTokensPerSec! > 0, `forward tokens/s ${r.forwardTokensPerSec}`);
    assertEquals(r.peakMeasure, "profile");
    // Weights (32·16 + 16·16 + 16 + 32 floats) + Adam moments (2×) at least.
    const weightBytes = (32 * 16 + 16 * 16 + 16 + 32) * 4;
    assert(r.peakBytes >= 3 * weightBytes, `peak ${r.peakBytes} < 3 × ${weightBytes}`);
    assert(r.memory.profiledPeak! >= r.memory.sampledPeak, "the profiled peak bounds the sampled one");
    assertAlmostEquals(r.finalLoss, Math.log(32), 1.0);
    const w1 = await snapshot(model);
    for (let i = 0; i < w0.length; i++) assertEquals(w1[i], w0[i], `weight ${i} restored`);
    model.dispose();
  });
}

Deno.test("throughput: restoreWeights false trains; forwardOnly; bad sizes", async () => {
  await initBackend({ backend: "cpu" });
  const model = new TinyLm({ vocabSize: 32, dim: 16, maxLen: 16 }, 2);
  const w0 = await snapshot(model);
  const before = tf.memory().numTensors;
  await measureThroughput(model, {
    batch: 2,
    seqLen: 8,
    warmup: 0,
    steps: 3,
    lr: 1e-2,
    restoreWeights: false,
  });
  assertNotEquals(await snapshot(model), w0, "weights moved");
  const f = await measureThroughput(model, { batch: 2, seqLen: 8, warmup: 1, steps: 3, forwardOnly: true });
  assertEquals(f.tokensPerSec, undefined);
  assert(f.forwardTokensPerSec! > 0);
  assertEquals(tf.memory().numTensors, before, "no tensor leaks");
  await assertRejects(() => measureThroughput(model, { batch: 2, seqLen: 17 }), Error, `seqLen "17"`);
  await assertRejects(() => measureThroughput(model, { batch: 0, seqLen: 8 }), Error, `got "0"`);
  model.dispose();
});

Deno.test("throughput: one batch type — times the first batch of an ArrayBatchSource, a BatchIterator or an array", async () => {
  await initBackend({ backend: "cpu" });
  const model = new TinyLm({ vocabSize: 32, dim: 16 }, 2);
  const r = new Rng(3);
  const ids = Int32Array.from({ length: 65 }, () => r.int(32));
  const opts = { warmup: 1, steps: 2, profileMemory: false };
  const before = tf.memory().numTensors;
  const viaSource = await measureThroughput(model, {
    ...opts,
    data: new ArrayBatchSource(ids, { batch: 2, seqLen: 8, shuffle: false }),
  });
  assertEquals([viaSource.batch, viaSource.seqLen], [2, 8]);
  const iterator = () => new BatchIterator(new PackedDataset(ids, 8), { batchSize: 2 });
  const viaIterator = await measureThroughput(model, { ...opts, data: iterator() });
  const viaArray = await measureThroughput(model, { ...opts, data: [...iterator().epoch()], batch: 2 });
  assertEquals(viaIterator.finalLoss, viaSource.finalLoss, "same batch, same steps, same loss");
  assertEquals(viaArray.finalLoss, viaSource.finalLoss);
  const random = await measureThroughput(model, { ...opts, batch: 2, seqLen: 8 });
  assertNotEquals(random.finalLoss, viaSource.finalLoss, "the data's batch was used, not a random one");
  assertEquals(tf.memory().numTensors, before, "no tensor leaks");
  await assertRejects(
    () => measureThroughput(model, { ...opts, data: iterator(), seqLen: 16 }),
    Error,
    `is 2×8, but batch "undefined" and seqLen "16" were asked for`,
  );
  await assertRejects(
    () => measureThroughput(model, { ...opts, data: [] }),
    Error,
    "the throughput data was empty",
  );
  const bad = ids.slice();
  bad[3] = 40;
  await assertRejects(
    () =>
      measureThroughput(model, {
        ...opts,
        data: new ArrayBatchSource(bad, { batch: 2, seqLen: 8, shuffle: false }),
      }),
    Error,
    `input id "40" at row 0, column 3`,
  );
  model.dispose();
});

Deno.test("throughput: the timed step is the trainer's TrainStep (same weights after the same steps)", async () => {
  await initBackend({ backend: "cpu" });
  const a = new TinyLm({ vocabSize: 32, dim: 16 }, 4), b = new TinyLm({ vocabSize: 32, dim: 16 }, 4);
  const batch = {
    x: Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 32),
    y: Int32Array.from({ length: 16 }, (_, i) => (i * 5) % 32),
    batch: 2,
    seqLen: 8,
  };
  await measureThroughput(a, { data: [batch], warmup: 1, steps: 2, lr: 1e-2, restoreWeights: false });
  const step = new TrainStep(b, { optimizer: { lr: 1e-2, weightDecay: 0.01 }, gradClip: null });
  const micro = microBatch(batch);
  for (let s = 1; s <= 3; s++) await step.run({ micro: [micro], lr: 1e-2, step: s });
  assertEquals(await snapshot(a), await snapshot(b));
  step.dispose();
  tf.dispose([micro.ids, micro.targets]);
  a.dispose();
  b.dispose();
});
