/**
 * Grouped WGSL kernels for a sparse mixture of experts on the webgpu backend: each token runs only its top-k
 * experts, and the routing never leaves the GPU (no host read, so no stall). tfjs has no grouped or gathered
 * matmul, hence these kernels. Slots s = n·k + j (token n, j-th choice) carry the expert index e_s.
 *
 *   `SsmlabMoeGather`  out[s, o] = Σ_c A[row(s), c] · Wᵀ[e_s, c, o] + bias[e_s, o]      (row(s) = s / rowDiv)
 *                      forward with Wᵀ (a transposed copy of W [E, o, c]); the input gradient per slot is the same
 *                      kernel on W itself: dA[s, c] = Σ_o G[s, o] · W[e_s, o, c]
 *   `SsmlabMoeGroup`   perm: the slots sorted by expert (stable), then the E + 1 group offsets
 *   `SsmlabMoeWGrad`   dW[e, o, c] = Σ_{s in group e} G[s, o] · A[row(s), c]           (weight gradient)
 *
 * FLOPs: forward and backward each cost S·o·c multiply-adds per weight matrix, S = N·k slots — k/E of the dense
 * layer's. The bias gradient is a one-hot product [E, S]·[S, o] in tf ops (no c factor).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { MoEOptions, MoEOutput, Routing, StackedMoEWeights } from "./moe.ts";
import { type CustomFn, intUniforms, requireWebGPU, webgpuKernel, webgpuProgram } from "./webgpu_kernel.ts";

const WG = 64;

/**
 * Gathered matmul: one invocation per (s, o), out[s, o] = Bias[e_s, o] + Σ_c A[s / rowDiv, c] · W[e_s, c, o].
 * Inputs A [R, C], W [E, C, O] (contracted axis first, so neighbouring lanes read neighbouring weights), Bias
 * [E, O], Idx [S].
 */
const GATHER_CODE = `
  fn main(index : i32) {
    let nS = uniforms.idxShape;
    let nC = uniforms.wShape.y;
    let nO = uniforms.wShape.z;
    if (index >= nS * nO) { return; }
    let o = index % nO;
    let s = index / nO;
    let e = i32(Idx[s]);
    let aBase = (s / uniforms.rowDiv) * nC;
    let wBase = e * nC * nO + o;
    var acc = Bias[e * nO + o];
    for (var c = 0; c < nC; c++) {
      acc = acc + A[aBase + c] * W[wBase + c * nO];
    }
    result[index] = acc;
  }
`;

/** Counting sort of the slots by expert: one invocation per expert. Input Idx [S]; output [S + E + 1]. */
const GROUP_CODE = `
  fn main(index : i32) {
    let nS = uniforms.idxShape;
    let nE = uniforms.nE;
    if (index >= nE) { return; }
    var start = 0;
    for (var s = 0; s < nS; s++) {
      if (i32(Idx[s]) < index) { start = start + 1; }
    }
    result[nS + index] = f32(start);
    if (index == nE - 1) { result[nS + nE] = f32(nS); }
    var r = start;
    for (var s = 0; s < nS; s++) {
      if (i32(Idx[s]) == index) {
        result[r] = f32(s);
        r = r + 1;
      }
    }
  }
`;

/** Weight gradient: one invocation per (e, o, c). Inputs G [S, o], A [R, c], P [S + E + 1]. */
const WGRAD_CODE = `
  fn main(index : i32) {
    let nS = uniforms.gShape.x;
    let nO = uniforms.gShape.y;
    let nC = uniforms.aShape.y;
    let nE = uniforms.pShape - nS - 1;
    if (index >= nE * nO * nC) { return; }
    let c = index % nC;
    let eo = index / nC;
    let o = eo % nO;
    let e = eo / nO;
    let r0 = i32(P[nS + e]);
    let r1 = i32(P[nS + e + 1]);
    var acc = 0.0;
    for (var r = r0; r < r1; r++) {
      let s = i32(P[r]);
      acc = acc + G[s * nO + o] * A[(s / uniforms.rowDiv) * nC + c];
    }
    result[index] = acc;
  }
`;

const GATHER = webgpuKernel("SsmlabMoeGather", ["a", "w", "bias", "idx"], ([, w, , idx], attrs) => {
  const S = idx.shape[0], O = w.shape[2];
  return {
    ...webgpuProgram(
      "moe_gather",
      ["A", "W", "Bias", "Idx"],
      [S, O],
      Math.ceil((S * O) / WG),
      WG,
      GATHER_CODE,
    ),
    ...intUniforms({ rowDiv: attrs.rowDiv as number }),
  };
});

const GROUP = webgpuKernel("SsmlabMoeGroup", ["idx"], ([idx], attrs) => {
  const E = attrs.nE as number;
  return {
    ...webgpuProgram("moe_group", ["Idx"], [idx.shape[0] + E + 1], Math.ceil(E / WG), WG, GROUP_CODE),
    ...intUniforms({ nE: E }),
  };
});

