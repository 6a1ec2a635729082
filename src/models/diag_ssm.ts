/**
 * The baseline diagonal-SSM language model of mHC-SSM (docs/models/baseline.md), read from
 * abdulvahapmutlu/mhc-slm `mhc_slm/ssm.py` and `model.py`.
 *
 * - **DiagonalSSM** (state size 1 per channel, time-invariant): a = clamp(σ(logit_a), 1e-4, 1 − 1e-4),
 *   s_t = a ⊙ s_{t−1} + b ⊙ u_t, y_t = c ⊙ s_t + d ⊙ u_t.
 * - **SimpleSSMBlock**: x̂ = RMSNorm(x); [u, g] = W_in x̂ + b_in; u' = causal depthwise conv (k = 3);
 *   u'' = SiLU(u'); y = DiagonalSSM(u''); y ← y ⊙ σ(g); out = W_out y + b_out; dropout.
 * - **BaselineSLM**: x = E[ids] + P[t]; 8 × (x ← x + SimpleSSMBlock(x)); RMSNorm_f; tied head; mean CE.
 *
 * Weight names and shapes are the reference's PyTorch `state_dict` (listed in docs/models/baseline.md).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel, ModelConfig } from "./types.ts";
import { Params } from "../nn/params.ts";
import { layerNorm, rmsNorm } from "../nn/norm.ts";
import { dropout, linear } from "../nn/linear.ts";
import { embed, tiedHead } from "../nn/embedding.ts";
import { ssmGate } from "../nn/ssm_gate.ts";
import { tiedHeadCrossEntropy } from "../nn/head_loss.ts";
import { diagScan, diagScanRef } from "../nn/scan.ts";
import { causalDepthwiseConv1d } from "../nn/conv.ts";
import { Rng } from "../rng.ts";

/** Configuration of the mHC-SSM family (baseline and mHC share it; defaults = the reference CLI's). */
export interface MhcConfig extends ModelConfig {
  /** "baseline" (BaselineSLM) or "mhc" (MHCSLM). */
  kind: "baseline" | "mhc";
  /** Vocabulary size V (GPT-2: 50257, no padding). */
  vocabSize: number;
  /** Sequence length = size of the learned position table (256). */
  maxLen: number;
  /** Model width d (512). */
  dim: number;
  /** Number of blocks L (8). */
  layers: number;
  /** Dropout on embeddings and block outputs (0.0). */
  dropout: number;
  /** Causal depthwise conv kernel size k (3). */
  convKernel: number;
  /** Norm inside blocks and at the end: "rms" (RMSNorm, eps 1e-6) or "ln" (LayerNorm) ("rms"). */
  norm: "rms" | "ln";
  /** Streams n for mHC (4). */
  nStreams: number;
  /** Sinkhorn–Knopp iterations for the residual mixing (8). */
  sinkhornIters: number;
  /** Sinkhorn temperature τ (1.0). */
  sinkhornTemp: number;
  /** Stream-specialized adapters on/off (false). */
  streamAdapters: boolean;
  /** Adapter bottleneck rank r (64). */
  adapterRank: number;
  /** Adapter dropout (0.1 in training, as the reference's train.py). */
  adapterDropout: number;
  /** Weight of the optional stream-diversity auxiliary loss (0.0). */
  streamDiversityCoeff: number;
  /** Scan implementation: "fast" (log-depth parallel scan) or "ref" (plain loop; the test oracle) ("fast"). */
  scan: "fast" | "ref";
}

/** The reference's defaults (`python -m mhc_slm.train`), GPT-2 vocabulary. */
export const MHC_DEFAULTS: MhcConfig = {
  kind: "mhc",
  vocabSize: 50257,
  maxLen: 256,
  dim: 512,
  layers: 8,
  dropout: 0.0,
  convKernel: 3,
  norm: "rms",
  nStreams: 4,
  sinkhornIters: 8,
  sinkhornTemp: 1.0,
  streamAdapters: false,
  adapterRank: 64,
  adapterDropout: 0.1,
  streamDiversityCoeff: 0.0,
  scan: "fast",
};

