/**
 * The fused WGSL selective scan (`src/nn/selective_scan_webgpu.ts`) against the plain-loop `selectiveScanRef`, in
 * values and all six gradients (x, Δ, A, B, C, D), with decays near 0 and near 1, with and without D; the `withImpl`
 * dispatch of `selectiveScan`; its dispatch count against the tf-op scan. webgpu only: skipped (with a message)
 * where `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { assertCloseAsync as close } from "./tensor_assert.ts";
import { countKernels, webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { selectiveScan, selectiveScanRef } from "../src/nn/scan.ts";
import { withImpl } from "../src/nn/dispatch.ts";
import { selectiveScanWebGPU } from "../src/nn/selective_scan_webgpu.ts";
import { Rng } from "../src/rng.ts";
import { selectiveCase as makeCase, selectiveLoss as lossOf } from "./scan_cases.ts";

const GPU = await webgpuOrWarn("selective_scan_webgpu tests");

Deno.test({
  name: "[webgpu] selectiveScanWebGPU matches the loop in values and gradients (x, Δ, A, B, C, D)",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const rng = new Rng(51);
    const n0 = tf.memory().numTensors;
    for (const [B, T, Din, N] of [[2, 1, 3, 4], [2, 7, 5, 3], [1, 64, 16, 8], [3, 150, 4, 2]]) {
      for (const withD of [true, false]) {
        const c = makeCase(rng, B, T, Din, N, withD);
        const what = `B=${B} T=${T} Din=${Din} N=${N}${withD ? "" : " (no D)"}`;
        // inside tidy: the forward keeps the states H for a backward pass (as the tf-op scan does)
        const [want, fused, auto, chosen] = tf.tidy(() => [
          selectiveScanRef(c.x, c.delta, c.A, c.Bm, c.Cm, c.D),
          selectiveScanWebGPU(c.x, c.delta, c.A, c.Bm, c.Cm, c.D),
          selectiveScan(c.x, c.delta, c.A, c.Bm, c.Cm, c.D),
          withImpl("ops", () => selectiveScan(c.x, c.delta, c.A, c.Bm, c.Cm, c.D)),
        ]);
        await close(fused, want, 1e-5, `${what} values`);
        await close(auto, want, 1e-5, `${what} selectiveScan fast`);
        await close(chosen, want, 1e-5, `${what} selectiveScan ops`);
        const gr = tf.grads(lossOf(selectiveScanRef, c.w))(c.inputs);
        const gf = tf.grads(lossOf(selectiveScanWebGPU, c.w))(c.inputs);
        const names = ["dx", "dΔ", "dA", "dB", "dC", "dD"];
        for (let i = 0; i < c.inputs.length; i++) await close(gf[i], gr[i], 1e-4, `${what} ${names[i]}`);
        tf.dispose([...c.inputs, c.w, want, fused, auto, chosen, ...gr, ...gf]);
      }
    }
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  },
});

Deno.test({
  name: "[webgpu] selectiveScan: the fused kernels run far fewer kernels than the tf-op scan",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const c = makeCase(new Rng(52), 2, 64, 8, 4, true);
    const step = (impl: "fast" | "ops") => () =>
      tf.grads(lossOf((...z) => withImpl(impl, () => selectiveScan(...z)), c.w))(c.inputs);
    assertEquals(selectiveScan.kernel(), "webgpu", "the fast path is the fused scan");
    const fused = await countKernels(step("fast"));
    const ops = await countKernels(step("ops"));
    assert(fused * 5 < ops, `fused ${fused} kernels vs tf-op scan ${ops}`);
    tf.dispose([...c.inputs, c.w]);
  },
});