const WGRAD = webgpuKernel("SsmlabMoeWGrad", ["g", "a", "p"], ([g, a, p], attrs) => {
  const S = g.shape[0], O = g.shape[1], C = a.shape[1], E = p.shape[0] - S - 1;
  return {
    ...webgpuProgram("moe_wgrad", ["G", "A", "P"], [E, O, C], Math.ceil((E * O * C) / WG), WG, WGRAD_CODE),
    ...intUniforms({ rowDiv: attrs.rowDiv as number }),
  };
});

/**
 * out[s] = W[e_s] · A[s / rowDiv] + bias[e_s] for every slot s, differentiable in A, W and bias.
 *
 * @param a [R, c] rows (tokens, or slots when rowDiv = 1)
 * @param w [E, o, c] stacked weights
 * @param bias [E, o]
 * @param idx [S] expert of each slot (float32 holding integers)
 * @param perm [S + E + 1] the slots grouped by expert and the group offsets (`SsmlabMoeGroup`)
 * @param rowDiv slots per row of `a` (R = S / rowDiv)
 * @returns [S, o]
 */
function gatheredLinear(
  a: tf.Tensor2D,
  w: tf.Tensor3D,
  bias: tf.Tensor2D,
  idx: tf.Tensor1D,
  perm: tf.Tensor1D,
  rowDiv: number,
): tf.Tensor2D {
  const [E, O, C] = w.shape;
  const f = tf.customGrad(
    // idx and perm are constants of the routing (saved, not inputs: the tape must not walk into the sort)
    ((a: tf.Tensor2D, w: tf.Tensor3D, bias: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([a, w, idx, perm]);
      const wT = tf.transpose(w, [0, 2, 1]); // [E, C, O]: the contracted axis first
      const value = GATHER.run<tf.Tensor2D>({ a, w: wT, bias, idx }, { rowDiv });
      wT.dispose();
      return {
        value,
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const [a, w, idx, perm] = saved;
          return tf.tidy(() => {
            const S = idx.shape[0];
            const dSlots = GATHER.run<tf.Tensor2D>({ a: dy, w, bias: tf.zeros([E, C]), idx }, { rowDiv: 1 });
            const da = rowDiv === 1 ? dSlots : tf.sum(tf.reshape(dSlots, [S / rowDiv, rowDiv, C]), 1);
            const dw = WGRAD.run<tf.Tensor3D>({ g: dy, a, p: perm }, { rowDiv });
            const hot = tf.oneHot(tf.cast(idx, "int32") as tf.Tensor1D, E); // [S, E]
            const db = tf.matMul(hot, dy, true, false); // [E, o]
            return [da, dw, tf.reshape(db, [E, O])];
          });
        },
      };
    }) as unknown as CustomFn,
  );
  return f(a, w, bias) as unknown as tf.Tensor2D;
}

/**
 * The `webgpu` form of `moeStacked` (see `moe.ts`): route on the GPU, group the slots by expert, run fc1 → GELU →
 * fc2 only on each token's top-k experts, combine with the renormalised gates.
 *
 * @param x [N, d]
 * @param w stacked weights
 * @param opts top-k, α
 * @param route the router of `moe.ts` (logits → top-k routing)
 * @param loadBalance the load-balance loss of `moe.ts`
 * @returns as the dense reference
 */
export function moeGroupedWebGPU(
  x: tf.Tensor2D,
  w: StackedMoEWeights,
  opts: MoEOptions,
  route: (x: tf.Tensor2D, w: { routerW: tf.Tensor2D; routerB: tf.Tensor1D | null }, k: number) => Routing,
  loadBalance: (r: Routing, E: number, alpha: number) => tf.Scalar,
): MoEOutput {
  requireWebGPU("moeStacked (webgpu)");
  const E = w.w1.shape[0];
  const k = opts.topK;
  if (!Number.isInteger(k) || k < 1 || k > E) {
    throw new Error(
      `moeStacked: top_k = ${k} is not valid for num_experts = ${E}; top_k must be an integer with 1 ≤ top_k ≤ num_experts.`,
    );
  }
  return tf.tidy(() => {
    const [N, d] = x.shape;
    const r = route(x, w, k);
    const idx = tf.reshape(tf.cast(r.indices, "float32"), [N * k]) as tf.Tensor1D;
    const perm = GROUP.run<tf.Tensor1D>({ idx }, { nE: E });
    const h = gelu(gatheredLinear(x, w.w1, w.b1, idx, perm, k));
    const ys = gatheredLinear(h, w.w2, w.b2, idx, perm, 1); // [N·k, d]
    const y = tf.sum(tf.mul(tf.reshape(ys, [N, k, d]), tf.expandDims(r.weights, 2)), 1) as tf.Tensor2D;
    return { y, auxLoss: loadBalance(r, E, opts.auxAlpha ?? 0.01), probs: r.probs, gates: r.gates };
  });
}

/** Exact GELU (as `moe.ts`'s; repeated here to keep the import one-way). */
function gelu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))) as tf.Tensor2D;
}
