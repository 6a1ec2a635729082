/**
 * H3 (docs/models/h3.md): the SSM kernels against step-by-step recurrences, the model's parameter counts against
 * the worked formula, the whole model's fast path against its reference path (loss and every gradient) on cpu,
 * wasm and webgpu, causality, bad configs, and a short training run on shipped text.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { assertGradCheck } from "./gradcheck.ts";
import { assertClose, assertCloseAsync, batch, normal } from "./tensor_assert.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { H3_SPEC, h3Config, H3LM, h3ParamFormula } from "../src/models/h3.ts";
import { createModel, modelConfig, modelKinds } from "../src/models/registry.ts";
import { longConvRef } from "../src/nn/conv.ts";
import { withImpl } from "../src/nn/dispatch.ts";
import {
  diagKernel,
  diagKernelRef,
  type DiagSsmParams,
  type Discretisation,
  shiftKernel,
  shiftKernelRef,
} from "../src/nn/ssm_kernel.ts";
import { train } from "../src/train/trainer.ts";
import { ArrayBatchSource } from "../src/train/batch_source.ts";
import { getTokenizer } from "../src/tokenizers/types.ts";
import { Rng } from "../src/rng.ts";

/** Shift SSM run step by step in float64: state ← shift-right(state) + B·u_t, y_t = C·state. */
function shiftRecurrence(u: Float32Array, T: number, H: number, B: Float32Array, C: Float32Array, N: number) {
  const y = new Float64Array(T * H);
  for (let h = 0; h < H; h++) {
    const s = new Float64Array(N);
    for (let t = 0; t < T; t++) {
      for (let j = N - 1; j > 0; j--) s[j] = s[j - 1];
      s[0] = 0;
      for (let j = 0; j < N; j++) s[j] += B[h * N + j] * u[t * H + h];
      let acc = 0;
      for (let j = 0; j < N; j++) acc += C[h * N + j] * s[j];
      y[t * H + h] = acc;
    }
  }
  return y;
}

/** Random diagonal-SSM parameters of H channels and M modes. */
function randomDiag(rng: Rng, H: number, M: number): DiagSsmParams {
  const logDt = rng.uniformArray(H, Math.log(0.001), Math.log(0.1));
  const imag = Float32Array.from(
    { length: H * M },
    (_, i) => Math.PI * (i % M) + rng.uniformRange(-0.3, 0.3),
  );
  return {
    logDt: tf.tensor1d(logDt),
    logAReal: normal(rng, [H, M], 0.5, Math.log(0.5)) as tf.Tensor2D,
    aImag: tf.tensor2d(imag, [H, M]),
    B: normal(rng, [H, M, 2]) as tf.Tensor3D,
    C: normal(rng, [H, M, 2]) as tf.Tensor3D,
  };
}

/**
 * The diagonal SSM run step by step in float64 with complex states: x_l = Ā x_{l−1} + B̄ u_l, y_l = 2·Re(C·x_l),
 * with Ā, B̄ by the discretisation's textbook formulas (not the code under test).
 */
