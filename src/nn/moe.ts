/**
 * Mixture of experts with top-k routing and a Switch-style load-balance loss (HSSM's sparse feed-forward
 * stage): router Linear(d→E), p = softmax(router logits), keep the top-k probabilities per token, renormalise
 * them, output Σ_e p̂_e · Expert_e(x) with Expert_e = Linear(d→h) + GELU + Linear(h→d) (biases on both).
 *
 * {@linkcode moeRef} is the dense reference (every expert on every token, masked by the gates);
 * {@linkcode moeForward} computes each expert only on the tokens routed to it (gather → expert → scatter-add). Both
 * are differentiable in x and every weight on every backend: the row gather/scatter carry their own gradients
 * (tfjs-wasm has no UnsortedSegmentSum kernel, so the scatter falls back to a one-hot matmul there).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Params } from "./params.ts";
import type { CustomFn } from "./webgpu_kernel.ts";
import { defineOp, type Op, webgpuBackendActive } from "./dispatch.ts";
import { moeGroupedWebGPU } from "./moe_webgpu.ts";

/** Weights of one expert, PyTorch nn.Linear layout. */
export interface ExpertWeights {
  /** [h, d] */
  w1: tf.Tensor2D;
  /** [h] */
  b1: tf.Tensor1D;
  /** [d, h] */
  w2: tf.Tensor2D;
  /** [d] */
  b2: tf.Tensor1D;
}

/** Weights of a mixture-of-experts layer. */
export interface MoEWeights {
  /** Router weight [E, d]. */
  routerW: tf.Tensor2D;
  /** Router bias [E], or null. */
  routerB: tf.Tensor1D | null;
  /** E experts. */
  experts: ExpertWeights[];
}

/** Options of {@linkcode moeForward} and {@linkcode moeRef}. */
export interface MoEOptions {
  /** Experts per token (HSSM's card: 2). Must be between 1 and the number of experts. */
  topK: number;
  /** Weight α of the load-balance loss (default 0.01). */
  auxAlpha?: number;
  /**
   * `true`: compute each expert only on its tokens (reads the routing back to the host; not on webgpu, where that
   * would stall the GPU); `false`: the dense path of {@linkcode moeRef}. Default: as `dispatch.ts` chooses —
   * sparse on the fast path of cpu and wasm, dense on webgpu and under `withImpl("ops" | "ref", …)`.
   */
  sparse?: boolean;
}

/** Result of a mixture-of-experts layer. */
export interface MoEOutput {
  /** [N, d] */
  y: tf.Tensor2D;
  /** Scalar α·E·Σ_e f_e·P̄_e. */
  auxLoss: tf.Scalar;
  /** Router probabilities [N, E]. */
  probs: tf.Tensor2D;
  /** Renormalised top-k gates, zero outside the top k [N, E]. */
  gates: tf.Tensor2D;
}

/** Result of {@linkcode topKRouting}. */
export interface Routing {
  /** softmax(logits) [N, E]. */
  probs: tf.Tensor2D;
  /** Top-k probabilities renormalised to sum 1 per token, zero elsewhere [N, E] (differentiable). */
  gates: tf.Tensor2D;
  /** The renormalised top-k probabilities [N, k], largest first (differentiable). */
  weights: tf.Tensor2D;
  /** Chosen experts [N, k] (int32), largest probability first. */
  indices: tf.Tensor2D;
}

function checkTopK(fn: string, k: number, E: number): void {
  if (!Number.isInteger(k) || k < 1 || k > E) {
    throw new Error(
      `${fn}: top_k = ${k} is not valid for num_experts = ${E}; top_k must be an integer with 1 ≤ top_k ≤ num_experts.`,
    );
  }
}

/**
 * Exact GELU, 0.5·x·(1 + erf(x/√2)) (PyTorch `nn.GELU()` default).
 *
 * @param x any shape
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gelu } from "./moe.ts";
 * gelu(tf.tensor1d([0, 1])).print(); // [0, 0.8413]
 * ```
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))))) as T;
}

/**
 * Top-k routing: softmax over experts, keep the k largest probabilities per token and renormalise them.
 *
 * @param logits [N, E] router logits
 * @param k experts per token, 1 ≤ k ≤ E
 * @returns probabilities, dense gates, top-k weights and indices
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { topKRouting } from "./moe.ts";
 * const r = topKRouting(tf.tensor2d([[0, 1, 2]]), 2); // r.indices [[2, 1]], r.weights ≈ [[0.731, 0.269]]
 * ```
 */
