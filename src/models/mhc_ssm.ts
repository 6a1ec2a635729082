/**
 * mHC-SSM: the baseline SSM unit inside a multi-stream residual with static manifold-constrained hyper-connections
 * (docs/models/mhc.md), read from abdulvahapmutlu/mhc-slm `mhc_slm/blocks.py`, `model.py` and `sinkhorn.py`.
 *
 * - **Stream expander**: X = reshape(W_exp x + b_exp) → [B, T, n, d].
 * - **Block** (per layer, all logits static and learned): (optional) pre-adapter on every stream;
 *   u = Σ_i softmax(ℓ_pre)_i X_i; y = SimpleSSMBlock(u); (optional) post-adapter → n stream versions Y_i;
 *   ΔX_i = softmax(ℓ_post)_i Y_i; H = SinkhornKnopp(ℓ_res); X_i ← Σ_j H_ij X_j + ΔX_i (no identity residual).
 * - **Stream-specialized adapters**: shared W_down (d→r), W_up (r→d), RMSNorm_ad across streams and pre/post;
 *   per-stream FiLM scales γ_pre, γ_post ∈ R^{n×r} (init 1) in the SiLU bottleneck; dropout p.
 * - **Aggregator**: x = Σ_i softmax(ℓ_agg)_i X_i → RMSNorm_f → tied head.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { linear } from "../nn/linear.ts";
import { adapterResidual } from "../nn/adapter.ts";
import { simplexWeights, sinkhornKnopp } from "../nn/sinkhorn.ts";
import { streamMix, streamMixRef, streamScale } from "../nn/stream_mix.ts";
import { addSsmBlock, ssmBlock } from "./diag_ssm.ts";
import type { AuxLosses } from "./lm.ts";
import type { ModelSpec } from "./spec.ts";
import { MHC_DEFAULTS, type MhcConfig, MhcFamilyModel, mhcFamilySpec } from "./mhc_family.ts";

export { MHC_PRESETS, type MhcConfig, mhcConfig } from "./mhc_family.ts";

/**
 * Mix streams with a weight vector: Σ_i w_i X_i.
 * @param X [B, T, n, d]
 * @param w [n]
 * @returns [B, T, d]
 */
export function mixStreams(X: tf.Tensor4D, w: tf.Tensor1D): tf.Tensor3D {
  const [B, T, n, d] = X.shape;
  return streamMix(X.reshape([B * T, n, d]), w.reshape([1, n])).reshape([B, T, d]) as tf.Tensor3D;
}

/**
 * Residual stream mixing X̃_i = Σ_j H_ij X_j.
 * @param X [B, T, n, d]
 * @param H [n, n]
 * @returns [B, T, n, d]
 */
export function mixResidual(X: tf.Tensor4D, H: tf.Tensor2D): tf.Tensor4D {
  const [B, T, n, d] = X.shape;
  return streamMix(X.reshape([B * T, n, d]), H).reshape([B, T, n, d]) as tf.Tensor4D;
}

/** Reference of {@linkcode mixResidual} with per-stream slices (test oracle): `streamMixRef` over [B·T, n, d]. */
export function mixResidualRef(X: tf.Tensor4D, H: tf.Tensor2D): tf.Tensor4D {
  const [B, T, n, d] = X.shape;
  return tf.tidy(() => streamMixRef(X.reshape([B * T, n, d]), H).reshape([B, T, n, d]) as tf.Tensor4D);
}

/**
 * The mHC-SSM language model (MHCSLM), static mHC or with stream-specialized adapters.
 *
 * @example
 * ```ts
 * import { MhcSLM } from "./mhc_ssm.ts";
 * import { mhcConfig } from "./mhc_family.ts";
 * const model = new MhcSLM(mhcConfig({ streamAdapters: true }, "tiny"), 1337);
 * // published sizes: static 33,254,596 parameters, with adapters 33,791,684
 * model.dispose();
 * ```
 */
export class MhcSLM extends MhcFamilyModel {
  /**
   * Build an mHC model.
   * @param config fields over `MHC_DEFAULTS` (kind forced to "mhc")
   * @param seed init seed
   * @param dryRun shapes only
   */
  constructor(config: Partial<MhcConfig> = {}, seed = 1337, dryRun = false) {
    super({ ...MHC_DEFAULTS, ...config, kind: "mhc" } as MhcConfig, seed, dryRun);
  }

  /** Stream expander, per-layer mixing logits (+ adapters) and SSM blocks, aggregator, in the reference's order. */
  protected build(): void {
    const { dim: d, nStreams: n, adapterRank: r } = this.config;
    const p = this.params;
    p.linear("expand.proj", d, n * d);
    for (let i = 0; i < this.config.layers; i++) {
      const pre = `blocks.${i}`;
      p.fill(`${pre}.hpre_logits`, [n], 0);
      p.fill(`${pre}.hpost_logits`, [n], 0);
      p.normal(`${pre}.hres_logits`, [n, n], 0.02);
      if (this.config.streamAdapters) {
        p.fill(`${pre}.gamma_pre`, [n, r], 1);
        p.fill(`${pre}.gamma_post`, [n, r], 1);
        p.linear(`${pre}.ad_down`, d, r);
        p.linear(`${pre}.ad_up`, r, d);
        p.fill(`${pre}.ad_norm.weight`, [d], 1);
      }
      addSsmBlock(p, `${pre}.ssm`, this.config);
    }
    p.fill("aggregate.w_logits", [n], 0);
  }

