/**
 * The baseline diagonal-SSM language model of mHC-SSM (docs/models/baseline.md), read from
 * abdulvahapmutlu/mhc-slm `mhc_slm/ssm.py` and `model.py`.
 *
 * - **DiagonalSSM** (state size 1 per channel, time-invariant): a = clamp(σ(logit_a), 1e-4, 1 − 1e-4),
 *   s_t = a ⊙ s_{t−1} + b ⊙ u_t, y_t = c ⊙ s_t + d ⊙ u_t.
 * - **SimpleSSMBlock**: x̂ = RMSNorm(x); [u, g] = W_in x̂ + b_in; u' = causal depthwise conv (k = 3);
 *   u'' = SiLU(u'); y = DiagonalSSM(u''); y ← y ⊙ σ(g); out = W_out y + b_out; dropout.
 * - **BaselineSLM**: x = E[ids] + P[t]; 8 × (x ← x + SimpleSSMBlock(x)); RMSNorm_f; tied head; mean CE
 *   (the shell of `lm.ts` around a body of residual SSM blocks).
 *
 * Weight names and shapes are the reference's PyTorch `state_dict` (listed in docs/models/baseline.md).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Params } from "../nn/params.ts";
import { dropout, linear } from "../nn/linear.ts";
import { ssmGate } from "../nn/ssm_gate.ts";
import { diagScan, diagScanRef } from "../nn/scan.ts";
import { causalDepthwiseConv1d } from "../nn/conv.ts";
import type { Rng } from "../rng.ts";
import { addNorm, applyNorm } from "./lm.ts";
import type { ModelSpec } from "./spec.ts";
import { MHC_DEFAULTS, type MhcConfig, MhcFamilyModel, mhcFamilySpec } from "./mhc_family.ts";

export { addNorm, applyNorm } from "./lm.ts";
export {
  MHC_DEFAULTS,
  MHC_FIELDS,
  MHC_PRESETS,
  type MhcConfig,
  mhcConfig,
  MhcFamilyModel,
  validateMhcConfig,
} from "./mhc_family.ts";

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
 * The baseline diagonal-SSM LM (BaselineSLM): {@linkcode MhcFamilyModel}'s shell around L residual SSM blocks.
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
  /**
   * Build a baseline model.
   * @param config fields over `MHC_DEFAULTS` (kind forced to "baseline")
   * @param seed init seed
   * @param dryRun shapes only
   */
  constructor(config: Partial<MhcConfig> = {}, seed = 1337, dryRun = false) {
    super({ ...MHC_DEFAULTS, ...config, kind: "baseline" } as MhcConfig, seed, dryRun);
  }

  /** L SimpleSSMBlocks `blocks.{i}.ssm`. */
  protected build(): void {
    for (let i = 0; i < this.config.layers; i++) addSsmBlock(this.params, `blocks.${i}.ssm`, this.config);
  }

  /** x ← x + SimpleSSMBlock(x) for each block. @param x [B, T, d] @returns [B, T, d] */
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

/** The baseline's spec: the mHC family's fields and presets, `kind: "baseline"`. */
export const BASELINE_SPEC: ModelSpec<MhcConfig> = mhcFamilySpec(
  "baseline",
  "Diagonal-SSM baseline: residual SimpleSSMBlocks (RMSNorm, gated conv + diagonal scan), tied head.",
  (config, seed, dryRun) => new BaselineSLM(config, seed, dryRun),
);
