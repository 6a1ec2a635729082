import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertNotEquals, assertRejects } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { measureThroughput } from "../src/eval/throughput.ts";
import { TinyLm } from "./fixtures/tiny_lm.ts";

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