/** Named presets: `published` is the README configuration; `tiny` runs on a CPU in tests; `small` for notebooks. */
export const MHC_PRESETS: Record<string, Partial<MhcConfig>> = {
  published: {},
  small: { dim: 128, layers: 4, maxLen: 128, adapterRank: 16 },
  tiny: { vocabSize: 128, dim: 16, layers: 2, maxLen: 32, adapterRank: 4 },
};

/** Build a full config from a preset name and overrides, validating every field. */
export function mhcConfig(overrides: Partial<MhcConfig> = {}, preset = "published"): MhcConfig {
  const p = MHC_PRESETS[preset];
  if (!p) {
    throw new Error(
      `Unknown mHC preset "${preset}": expected one of ${Object.keys(MHC_PRESETS).join(", ")}.`,
    );
  }
  const cfg = { ...MHC_DEFAULTS, ...p, ...overrides } as MhcConfig;
  validateMhcConfig(cfg);
  return cfg;
}

/** Throw a clear error for an invalid config field. */
export function validateMhcConfig(cfg: MhcConfig): void {
  const posInt = ["vocabSize", "maxLen", "dim", "layers", "convKernel", "nStreams", "adapterRank"] as const;
  for (const k of posInt) {
    if (!Number.isInteger(cfg[k]) || (cfg[k] as number) < 1) {
      throw new Error(`Model config field "${k}" must be a positive integer, got "${cfg[k]}".`);
    }
  }
  if (!["baseline", "mhc"].includes(cfg.kind)) {
    throw new Error(`Model config field "kind" must be "baseline" or "mhc", got "${cfg.kind}".`);
  }
  if (!["rms", "ln"].includes(cfg.norm)) {
    throw new Error(`Model config field "norm" must be "rms" or "ln", got "${cfg.norm}".`);
  }
  if (!["fast", "ref"].includes(cfg.scan)) {
    throw new Error(`Model config field "scan" must be "fast" or "ref", got "${cfg.scan}".`);
  }
  for (const k of ["dropout", "adapterDropout"] as const) {
    if (!(cfg[k] >= 0 && cfg[k] < 1)) {
      throw new Error(`Model config field "${k}" must be in [0, 1), got "${cfg[k]}".`);
    }
  }
  if (!Number.isInteger(cfg.sinkhornIters) || cfg.sinkhornIters < 0) {
    throw new Error(`Model config field "sinkhornIters" must be an integer ≥ 0, got "${cfg.sinkhornIters}".`);
  }
  if (!(cfg.sinkhornTemp > 0)) {
    throw new Error(`Model config field "sinkhornTemp" must be > 0, got "${cfg.sinkhornTemp}".`);
  }
}

/** Create a norm's parameters under `prefix` ("…norm"): weight (1) and, for LayerNorm, bias (0). */
export function addNorm(p: Params, prefix: string, d: number, kind: "rms" | "ln"): void {
  p.fill(`${prefix}.weight`, [d], 1);
  if (kind === "ln") p.fill(`${prefix}.bias`, [d], 0);
}

/** Apply the norm whose parameters live under `prefix`. @param x [..., d] */
export function applyNorm(
  w: Map<string, tf.Variable>,
  prefix: string,
  x: tf.Tensor,
  kind: "rms" | "ln",
): tf.Tensor {
  return kind === "rms"
    ? rmsNorm(x, w.get(`${prefix}.weight`)!, 1e-6)
    : layerNorm(x, w.get(`${prefix}.weight`)!, w.get(`${prefix}.bias`)!, 1e-5);
}

/**
 * Create a SimpleSSMBlock's parameters under `prefix` with the reference's init (docs/models/baseline.md):
 * Linear U(±1/√in), depthwise conv U(±1/√k), logit_a, b, c ~ N(0, 0.02²), d = 0, norm weight 1.
 */
export function addSsmBlock(p: Params, prefix: string, cfg: MhcConfig): void {
  const d = cfg.dim;
  addNorm(p, `${prefix}.norm`, d, cfg.norm);
  p.linear(`${prefix}.in_proj`, d, 2 * d);
  const kb = 1 / Math.sqrt(cfg.convKernel);
  p.uniform(`${prefix}.dwconv.weight`, [d, 1, cfg.convKernel], kb);
  p.uniform(`${prefix}.dwconv.bias`, [d], kb);
  p.normal(`${prefix}.ssm.logit_a`, [d], 0.02);
  p.normal(`${prefix}.ssm.b`, [d], 0.02);
  p.normal(`${prefix}.ssm.c`, [d], 0.02);
  p.fill(`${prefix}.ssm.d`, [d], 0);
  p.linear(`${prefix}.out_proj`, d, d);
}

