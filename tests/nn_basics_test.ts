import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { layerNorm, rmsNorm, rmsNormRef } from "../src/nn/norm.ts";
import { simplexWeights, sinkhornKnopp, sinkhornKnoppRef } from "../src/nn/sinkhorn.ts";
import { embed, scatterAddRows, scatterAddRowsRef, tiedHead } from "../src/nn/embedding.ts";
import { crossEntropy, crossEntropyRef, IGNORE_INDEX } from "../src/nn/losses.ts";
import { linear } from "../src/nn/linear.ts";
import { Rng } from "../src/rng.ts";

const BACKENDS = ["cpu", "wasm"];

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5, what = "") {
  assertEquals(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    assert(d <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

/** Central finite differences of a scalar function of one tensor. */
function fdGrad(f: (x: tf.Tensor) => tf.Scalar, x: Float32Array, shape: number[], h = 1e-2): Float32Array {
  const g = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xp = x.slice();
    xp[i] += h;
    const xm = x.slice();
    xm[i] -= h;
    const fp = tf.tidy(() => f(tf.tensor(xp, shape)).dataSync()[0]);
    const fm = tf.tidy(() => f(tf.tensor(xm, shape)).dataSync()[0]);
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

for (const backend of BACKENDS) {
  Deno.test(`[${backend}] rmsNorm and layerNorm match references`, async () => {
    await initBackend({ backend });
    const rng = new Rng(1);
    const x = rng.normalArray(3 * 8);
    const w = rng.normalArray(8);
    const n0 = tf.memory().numTensors;
    const y = tf.tidy(() => rmsNorm(tf.tensor(x, [3, 8]), tf.tensor(w)).dataSync());
    close(y, rmsNormRef(x, w), 1e-5, "rmsNorm");
    const ln = tf.tidy(() => layerNorm(tf.tensor(x, [3, 8]), tf.ones([8]), tf.zeros([8])));
    const m = tf.tidy(() => ln.mean(-1).dataSync());
    close(m, [0, 0, 0], 1e-5, "layerNorm mean");
    ln.dispose();
    assertEquals(tf.memory().numTensors, n0);
  });

  Deno.test(`[${backend}] Sinkhorn–Knopp matches the loop and is column-stochastic`, async () => {
    await initBackend({ backend });
    const rng = new Rng(2);
    const l = rng.normalArray(16, 0, 1);
    const h = tf.tidy(() => sinkhornKnopp(tf.tensor(l, [4, 4]), 8).dataSync());
    close(h, sinkhornKnoppRef(l, 4, 8), 1e-5, "sinkhorn");
    for (let j = 0; j < 4; j++) assertAlmostEquals(h[j] + h[4 + j] + h[8 + j] + h[12 + j], 1, 1e-5);
    const z = tf.tidy(() => sinkhornKnopp(tf.zeros([4, 4]), 8).dataSync());
    close(z, new Array(16).fill(0.25), 1e-6, "uniform");
    close(tf.tidy(() => simplexWeights(tf.zeros([4])).dataSync()), [0.25, 0.25, 0.25, 0.25], 1e-7, "simplex");
    assertThrows(() => sinkhornKnopp(tf.zeros([2, 3])), Error, "square");
    // a batch of matrices is normalised independently
    const batched = tf.tidy(() =>
      sinkhornKnopp(tf.stack([tf.tensor(l, [4, 4]), tf.zeros([4, 4])]), 8).dataSync()
    );
    close(batched.slice(0, 16), sinkhornKnoppRef(l, 4, 8), 1e-5, "batched sinkhorn");
    // gradient vs finite differences
    const wts = rng.normalArray(16);
    const g2 = (x: tf.Tensor) => sinkhornKnopp(x, 8).mul(tf.tensor(wts, [4, 4])).sum() as tf.Scalar;
    const ga = tf.tidy(() => tf.grad(g2)(tf.tensor(l, [4, 4])).dataSync());
    close(ga, fdGrad(g2, l, [4, 4]), 2e-2, "sinkhorn grad");
  });

  Deno.test(`[${backend}] embed: values and table gradient (scatter-add) on every backend`, async () => {
    await initBackend({ backend });
    const rng = new Rng(3);
    const V = 7, d = 3;
    const table = tf.tensor(rng.normalArray(V * d), [V, d]);
    const ids = tf.tensor2d([[0, 3, 3], [6, 1, 0]], [2, 3], "int32");
    const wts = tf.tensor(rng.normalArray(2 * 3 * d), [2, 3, d]);
    const n0 = tf.memory().numTensors;
    const e = tf.tidy(() => embed(table, ids));
    assertEquals(e.shape, [2, 3, 3]);
    const tv = table.dataSync();
    close(e.dataSync().slice(3, 6), tv.slice(9, 12), 0, "row 3");
    e.dispose();
    const g = tf.tidy(() => tf.grad((t: tf.Tensor) => embed(t, ids).mul(wts).sum() as tf.Scalar)(table));
    const ref = tf.tidy(() =>
      scatterAddRowsRef(ids.reshape([-1]) as tf.Tensor1D, wts.reshape([-1, d]) as tf.Tensor2D, V)
    );
    close(g.dataSync(), ref.dataSync(), 1e-6, "embed grad");
    const fast = tf.tidy(() =>
      scatterAddRows(ids.reshape([-1]) as tf.Tensor1D, wts.reshape([-1, d]) as tf.Tensor2D, V)
    );
    close(fast.dataSync(), ref.dataSync(), 1e-6, "scatter");
    tf.dispose([g, ref, fast]);
    assertEquals(tf.memory().numTensors, n0);
    const head = tf.tidy(() => tiedHead(tf.ones([2, 3, d]), table));
    assertEquals(head.shape, [2, 3, V]);
    tf.dispose([head, table, ids, wts]);
  });

  Deno.test(`[${backend}] crossEntropy: value, ignore index and gradient`, async () => {
    await initBackend({ backend });
    const rng = new Rng(4);
    const N = 5, V = 6;
    const logits = rng.normalArray(N * V, 0, 2);
    const targets = new Int32Array([1, IGNORE_INDEX, 5, 0, 2]);
    const t = tf.tensor1d(targets, "int32");
    const n0 = tf.memory().numTensors;
    const l = tf.tidy(() => crossEntropy(tf.tensor(logits, [N, V]), t).dataSync()[0]);
    assertAlmostEquals(l, crossEntropyRef(logits, targets, V), 1e-5);
    const f = (x: tf.Tensor) => crossEntropy(x, t);
    const ga = tf.tidy(() => tf.grad(f)(tf.tensor(logits, [N, V])).dataSync());
    close(ga, fdGrad(f, logits, [N, V], 1e-2), 2e-2, "CE grad");
    for (let j = 0; j < V; j++) assertEquals(ga[V + j], 0); // ignored row
    assertEquals(tf.memory().numTensors, n0);
    const all = tf.tidy(() =>
      crossEntropy(tf.zeros([2, 4]), tf.tensor1d([IGNORE_INDEX, IGNORE_INDEX], "int32")).dataSync()[0]
    );
    assertEquals(all, 0);
    assertThrows(
      () => crossEntropy(tf.zeros([2, 4]), tf.tensor1d([1], "int32")),
      Error,
      "1 targets for 2 rows",
    );
    t.dispose();
  });

  Deno.test(`[${backend}] linear uses PyTorch layout and names a bad input`, async () => {
    await initBackend({ backend });
    const y = tf.tidy(() => linear(tf.ones([2, 3, 4]), tf.ones([5, 4]), tf.fill([5], 1)).dataSync());
    close(y, new Array(30).fill(5), 0, "linear");
    assertThrows(() => linear(tf.ones([2, 3]), tf.ones([5, 4]), null), Error, "expects 4");
  });
}