export function topKRouting(logits: tf.Tensor2D, k: number): Routing {
  if (logits.rank !== 2) {
    throw new Error(
      `topKRouting: argument "logits" has shape [${logits.shape.join(", ")}], expected [N, E].`,
    );
  }
  const E = logits.shape[1];
  checkTopK("topKRouting", k, E);
  return tf.tidy(() => {
    const probs = tf.softmax(logits) as tf.Tensor2D;
    const hots = topKOneHot(probs, k); // [N, E, k], constant
    const mask = tf.sum(hots, 2); // [N, E]
    const kept = tf.mul(probs, mask);
    const gates = tf.div(kept, tf.sum(kept, 1, true)) as tf.Tensor2D;
    const N = probs.shape[0];
    const weights = tf.reshape(tf.matMul(tf.expandDims(gates, 1), hots), [N, k]) as tf.Tensor2D;
    // not argMax(hots, 1): on tfjs-webgpu a middle-axis argMax here corrupted the gradients of `gates`
    const indices = tf.cast(topKIndices(probs, k), "int32") as tf.Tensor2D;
    return { probs, gates, weights, indices };
  });
}

/**
 * One-hot columns of the k largest entries per row, [N, E, k] (hots[n, e, j] = 1 when expert e is the j-th
 * choice of token n), treated as a constant by autograd (tfjs has no gradient for TopK, and the choice itself is
 * not differentiable). Built by comparison with a range and reduced over the last axis only: tfjs-webgpu returned
 * zeros for a middle-axis sum of a cast one-hot tensor here.
 */
/** The k largest entries' indices per row, [N, k] as float32 (largest first), a constant for autograd. */
function topKIndices(p: tf.Tensor2D, k: number): tf.Tensor2D {
  const f = tf.customGrad(
    ((p: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([]);
      return {
        value: tf.tidy(() => tf.cast(tf.topk(p, k, true).indices, "float32")),
        gradFunc: () => tf.zeros(p.shape),
      };
    }) as unknown as CustomFn,
  );
  return f(p) as unknown as tf.Tensor2D;
}

function topKOneHot(p: tf.Tensor2D, k: number): tf.Tensor3D {
  const E = p.shape[1];
  const f = tf.customGrad(
    ((p: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([]);
      return {
        value: tf.tidy(() => {
          const idx = tf.cast(tf.topk(p, k, true).indices, "float32"); // [N, k]
          // 1 − sign|idx − e| (float ops only: a cast bool tensor misbehaved on tfjs-webgpu in routingStats)
          const diff = tf.sub(tf.expandDims(idx, 1), tf.reshape(tf.range(0, E), [1, E, 1]));
          return tf.sub(1, tf.sign(tf.abs(diff)));
        }),
        gradFunc: () => tf.zeros(p.shape),
      };
    }) as unknown as CustomFn,
  );
  return f(p) as unknown as tf.Tensor3D;
}

function checkMoE(fn: string, x: tf.Tensor, w: MoEWeights, opts: MoEOptions): { d: number; E: number } {
  if (x.rank !== 2) {
    throw new Error(`${fn}: argument "x" has shape [${x.shape.join(", ")}], expected [N, d].`);
  }
  const d = x.shape[1] as number;
  const E = w.experts.length;
  if (w.routerW.rank !== 2 || w.routerW.shape[0] !== E || w.routerW.shape[1] !== d) {
    throw new Error(
      `${fn}: router weight has shape [${w.routerW.shape.join(", ")}], expected [E, d] = [${E}, ${d}] ` +
        `(${E} experts, model width ${d}).`,
    );
  }
  if (w.routerB && (w.routerB.rank !== 1 || w.routerB.shape[0] !== E)) {
    throw new Error(`${fn}: router bias has shape [${w.routerB.shape.join(", ")}], expected [E] = [${E}].`);
  }
  w.experts.forEach((ex, e) => {
    const h = ex.w1.shape[0];
    const want: [string, tf.Tensor, number[]][] = [["w1", ex.w1, [h, d]], ["b1", ex.b1, [h]], ["w2", ex.w2, [
      d,
      h,
    ]], [
      "b2",
      ex.b2,
      [d],
    ]];
    for (const [name, t, shape] of want) {
      if (t.rank !== shape.length || shape.some((s, i) => t.shape[i] !== s)) {
        throw new Error(
          `${fn}: expert ${e} ${name} has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}].`,
        );
      }
    }
  });
  checkTopK(fn, opts.topK, E);
  return { d, E };
}

