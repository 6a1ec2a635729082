/**
 * The tiled WGSL matmul (`src/nn/matmul_webgpu.ts`) against the loop `matmulRef`: all four transpose forms, both
 * tile shapes, split-K, sizes that are not multiples of the tiles (or of 4), a long inner size into a small output;
 * and `matmulT`'s gradients against the loop forms dA = P · op(B)ᵀ, dB = op(A)ᵀ · P (in the operands' layouts).
 * webgpu only: skipped (with a message) where `navigator.gpu?.requestAdapter()` gives null.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { assertClose } from "./tensor_assert.ts";
import { webgpuOrWarn } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { matmulT } from "../src/nn/matmul.ts";
import { matmulRef, mmWebGPU, planMatmul, TILE_LARGE, TILE_SMALL } from "../src/nn/matmul_webgpu.ts";
import { Rng } from "../src/rng.ts";

const GPU = await webgpuOrWarn("matmul_webgpu tests");

/** [M, N, K]. */
const SHAPES: [number, number, number][] = [[1, 9, 4], [3, 5, 7], [130, 70, 33], [257, 129, 66], [
  64,
  64,
  2000,
]];
const FORMS: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];

/** The stored transpose of a row-major [r, c] array: [c, r]. */
function transpose(x: ArrayLike<number>, r: number, c: number): Float32Array {
  const y = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) y[j * r + i] = x[i * c + j];
  return y;
}

Deno.test({
  name: "[webgpu] mmWebGPU equals the loop in every transpose form, tile shape and split-K",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const rng = new Rng(71);
    const n0 = tf.memory().numTensors;
    for (const [M, N, K] of SHAPES) {
      for (const [ta, tb] of FORMS) {
        const av = rng.normalArray(M * K, 0, 1), bv = rng.normalArray(K * N, 0, 1);
        const a = tf.tensor2d(av, ta ? [K, M] : [M, K]), b = tf.tensor2d(bv, tb ? [N, K] : [K, N]);
        const ref = matmulRef(av, bv, M, N, K, ta, tb);
        const kc = (t: typeof TILE_LARGE, s: number) => Math.ceil(Math.ceil(K / s) / t.bk) * t.bk;
        const plans = [
          undefined,
          { tile: TILE_LARGE, splits: 1, kc: kc(TILE_LARGE, 1) },
          { tile: { ...TILE_LARGE, unroll: false }, splits: 1, kc: kc(TILE_LARGE, 1) },
          { tile: TILE_SMALL, splits: Math.ceil(K / kc(TILE_SMALL, 3)), kc: kc(TILE_SMALL, 3) },
        ];
        for (const plan of plans) {
          const what = `[${M}, ${N}, ${K}] ta ${ta} tb ${tb} plan ${
            JSON.stringify(plan ?? planMatmul(M, N, K))
          }`;
          const c = mmWebGPU(a, b, ta, tb, plan);
          assertEquals(c.shape, [M, N], what);
          assertClose(await c.data(), ref, 1e-5, what);
          c.dispose();
        }
        tf.dispose([a, b]);
      }
    }
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  },
});

Deno.test({
  name: "[webgpu] matmulT gradients equal the loop forms, each product one kernel",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const rng = new Rng(72);
    const n0 = tf.memory().numTensors;
    for (const [M, N, K] of [[3, 5, 7], [130, 70, 33], [40, 24, 600]] as [number, number, number][]) {
      for (const [ta, tb] of FORMS) {
        const what = `[${M}, ${N}, ${K}] ta ${ta} tb ${tb}`;
        const av = rng.normalArray(M * K, 0, 1), bv = rng.normalArray(K * N, 0, 1);
        const pv = rng.normalArray(M * N, 0, 1);
        const a = tf.tensor2d(av, ta ? [K, M] : [M, K]), b = tf.tensor2d(bv, tb ? [N, K] : [K, N]);
        const p = tf.tensor2d(pv, [M, N]);
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(tf.mul(matmulT(x as tf.Tensor2D, y as tf.Tensor2D, ta, tb), p))
        )([a, b]);
        // d op(A) = P · op(B)ᵀ [M, K]; d op(B) = op(A)ᵀ · P [K, N]; stored transposed where the operand is.
        const opA = ta ? transpose(av, K, M) : Float32Array.from(av);
        const opB = tb ? transpose(bv, N, K) : Float32Array.from(bv);
        const dOpA = matmulRef(pv, opB, M, K, N, false, true);
        const dOpB = matmulRef(opA, pv, K, N, M, true, false);
        assertClose(await ga.data(), ta ? transpose(dOpA, M, K) : dOpA, 1e-4, `${what} dA`);
        assertClose(await gb.data(), tb ? transpose(dOpB, K, N) : dOpB, 1e-4, `${what} dB`);
        const info = await tf.profile(() => {
          const g = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
            tf.sum(matmulT(x as tf.Tensor2D, y as tf.Tensor2D, ta, tb))
          )([a, b]);
          tf.dispose(g);
        });
        const names = info.kernels.map((k) => k.name);
        // forward and two gradient products in the tiled kernel, no transpose materialised.
        assertEquals(names.filter((k) => k === "SsmlabMatMul").length, 3, `${what}: ${names}`);
        assert(!names.some((k) => k.includes("Transpose") || k === "BatchMatMul"), `${what}: ${names}`);
        tf.dispose([a, b, p, ga, gb]);
      }
    }
    assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  },
});

Deno.test("planMatmul: large tiles for large outputs, split-K for long inner sizes into small outputs", () => {
  assertEquals(planMatmul(2048, 50257, 512).tile, TILE_LARGE);
  assertEquals(planMatmul(2048, 512, 512).tile, TILE_SMALL);
  const dh = planMatmul(1024, 512, 50257); // the head's dh = G·E
  assert(dh.splits > 1 && dh.kc * dh.splits >= 50257 && dh.kc % dh.tile.bk === 0, JSON.stringify(dh));
  assertEquals(planMatmul(8, 8, 8).splits, 1);
  assertEquals(planMatmul(512, 512, 2048).splits, 1, "a linear's dW: too small to pay for the extra sum");
});

Deno.test({
  name: "[webgpu] mmWebGPU rejects mismatched or non-2-D operands with the shapes in the message",
  ignore: !GPU,
  async fn() {
    await initBackend({ backend: "webgpu" });
    const a = tf.zeros([2, 3]) as tf.Tensor2D, b = tf.zeros([4, 5]) as tf.Tensor2D;
    let msg = "";
    try {
      mmWebGPU(a, b);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(msg.includes("[2,3]") && msg.includes("[4,5]"), msg);
    tf.dispose([a, b]);
  },
});
