/**
 * The selective-scan test case shared by `scan_test.ts` (host and parallel kernels) and
 * `selective_scan_webgpu_test.ts` (the WGSL kernels): random inputs with decays near 0 and near 1, and the
 * projected loss whose gradients the tests compare.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { normal } from "./tensor_assert.ts";
import type { selectiveScanRef } from "../src/nn/scan.ts";
import type { Rng } from "../src/rng.ts";

/** A selective scan function's signature (the reference's). */
export type SelectiveScanFn = typeof selectiveScanRef;

/** Inputs of one selective-scan case; `inputs` lists the differentiable ones (D last, when present). */
export interface SelectiveCase {
  x: tf.Tensor3D;
  delta: tf.Tensor3D;
  A: tf.Tensor2D;
  Bm: tf.Tensor3D;
  Cm: tf.Tensor3D;
  D: tf.Tensor1D | null;
  /** Random projection of the output: loss = Σ y ⊙ w. */
  w: tf.Tensor;
  inputs: tf.Tensor[];
}

/**
 * Random inputs: Δ = softplus(N(−2, 1)); A cycles through −1e-4 (decays ≈ 1), −64 (decays ≈ 0), −1 and S4D-real
 * −(1..N).
 */
export function selectiveCase(
  rng: Rng,
  B: number,
  T: number,
  Din: number,
  N: number,
  withD: boolean,
): SelectiveCase {
  const x = normal(rng, [B, T, Din]) as tf.Tensor3D;
  const delta = tf.tidy(() => tf.softplus(normal(rng, [B, T, Din], 1, -2))) as tf.Tensor3D;
  const Avals = Array.from({ length: Din * N }, (_, i) => [-1e-4, -64, -1, -(1 + (i % N))][i % 4]);
  const A = tf.tensor2d(Avals, [Din, N]);
  const Bm = normal(rng, [B, T, N]) as tf.Tensor3D;
  const Cm = normal(rng, [B, T, N]) as tf.Tensor3D;
  const D = withD ? normal(rng, [Din]) as tf.Tensor1D : null;
  const w = normal(rng, [B, T, Din]);
  const inputs = D ? [x, delta, A, Bm, Cm, D] : [x, delta, A, Bm, Cm];
  return { x, delta, A, Bm, Cm, D, w, inputs };
}

/** The loss Σ fn(inputs) ⊙ w as a function of the differentiable inputs (for `tf.grads`). */
export function selectiveLoss(fn: SelectiveScanFn, w: tf.Tensor): (...z: tf.Tensor[]) => tf.Scalar {
  return (...z: tf.Tensor[]) =>
    tf.sum(tf.mul(
      fn(
        z[0] as tf.Tensor3D,
        z[1] as tf.Tensor3D,
        z[2] as tf.Tensor2D,
        z[3] as tf.Tensor3D,
        z[4] as tf.Tensor3D,
        (z[5] ?? null) as tf.Tensor1D | null,
      ),
      w,
    )) as tf.Scalar;
}