/** Expert_e(x) = W2·GELU(W1 x + b1) + b2. x: [n, d] → [n, d]. */
function expert(x: tf.Tensor2D, ex: ExpertWeights): tf.Tensor2D {
  const h = gelu(tf.add(tf.matMul(x, ex.w1, false, true), ex.b1));
  return tf.add(tf.matMul(h, ex.w2, false, true), ex.b2) as tf.Tensor2D;
}

function route(x: tf.Tensor2D, w: Pick<MoEWeights, "routerW" | "routerB">, k: number): Routing {
  let logits = tf.matMul(x, w.routerW, false, true);
  if (w.routerB) logits = tf.add(logits, w.routerB);
  return topKRouting(logits as tf.Tensor2D, k);
}

/** α·E·Σ_e f_e·P̄_e with f_e the fraction of the N·k routed slots sent to e (no gradient) and P̄_e the mean prob. */
function loadBalance(r: Routing, E: number, alpha: number): tf.Scalar {
  const [N, k] = r.indices.shape;
  const f = tf.div(tf.sum(tf.oneHot(tf.reshape(r.indices, [N * k]) as tf.Tensor1D, E), 0), N * k);
  const pbar = tf.mean(r.probs, 0);
  return tf.mul(alpha * E, tf.sum(tf.mul(f, pbar))) as tf.Scalar;
}

/**
 * Dense reference mixture of experts: every expert runs on every token; outputs are combined with the
 * renormalised top-k gates (zero for experts not chosen).
 *
 * @param x [N, d] tokens
 * @param w router and expert weights
 * @param opts top-k and α
 * @returns y [N, d], auxLoss, probs, gates
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initMoE, moeRef } from "./moe.ts";
 * import { Params } from "./params.ts";
 * import { Rng } from "../rng.ts";
 * const p = new Params(new Rng(0));
 * const w = initMoE(p, "moe", 8, 16, 4);
 * const { y, auxLoss } = moeRef(tf.ones([3, 8]), w, { topK: 2 });
 * ```
 */
export function moeRef(x: tf.Tensor2D, w: MoEWeights, opts: MoEOptions): MoEOutput {
  const { E } = checkMoE("moeRef", x, w, opts);
  return tf.tidy(() => {
    const r = route(x, w, opts.topK);
    const gateCols = tf.split(r.gates, E, 1); // E × [N, 1]
    const y = tf.addN(w.experts.map((ex, e) => tf.mul(expert(x, ex), gateCols[e]))) as tf.Tensor2D;
    return { y, auxLoss: loadBalance(r, E, opts.auxAlpha ?? 0.01), probs: r.probs, gates: r.gates };
  });
}

const hasKernel = (name: string) => !!tf.getKernel(name, tf.getBackend());

/** Sum rows of y [n, d] into rows idx of an [N, d] zero tensor (duplicates add). No autograd. */
function scatterRowsRaw(y: tf.Tensor2D, idx: Int32Array, N: number): tf.Tensor2D {
  return tf.tidy(() => {
    const ids = tf.tensor1d(idx, "int32");
    if (hasKernel("UnsortedSegmentSum")) return tf.unsortedSegmentSum(y, ids, N) as tf.Tensor2D;
    if (N === 1) return tf.sum(y, 0, true) as tf.Tensor2D; // tf.oneHot needs a depth ≥ 2
    return tf.matMul(tf.oneHot(ids, N), y, true, false) as tf.Tensor2D; // [n, N]ᵀ·[n, d]
  });
}

/** Rows idx of x [N, d]. No autograd. */
function gatherRowsRaw(x: tf.Tensor2D, idx: Int32Array): tf.Tensor2D {
  return tf.tidy(() => tf.gather(x, tf.tensor1d(idx, "int32")) as tf.Tensor2D);
}

/**
 * Rows `idx` of x, differentiable in x on every backend (the gradient scatter-adds rows back; on wasm, which lacks
 * UnsortedSegmentSum, through a one-hot matmul).
 *
 * @param x [N, d]
 * @param idx row indices (host array)
 * @returns [idx.length, d]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gatherRows } from "./moe.ts";
 * gatherRows(tf.tensor2d([[1], [2], [3]]), Int32Array.of(2, 0)).print(); // [[3], [1]]
 * ```
 */
