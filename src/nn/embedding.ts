/**
 * Token embedding lookup whose gradient works on every backend, and the tied LM head.
 *
 * tfjs's `gather` has no gradient on the wasm backend (no `UnsortedSegmentSum` kernel). {@linkcode embed}
 * wraps the lookup in `tf.customGrad`: the table's gradient is a scatter-add of the output gradient, done by
 * `unsortedSegmentSum` where the backend has it and by a plain loop over rows (reading the gradient to the
 * host) where it does not.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { matmul, matmulT } from "./matmul.ts";
import { defineOp, type Op } from "./dispatch.ts";

function hasKernel(name: string): boolean {
  try {
    return tf.getKernel(name, tf.getBackend()) !== undefined;
  } catch {
    return false;
  }
}

/** The `ops` form of {@linkcode scatterAddRows}: `unsortedSegmentSum` where the backend has it (not wasm). */
function scatterAddRowsOps(ids: tf.Tensor1D, dy: tf.Tensor2D, vocab: number): tf.Tensor2D {
  if (!hasKernel("UnsortedSegmentSum")) return scatterAddRowsRef(ids, dy, vocab);
  return tf.unsortedSegmentSum(dy, ids, vocab) as tf.Tensor2D;
}

/** Scatter-add with a plain loop on the host (the test oracle, and the fast path on cpu and wasm). */
export function scatterAddRowsRef(ids: tf.Tensor1D, dy: tf.Tensor2D, vocab: number): tf.Tensor2D {
  const d = dy.shape[1];
  const idv = ids.dataSync();
  const g = dy.dataSync();
  const out = new Float32Array(vocab * d);
  for (let i = 0; i < idv.length; i++) {
    const row = idv[i] * d;
    const src = i * d;
    for (let j = 0; j < d; j++) out[row + j] += g[src + j];
  }
  return tf.tensor2d(out, [vocab, d]);
}

/** The `ref` form of {@linkcode scatterAddRows}: onehot(ids)ᵀ · dy, dense [N, V] (any backend, no host read). */
function scatterAddRowsDense(ids: tf.Tensor1D, dy: tf.Tensor2D, vocab: number): tf.Tensor2D {
  // int32 then cast: tfjs-wasm 4.22 returns all zeros for a float32 oneHot.
  return tf.tidy(() => tf.matMul(tf.oneHot(ids, vocab).cast("float32") as tf.Tensor2D, dy, true, false));
}

/**
 * Scatter-add rows of `dy` into a [V, d] table (the embedding gradient). Forms (`dispatch.ts`): `host`
 * {@linkcode scatterAddRowsRef}, a loop over host arrays (tfjs-cpu's UnsortedSegmentSum is far slower: 853 ms of a
 * 3 s step at B·T = 2048; wasm has none); `ops` `tf.unsortedSegmentSum` (the fast path on webgpu); `ref` a dense
 * one-hot product (no host read, so the reference path runs on webgpu too).
 * @param ids [N] int32
 * @param dy [N, d]
 * @returns [V, d]
 */
export const scatterAddRows: Op<(ids: tf.Tensor1D, dy: tf.Tensor2D, vocab: number) => tf.Tensor2D> = defineOp(
  "scatterAddRows",
  {
    ref: scatterAddRowsDense,
    ops: scatterAddRowsOps,
    host: scatterAddRowsRef,
  },
);

/**
 * Embedding lookup E[ids] with a gradient for E on every backend.
 *
 * @param table [V, d]
 * @param ids [B, T] (or any shape) int32, each in [0, V)
 * @returns [...ids.shape, d]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { embed } from "./embedding.ts";
 * const e = embed(tf.eye(4), tf.tensor2d([[0, 3]], [1, 2], "int32")); // [1, 2, 4]
 * ```
 */
export function embed(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const [vocab, d] = table.shape as [number, number];
  const flatIds = ids.reshape([-1]).cast("int32") as tf.Tensor1D;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const t = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    save([flatIds]);
    const value = tf.gather(t, flatIds);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        scatterAddRows(saved[0] as tf.Tensor1D, dy as tf.Tensor2D, vocab),
    };
  });
  const out = (f(table as tf.Tensor) as tf.Tensor).reshape([...ids.shape, d]);
  flatIds.dispose();
  return out;
}

/** [V, d] table, x [..., d] → x2 [N, d] and the logits' shape [..., V]. */
function headShapes(x: tf.Tensor, table: tf.Tensor): { x2: tf.Tensor2D; shape: number[] } {
  const [vocab, d] = table.shape as [number, number];
  return { x2: x.reshape([-1, d]) as tf.Tensor2D, shape: [...x.shape.slice(0, -1), vocab] };
}

/** The `ops` form of {@linkcode tiedHead}. */
function tiedHeadOps(x: tf.Tensor, table: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const { x2, shape } = headShapes(x, table);
    const vocab = table.shape[0];
    // Pad V to a multiple of 4 and multiply by the explicit transpose: every product of the forward and backward
    // passes then runs in tfjs-webgpu's vec4 kernel (V = 50257 is odd; see matmul.ts). The padded rows are zero
    // and their logits are sliced away, so the result equals x Eᵀ exactly.
    const padV = (4 - (vocab % 4)) % 4;
    const e = padV ? tf.pad(table, [[0, padV], [0, 0]]) : table;
    const logits = matmul(x2, tf.transpose(e) as tf.Tensor2D);
    const cut = padV ? tf.slice(logits, [0, 0], [-1, vocab]) : logits;
    return cut.reshape(shape);
  });
}

/**
 * Tied LM head: logits = x Eᵀ (no bias). Forms (`dispatch.ts`): `webgpu` the tiled kernel with Eᵀ as a transposed
 * operand (any V); `ops` a vec4-friendly padded product; `ref` {@linkcode matmulT} with the transpose.
 * @param x [..., d]
 * @param table [V, d]
 * @returns [..., V]
 */
export const tiedHead: Op<(x: tf.Tensor, table: tf.Tensor) => tf.Tensor> = defineOp("tiedHead", {
  ref: (x: tf.Tensor, table: tf.Tensor) => matmulTAll(x, table),
  ops: tiedHeadOps,
  webgpu: (x: tf.Tensor, table: tf.Tensor) => matmulTAll(x, table),
});

/** x Eᵀ through {@linkcode matmulT} (whose own form follows the same choice). */
function matmulTAll(x: tf.Tensor, table: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const { x2, shape } = headShapes(x, table);
    return matmulT(x2, table as tf.Tensor2D, false, true).reshape(shape);
  });
}
