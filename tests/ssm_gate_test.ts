/**
 * The fused SSM read-out and gate (`src/nn/ssm_gate.ts`) against the tf-op form `ssmGateRef`: values and the
 * gradients of all five inputs, rows and widths that do not fill a workgroup, no tensor leaks. webgpu only:
 * skipped (with a message) where `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assertEquals } from "./assert.ts";
import { assertClose, normal } from "./tensor_assert.ts";
import { webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { ssmGate, ssmGateRef } from "../src/nn/ssm_gate.ts";
import { Rng } from "../src/rng.ts";

const GPU = await webgpuOrWarn("ssm_gate tests");

Deno.test({
  name: "[webgpu] fused SSM gate equals the tf-op form in values and gradients",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const rng = new Rng(101);
    const n0 = tf.memory().numTensors;
    for (const [B, T, d] of [[1, 3, 5], [2, 33, 24], [3, 70, 130]]) {
      const ins = [
        normal(rng, [B, T, d]),
        normal(rng, [B, T, d]),
        normal(rng, [B, T, d]),
        normal(rng, [d]),
        normal(rng, [d]),
      ];
      const p = normal(rng, [B, T, d]);
      const loss = (f: typeof ssmGateRef) => (...a: tf.Tensor[]) =>
        tf.sum(tf.mul(f(a[0], a[1], a[2], a[3], a[4]), p));
      const fused = tf.valueAndGrads(loss(ssmGate))(ins);
      const ref = tf.valueAndGrads(loss(ssmGateRef))(ins);
      const what = `[${B}, ${T}, ${d}]`;
      assertClose(await fused.value.data(), await ref.value.data(), 1e-5, `${what} value`);
      for (let i = 0; i < 5; i++) {
        assertEquals(fused.grads[i].shape, ins[i].shape);
        assertClose(await fused.grads[i].data(), await ref.grads[i].data(), 1e-4, `${what} grad ${i}`);
      }
      tf.dispose([...ins, p, fused.value, ...fused.grads, ref.value, ...ref.grads]);
    }
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  },
});