function diagRecurrence(u: Float32Array, T: number, p: DiagSsmParams, disc: Discretisation): Float64Array {
  const H = p.logDt.shape[0], M = p.logAReal.shape[1];
  const [ld, lar, ai, b, c] = [p.logDt, p.logAReal, p.aImag, p.B, p.C].map((t) => t.dataSync());
  const y = new Float64Array(T * H);
  for (let h = 0; h < H; h++) {
    const dt = Math.exp(ld[h]);
    for (let m = 0; m < M; m++) {
      const i = h * M + m;
      const [ar, aim] = [-Math.exp(lar[i]), ai[i]];
      const [br, bi, cr, ci] = [b[2 * i], b[2 * i + 1], c[2 * i], c[2 * i + 1]];
      let abr: number, abi: number, gr: number, gi: number; // Ā and the factor g with B̄ = g·B
      if (disc === "zoh") {
        const e = Math.exp(dt * ar);
        [abr, abi] = [e * Math.cos(dt * aim), e * Math.sin(dt * aim)];
        const n = ar * ar + aim * aim; // (Ā − 1)/A
        [gr, gi] = [((abr - 1) * ar + abi * aim) / n, (abi * ar - (abr - 1) * aim) / n];
      } else {
        const [dr, di] = [1 - dt * ar / 2, -dt * aim / 2], n = dr * dr + di * di;
        const [nr, ni] = [1 + dt * ar / 2, dt * aim / 2];
        [abr, abi] = [(nr * dr + ni * di) / n, (ni * dr - nr * di) / n];
        [gr, gi] = [dt * dr / n, -dt * di / n];
      }
      const [bbr, bbi] = [gr * br - gi * bi, gr * bi + gi * br];
      let [xr, xi] = [0, 0];
      for (let t = 0; t < T; t++) {
        const uu = u[t * H + h];
        [xr, xi] = [abr * xr - abi * xi + bbr * uu, abr * xi + abi * xr + bbi * uu];
        y[t * H + h] += 2 * (cr * xr - ci * xi);
      }
    }
  }
  return y;
}

Deno.test("[cpu] shift kernel: the fast form and the tap loop equal the step-by-step shift SSM", async () => {
  await initBackend({ backend: "cpu" });
  const rng = new Rng(1);
  const n0 = tf.memory().numTensors;
  tf.tidy(() => {
    const [H, N, T] = [3, 6, 10];
    const B = normal(rng, [H, N]) as tf.Tensor2D, C = normal(rng, [H, N]) as tf.Tensor2D;
    const u = normal(rng, [1, T, H]) as tf.Tensor3D;
    const want = shiftRecurrence(
      u.dataSync() as Float32Array,
      T,
      H,
      B.dataSync() as Float32Array,
      C.dataSync() as Float32Array,
      N,
    );
    for (const [name, K] of [["ops", shiftKernel(B, C)], ["ref", shiftKernelRef(B, C)]] as const) {
      assertClose(longConvRef(u, K), want, 1e-5, `shift kernel (${name}) ∗ u vs recurrence`);
    }
    // B = e₁: the kernel is C itself
    const e1 = tf.oneHot(tf.zeros([H], "int32"), N).toFloat() as tf.Tensor2D;
    assertClose(shiftKernel(e1, C), C, 0, "B = e₁ → K = C");
    const p = normal(rng, [H, N]);
    const loss = (f: typeof shiftKernelRef) => (b: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(f(b as tf.Tensor2D, c as tf.Tensor2D), p)) as tf.Scalar;
    const [gf, gr] = [tf.grads(loss(shiftKernel))([B, C]), tf.grads(loss(shiftKernelRef))([B, C])];
    gf.forEach((g, i) => assertClose(g, gr[i], 1e-5, `shift kernel grad ${i}`));
  });
  assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
});

for (const disc of ["bilinear", "zoh"] as const) {
  Deno.test(`[cpu] diagonal SSM kernel (${disc}): Vandermonde and power loop equal the complex recurrence`, async () => {
    await initBackend({ backend: "cpu" });
    const rng = new Rng(disc === "zoh" ? 2 : 3);
    const n0 = tf.memory().numTensors;
    tf.tidy(() => {
      const [H, M, T] = [3, 4, 40];
      const p = randomDiag(rng, H, M);
      const u = normal(rng, [1, T, H]) as tf.Tensor3D;
      const want = diagRecurrence(u.dataSync() as Float32Array, T, p, disc);
      assertClose(longConvRef(u, diagKernel(p, T, disc)), want, 1e-4, `${disc} Vandermonde kernel ∗ u`);
      assertClose(longConvRef(u, diagKernelRef(p, T, disc)), want, 1e-4, `${disc} power-loop kernel ∗ u`);
      // gradients of every parameter: fast form vs reference form, and vs finite differences
      const w = normal(rng, [H, T]);
      const keys = ["logDt", "logAReal", "aImag", "B", "C"] as const;
      const loss = (f: typeof diagKernelRef, w: tf.Tensor) => (...xs: tf.Tensor[]) =>
        tf.sum(
          tf.mul(
            f(
              Object.fromEntries(keys.map((k, i) => [k, xs[i]])) as unknown as DiagSsmParams,
              w.shape[1]!,
              disc,
            ),
            w,
          ),
        ) as tf.Scalar;
      const xs = keys.map((k) => p[k] as tf.Tensor);
      const [gf, gr] = [tf.grads(loss(diagKernel, w))(xs), tf.grads(loss(diagKernelRef, w))(xs)];
      gf.forEach((g, i) => assertClose(g, gr[i], 1e-3, `${disc} d${keys[i]}`));
      const small = randomDiag(rng, 2, 2);
      assertGradCheck(loss(diagKernel, normal(rng, [2, 12])), keys.map((k) => small[k] as tf.Tensor), {
        names: [...keys],
        eps: 1e-2,
        rtol: 2e-2,
      });
    });
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  });
}

