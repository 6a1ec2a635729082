/**
 * The character curriculum on the reference path as the oracle of the fast path (the dispatched scan and
 * matmul: host loops on cpu/wasm, fused WGSL on webgpu), on cpu, wasm and webgpu (the software adapter where
 * there is one): loss and every gradient of each stage must agree; no tensor may leak.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { charConfig, type CharCurriculumConfig, CharCurriculumModel } from "../src/models/char_curriculum.ts";
import { type Impl, withImpl } from "../src/nn/dispatch.ts";
import { diagScan } from "../src/nn/scan.ts";

/** Loss and gradients (by weight name, without the engine suffix) of one loss call under `impl`. */
async function step(impl: Impl, m: CharCurriculumModel, x: tf.Tensor2D, y: tf.Tensor2D) {
  const state = m.noiseRng.getState();
  const { value, grads } = withImpl(impl, () => tf.variableGrads(() => m.loss(x, y)));
  m.noiseRng.setState(state); // stage 1 draws the same noise on every call
  const out = {
    loss: (await value.data())[0],
    grads: Object.fromEntries(
      await Promise.all(
        Object.entries(grads).map(async ([k, g]) => [k.split("@")[0], await g.data()] as const),
      ),
    ),
  };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

const CASES: [string, Partial<CharCurriculumConfig> & { kind: CharCurriculumConfig["kind"] }][] = [
  ["encoder (denoising + context)", { kind: "char_encoder", contextWeight: 0.5 }],
  ["tinySSM (soft-NN)", { kind: "char_tiny" }],
  ["mainSSM (mix, gate one)", { kind: "char_main", loss: "mix", gateInit: "one" }],
];

for (const { name: backend, ignore } of await backendCases()) {
  Deno.test({
    name:
      `[${backend}] char curriculum stages: the fast path equals the reference path (loss, all gradients)`,
    ignore,
    async fn() {
      await initBackend({ backend });
      assertEquals(diagScan.kernel(), backend === "webgpu" ? "webgpu" : "host");
      const x = tf.tensor2d(
        Int32Array.from({ length: 2 * 11 }, (_, i) => 32 + ((i * 7) % 90)),
        [2, 11],
        "int32",
      );
      const y = tf.tensor2d(
        Int32Array.from({ length: 2 * 11 }, (_, i) => (i === 3 ? -100 : 33 + ((i * 5) % 90))),
        [
          2,
          11,
        ],
        "int32",
      );
      const n0 = tf.memory().numTensors;
      for (const [what, o] of CASES) {
        const { kind, ...rest } = o;
        const m = new CharCurriculumModel(charConfig(kind, rest, "tiny"), 4);
        const ref = await step("ref", m, x, y);
        const fast = await step("fast", m, x, y);
        assert(Number.isFinite(ref.loss) && ref.loss > 0, `${what}: finite loss ${ref.loss}`);
        assert(
          Math.abs(fast.loss - ref.loss) <= 1e-4 * Math.abs(ref.loss) + 1e-6,
          `${what}: loss ${fast.loss} vs ${ref.loss}`,
        );
        assertEquals(
          Object.keys(fast.grads).sort(),
          Object.keys(ref.grads).sort(),
          `${what}: same gradients`,
        );
        assertEquals(Object.keys(ref.grads).length, m.weights.size, `${what}: every weight gets a gradient`);
        for (const [n, g] of Object.entries(ref.grads)) {
          const f = fast.grads[n];
          let diff = 0, scale = 0;
          for (let i = 0; i < g.length; i++) {
            diff = Math.max(diff, Math.abs(f[i] - g[i]));
            scale = Math.max(scale, Math.abs(g[i]));
          }
          assert(
            diff <= 2e-3 * scale + 1e-6,
            `${backend} ${what} d${n}: ${diff.toExponential(2)} vs scale ${scale}`,
          );
        }
        m.dispose();
      }
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
      tf.dispose([x, y]);
    },
  });
}
