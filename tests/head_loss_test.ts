/**
 * `tiedHeadCrossEntropy` (chunked tied head + cross-entropy in one customGrad) against the reference
 * `crossEntropy(tiedHead(h, E), targets)`, in values and gradients, on cpu, wasm and webgpu (when an adapter
 * exists), for odd V, chunk sizes that do and do not divide N, ignored targets and no tensor leaks.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { assertGradCheck } from "./gradcheck.ts";
import { assertClose } from "./tensor_assert.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { initBackend } from "../src/backend.ts";
import { tiedHeadCrossEntropy } from "../src/nn/head_loss.ts";
import { tiedHead } from "../src/nn/embedding.ts";
import { crossEntropy, IGNORE_INDEX } from "../src/nn/losses.ts";
import { BaselineSLM, mhcConfig } from "../src/models/diag_ssm.ts";
import { MhcSLM } from "../src/models/mhc_ssm.ts";
import { Rng } from "../src/rng.ts";

const BACKENDS = await backendCases();

/** [leading dims of h, d, V, chunkRows, fraction of ignored targets]. */
const CASES: [number[], number, number, number | undefined, number][] = [
  [[2, 3], 5, 7, 2, 0], // chunk 2 divides N = 6
  [[2, 3], 5, 7, 4, 0.3], // chunk 4 does not divide 6
  [[13], 4, 13, 5, 0.25],
  [[3, 7], 8, 101, 8, 0.2],
  [[3, 7], 8, 101, undefined, 0], // default chunk ≥ N: one chunk
  [[9], 6, 12, 1, 0.4], // V a multiple of 4 (no padding), one row per chunk
  [[2, 5], 3, 13, 3, 1], // every target ignored → 0 and zero gradients
];

/** Relative tolerances: values 1e-5, gradients 1e-4 (webgpu accumulates in another order). */
function tols(backend: string): { val: number; grad: number } {
  return backend === "webgpu" ? { val: 1e-4, grad: 1e-3 } : { val: 1e-5, grad: 1e-4 };
}

function makeCase(rng: Rng, lead: number[], d: number, V: number, ignoreFrac: number) {
  const n = lead.reduce((a, b) => a * b, 1);
  const h = tf.tensor(rng.normalArray(n * d, 0, 1), [...lead, d]);
  const e = tf.tensor(rng.normalArray(V * d, 0, 1), [V, d]);
  const ids = new Int32Array(n).map(() => (rng.uniform() < ignoreFrac ? IGNORE_INDEX : rng.int(V)));
  if (ignoreFrac >= 1) ids.fill(IGNORE_INDEX);
  const y = tf.tensor(ids, lead, "int32");
  const w = tf.tensor(rng.normalArray(1, 0, 1).map((v) => 1 + 0.5 * v), []); // upstream dy ≠ 1
  return { h, e, y, w };
}

for (const { name: backend, ignore } of BACKENDS) {
  const tol = tols(backend);
  Deno.test({
    name: `[${backend}] tiedHeadCrossEntropy equals crossEntropy(tiedHead) in value and gradients`,
    ignore,
    fn: async () => {
      await initBackend({ backend });
      const rng = new Rng(3);
      const n0 = tf.memory().numTensors;
      for (const [lead, d, V, chunkRows, frac] of CASES) {
        const what = `h [${lead},${d}] V ${V} chunk ${chunkRows} ignored ${frac}`;
        const { h, e, y, w } = makeCase(rng, lead, d, V, frac);
        const fused = (a: tf.Tensor, b: tf.Tensor) =>
          tiedHeadCrossEntropy(a, b, y, { chunkRows }).mul(w) as tf.Scalar;
        const ref = (a: tf.Tensor, b: tf.Tensor) => crossEntropy(tiedHead(a, b), y).mul(w) as tf.Scalar;
        const gf = tf.valueAndGrads(fused)([h, e]);
        const gr = tf.valueAndGrads(ref)([h, e]);
        const [vf, vr] = [await gf.value.data(), await gr.value.data()];
        assertClose(vf, vr, tol.val, `${what}: value`);
        assertEquals(gf.grads[0].shape, h.shape, `${what}: dh shape`);
        assertEquals(gf.grads[1].shape, e.shape, `${what}: dE shape`);
        assertClose(await gf.grads[0].data(), await gr.grads[0].data(), tol.grad, `${what}: dh`);
        assertClose(await gf.grads[1].data(), await gr.grads[1].data(), tol.grad, `${what}: dE`);
        if (frac >= 1) {
          assertEquals(vf[0], 0, `${what}: all ignored → 0`);
          for (const g of gf.grads) assert((await g.data()).every((v) => v === 0), `${what}: zero gradients`);
        }
        // Forward alone (no tape) also leaks nothing.
        const plain = tiedHeadCrossEntropy(h, e, y, { chunkRows });
        const plainRef = tf.tidy(() => crossEntropy(tiedHead(h, e), y));
        assertClose(await plain.data(), await plainRef.data(), tol.val, `${what}: no-tape`);
        tf.dispose([gf.value, ...gf.grads, gr.value, ...gr.grads, plain, plainRef, h, e, y, w]);
      }
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
    },
  });

  Deno.test({
    name: `[${backend}] tiedHeadCrossEntropy leaks no tensors (forward and backward)`,
    ignore,
    fn: async () => {
      await initBackend({ backend });
      const rng = new Rng(5);
      const { h, e, y } = makeCase(rng, [3, 5], 6, 13, 0.3);
      const n0 = tf.memory().numTensors;
      for (const chunkRows of [4, 15, 100]) {
        const l = tiedHeadCrossEntropy(h, e, y, { chunkRows });
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tiedHeadCrossEntropy(a, b, y, { chunkRows }))([
          h,
          e,
        ]);
        await l.data();
        tf.dispose([l, ...g]);
        assertEquals(tf.memory().numTensors, n0, `chunk ${chunkRows}`);
      }
      tf.dispose([h, e, y]);
    },
  });
}

