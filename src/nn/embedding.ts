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
import { webgpuBackendActive } from "./webgpu_kernel.ts";

function hasKernel(name: string): boolean {
  try {
    return tf.getKernel(name, tf.getBackend()) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Scatter-add rows of `dy` into a [V, d] table (the embedding gradient).
 * @param ids [N] int32
 * @param dy [N, d]
 * @returns [V, d]
 */
export function scatterAddRows(ids: tf.Tensor1D, dy: tf.Tensor2D, vocab: number): tf.Tensor2D {
  // tfjs-cpu's UnsortedSegmentSum is far slower than the host loop (853 ms of a 3 s step at B·T = 2048), so the
  // cpu backend takes the loop as wasm does.
  if (tf.getBackend() !== "cpu" && hasKernel("UnsortedSegmentSum")) {
    return tf.unsortedSegmentSum(dy, ids, vocab) as tf.Tensor2D;
  }
  return scatterAddRowsRef(ids, dy, vocab);
}

/** Reference scatter-add with a plain loop on the host (used on wasm; the test oracle elsewhere). */
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

/**
 * Tied LM head: logits = x Eᵀ (no bias).
 * @param x [..., d]
 * @param table [V, d]
 * @returns [..., V]
 */
export function tiedHead(x: tf.Tensor, table: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [vocab, d] = table.shape as [number, number];
    const lead = x.shape.slice(0, -1);
    const x2 = x.reshape([-1, d]) as tf.Tensor2D;
    // webgpu: the tiled kernel takes Eᵀ as a transposed operand, any V.
    if (webgpuBackendActive()) {
      return matmulT(x2, table as tf.Tensor2D, false, true).reshape([...lead, vocab]);
    }
    // Pad V to a multiple of 4 and multiply by the explicit transpose: every product of the forward and backward
    // passes then runs in tfjs-webgpu's vec4 kernel (V = 50257 is odd; see matmul.ts). The padded rows are zero
    // and their logits are sliced away, so the result equals x Eᵀ exactly.
    const padV = (4 - (vocab % 4)) % 4;
    const e = padV ? tf.pad(table, [[0, padV], [0, 0]]) : table;
    const logits = matmul(x2, tf.transpose(e) as tf.Tensor2D);
    const cut = padV ? tf.slice(logits, [0, 0], [-1, vocab]) : logits;
    return cut.reshape([...lead, vocab]);
  });
}