Deno.test("[cpu] diag-lin init: A = −0.5 + iπn, B = 1, Δ in [dtMin, dtMax], shift B = e₁, C within 1/√N", async () => {
  await initBackend({ backend: "cpu" });
  const m = new H3LM(h3Config({}, "tiny"), 11);
  const w = m.weights, g = (n: string) => w.get(`blocks.1.mixer.${n}`)!.dataSync();
  const N = 8, M = 4;
  assert(g("kernel.log_A_real").every((v) => Math.abs(Math.exp(v) - 0.5) < 1e-6), "Re A = −0.5");
  assert(g("kernel.A_imag").every((v, i) => Math.abs(v - Math.PI * (i % M)) < 1e-5), "Im A = πn");
  assert(g("kernel.B").every((v, i) => v === (i % 2 === 0 ? 1 : 0)), "B = 1 + 0i");
  assert(
    g("kernel.log_dt").every((v) => Math.exp(v) >= 0.001 * (1 - 1e-6) && Math.exp(v) <= 0.1 * (1 + 1e-6)),
    "Δ range",
  );
  assert(g("ssm_k_kernel.B").every((v, i) => v === (i % N === 0 ? 1 : 0)), "shift B = e₁");
  assert(g("ssm_k_kernel.C").every((v) => Math.abs(v) <= 1 / Math.sqrt(N)), "shift C ~ U(±1/√N)");
  assert(g("q_proj.bias").every((v) => v === 0), "Linear biases 0");
  assert(
    [...m.noDecay].includes("blocks.0.mixer.kernel.log_dt") && !m.noDecay.has("blocks.0.mixer.kernel.C"),
    "noDecay",
  );
  m.dispose();
});

Deno.test("H3 parameter counts equal the formula of docs/models/h3.md (dry runs; named presets)", () => {
  for (
    const [preset, want] of [["published", 126_630_144], ["small30m", 30_690_432], ["tiny", 10_016]] as const
  ) {
    const cfg = h3Config({}, preset);
    assertEquals(H3_SPEC.paramCount(cfg), want, `${preset} count`);
    assertEquals(h3ParamFormula(cfg), want, `${preset} formula`);
  }
  for (const o of [{ headDim: 2 }, { headDim: 4, stateSize: 16 }, { dim: 24, layers: 3 }]) {
    const cfg = h3Config(o, "tiny");
    assertEquals(H3_SPEC.paramCount(cfg), h3ParamFormula(cfg), JSON.stringify(o));
  }
  assert(modelKinds().includes("h3"), "registered");
  assertEquals(modelConfig("h3", {}, "tiny"), h3Config({}, "tiny"));
});

Deno.test("H3 configs: bad fields are named with what was expected", () => {
  assertThrows(() => h3Config({ stateSize: 7 }, "tiny"), Error, `"stateSize" must be even`);
  assertThrows(() => h3Config({ headDim: 3 }, "tiny"), Error, `"headDim" must divide dim = 16`);
  assertThrows(
    () => h3Config({ discretisation: "euler" as "zoh" }, "tiny"),
    Error,
    `"discretisation" must be one of`,
  );
  assertThrows(() => h3Config({ dtMin: 0.5 }, "tiny"), Error, `"dtMin" must be ≤ dtMax`);
  assertThrows(() => h3Config({}, "huge"), Error, `Unknown h3 preset "huge"`);
});