/**
 * SimpleSSMBlock forward (pre-norm inside; the caller adds the residual).
 * @param x [B, T, d]
 * @returns [B, T, d]
 */
export function ssmBlock(
  w: Map<string, tf.Variable>,
  prefix: string,
  x: tf.Tensor3D,
  cfg: MhcConfig,
  training: boolean,
  rng: Rng,
): tf.Tensor3D {
  const d = cfg.dim;
  const [B, T] = x.shape;
  const xh = applyNorm(w, `${prefix}.norm`, x, cfg.norm);
  const ug = linear(xh, w.get(`${prefix}.in_proj.weight`)!, w.get(`${prefix}.in_proj.bias`)!);
  const u = tf.slice(ug, [0, 0, 0], [B, T, d]) as tf.Tensor3D;
  const g = tf.slice(ug, [0, 0, d], [B, T, d]);
  const uc = causalDepthwiseConv1d(
    u,
    w.get(`${prefix}.dwconv.weight`)! as tf.Tensor3D,
    w.get(`${prefix}.dwconv.bias`)! as tf.Tensor1D,
  );
  const us = tf.mul(uc, tf.sigmoid(uc)) as tf.Tensor3D; // SiLU
  const a = tf.clipByValue(tf.sigmoid(w.get(`${prefix}.ssm.logit_a`)!), 1e-4, 1 - 1e-4) as tf.Tensor1D;
  const bv = w.get(`${prefix}.ssm.b`)! as tf.Tensor1D;
  const s = cfg.scan === "ref" ? diagScanRef(us, a, bv) : diagScan(us, a, bv);
  // y = (s ⊙ c + u ⊙ D) ⊙ σ(g): a sigmoid gate, not SiLU (one fused kernel on webgpu)
  const y = ssmGate(s, us, g, w.get(`${prefix}.ssm.c`)!, w.get(`${prefix}.ssm.d`)!);
  const out = linear(y, w.get(`${prefix}.out_proj.weight`)!, w.get(`${prefix}.out_proj.bias`)!);
  return dropout(out, cfg.dropout, training, rng) as tf.Tensor3D;
}

/**
 * Shared machinery of the baseline and mHC models: embeddings, final norm, tied head, loss, weight I/O.
 */
export abstract class MhcFamilyModel implements LanguageModel {
  /** The full, validated configuration. */
  readonly config: MhcConfig;
  /** The named parameters (checkpoint names, PyTorch layouts). */
  readonly params: Params;
  /** Whether dropout is active (see `setTraining`). */
  protected training = false;
  /** Generator for dropout masks (seeded from the init seed; the trainer may replace it). */
  dropoutRng: Rng;

  /**
   * @param config full configuration
   * @param seed drives every initial value
   * @param dryRun record parameter names and shapes only (see {@linkcode Params}); the model cannot run
   */
  /** Create the embeddings, the body's parameters and the final norm, drawing every initial value from `seed`. */
  constructor(config: MhcConfig, seed: number, dryRun = false) {
    validateMhcConfig(config);
    this.config = config;
    const rng = new Rng(seed);
    this.params = new Params(rng, dryRun);
    this.dropoutRng = new Rng(seed + 1);
    const { vocabSize: V, dim: d, maxLen: T } = config;
    // nn.Embedding default init N(0, 1) for both tables; the LM head is tied to tok_emb.
    this.params.normal("tok_emb.emb.weight", [V, d], 1.0);
    this.params.normal("pos_emb.pos.weight", [T, d], 1.0);
    this.build();
    addNorm(this.params, "norm_f", d, config.norm);
  }

