/**
 * The Edifice-compatible H3 (docs/models/h3.md § Edifice): exact parameter count and Edifice's formula (both
 * numbers at embed_dim 287), options and their errors, one SSM branch against its recurrence run step by step,
 * the model's fast path against the reference path (output and every gradient) on cpu, wasm and webgpu, and why a
 * true scan: the cumulative-product form breaks where the scan does not.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { assertClose, assertCloseAsync, normal } from "./tensor_assert.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { edificeBranch, EdificeH3, EdificeH3Model } from "../src/models/edifice_h3.ts";
import { withImpl } from "../src/nn/dispatch.ts";
import { Rng } from "../src/rng.ts";

Deno.test("EdificeH3: exact count 2,712,584 vs Edifice's formula 2,957,056 at embed_dim 287", () => {
  const opts = { embedDim: 287 };
  assertEquals(EdificeH3.paramCount(opts), 2_712_584);
  assertEquals(EdificeH3.formulaParamCount(opts), 2_957_056);
  const m = new EdificeH3Model(opts, 0, true); // shapes only
  assertEquals(m.numParams(), 2_712_584, "the built graph");
  const shapes = m.params.shapes, size = (n: string) => shapes.get(n)!.reduce((a, b) => a * b, 1);
  assertEquals(size("input_proj.weight") + size("input_proj.bias"), 73_728, "input projection");
  const block = [...shapes.keys()].filter((n) => n.startsWith("blocks.0.")).reduce((a, n) => a + size(n), 0);
  assertEquals(block, 659_586, "one block");
  // embed_dim = hidden: no input projection (Edifice's formula drops its term too)
  assertEquals(EdificeH3.paramCount({ embedDim: 256 }), 4 * 659_586 + 512);
  assertEquals(EdificeH3.formulaParamCount({ embedDim: 256 }), 2_957_056 - 287 * 256);
  const small = { embedDim: 5, hiddenSize: 8, stateSize: 4, convSize: 3, numLayers: 2 };
  const built = EdificeH3.build(small, 1);
  assertEquals(built.numParams(), EdificeH3.paramCount(small));
  built.dispose();
});

Deno.test("EdificeH3: outputSize, recommendedDefaults and option errors", () => {
  assertEquals(EdificeH3.outputSize(), 256);
  assertEquals(EdificeH3.outputSize({ hiddenSize: 32 }), 32);
  assertEquals(EdificeH3.recommendedDefaults(), {
    hiddenSize: 256,
    stateSize: 64,
    convSize: 4,
    numLayers: 4,
    dropout: 0.1,
    windowSize: 60,
  });
  assertThrows(
    () => EdificeH3.paramCount({} as { embedDim: number }),
    Error,
    `option "embedDim" must be a positive integer, got "undefined" (it is required)`,
  );
  assertThrows(
    () => EdificeH3.build({ embedDim: 4, stateSize: 0 }),
    Error,
    `option "stateSize" must be a positive integer`,
  );
  assertThrows(
    () => EdificeH3.build({ embedDim: 4, dropout: 1 }),
    Error,
    `option "dropout" must be a number in [0, 1)`,
  );
});

Deno.test("[cpu] EdificeH3 branch: the scan equals h_t = e^{ΔA} h_{t−1} + Δ B_t z_t, y_t = C_t·h_t step by step", async () => {
  await initBackend({ backend: "cpu" });
  const rng = new Rng(3);
  const m = EdificeH3.build({ embedDim: 6, hiddenSize: 6, stateSize: 5, numLayers: 1 }, 2);
  const n0 = tf.memory().numTensors;
  tf.tidy(() => {
    const [T, h, N] = [9, 6, 5];
    const z = normal(rng, [1, T, h]) as tf.Tensor3D;
    const got = edificeBranch(m.weights, "blocks.0.shift", z).dataSync();
    const g = (n: string) => m.weights.get(`blocks.0.shift.${n}`)!.dataSync();
    const [Wb, bb, Wc, bc, alog] = [
      g("B_proj.weight"),
      g("B_proj.bias"),
      g("C_proj.weight"),
      g("C_proj.bias"),
      g("a_log"),
    ];
    const dt = Math.log1p(Math.exp(g("dt_log")[0]));
    assert(Math.abs(dt - 0.01) < 1e-6, `Δ at init is 0.01, got ${dt}`);
    const zv = z.dataSync();
    const st = new Float64Array(h * N), want = new Float64Array(T * h);
    for (let t = 0; t < T; t++) {
      const proj = (W: ArrayLike<number>, b: ArrayLike<number>, n: number) => {
        let a = b[n];
        for (let c = 0; c < h; c++) a += W[n * h + c] * zv[t * h + c];
        return a;
      };
      const Bt = Array.from({ length: N }, (_, n) => proj(Wb, bb, n));
      const Ct = Array.from({ length: N }, (_, n) => proj(Wc, bc, n));
      for (let c = 0; c < h; c++) {
        let y = 0;
        for (let n = 0; n < N; n++) {
          const i = c * N + n;
          st[i] = Math.exp(-dt * Math.exp(alog[n])) * st[i] + dt * Bt[n] * zv[t * h + c];
          y += Ct[n] * st[i];
        }
        want[t * h + c] = y;
      }
    }
    assertClose(got, want, 1e-5, "branch vs recurrence");
  });
  assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  m.dispose();
});

Deno.test("EdificeH3: the cumulative-product form fails where the true scan holds (A = −64, Δ = 0.01, T = 60)", () => {
  // one channel, one mode: h_t = a h_{t−1} + Δ u_t with a = e^{−0.64}; Edifice: P_t = exp(Σ log(|a| + 1e-10)),
  // h_t = P_t · Σ_s Δ u_s / (P_s + 1e-10), evaluated in float32
  const f = Math.fround, a = Math.exp(-64 * 0.01), T = 60;
  let h = 0, logP = 0, acc = 0, worst = 0;
  for (let t = 1; t <= T; t++) {
    h = a * h + 0.01; // u_t = 1
    logP = f(logP + f(Math.log(f(a + 1e-10))));
    const P = f(Math.exp(logP));
    acc = f(acc + f(0.01 / f(P + 1e-10)));
    worst = Math.max(worst, Math.abs(f(P * acc) - h) / h);
  }
  assert(worst > 0.5, `the cumulative-product form is off by ${worst} relative (expected > 50 %)`);
});

for (const { name: backend, ignore } of await backendCases()) {
  Deno.test({
    name: `[${backend}] EdificeH3: fast path equals the reference path (last-step output, every gradient)`,
    ignore,
    async fn() {
      await initBackend({ backend });
      const rng = new Rng(5);
      const n0 = tf.memory().numTensors;
      const m = EdificeH3.build({ embedDim: 7, hiddenSize: 8, stateSize: 4, numLayers: 2, dropout: 0 }, 4);
      const x = normal(rng, [2, 10, 7]) as tf.Tensor3D;
      const p = normal(rng, [2, 8]);
      const run = (impl: "fast" | "ref") =>
        withImpl(impl, () => tf.variableGrads(() => tf.sum(tf.mul(m.apply(x), p)) as tf.Scalar));
      const [fast, ref] = [run("fast"), run("ref")];
      await assertCloseAsync(fast.value, ref.value, 1e-4, `${backend} output`);
      for (const n of Object.keys(ref.grads)) {
        await assertCloseAsync(fast.grads[n], ref.grads[n], 2e-3, `${backend} d${n}`);
      }
      const y = m.apply(x);
      assertEquals(y.shape, [2, 8]);
      const seq = m.sequence(x);
      const last = tf.tidy(() => tf.reshape(tf.slice(seq, [0, 9, 0], [2, 1, 8]), [2, 8]));
      await assertCloseAsync(y, last, 0, "last timestep");
      tf.dispose([
        x,
        p,
        y,
        seq,
        last,
        fast.value,
        ref.value,
        ...Object.values(fast.grads),
        ...Object.values(ref.grads),
      ]);
      m.dispose();
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
    },
  });
}
