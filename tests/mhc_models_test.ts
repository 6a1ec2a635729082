import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { batch } from "./tensor_assert.ts";
import { initBackend } from "../src/backend.ts";
import { BaselineSLM, mhcConfig } from "../src/models/diag_ssm.ts";
import { MhcSLM, mixResidual, mixResidualRef } from "../src/models/mhc_ssm.ts";
import { exportReferenceWeights, importReferenceWeights } from "../src/models/reference_weights.ts";
import { createModel } from "../src/models/registry.ts";
import { Rng } from "../src/rng.ts";

Deno.test("parameter counts at the published config are exactly the reference's (docs/models/baseline.md, mhc.md)", async () => {
  await initBackend({ backend: "cpu" });
  const n0 = tf.memory().numTensors;
  // Shapes from the same construction code without allocating (dry run) …
  const cases: [string, () => BaselineSLM | MhcSLM, number][] = [
    ["baseline", () => new BaselineSLM({}, 1, true), 32_203_776],
    ["static mHC", () => new MhcSLM({}, 1, true), 33_254_596],
    ["mHC + adapters", () => new MhcSLM({ streamAdapters: true }, 1, true), 33_791_684],
  ];
  for (const [name, make, expected] of cases) assertEquals(make().numParams(), expected, name);
  // … and one real allocation at the published size, whose count and shapes must equal the dry run's.
  const real = new MhcSLM({ streamAdapters: true }, 1);
  assertEquals(real.numParams(), 33_791_684, "allocated mHC + adapters");
  assertEquals(real.parameterShapes(), new MhcSLM({ streamAdapters: true }, 1, true).parameterShapes());
  real.dispose();
  assertEquals(tf.memory().numTensors, n0);
});

Deno.test("reference names and shapes (docs/models/mhc.md) and initialisation", async () => {
  await initBackend({ backend: "cpu" });
  const m = new MhcSLM(mhcConfig({ streamAdapters: true }, "tiny"), 3);
  const shapes = Object.fromEntries([...m.weights].map(([k, v]) => [k, v.shape]));
  const d = 16, n = 4, r = 4;
  assertEquals(shapes["tok_emb.emb.weight"], [128, d]);
  assertEquals(shapes["pos_emb.pos.weight"], [32, d]);
  assertEquals(shapes["expand.proj.weight"], [n * d, d]);
  assertEquals(shapes["blocks.1.hres_logits"], [n, n]);
  assertEquals(shapes["blocks.0.gamma_pre"], [n, r]);
  assertEquals(shapes["blocks.0.ad_down.weight"], [r, d]);
  assertEquals(shapes["blocks.0.ad_up.weight"], [d, r]);
  assertEquals(shapes["blocks.0.ssm.in_proj.weight"], [2 * d, d]);
  assertEquals(shapes["blocks.0.ssm.dwconv.weight"], [d, 1, 3]);
  assertEquals(shapes["blocks.0.ssm.ssm.logit_a"], [d]);
  assertEquals(shapes["aggregate.w_logits"], [n]);
  assertEquals(shapes["norm_f.weight"], [d]);
  const vals = (k: string) => m.weights.get(k)!.dataSync();
  assert(vals("blocks.0.ssm.ssm.d").every((v) => v === 0), "D = 0");
  assert(vals("blocks.0.gamma_post").every((v) => v === 1), "γ = 1");
  assert(vals("blocks.0.hpre_logits").every((v) => v === 0), "ℓ_pre = 0");
  const la = vals("blocks.0.ssm.ssm.logit_a");
  assert(la.every((v) => Math.abs(v) < 0.1) && la.some((v) => v !== 0), "logit_a ~ N(0, 0.02²)");
  const bound = 1 / Math.sqrt(d);
  assert(vals("blocks.0.ssm.in_proj.weight").every((v) => Math.abs(v) <= bound), "Linear U(±1/√in)");
  const emb = Array.from(vals("tok_emb.emb.weight"));
  const std = Math.sqrt(emb.reduce((a, v) => a + v * v, 0) / emb.length);
  assert(std > 0.9 && std < 1.1, `embedding std ≈ 1, got ${std}`);
  m.dispose();
});

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`[${backend}] fast and reference scans give the same loss and gradients (all three variants)`, async () => {
    await initBackend({ backend });
    const { x, y } = batch(128, 2, 12, 5);
    const n0 = tf.memory().numTensors;
    for (
      const cfg of [{ kind: "baseline" }, { kind: "mhc" }, {
        kind: "mhc",
        streamAdapters: true,
        adapterDropout: 0,
      }]
    ) {
      const fast = createModel(mhcConfig({ ...cfg, scan: "fast" } as never, "tiny"), 7);
      const ref = createModel(mhcConfig({ ...cfg, scan: "ref" } as never, "tiny"), 7);
      const gf = tf.variableGrads(() => fast.loss(x, y));
      const gr = tf.variableGrads(() => ref.loss(x, y));
      assertAlmostEquals(gf.value.dataSync()[0], gr.value.dataSync()[0], 1e-5, `${cfg.kind} loss`);
      let maxDiff = 0;
      for (const [name, v] of fast.weights) {
        const a = gf.grads[v.name].dataSync(), b = gr.grads[ref.weights.get(name)!.name].dataSync();
        for (let i = 0; i < a.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
        }
      }
      assert(maxDiff < 1e-4, `${JSON.stringify(cfg)}: max gradient difference ${maxDiff}`);
      tf.dispose([gf.value, gr.value, ...Object.values(gf.grads), ...Object.values(gr.grads)]);
      fast.dispose();
      ref.dispose();
    }
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
    tf.dispose([x, y]);
  });
}

