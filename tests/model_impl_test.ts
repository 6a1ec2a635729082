/**
 * Whole models on the reference path as the oracle of the fast path: the tiny baseline, static mHC and mHC +
 * adapters, forward and backward (`tf.variableGrads` of the loss), under `withImpl("ref", …)` against the default
 * fast path and against plain tf ops (`withImpl("ops", …)`), on cpu, wasm and webgpu (the software adapter where
 * there is one). Loss and every gradient must agree; no tensor may leak. Dropout is off (the masks of the forms
 * differ by design).
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { batch } from "./tensor_assert.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { BaselineSLM } from "../src/models/diag_ssm.ts";
import { mhcConfig, MhcSLM } from "../src/models/mhc_ssm.ts"; // not mod.ts: bench/gpu_tests.ts bundles this file
import { currentImpl, type Impl, withImpl } from "../src/nn/dispatch.ts";
import { diagScan } from "../src/nn/scan.ts";
import { streamMix } from "../src/nn/stream_mix.ts";

const NO_DROPOUT = { dropout: 0, adapterDropout: 0 };

const MODELS: [string, (seed: number) => BaselineSLM | MhcSLM][] = [
  ["baseline", (seed) => new BaselineSLM(mhcConfig({ kind: "baseline", ...NO_DROPOUT }, "tiny"), seed)],
  ["static mHC", (seed) => new MhcSLM(mhcConfig({ ...NO_DROPOUT }, "tiny"), seed)],
  ["mHC + adapters", (seed) => new MhcSLM(mhcConfig({ streamAdapters: true, ...NO_DROPOUT }, "tiny"), seed)],
];

/** Loss and gradients (by weight name) of one step under `impl`. */
function step(impl: Impl, model: BaselineSLM | MhcSLM, x: tf.Tensor2D, y: tf.Tensor2D) {
  return withImpl(impl, () => tf.variableGrads(() => model.loss(x, y)));
}

/**
 * Assert max |got − want| ≤ rtol · max |want| + atol (finite). The absolute floor is for gradients that are zero
 * but for rounding: at init the streams of an mHC model are identical, so the gradients of the Sinkhorn and
 * post-distribution logits cancel to 1e-9 … 1e-17, which float32 rounding of any summation order changes wholly.
 */
async function close(
  got: tf.Tensor,
  want: tf.Tensor,
  rtol: number,
  what: string,
  atol = 1e-7,
): Promise<void> {
  assertEquals(got.shape, want.shape, `${what} shape`);
  const [a, b] = [await got.data(), await want.data()];
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    assert(Number.isFinite(a[i]), `${what}[${i}] is ${a[i]}`);
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  const tol = rtol * scale + atol;
  assert(diff <= tol, `${what}: max difference ${diff.toExponential(2)} > ${tol.toExponential(2)}`);
}

/** Assert two steps agree in loss and in every gradient, then dispose both. */
async function assertSameStep(
  got: { value: tf.Scalar; grads: tf.NamedTensorMap },
  want: { value: tf.Scalar; grads: tf.NamedTensorMap },
  what: string,
): Promise<void> {
  await close(got.value, want.value, 1e-5, `${what} loss`);
  const names = Object.keys(want.grads).sort();
  assertEquals(Object.keys(got.grads).sort(), names, `${what}: the same parameters get gradients`);
  for (const n of names) await close(got.grads[n], want.grads[n], 1e-3, `${what} d${n}`);
  tf.dispose([got.value, want.value, ...Object.values(got.grads), ...Object.values(want.grads)]);
}

for (const { name: backend, ignore } of await backendCases()) {
  Deno.test({
    name:
      `[${backend}] tiny models: the fast path and plain tf ops equal the reference path (loss, all gradients)`,
    ignore,
    async fn() {
      await initBackend({ backend });
      // the choice reaches the ops: the reference loop under "ref", the backend's fast kernel by default
      assertEquals(withImpl("ref", () => diagScan.kernel()), "ref");
      assertEquals(diagScan.kernel(), backend === "webgpu" ? "webgpu" : "host");
      assertEquals(streamMix.kernel(), backend === "webgpu" ? "webgpu" : "ops");
      const { x, y } = batch(128, 2, 12, 7);
      const n0 = tf.memory().numTensors;
      for (const [what, make] of MODELS) {
        const model = make(5);
        const ref = step("ref", model, x, y);
        const l = (await ref.value.data())[0];
        assert(Number.isFinite(l) && l > 1 && l < 30, `${what}: reference loss ${l} is finite and plausible`);
        const refAgain = step("ref", model, x, y);
        await assertSameStep(step("fast", model, x, y), ref, `${backend} ${what} fast vs ref`);
        await assertSameStep(step("ops", model, x, y), refAgain, `${backend} ${what} ops vs ref`);
        model.dispose();
      }
      assertEquals(currentImpl(), "fast", "the choice is restored");
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
      tf.dispose([x, y]);
    },
  });
}

Deno.test("withImpl: nests, restores on throw and after a promise, and rejects an unknown choice", async () => {
  assertEquals(currentImpl(), "fast");
  withImpl("ops", () => {
    assertEquals(currentImpl(), "ops");
    withImpl("ref", () => assertEquals(currentImpl(), "ref"));
    assertEquals(currentImpl(), "ops");
  });
  let threw = false;
  try {
    withImpl("ref", () => {
      throw new Error("boom");
    });
  } catch {
    threw = true;
  }
  assert(threw && currentImpl() === "fast", "restored after a throw");
  const v = await withImpl("ref", async () => {
    await new Promise((r) => setTimeout(r, 1));
    return currentImpl();
  });
  assertEquals(v, "ref");
  assertEquals(currentImpl(), "fast", "restored after the promise");
  let rejected = false;
  await withImpl("ops", () => Promise.reject(new Error("no"))).catch(() => (rejected = true));
  assert(rejected && currentImpl() === "fast", "restored after a rejection");
  let msg = "";
  try {
    withImpl("gpu" as Impl, () => 0);
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes('implementation "gpu" is unknown'), msg);
  assertEquals(currentImpl(), "fast");
});
