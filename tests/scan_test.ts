import * as tf from "@tensorflow/tfjs";
import { assert, assertThrows } from "./assert.ts";
import { assertGradCheck } from "./gradcheck.ts";
import { assertClose as close, normal } from "./tensor_assert.ts";
import { initBackend } from "../src/backend.ts";
import { diagScan, diagScanRef, selectiveScan, selectiveScanRef } from "../src/nn/scan.ts";
import { Rng } from "../src/rng.ts";
import { withImpl } from "../src/nn/dispatch.ts";
import { selectiveCase, selectiveLoss } from "./scan_cases.ts";

const BACKENDS = ["cpu", "wasm"];

/** Decays spanning near 0, near 1 and negative values, cycled to D entries. */
function decays(D: number): tf.Tensor1D {
  const base = [1e-4, 1 - 1e-4, 0.5, 0.9, 0.99, -0.5, 0.1, 0.999];
  return tf.tensor1d(Array.from({ length: D }, (_, i) => base[i % base.length]));
}

/** On cpu and wasm "fast" runs the host loop and "ops" the log-depth parallel scan (dispatch.ts). */
const IMPLS = ["fast", "ops"] as const;

for (const backend of BACKENDS) {
  Deno.test(`[${backend}] diagScan matches the loop in values and gradients`, async () => {
    await initBackend({ backend });
    assert(withImpl("fast", () => diagScan.kernel()) === "host", "fast = host loop on cpu and wasm");
    assert(withImpl("ops", () => selectiveScan.kernel()) === "ops", "ops = parallel scan");
    const rng = new Rng(1);
    const n0 = tf.memory().numTensors;
    for (const [B, T, D] of [[2, 1, 8], [2, 7, 8], [2, 64, 8], [1, 1024, 8]]) {
      tf.tidy(() => {
        const u = normal(rng, [B, T, D]) as tf.Tensor3D;
        const a = decays(D);
        const b = normal(rng, [D]) as tf.Tensor1D;
        const w = normal(rng, [B, T, D]); // random projection of the output for the loss
        const loss = (fn: typeof diagScanRef) => (u: tf.Tensor, a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(fn(u as tf.Tensor3D, a as tf.Tensor1D, b as tf.Tensor1D), w)) as tf.Scalar;
        const gr = tf.grads(loss(diagScanRef))([u, a, b]);
        for (const impl of IMPLS) {
          const fast = (u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D) =>
            withImpl(impl, () => diagScan(u, a, b));
          close(fast(u, a, b), diagScanRef(u, a, b), 1e-5, `${impl} T=${T} values`);
          const gf = tf.grads(loss(fast))([u, a, b]);
          ["du", "da", "db"].forEach((n, i) => close(gf[i], gr[i], 2e-5, `${impl} T=${T} ${n}`));
        }
      });
    }
    assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
  });

  Deno.test(`[${backend}] diagScan stays finite and exact for decays near 0 and near 1 at T = 1024`, async () => {
    await initBackend({ backend });
    const rng = new Rng(2);
    tf.tidy(() => {
      const T = 1024;
      const u = normal(rng, [1, T, 4], 10) as tf.Tensor3D;
      const a = tf.tensor1d([1e-4, 1 - 1e-4, 1e-4, 1 - 1e-4]);
      const b = tf.tensor1d([1, 1, 100, 100]);
      const s = diagScan.impls.ops(u, a, b);
      close(s, diagScanRef(u, a, b), 1e-5, "values");
      close(diagScan.impls.host!(u, a, b), s, 1e-5, "host values");
      // a ≈ 0: s_t ≈ b·u_t exactly up to 1e-4 relative
      const s0 = tf.slice(s, [0, 0, 0], [1, T, 1]), u0 = tf.slice(u, [0, 0, 0], [1, T, 1]);
      close(s0, u0, 2e-3, "a = 1e-4 state ≈ input");
      const g = tf.grads((u: tf.Tensor, a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(diagScan(u as tf.Tensor3D, a as tf.Tensor1D, b as tf.Tensor1D)) as tf.Scalar
      )([u, a, b]);
      for (const gi of g) for (const v of gi.dataSync()) assert(Number.isFinite(v), `gradient ${v}`);
    });
  });

  Deno.test(`[${backend}] selectiveScan matches the loop in values and gradients`, async () => {
    await initBackend({ backend });
    const rng = new Rng(3);
    const n0 = tf.memory().numTensors;
    for (const [B, T, Din, N] of [[2, 1, 3, 4], [2, 7, 3, 4], [2, 64, 3, 4], [1, 1024, 2, 2]]) {
      for (const withD of [true, false]) {
        tf.tidy(() => {
          const { x, delta, A, Bm, Cm, D, w, inputs } = selectiveCase(rng, B, T, Din, N, withD);
          const loss = (fn: typeof selectiveScanRef) => selectiveLoss(fn, w);
          const gr = tf.grads(loss(selectiveScanRef))(inputs);
          const want = selectiveScanRef(x, delta, A, Bm, Cm, D);
          for (const impl of IMPLS) {
            const fast: typeof selectiveScanRef = (...z) => withImpl(impl, () => selectiveScan(...z));
            close(fast(x, delta, A, Bm, Cm, D), want, 1e-5, `${impl} T=${T}`);
            const gf = tf.grads(loss(fast))(inputs);
            ["dx", "ddelta", "dA", "dB", "dC", "dD"].slice(0, inputs.length).forEach((n, i) =>
              close(gf[i], gr[i], 5e-5, `${impl} T=${T} ${n}${withD ? "" : " (no D)"}`)
            );
          }
        });
      }
    }
    assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
  });

  Deno.test(`[${backend}] scan gradients agree with finite differences`, async () => {
    await initBackend({ backend });
    const rng = new Rng(4);
    tf.tidy(() => {
      const u = normal(rng, [2, 5, 3]) as tf.Tensor3D;
      const a = tf.tensor1d([0.3, 0.8, -0.6]);
      const b = normal(rng, [3]) as tf.Tensor1D;
      const w = normal(rng, [2, 5, 3]);
      for (const impl of IMPLS) {
        assertGradCheck(
          (u, a, b) =>
            tf.sum(
              tf.mul(withImpl(impl, () => diagScan(u as tf.Tensor3D, a as tf.Tensor1D, b as tf.Tensor1D)), w),
            ) as tf.Scalar,
          [u, a, b],
          { names: [`${impl} u`, "a", "b"] },
        );
      }
      const x = normal(rng, [1, 6, 2]) as tf.Tensor3D;
      const delta = tf.softplus(normal(rng, [1, 6, 2])) as tf.Tensor3D;
      const A = tf.tensor2d([[-0.5, -1.5], [-1, -0.2]]);
      const Bm = normal(rng, [1, 6, 2]) as tf.Tensor3D;
      const Cm = normal(rng, [1, 6, 2]) as tf.Tensor3D;
      const D = normal(rng, [2]) as tf.Tensor1D;
      const wy = normal(rng, [1, 6, 2]);
      for (const impl of IMPLS) {
        assertGradCheck(
          (...z) =>
            tf.sum(tf.mul(
              withImpl(impl, () => selectiveScan(...(z as Parameters<typeof selectiveScanRef>))),
              wy,
            )) as tf.Scalar,
          [x, delta, A, Bm, Cm, D],
          { names: [`${impl} x`, "delta", "A", "Bm", "Cm", "D"] },
        );
      }
    });
  });

  Deno.test(`[${backend}] scans reject bad shapes with clear messages`, async () => {
    await initBackend({ backend });
    tf.tidy(() => {
      const u = tf.zeros([2, 5, 3]) as tf.Tensor3D;
      assertThrows(
        () => diagScan(u, tf.zeros([4]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D),
        Error,
        `"a" has shape [4]`,
      );
      assertThrows(
        () =>
          withImpl(
            "gpu" as never,
            () => diagScan(u, tf.zeros([3]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D),
          ),
        Error,
        `implementation "gpu" is unknown`,
      );
      assertThrows(
        () =>
          diagScanRef(
            tf.zeros([5, 3]) as unknown as tf.Tensor3D,
            tf.zeros([3]) as tf.Tensor1D,
            tf.zeros([3]) as tf.Tensor1D,
          ),
        Error,
        "expected [B, T, D]",
      );
      const x = tf.zeros([2, 5, 3]) as tf.Tensor3D;
      assertThrows(
        () =>
          selectiveScan(
            x,
            x,
            tf.zeros([3, 4]) as tf.Tensor2D,
            tf.zeros([2, 5, 3]) as tf.Tensor3D,
            tf.zeros([2, 5, 4]) as tf.Tensor3D,
            null,
          ),
        Error,
        `"Bm" has shape [2, 5, 3], expected [B, T, N] = [2, 5, 4]`,
      );
    });
  });
}

Deno.test("[cpu] scans of an empty sequence are empty", async () => {
  await initBackend({ backend: "cpu" });
  tf.tidy(() => {
    const s = diagScan(
      tf.zeros([2, 0, 3]) as tf.Tensor3D,
      tf.ones([3]) as tf.Tensor1D,
      tf.ones([3]) as tf.Tensor1D,
    );
    assert(s.shape.join() === "2,0,3", `shape ${s.shape}`);
  });
});