export function gatherRows(x: tf.Tensor2D, idx: Int32Array): tf.Tensor2D {
  const N = x.shape[0];
  for (const i of idx) {
    if (!(i >= 0 && i < N)) throw new Error(`gatherRows: index ${i} is out of range for ${N} rows.`);
  }
  const f = tf.customGrad(
    ((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([]);
      return { value: gatherRowsRaw(x, idx), gradFunc: (dy: tf.Tensor2D) => scatterRowsRaw(dy, idx, N) };
    }) as unknown as CustomFn,
  );
  return f(x) as unknown as tf.Tensor2D;
}

/**
 * Scatter-add rows of y into an [N, d] zero tensor at rows `idx` (repeated indices add), differentiable in y.
 *
 * @param y [n, d]
 * @param idx [n] target rows (host array)
 * @param N number of output rows
 * @returns [N, d]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { scatterRows } from "./moe.ts";
 * scatterRows(tf.tensor2d([[1], [2]]), Int32Array.of(1, 1), 3).print(); // [[0], [3], [0]]
 * ```
 */
export function scatterRows(y: tf.Tensor2D, idx: Int32Array, N: number): tf.Tensor2D {
  if (y.shape[0] !== idx.length) {
    throw new Error(
      `scatterRows: ${y.shape[0]} rows in "y" but ${idx.length} indices; expected equal counts.`,
    );
  }
  for (const i of idx) {
    if (!(i >= 0 && i < N)) throw new Error(`scatterRows: index ${i} is out of range for ${N} rows.`);
  }
  const f = tf.customGrad(
    ((y: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([]);
      return { value: scatterRowsRaw(y, idx, N), gradFunc: (dy: tf.Tensor2D) => gatherRowsRaw(dy, idx) };
    }) as unknown as CustomFn,
  );
  return f(y) as unknown as tf.Tensor2D;
}

/**
 * Mixture-of-experts layer: route, run each expert on the tokens routed to it, combine with the renormalised top-k
 * probabilities; plus the Switch load-balance loss α·E·Σ_e f_e·P̄_e. Same result as {@linkcode moeRef}.
 * Forms (`dispatch.ts`, unless `opts.sparse` fixes one): `host` sparse, reading the routing back to the host (one
 * small sync per call; the fast path on cpu and wasm); `ops` and `ref` the dense {@linkcode moeRef}.
 *
 * @param x [N, d] tokens (flatten [B, T, d] to [B·T, d] first)
 * @param w router and expert weights
 * @param opts top-k (≤ number of experts), α, sparse
 * @returns y [N, d], auxLoss, probs, gates
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initMoE, moeForward } from "./moe.ts";
 * import { Params } from "./params.ts";
 * import { Rng } from "../rng.ts";
 * const p = new Params(new Rng(0));
 * const w = initMoE(p, "moe", 8, 16, 4);
 * const { y, auxLoss } = moeForward(tf.ones([3, 8]), w, { topK: 2 });
 * ```
 */
export function moeForward(x: tf.Tensor2D, w: MoEWeights, opts: MoEOptions): MoEOutput {
  if (opts.sparse === undefined) return moeOp(x, w, opts);
  return opts.sparse ? moeSparse(x, w, opts) : moeRef(x, w, opts);
}

const moeOp = defineOp("moeForward", { ref: moeRef, ops: moeRef, host: moeSparse });

/** The sparse form of {@linkcode moeForward}: each expert on its own tokens. */
function moeSparse(x: tf.Tensor2D, w: MoEWeights, opts: MoEOptions): MoEOutput {
  const { E } = checkMoE("moeForward", x, w, opts);
  if (webgpuBackendActive()) {
    throw new Error(
      `moeForward: sparse = true needs a synchronous read of the routing, which the webgpu backend cannot do; ` +
        `use sparse = false (the default on webgpu).`,
    );
  }
  return tf.tidy(() => {
    const N = x.shape[0];
    const k = opts.topK;
    const r = route(x, w, k);
    const ind = r.indices.dataSync() as Int32Array; // [N·k], row-major
    const rows: number[][] = Array.from({ length: E }, () => []);
    for (let n = 0; n < N; n++) for (let j = 0; j < k; j++) rows[ind[n * k + j]].push(n);
    const gateCols = tf.split(r.gates, E, 1); // E × [N, 1]
    const parts: tf.Tensor2D[] = [];
    const targets: Int32Array[] = [];
    w.experts.forEach((ex, e) => {
      if (rows[e].length === 0) return;
      const idx = Int32Array.from(rows[e]);
      const xe = gatherRows(x, idx);
      const ge = gatherRows(gateCols[e] as tf.Tensor2D, idx); // [n_e, 1]
      parts.push(tf.mul(expert(xe, ex), ge) as tf.Tensor2D);
      targets.push(idx);
    });
    const all = tf.concat(parts, 0) as tf.Tensor2D;
    const idxAll = new Int32Array(targets.reduce((s, t) => s + t.length, 0));
    let o = 0;
    for (const t of targets) (idxAll.set(t, o), (o += t.length));
    const y = scatterRows(all, idxAll, N);
    return { y, auxLoss: loadBalance(r, E, opts.auxAlpha ?? 0.01), probs: r.probs, gates: r.gates };
  });
}