  /** Create the body's parameters (between embeddings and the final norm) in the reference's order. */
  protected abstract build(): void;
  /** Body forward: [B, T, d] → [B, T, d]; may add auxiliary losses to `aux`. */
  protected abstract body(x: tf.Tensor3D, aux: tf.Scalar[]): tf.Tensor3D;

  /** The parameters under their checkpoint names. */
  get weights(): Map<string, tf.Variable> {
    return this.params.weights;
  }

  /** Parameter names and shapes, in creation order (works for dry-run models too). */
  parameterShapes(): Map<string, number[]> {
    if (this.params.dryRun) return new Map(this.params.shapes);
    return new Map([...this.weights].map(([k, v]) => [k, [...v.shape]]));
  }

  /** Number of parameters (the tied head counted once, as PyTorch's `parameters()`). */
  numParams(): number {
    return this.params.count();
  }

  /** Switch dropout on (training) or off (evaluation). */
  setTraining(training: boolean): void {
    this.training = training;
  }

  #hidden(ids: tf.Tensor2D, aux: tf.Scalar[]): tf.Tensor3D {
    const [, T] = ids.shape;
    if (T > this.config.maxLen) {
      throw new Error(
        `Sequence length ${T} exceeds the model's learned position table (maxLen = ${this.config.maxLen}).`,
      );
    }
    const w = this.weights;
    const pos = tf.slice(w.get("pos_emb.pos.weight")!, [0, 0], [T, this.config.dim]);
    let x = tf.add(embed(w.get("tok_emb.emb.weight")!, ids), pos) as tf.Tensor3D;
    x = dropout(x, this.config.dropout, this.training, this.dropoutRng) as tf.Tensor3D;
    x = this.body(x, aux);
    return applyNorm(w, "norm_f", x, this.config.norm) as tf.Tensor3D;
  }

  /**
   * Logits of the tied head.
   * @param ids [B, T] int32
   * @returns [B, T, V]
   */
  logits(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() =>
      tiedHead(this.#hidden(ids, []), this.weights.get("tok_emb.emb.weight")!) as tf.Tensor3D
    );
  }

  /** Next-token log-probabilities [B, T, V] of ids [B, T]. */
  logProbs(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => tf.logSoftmax(this.logits(ids)) as tf.Tensor3D);
  }

  /**
   * Mean token cross-entropy over targets ≠ −100, plus any auxiliary loss (the fused head + loss; no [B·T, V]
   * logits kept).
   */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => {
      const aux: tf.Scalar[] = [];
      const h = this.#hidden(ids, aux);
      let l = tiedHeadCrossEntropy(h, this.weights.get("tok_emb.emb.weight")!, targets);
      for (const a of aux) l = l.add(a);
      return l;
    });
  }

  /** Release every parameter. */
  dispose(): void {
    this.params.dispose();
  }
}

/**
 * The baseline diagonal-SSM LM (BaselineSLM).
 *
 * @example
 * ```ts
 * import { BaselineSLM, mhcConfig } from "./diag_ssm.ts";
 * const model = new BaselineSLM(mhcConfig({ kind: "baseline" }, "tiny"), 1337);
 * // model.loss(ids, targets) → scalar; model.numParams() at the published config = 32,203,776
 * model.dispose();
 * ```
 */
export class BaselineSLM extends MhcFamilyModel {
  /** A baseline model; `config` overrides the published defaults (`kind` is forced to "baseline"). */
  constructor(config: Partial<MhcConfig> = {}, seed = 1337, dryRun = false) {
    super({ ...MHC_DEFAULTS, ...config, kind: "baseline" } as MhcConfig, seed, dryRun);
  }

  /** L SimpleSSM blocks under `blocks.{i}.ssm`. */
  protected build(): void {
    for (let i = 0; i < this.config.layers; i++) addSsmBlock(this.params, `blocks.${i}.ssm`, this.config);
  }

  /** x ← x + SimpleSSMBlock_i(x) for every block. @param x [B, T, d] @returns [B, T, d] */
  protected body(x: tf.Tensor3D): tf.Tensor3D {
    for (let i = 0; i < this.config.layers; i++) {
      x = tf.add(
        x,
        ssmBlock(this.weights, `blocks.${i}.ssm`, x, this.config, this.training, this.dropoutRng),
      );
    }
    return x;
  }
}
