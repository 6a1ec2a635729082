/**
 * The HSSM model (`src/models/hssm.ts`): Config A's parameter count (the card's 73.8M) through the spec and a dry
 * run; causality at and across chunk boundaries; lengths that are not a multiple of chunk_size (padded inside);
 * the whole model's fast forms against the reference forms in loss and gradients on cpu, wasm and webgpu; the
 * named auxiliary loss and the routing statistics; training lowers the loss.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { assertCloseAsync as close } from "./tensor_assert.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { HSSM_SPEC, hssmConfig, HssmLM } from "../src/models/hssm.ts";
import { createModel, modelConfig } from "../src/models/registry.ts";
import { withImpl } from "../src/nn/dispatch.ts";
import { ArrayBatchSource } from "../src/train/batch_source.ts";
import { train } from "../src/train/trainer.ts";
import { Rng } from "../src/rng.ts";

const ids2d = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0].length], "int32");

Deno.test("[cpu] Config A has the card's 73.8M parameters (spec count = dry-run shapes)", async () => {
  await initBackend({ backend: "cpu" });
  const cfg = modelConfig("hssm");
  const n = HSSM_SPEC.paramCount(cfg as never);
  assertEquals(n, 73_766_960);
  assert(Math.abs(n - 73.8e6) <= 0.05e6, `${n} is not 73.8M ± 0.05M`);
  const dry = new HssmLM(hssmConfig(), 0, true);
  let byShapes = 0;
  for (const s of dry.parameterShapes().values()) byShapes += s.reduce((a, b) => a * b, 1);
  assertEquals(byShapes, n);
  const shapes = dry.parameterShapes();
  assertEquals(shapes.get("blocks.5.moe.w1"), [8, 1024, 512]);
  assertEquals(shapes.get("blocks.0.mixer.A_log"), [1024, 32]);
  assertEquals(shapes.get("chunker.down.weight"), [512, 2048]);
  assert(!shapes.has("lm_head.weight"), "tied head");
});

Deno.test("[cpu] causality: changing token t never changes logits before t, at and across chunk boundaries", async () => {
  await initBackend({ backend: "cpu" });
  const m = new HssmLM(hssmConfig({}, "tiny"), 5);
  const rng = new Rng(9);
  for (const T of [12, 11]) {
    const base = Array.from({ length: T }, () => Math.floor(rng.uniform() * 128));
    const l0 = tf.tidy(() => m.logits(ids2d([base])).arraySync()[0]);
    for (const t of [0, 2, 3, 4, 5, 7, 8, T - 1]) {
      const row = base.slice();
      row[t] = (row[t] + 17) % 128;
      const l1 = tf.tidy(() => m.logits(ids2d([row])).arraySync()[0]);
      for (let s = 0; s < t; s++) {
        assert(l1[s].every((v, i) => v === l0[s][i]), `T=${T}: token ${t} changed the logits at ${s}`);
      }
      assert(l1[t].some((v, i) => v !== l0[t][i]), `T=${T}: token ${t} should change its own logits`);
      if (t + 4 < T) {
        // the next chunk sees chunk ⌊t/4⌋ through the shifted summary
        assert(l1[t + 4].some((v, i) => v !== l0[t + 4][i]), `T=${T}: token ${t} should reach ${t + 4}`);
      }
    }
  }
  m.dispose();
});

Deno.test("[cpu] a length that is not a multiple of chunk_size is padded inside: same logits as a longer input", async () => {
  await initBackend({ backend: "cpu" });
  const m = new HssmLM(hssmConfig({}, "tiny"), 6);
  const row = [5, 9, 1, 77, 3, 3, 40, 12, 8];
  for (const T of [1, 3, 5, 7]) {
    const [a, b] = tf.tidy(() => [
      m.logits(ids2d([row.slice(0, T)])),
      m.logits(ids2d([row.slice(0, 8)])).slice([0, 0, 0], [1, T, 128]),
    ]);
    await close(a, b, 1e-5, `T=${T}`);
    tf.dispose([a, b]);
  }
  assertThrows(
    () => m.logits(ids2d([Array(33).fill(1)])),
    Error,
    "exceeds the model's learned position table",
  );
  m.dispose();
});

Deno.test("[cpu] the load-balance loss is a named auxiliary term; routing statistics after a forward", async () => {
  await initBackend({ backend: "cpu" });
  const m = new HssmLM(hssmConfig({ balanceCoeff: 0.5 }, "tiny"), 7);
  const x = ids2d([[1, 2, 3, 4, 5, 6, 7, 8]]), y = ids2d([[2, 3, 4, 5, 6, 7, 8, 9]]);
  const l = m.loss(x, y);
  const aux = m.lastAux();
  assertEquals(Object.keys(aux), ["moe_balance"]);
  // Switch loss ≥ α·(number of blocks) at its minimum (E·Σ f·P̄ ≥ 1 is not guaranteed, but it is positive)
  assert(aux.moe_balance > 0, `moe_balance ${aux.moe_balance}`);
  const none = new HssmLM(hssmConfig({ balanceCoeff: 0 }, "tiny"), 7);
  const l0 = none.loss(x, y);
  assert(Math.abs(l.dataSync()[0] - l0.dataSync()[0] - aux.moe_balance) < 1e-4, "loss = CE + aux");
  const s = await m.routingStats();
  assertEquals(s.load.length, 2);
  for (const row of s.load) assert(Math.abs(row.reduce((a, b) => a + b) - 1) < 1e-5, `load ${row}`);
  for (const h of s.entropy) assert(h > 0 && h <= Math.log(4) + 1e-5, `entropy ${h}`);
  tf.dispose([x, y, l, l0]);
  m.dispose();
  none.dispose();
});

let cpuLoss: number | null = null;
for (const { name: backend, ignore } of await backendCases()) {
  Deno.test({
    name:
      `[${backend}] whole model: fast forms (scan, conv, sparse MoE) = reference forms, loss and gradients`,
    ignore,
    async fn() {
      await initBackend({ backend });
      const m = new HssmLM(hssmConfig({ balanceCoeff: 0.1 }, "tiny"), 8);
      const x = ids2d([[1, 5, 9, 2, 7, 3, 3, 8, 100, 4], [6, 6, 2, 1, 0, 9, 12, 50, 3, 2]]);
      const y = ids2d([[5, 9, 2, 7, 3, 3, 8, 100, 4, 1], [6, 2, 1, 0, 9, 12, 50, 3, 2, 7]]);
      tf.dispose(m.loss(x, y)); // the model keeps its last aux term and routing statistics
      const n0 = tf.memory().numTensors;
      const vars = [...m.weights.values()];
      const run = (impl: "fast" | "ref") => tf.variableGrads(() => withImpl(impl, () => m.loss(x, y)), vars);
      const f = run("fast"), r = run("ref");
      await close(f.value, r.value, 1e-5, "loss");
      const v = (await f.value.data())[0];
      if (backend === "cpu") cpuLoss = v;
      else if (cpuLoss !== null) {
        assert(Math.abs(v - cpuLoss) < 1e-4 * Math.abs(cpuLoss), `${v} ≠ cpu ${cpuLoss}`);
      }
      for (const [k, g] of Object.entries(r.grads)) await close(f.grads[k], g, 2e-3, `grad ${k}`);
      tf.dispose([f.value, r.value, ...Object.values(f.grads), ...Object.values(r.grads)]);
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
      tf.dispose([x, y]);
      m.dispose();
    },
  });
}

Deno.test("[cpu] train() lowers the tiny model's loss; createModel builds it from its config", async () => {
  await initBackend({ backend: "cpu" });
  const model = createModel(modelConfig("hssm", {}, "tiny"), 3);
  const seq = Array.from({ length: 2000 }, (_, i) => (i * 7) % 23);
  const data = new ArrayBatchSource(Int32Array.from(seq), { batch: 4, seqLen: 16, rng: 1 });
  const log = await train({ model, data, steps: 40, lr: 3e-3, progress: "none" });
  const first = log[0].loss, last = log[log.length - 1].loss;
  assert(last < first * 0.7, `loss ${first} → ${last}`);
  model.dispose();
});