/**
 * Create MoE weights in `params` with PyTorch nn.Linear default init, named
 * `${prefix}.router.{weight,bias}` and `${prefix}.experts.${e}.{fc1,fc2}.{weight,bias}`.
 *
 * @param params parameter registry
 * @param prefix name prefix
 * @param d model width
 * @param h expert hidden width
 * @param E number of experts
 * @example
 * ```ts
 * import { initMoE } from "./moe.ts";
 * import { Params } from "./params.ts";
 * import { Rng } from "../rng.ts";
 * const w = initMoE(new Params(new Rng(0)), "blocks.0.moe", 512, 1024, 8);
 * ```
 */
export function initMoE(params: Params, prefix: string, d: number, h: number, E: number): MoEWeights {
  const [routerW, routerB] = params.linear(`${prefix}.router`, d, E, true);
  const experts: ExpertWeights[] = [];
  for (let e = 0; e < E; e++) {
    const [w1, b1] = params.linear(`${prefix}.experts.${e}.fc1`, d, h, true);
    const [w2, b2] = params.linear(`${prefix}.experts.${e}.fc2`, h, d, true);
    experts.push({
      w1: w1 as tf.Tensor2D,
      b1: b1 as tf.Tensor1D,
      w2: w2 as tf.Tensor2D,
      b2: b2 as tf.Tensor1D,
    });
  }
  return { routerW: routerW as tf.Tensor2D, routerB: routerB as tf.Tensor1D, experts };
}

// ---------------------------------------------------------------------------------------------------------------
// Stacked experts: one [E, …] tensor per weight kind (the layout a grouped kernel reads; the HSSM model keeps its
// experts this way).

/** Weights of a mixture-of-experts layer with the experts stacked along a leading axis E. */
export interface StackedMoEWeights {
  /** Router weight [E, d]. */
  routerW: tf.Tensor2D;
  /** Router bias [E], or null. */
  routerB: tf.Tensor1D | null;
  /** fc1 weights [E, h, d]. */
  w1: tf.Tensor3D;
  /** fc1 biases [E, h]. */
  b1: tf.Tensor2D;
  /** fc2 weights [E, d, h]. */
  w2: tf.Tensor3D;
  /** fc2 biases [E, d]. */
  b2: tf.Tensor2D;
}

/**
 * The per-expert list of stacked weights (differentiable slices, so gradients flow back to the stacks).
 *
 * @param w stacked weights
 * @returns the same weights as {@linkcode MoEWeights}
 * @example
 * ```ts
 * import { initStackedMoE, unstackExperts } from "./moe.ts";
 * import { Params } from "./params.ts";
 * import { Rng } from "../rng.ts";
 * const w = unstackExperts(initStackedMoE(new Params(new Rng(0)), "moe", 8, 16, 4)); // w.experts.length === 4
 * ```
 */
export function unstackExperts(w: StackedMoEWeights): MoEWeights {
  const [w1, b1, w2, b2] = [w.w1, w.b1, w.w2, w.b2].map((t) => tf.unstack(t));
  const experts = w1.map((_, e) => ({
    w1: w1[e] as tf.Tensor2D,
    b1: b1[e] as tf.Tensor1D,
    w2: w2[e] as tf.Tensor2D,
    b2: b2[e] as tf.Tensor1D,
  }));
  return { routerW: w.routerW, routerB: w.routerB, experts };
}

/**
 * Create stacked MoE weights in `params` with PyTorch nn.Linear default init per expert (U(±1/√in)), named
 * `${prefix}.router.{weight,bias}`, `${prefix}.w1` [E, h, d], `${prefix}.b1` [E, h], `${prefix}.w2` [E, d, h],
 * `${prefix}.b2` [E, d]. Same parameter count as {@linkcode initMoE}.
 *
 * @param params parameter registry
 * @param prefix name prefix
 * @param d model width
 * @param h expert hidden width
 * @param E number of experts
 * @example
 * ```ts
 * import { initStackedMoE } from "./moe.ts";
 * import { Params } from "./params.ts";
 * import { Rng } from "../rng.ts";
 * const w = initStackedMoE(new Params(new Rng(0)), "blocks.0.moe", 512, 1024, 8); // w.w1.shape = [8, 1024, 512]
 * ```
 */