Deno.test("initial loss is high (N(0,1) tied embeddings) and a few steps lower it", async () => {
  await initBackend({ backend: "cpu" });
  const m = new MhcSLM(mhcConfig({ streamAdapters: true }, "tiny"), 11);
  const { x } = batch(128, 2, 16, 9);
  const y = tf.concat([tf.slice(x, [0, 1], [2, 15]), tf.fill([2, 1], 0, "int32")], 1) as tf.Tensor2D;
  m.setTraining(true);
  const opt = tf.train.adam(1e-2);
  const losses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const l = opt.minimize(() => m.loss(x, y), true)!;
    losses.push(l.dataSync()[0]);
    l.dispose();
  }
  assert(losses[0] > Math.log(128), `initial loss ${losses[0]} should exceed log V`);
  assert(losses[7] < losses[0], `loss should fall: ${losses}`);
  opt.dispose();
  m.dispose();
  tf.dispose([x, y]);
});

Deno.test("logProbs normalise; sequences longer than maxLen are refused clearly", async () => {
  await initBackend({ backend: "cpu" });
  const m = new BaselineSLM(mhcConfig({ kind: "baseline" }, "tiny"), 1);
  const { x } = batch(128, 1, 8, 1);
  const s = tf.tidy(() => m.logProbs(x).exp().sum(-1).dataSync());
  for (const v of s) assertAlmostEquals(v, 1, 1e-4);
  const long = tf.zeros([1, 33], "int32") as tf.Tensor2D;
  assertThrows(() => m.logProbs(long), Error, "exceeds the model's learned position table (maxLen = 32)");
  assertThrows(() => mhcConfig({ dim: 0 }, "tiny"), Error, `"dim" must be a positive integer, got "0"`);
  assertThrows(() => mhcConfig({}, "huge"), Error, `Unknown mHC preset "huge"`);
  tf.dispose([x, long]);
  m.dispose();
});

Deno.test("residual mixing matches the per-stream loop", async () => {
  await initBackend({ backend: "cpu" });
  const rng = new Rng(2);
  const X = tf.tensor4d(rng.normalArray(2 * 3 * 4 * 5), [2, 3, 4, 5]);
  const H = tf.tensor2d(rng.normalArray(16), [4, 4]);
  const a = mixResidual(X, H).dataSync(), b = mixResidualRef(X, H).dataSync();
  for (let i = 0; i < a.length; i++) assertAlmostEquals(a[i], b[i], 1e-5);
  tf.dispose([X, H]);
});

Deno.test("reference weights round trip; missing/extra/mis-shaped tensors listed", async () => {
  await initBackend({ backend: "cpu" });
  const a = new MhcSLM(mhcConfig({}, "tiny"), 1);
  const b = new MhcSLM(mhcConfig({}, "tiny"), 2);
  const sd = await exportReferenceWeights(a);
  assert(sd.has("lm_head.weight"), "tied head exported");
  importReferenceWeights(b, sd);
  const { x } = batch(128, 1, 8, 3);
  const la = tf.tidy(() => a.logProbs(x).dataSync()), lb = tf.tidy(() => b.logProbs(x).dataSync());
  assertEquals(la, lb);
  const bad = new Map(sd);
  bad.delete("blocks.0.hres_logits");
  bad.set("blocks.9.extra", { data: new Float32Array(1), shape: [1] });
  bad.set("norm_f.weight", { data: new Float32Array(3), shape: [3] });
  const e = assertThrows(() => importReferenceWeights(b, bad, "bad.safetensors"), Error, "bad.safetensors");
  assert(e.message.includes("missing 1: blocks.0.hres_logits"), e.message);
  assert(e.message.includes("unexpected 1: blocks.9.extra"), e.message);
  assert(e.message.includes("norm_f.weight (got [3], expected [16])"), e.message);
  const base = new BaselineSLM(mhcConfig({ kind: "baseline" }, "tiny"), 1);
  assertThrows(() => importReferenceWeights(base, sd), Error, "unexpected");
  tf.dispose(x);
  [a, b, base].forEach((m) => m.dispose());
});
