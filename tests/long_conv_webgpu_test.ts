/**
 * The long causal convolution's fast path (`longConv`: fused WGSL kernels on webgpu, blockwise Toeplitz matmuls
 * on cpu and wasm) against the plain loop `longConvRef`, values and gradients (u and kernel), for kernels shorter
 * than, as long as and longer than the sequence, on cpu, wasm and webgpu (the software adapter where there is one).
 */
import * as tf from "@tensorflow/tfjs";
import { assertEquals } from "./assert.ts";
import { assertCloseAsync, normal } from "./tensor_assert.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { longConv, longConvRef } from "../src/nn/conv.ts";
import { Rng } from "../src/rng.ts";

const CASES: [number, number, number, number][] = [
  // [B, T, D, L]
  [1, 1, 1, 1],
  [2, 7, 3, 3],
  [2, 9, 11, 9],
  [1, 12, 5, 20],
  [3, 40, 17, 64],
  [2, 70, 9, 5],
];

for (const { name: backend, ignore } of await backendCases()) {
  Deno.test({
    name: `[${backend}] longConv's fast path equals the loop (values, du, dK), any kernel length`,
    ignore,
    async fn() {
      await initBackend({ backend });
      assertEquals(longConv.kernel(), backend === "webgpu" ? "webgpu" : "ops");
      const rng = new Rng(7);
      const n0 = tf.memory().numTensors;
      for (const [B, T, D, L] of CASES) {
        const u = normal(rng, [B, T, D]) as tf.Tensor3D;
        const K = normal(rng, [D, L]) as tf.Tensor2D;
        const p = normal(rng, [B, T, D]);
        const tag = `${backend} B=${B} T=${T} D=${D} L=${L}`;
        const run = (f: typeof longConvRef) => {
          const y = f(u, K);
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(f(a as tf.Tensor3D, b as tf.Tensor2D), p)) as tf.Scalar
          )([u, K]);
          return [y, ...g];
        };
        const fast = run(longConv), ref = run(longConvRef);
        for (const [i, what] of ["y", "du", "dK"].entries()) {
          await assertCloseAsync(fast[i], ref[i], 1e-5, `${tag} ${what}`);
        }
        tf.dispose([u, K, p, ...fast, ...ref]);
      }
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
    },
  });
}