const VARIANTS = [
  { discretisation: "bilinear" as const, headDim: 1 },
  { discretisation: "zoh" as const, headDim: 2 },
];

for (const { name: backend, ignore } of await backendCases()) {
  Deno.test({
    name:
      `[${backend}] tiny H3: the fast path and plain tf ops equal the reference path (loss, all gradients)`,
    ignore,
    async fn() {
      await initBackend({ backend });
      const { x, y } = batch(128, 2, 20, 3);
      const n0 = tf.memory().numTensors;
      for (const v of VARIANTS) {
        const m = new H3LM(h3Config({ ...v, dropout: 0, layers: 1 }, "tiny"), 5);
        const step = (impl: "fast" | "ops" | "ref") =>
          withImpl(impl, () => tf.variableGrads(() => m.loss(x, y)));
        const ref = step("ref");
        for (const impl of ["fast", "ops"] as const) {
          const got = step(impl);
          const tag = `${backend} ${JSON.stringify(v)} ${impl}`;
          await assertCloseAsync(got.value, ref.value, 1e-5, `${tag} loss`);
          assertEquals(Object.keys(got.grads).sort(), Object.keys(ref.grads).sort());
          for (const n of Object.keys(ref.grads)) {
            await assertCloseAsync(got.grads[n], ref.grads[n], 2e-3, `${tag} d${n}`);
          }
          tf.dispose([got.value, ...Object.values(got.grads)]);
        }
        tf.dispose([ref.value, ...Object.values(ref.grads)]);
        m.dispose();
      }
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
      tf.dispose([x, y]);
    },
  });
}

Deno.test("[cpu] H3 is causal: changing token t never changes the logits before t", async () => {
  await initBackend({ backend: "cpu" });
  const m = createModel(h3Config({ headDim: 2, dropout: 0 }, "tiny"), 9);
  const T = 16;
  const ids = Array.from({ length: T }, (_, i) => (i * 13 + 5) % 128);
  const base = tf.tidy(() => m.logits!(tf.tensor2d(ids, [1, T], "int32")).arraySync()[0]);
  for (const t of [0, 5, 15]) {
    const changed = ids.slice();
    changed[t] = (changed[t] + 17) % 128;
    const out = tf.tidy(() => m.logits!(tf.tensor2d(changed, [1, T], "int32")).arraySync()[0]);
    for (let s = 0; s < T; s++) {
      const d = Math.max(...out[s].map((v, i) => Math.abs(v - base[s][i])));
      if (s < t) assertEquals(d, 0, `logits at ${s} moved when token ${t} changed`);
      else if (s === t) assert(d > 0, `logits at ${t} must depend on token ${t}`);
    }
  }
  m.dispose();
});

Deno.test("[wasm] tiny H3 trains: the loss falls on shipped text within a few seconds", async () => {
  await initBackend({ backend: "wasm" });
  const text = await Deno.readTextFile(
    new URL("../data/samples/babylm/gutenberg_children.train", import.meta.url),
  );
  const ids = Int32Array.from(getTokenizer("ascii").encode(text.slice(0, 6000)));
  const m = new H3LM(h3Config({ dim: 32 }, "tiny"), 1);
  const n0 = tf.memory().numTensors;
  const history = await train({
    model: m,
    data: new ArrayBatchSource(ids, { batch: 4, seqLen: 32, rng: 1, dropLast: true }),
    steps: 30,
    lr: 1e-2,
    rngs: m.rngs,
    progress: "none",
  });
  const first = history.slice(0, 3).reduce((a, r) => a + r.loss, 0) / 3;
  const last = history.slice(-3).reduce((a, r) => a + r.loss, 0) / 3;
  assert(last < first - 1, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)} (expected by > 1 nat)`);
  m.dispose();
  assert(tf.memory().numTensors <= n0, "no tensor leaks");
});
