/**
 * `matmul` (untransposed-B forms forward and backward), `linear` and the padded `tiedHead` against plain tfjs /
 * plain loops, in values and gradients, on cpu, wasm and webgpu (when an adapter exists), for odd sizes.
 */
import * as tf from "@tensorflow/tfjs";
import { assert } from "./assert.ts";
import { assertGradCheck } from "./gradcheck.ts";
import { assertClose, normal } from "./tensor_assert.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { matmul, matmulWT } from "../src/nn/matmul.ts";
import { linear } from "../src/nn/linear.ts";
import { tiedHead } from "../src/nn/embedding.ts";
import { Rng } from "../src/rng.ts";

const BACKENDS = await backendCases();

/** [M, K, N]: odd, prime, multiples of 4 and 1-sized dimensions. */
const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [7, 13, 5], [4, 8, 12], [9, 4, 1], [
  17,
  3,
  33,
]];

type Pair = [string, tf.Tensor, tf.Tensor | ArrayLike<number>];

/** Compare each pair with `await data()` (webgpu in Deno cannot `dataSync`), then dispose the tensors. */
async function closeAll(pairs: Pair[], tol: number): Promise<void> {
  try {
    for (const [what, a, b] of pairs) {
      const av = await a.data();
      const bv = b instanceof tf.Tensor ? await b.data() : b;
      assertClose(av, bv, tol, what);
    }
  } finally {
    for (const [, a, b] of pairs) {
      a.dispose();
      if (b instanceof tf.Tensor) b.dispose();
    }
  }
}

/** tf.tidy for a function returning comparison pairs: every tensor in them is kept, the rest disposed. */
function tidyPairs(fn: () => Pair[]): Pair[] {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as Pair[];
}

/** linear: [leading dims, in, out, with bias]. */
const LINEAR_CASES: [number[], number, number, boolean][] = [[[2, 3], 5, 7, true], [[1, 9], 4, 3, false], [
  [13],
  1,
  6,
  true,
]];
/** tiedHead: [leading dims, d, V] — odd V (7, 13, 1) is padded to a multiple of 4 inside; 12 is not. */
const HEAD_CASES: [number[], number, number][] = [[[2, 3], 5, 7], [[1, 4], 8, 13], [[5], 3, 1], [
  [2, 2],
  4,
  12,
], [[3], 6, 50]];

/** Float32 tolerances: the webgpu kernels accumulate in a different order. */
const TOL = 2e-5;
const GPU_TOL = 1e-4;