  /**
   * x + adapter(x): W_up(γ ⊙ SiLU(W_down RMSNorm_ad(x) + b_down)) + b_up, dropout (`nn/adapter.ts`, fused on webgpu).
   * @param x [B, T, n, d] (pre) or [B, T, 1, d] (post, broadcast over streams)
   * @param gamma [n, r]
   * @returns [B, T, n, d]
   */
  #adapterResidual(pre: string, x: tf.Tensor4D, gamma: tf.Tensor): tf.Tensor4D {
    const w = this.weights;
    return adapterResidual(x, {
      normW: w.get(`${pre}.ad_norm.weight`)!,
      downW: w.get(`${pre}.ad_down.weight`)!,
      downB: w.get(`${pre}.ad_down.bias`)!,
      upW: w.get(`${pre}.ad_up.weight`)!,
      upB: w.get(`${pre}.ad_up.bias`)!,
      gamma,
    }, { rate: this.config.adapterDropout, training: this.training, rng: this.dropoutRng });
  }

  /**
   * Expand to n streams, L mHC blocks, aggregate; adds `stream_diversity` when its weight is > 0.
   * @param x [B, T, d]
   * @returns [B, T, d]
   */
  protected body(x: tf.Tensor3D, aux: AuxLosses): tf.Tensor3D {
    const { dim: d, nStreams: n, sinkhornIters, sinkhornTemp } = this.config;
    const [B, T] = x.shape;
    const w = this.weights;
    const L = this.config.layers;
    let X = linear(x, w.get("expand.proj.weight")!, w.get("expand.proj.bias")!).reshape([
      B,
      T,
      n,
      d,
    ]) as tf.Tensor4D;
    // The mixing maps are static: compute all layers' simplex weights and Sinkhorn matrices in one batch (the same
    // numbers as layer by layer, with L× fewer GPU dispatches in the forward and backward passes).
    const stack = (suffix: string) =>
      tf.stack([...Array(L).keys()].map((i) => w.get(`blocks.${i}.${suffix}`)!));
    const wPreAll = unstackLayers(simplexWeights(stack("hpre_logits")));
    const wPostAll = unstackLayers(simplexWeights(stack("hpost_logits")));
    const hAll = unstackLayers(sinkhornKnopp(stack("hres_logits"), sinkhornIters, sinkhornTemp));
    for (let i = 0; i < L; i++) {
      const pre = `blocks.${i}`;
      if (this.config.streamAdapters) X = this.#adapterResidual(pre, X, w.get(`${pre}.gamma_pre`)!);
      const wPre = wPreAll[i] as tf.Tensor1D;
      const wPost = wPostAll[i] as tf.Tensor1D;
      const u = mixStreams(X, wPre);
      const y = ssmBlock(w, `${pre}.ssm`, u, this.config, this.training, this.dropoutRng);
      const y4 = y.reshape([B, T, 1, d]) as tf.Tensor4D;
      const Y = this.config.streamAdapters ? this.#adapterResidual(pre, y4, w.get(`${pre}.gamma_post`)!) : y4;
      // ΔX_i = wPost_i · Y_i: distributes y over the streams ([n, 1] map) or, with adapters (n versions of y),
      // scales each stream.
      const dX = (Y.shape[2] === 1
        ? streamMix(Y.reshape([B * T, 1, d]), wPost.reshape([n, 1]))
        : streamScale(Y.reshape([B * T, n, d]), wPost)).reshape([B, T, n, d]);
      X = tf.add(mixResidual(X, hAll[i] as tf.Tensor2D), dX) as tf.Tensor4D;
    }
    if (this.config.streamDiversityCoeff > 0) {
      aux.stream_diversity = streamDiversity(X).mul(this.config.streamDiversityCoeff) as tf.Scalar;
    }
    return mixStreams(X, simplexWeights(w.get("aggregate.w_logits")!));
  }
}

/** Split the leading (layer) axis; tfjs's unstack gradient fails for a single slice, so squeeze that case. */
function unstackLayers(x: tf.Tensor): tf.Tensor[] {
  return x.shape[0] === 1 ? [tf.squeeze(x, [0])] : tf.unstack(x);
}

/**
 * Stream diversity (optional auxiliary loss): mean |G − I| of the Gram matrix of L2-normalised per-stream means.
 * @param X [B, T, n, d]
 */
export function streamDiversity(X: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const n = X.shape[2];
    const m = tf.mean(X, [0, 1]); // [n, d]
    const mn = m.div(tf.norm(m, 2, 1, true).add(1e-8));
    const G = tf.matMul(mn, mn, false, true);
    return tf.mean(tf.abs(G.sub(tf.eye(n)))) as tf.Scalar;
  });
}

/** The mHC spec: the family's fields and presets, `kind: "mhc"`; runs are labelled "mhc_adapters" with adapters. */
export const MHC_SPEC: ModelSpec<MhcConfig> = mhcFamilySpec(
  "mhc",
  "mHC-SSM: the baseline's SSM unit in n residual streams mixed by Sinkhorn-normalised static maps; optional adapters.",
  (config, seed, dryRun) => new MhcSLM(config, seed, dryRun),
  (config) => config.streamAdapters ? "mhc_adapters" : "mhc",
  { mhc_adapters: { streamAdapters: true } },
);