export function initStackedMoE(
  params: Params,
  prefix: string,
  d: number,
  h: number,
  E: number,
): StackedMoEWeights {
  const [routerW, routerB] = params.linear(`${prefix}.router`, d, E, true);
  const u1 = 1 / Math.sqrt(d), u2 = 1 / Math.sqrt(h);
  return {
    routerW: routerW as tf.Tensor2D,
    routerB: routerB as tf.Tensor1D,
    w1: params.uniform(`${prefix}.w1`, [E, h, d], u1) as tf.Tensor3D,
    b1: params.uniform(`${prefix}.b1`, [E, h], u1) as tf.Tensor2D,
    w2: params.uniform(`${prefix}.w2`, [E, d, h], u2) as tf.Tensor3D,
    b2: params.uniform(`${prefix}.b2`, [E, d], u2) as tf.Tensor2D,
  };
}

/** The signature of every form of {@linkcode moeStacked}. */
export type MoEStackedFn = (x: tf.Tensor2D, w: StackedMoEWeights, opts: MoEOptions) => MoEOutput;

/** Dense reference on stacked weights. */
export const moeStackedRef: MoEStackedFn = (x, w, opts): MoEOutput =>
  tidyOut(() => moeRef(x, unstackExperts(w), opts));

const moeStackedHost: MoEStackedFn = (x, w, opts) => tidyOut(() => moeSparse(x, unstackExperts(w), opts));

/** tf.tidy for a function returning a {@linkcode MoEOutput}. */
function tidyOut(fn: () => MoEOutput): MoEOutput {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as MoEOutput;
}

/**
 * Mixture of experts on stacked weights, same result as {@linkcode moeStackedRef} (the dense reference: every
 * expert on every token, gated). Forms (`dispatch.ts`): `webgpu` grouped WGSL kernels that compute only the top-k
 * experts of each token, without reading the routing back (`moe_webgpu.ts`); `host` the gather → expert →
 * scatter form on cpu and wasm; `ops` and `ref` the dense reference.
 *
 * @param x [N, d] tokens
 * @param w stacked weights
 * @param opts top-k, α
 * @returns y [N, d], auxLoss, probs [N, E], gates [N, E]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initStackedMoE, moeStacked } from "./moe.ts";
 * import { Params } from "./params.ts";
 * import { Rng } from "../rng.ts";
 * const w = initStackedMoE(new Params(new Rng(0)), "moe", 8, 16, 4);
 * const { y, auxLoss } = moeStacked(tf.ones([3, 8]), w, { topK: 2 });
 * ```
 */
export const moeStacked: Op<MoEStackedFn> = defineOp("moeStacked", {
  ref: moeStackedRef,
  ops: moeStackedRef,
  host: moeStackedHost,
  webgpu: (x, w, opts) => moeGroupedWebGPU(x, w, opts, route, loadBalance),
});

/**
 * Routing statistics of one MoE call for logging: the fraction of routed slots each expert received (sums to 1)
 * and the mean router entropy −Σ_e p_e log p_e over tokens (nats; log E when uniform).
 *
 * @param out a {@linkcode MoEOutput}
 * @returns load [E] and entropy (scalar), no gradient
 * @example
 * ```ts
 * // const { load, entropy } = routingStats(moeStacked(x, w, { topK: 2 }));
 * ```
 */
export function routingStats(
  out: Pick<MoEOutput, "probs" | "gates">,
): { load: tf.Tensor1D; entropy: tf.Scalar } {
  return tf.tidy(() => {
    // sign, not cast(greater): a cast bool tensor here corrupted other buffers on tfjs-webgpu
    const chosen = tf.sign(out.gates); // gates ≥ 0: 1 on the chosen experts, 0 elsewhere
    const load = tf.div(tf.sum(chosen, 0), tf.sum(chosen)) as tf.Tensor1D;
    const p = out.probs;
    const entropy = tf.neg(tf.mean(tf.sum(tf.mul(p, tf.log(tf.add(p, 1e-12))), 1))) as tf.Scalar;
    return { load, entropy };
  });
}