for (const { name: backend, ignore } of BACKENDS) {
  const tol = backend === "webgpu" ? GPU_TOL : TOL;

  Deno.test({
    name: `[${backend}] matmul equals tf.matMul in values and gradients (odd shapes)`,
    ignore,
    fn: async () => {
      await initBackend({ backend });
      const rng = new Rng(11);
      const n0 = tf.memory().numTensors;
      for (const [M, K, N] of SHAPES) {
        const what = `${M}x${K}x${N}`;
        const pairs = tidyPairs(() => {
          const a = normal(rng, [M, K]) as tf.Tensor2D;
          const b = normal(rng, [K, N]) as tf.Tensor2D;
          const w = normal(rng, [M, N]); // random projection so that every output entry matters
          const loss = (fn: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(fn(a as tf.Tensor2D, b as tf.Tensor2D), w)) as tf.Scalar;
          const g = tf.grads(loss(matmul))([a, b]);
          const r = tf.grads(loss((a, b) => tf.matMul(a, b)))([a, b]);
          assert(
            g[0].shape.join() === a.shape.join() && g[1].shape.join() === b.shape.join(),
            `${what} grad shapes`,
          );
          return [
            [`${what} values`, matmul(a, b), tf.matMul(a, b)],
            [`${what} d/da`, g[0], r[0]],
            [`${what} d/db`, g[1], r[1]],
          ];
        });
        await closeAll(pairs, tol);
      }
      assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
    },
  });

  Deno.test({
    name: `[${backend}] matmulWT equals tf.matMul(a, w, false, true) in values and gradients`,
    ignore,
    fn: async () => {
      await initBackend({ backend });
      const rng = new Rng(12);
      const n0 = tf.memory().numTensors;
      for (const [M, K, N] of SHAPES) {
        const what = `${M}x${K}x${N}`;
        const pairs = tidyPairs(() => {
          const a = normal(rng, [M, K]) as tf.Tensor2D;
          const wt = normal(rng, [N, K]) as tf.Tensor2D;
          const p = normal(rng, [M, N]);
          const loss = (fn: (a: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor) => (a: tf.Tensor, w: tf.Tensor) =>
            tf.sum(tf.mul(fn(a as tf.Tensor2D, w as tf.Tensor2D), p)) as tf.Scalar;
          const g = tf.grads(loss(matmulWT))([a, wt]);
          const r = tf.grads(loss((a, w) => tf.matMul(a, w, false, true)))([a, wt]);
          return [
            [`${what} values`, matmulWT(a, wt), tf.matMul(a, wt, false, true)],
            [`${what} d/da`, g[0], r[0]],
            [`${what} d/dw`, g[1], r[1]],
          ];
        });
        await closeAll(pairs, tol);
      }
      assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
    },
  });

  Deno.test({
    name: `[${backend}] matmul gradients pass finite differences`,
    ignore: ignore || backend === "webgpu", // float32 finite differences on a GPU are too noisy to be useful
    fn: async () => {
      await initBackend({ backend });
      const rng = new Rng(12);
      const n0 = tf.memory().numTensors;
      for (const [M, K, N] of [[3, 5, 7], [7, 13, 5]]) {
        const a = normal(rng, [M, K]), b = normal(rng, [K, N]), w = normal(rng, [M, N]);
        assertGradCheck(
          (a, b) => tf.sum(tf.mul(tf.sin(matmul(a as tf.Tensor2D, b as tf.Tensor2D)), w)) as tf.Scalar,
          [a, b],
          { names: ["a", "b"], maxEntries: 16 },
        );
        tf.dispose([a, b, w]);
      }
      assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
    },
  });

  Deno.test({
    name: `[${backend}] matmul rejects mismatched inner sizes`,
    ignore,
    fn: async () => {
      await initBackend({ backend });
      const a = tf.ones([2, 3]) as tf.Tensor2D, b = tf.ones([4, 5]) as tf.Tensor2D;
      let msg = "";
      try {
        matmul(a, b);
      } catch (e) {
        msg = (e as Error).message;
      }
      assert(/inner sizes differ/.test(msg), `error message: ${msg}`);
      tf.dispose([a, b]);
    },
  });

  Deno.test({
    name: `[${backend}] linear equals a plain-loop x·Wᵀ + b in values and gradients`,
    ignore,
    fn: async () => {
      await initBackend({ backend });
      const rng = new Rng(13);
      const n0 = tf.memory().numTensors;
      for (const [lead, inF, outF, bias] of LINEAR_CASES) {
        const what = `[${lead}]x${inF}->${outF}${bias ? "+b" : ""}`;
        const x = normal(rng, [...lead, inF]), W = normal(rng, [outF, inF]), b = normal(rng, [outF]);
        const proj = normal(rng, [...lead, outF]);
        // plain loop reference
        const rows = lead.reduce((p, q) => p * q, 1);
        const [xv, wv, bv] = [await x.data(), await W.data(), await b.data()];
        const ref = new Float32Array(rows * outF);
        for (let r = 0; r < rows; r++) {
          for (let o = 0; o < outF; o++) {
            let s = bias ? bv[o] : 0;
            for (let i = 0; i < inF; i++) s += xv[r * inF + i] * wv[o * inF + i];
            ref[r * outF + o] = s;
          }
        }
        const pairs = tidyPairs(() => {
          const y = linear(x, W, bias ? b : null);
          assert(y.shape.join() === [...lead, outF].join(), `${what} shape [${y.shape}]`);
          // gradients vs tf.matMul with transposeB (plain autograd); without a bias, b's gradient is 0 in both
          const f =
            (fn: (x: tf.Tensor, W: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, W: tf.Tensor, b: tf.Tensor) =>
              tf.sum(tf.mul(bias ? tf.add(fn(x, W), b) : fn(x, W), proj)).add(
                tf.sum(tf.mul(b, 0)),
              ) as tf.Scalar;
          const g = tf.grads(f((x, W) => linear(x, W, null)))([x, W, b]);
          const r = tf.grads(
            f((x, W) => tf.matMul(x.reshape([-1, inF]), W, false, true).reshape([...lead, outF])),
          )(
            [x, W, b],
          );
          return [
            [`${what} values`, y, ref],
            ...["dx", "dW", "db"].map((n, i): Pair => [`${what} ${n}`, g[i], r[i]]),
          ];
        });
        await closeAll(pairs, backend === "webgpu" ? GPU_TOL : 1e-5);
        tf.dispose([x, W, b, proj]);
      }
      assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
    },
  });

  Deno.test({
    name: `[${backend}] tiedHead with odd V equals tf.matMul(x, E, false, true) in values and gradients`,
    ignore,
    fn: async () => {
      await initBackend({ backend });
      const rng = new Rng(14);
      const n0 = tf.memory().numTensors;
      for (const [lead, d, V] of HEAD_CASES) {
        const what = `[${lead}]x${d} V=${V}`;
        const pairs = tidyPairs(() => {
          const x = normal(rng, [...lead, d]), E = normal(rng, [V, d]);
          const ref = (x: tf.Tensor, E: tf.Tensor) =>
            tf.matMul(x.reshape([-1, d]), E, false, true).reshape([...lead, V]);
          const y = tiedHead(x, E);
          assert(y.shape.join() === [...lead, V].join(), `${what} shape [${y.shape}]`);
          const proj = normal(rng, [...lead, V]);
          const f = (fn: (x: tf.Tensor, E: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, E: tf.Tensor) =>
            tf.sum(tf.mul(fn(x, E), proj)) as tf.Scalar;
          const g = tf.grads(f(tiedHead))([x, E]);
          const r = tf.grads(f(ref))([x, E]);
          assert(g[1].shape.join() === [V, d].join(), `${what} dE shape [${g[1].shape}]`);
          return [
            [`${what} values`, y, ref(x, E)],
            [`${what} dx`, g[0], r[0]],
            [`${what} dE`, g[1], r[1]],
          ];
        });
        await closeAll(pairs, tol);
      }
      assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
    },
  });

  Deno.test({
    name: `[${backend}] tiedHead gradients pass finite differences (V = 7)`,
    ignore: ignore || backend === "webgpu",
    fn: async () => {
      await initBackend({ backend });
      const rng = new Rng(15);
      const n0 = tf.memory().numTensors;
      const x = normal(rng, [2, 3, 5]), E = normal(rng, [7, 5]);
      // log-softmax cross-entropy against fixed targets, as the LM loss uses the head
      const target = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 3, 6, 2, 5, 1], "int32"), 7).reshape([2, 3, 7]));
      assertGradCheck(
        (x, E) => tf.neg(tf.sum(tf.mul(tf.logSoftmax(tiedHead(x, E)), target))) as tf.Scalar,
        [x, E],
        { names: ["x", "E"], maxEntries: 20 },
      );
      tf.dispose([x, E, target]);
      assert(tf.memory().numTensors === n0, `leaked ${tf.memory().numTensors - n0} tensors`);
    },
  });
}
