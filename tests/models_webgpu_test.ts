/**
 * Whole models on webgpu (every fused kernel in play: scan, conv, stream mixing, head + cross-entropy) against the
 * same models on the cpu backend (tf ops and the loop-free references): loss and every gradient. webgpu only:
 * skipped (with a message) where `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals } from "./assert.ts";
import { webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { mhcConfig } from "../src/models/diag_ssm.ts";
import { createModel } from "../src/models/registry.ts";
import { Rng } from "../src/rng.ts";

const GPU = await webgpuOrWarn("models_webgpu tests");

type Grads = { loss: number; grads: Map<string, Float32Array> };

async function lossAndGrads(
  backend: string,
  cfg: Record<string, unknown>,
  ids: Int32Array,
  B: number,
  T: number,
) {
  await initBackend({ backend });
  const model = createModel(mhcConfig(cfg as never, "tiny"), 17);
  const x = tf.tensor2d(ids.subarray(0, B * T), [B, T], "int32");
  const y = tf.tensor2d(ids.subarray(B * T), [B, T], "int32");
  const n0 = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => model.loss(x, y));
  const out: Grads = { loss: (await value.data())[0], grads: new Map() };
  for (const [name, v] of model.weights) {
    const g = grads[v.name];
    if (g) out.grads.set(name, (await g.data()) as Float32Array);
  }
  tf.dispose([value, ...Object.values(grads)]);
  assertEquals(tf.memory().numTensors, n0, `${backend}: no tensor leaks`);
  tf.dispose([x, y]);
  model.dispose();
  return out;
}

Deno.test({
  name: "[webgpu] baseline, static mHC and mHC + adapters: loss and gradients equal the cpu backend's",
  ignore: !GPU,
  async fn() {
    const B = 2, T = 24, V = 128;
    const rng = new Rng(41);
    const ids = Int32Array.from({ length: 2 * B * T }, () => rng.int(V));
    for (
      const cfg of [
        { kind: "baseline" },
        { kind: "mhc" },
        { kind: "mhc", streamAdapters: true, adapterDropout: 0 },
      ]
    ) {
      const c = await lossAndGrads("cpu", cfg, ids, B, T);
      const g = await lossAndGrads("webgpu", cfg, ids, B, T);
      const what = JSON.stringify(cfg);
      assertAlmostEquals(g.loss, c.loss, 1e-3 * Math.max(1, Math.abs(c.loss)), `${what} loss`);
      assertEquals([...g.grads.keys()], [...c.grads.keys()], `${what} gradient names`);
      for (const [name, a] of g.grads) {
        const b = c.grads.get(name)!;
        let scale = 0, diff = 0;
        for (let i = 0; i < a.length; i++) {
          scale = Math.max(scale, Math.abs(b[i]));
          diff = Math.max(diff, Math.abs(a[i] - b[i]));
        }
        assert(
          diff <= 1e-3 * Math.max(scale, 1e-3),
          `${what} ${name}: max |Δgrad| ${diff} (max |grad| ${scale})`,
        );
      }
    }
  },
});