Deno.test("[cpu] tiedHeadCrossEntropy passes a finite-difference gradient check", async () => {
  await initBackend({ backend: "cpu" });
  const rng = new Rng(9);
  const { h, e, y } = makeCase(rng, [2, 3], 4, 7, 0.2);
  assertGradCheck((a, b) => tiedHeadCrossEntropy(a, b, y, { chunkRows: 4 }), [h, e], {
    names: ["h", "E"],
    maxEntries: 28,
  });
  tf.dispose([h, e, y]);
});

Deno.test("[cpu] tiedHeadCrossEntropy rejects mismatched shapes", async () => {
  await initBackend({ backend: "cpu" });
  const h = tf.zeros([2, 3]), e = tf.zeros([5, 4]), y = tf.zeros([2], "int32"), y3 = tf.zeros([3], "int32");
  let msg = "";
  try {
    tiedHeadCrossEntropy(h, e, y);
  } catch (err) {
    msg = (err as Error).message;
  }
  assert(msg.includes("table"), msg);
  msg = "";
  try {
    tiedHeadCrossEntropy(h, tf.zeros([5, 3]), y3);
  } catch (err) {
    msg = (err as Error).message;
  }
  assert(msg.includes("3 targets for 2 rows"), msg);
  tf.dispose([h, e, y, y3]);
});

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`[${backend}] model.loss equals crossEntropy(model.logits(ids), targets), gradients included`, async () => {
    await initBackend({ backend });
    const rng = new Rng(1);
    const B = 2, T = 12, V = 128;
    const x = tf.tensor2d(new Int32Array(B * T).map(() => rng.int(V)), [B, T], "int32");
    const yv = new Int32Array(B * T).map(() => rng.int(V));
    yv[3] = IGNORE_INDEX;
    const y = tf.tensor2d(yv, [B, T], "int32");
    for (const kind of ["baseline", "mhc"]) {
      const m = kind === "baseline"
        ? new BaselineSLM(mhcConfig({}, "tiny"), 7)
        : new MhcSLM(mhcConfig({}, "tiny"), 7);
      const n0 = tf.memory().numTensors;
      const a = tf.variableGrads(() => m.loss(x, y));
      const b = tf.variableGrads(() => tf.tidy(() => crossEntropy(m.logits(x), y)));
      assertClose(await a.value.data(), await b.value.data(), 1e-5, `${kind}: loss`);
      for (const k of Object.keys(b.grads)) {
        // Relative to max(max |g|, 1e-3): some mHC gradients are exactly 0 in theory (~1e-9 of rounding noise).
        const [ga, gb] = [await a.grads[k].data(), await b.grads[k].data()];
        let diff = 0, scale = 1e-3;
        for (let i = 0; i < gb.length; i++) {
          diff = Math.max(diff, Math.abs(ga[i] - gb[i]));
          scale = Math.max(scale, Math.abs(gb[i]));
        }
        assert(
          diff / scale <= 1e-4,
          `${kind}: grad ${k}: relative difference ${(diff / scale).toExponential(2)}`,
        );
      }
      tf.dispose([a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads)]);
      assertEquals(tf.memory().numTensors, n0, `${kind}: no leaks`);
      m.dispose();
    }
    tf.dispose([x, y]);
  });
}
