/**
 * The character-level curriculum (docs/models/char_curriculum.md): a diffusion character encoder, a small SSM
 * (tinySSM) predicting the next character's coordinates in the frozen encoder map, and a wider SSM (mainSSM) that
 * adds a gated correction on top of the frozen stages. One class, three registered kinds, one per stage:
 *
 * - **char_encoder** (stage 1, a `Trainable`): E [128, d], nothing else (d = 512: exactly 65,536 parameters).
 *   Ē = E / rms(E rows). Denoising: x̃ = Ē[c] + σ ε, σ log-uniform in [noiseMin, noiseMax];
 *   x̂ = Σ_j softmax_j(−‖x̃ − Ē_j‖² / 2σ²) Ē_j (no extra parameters); loss = MSE(x̂, Ē[c])
 *   (+ contextWeight · ‖Ē[c_t] − ½(Ē[c_{t−1}] + Ē[c_{t+1}])‖² / d).
 * - **char_tiny** (stage 2, a `LanguageModel`): u = Ē[ids] [B, T, d]; v = u U₁V₁, g = u U₂V₂ (rank r);
 *   a = σ(logit_a); s = diagScan(v, a, 1 − a); h = s ⊙ SiLU(g); ŷ = h U₃V₃ [B, T, d]
 *   (six d×r / r×d matrices and one d-vector: 6·512·256 + 512 = 786,944 at the post's size).
 * - **char_main** (stage 3, a `LanguageModel`): z = u + ŷ_tiny; v = z W_in, g = z W_g; s = diagScan(v, σ(logit_a), b);
 *   h = (s + d_skip ⊙ v) ⊙ SiLU(g); ŷ = ŷ_tiny + γ ⊙ (h W_out), γ = 0 at init so the stack starts equal to
 *   tinySSM (three d×d matrices and four d-vectors: 3·262,144 + 4·512 = 788,480).
 *
 * Every prediction ŷ is read out by the soft nearest-neighbour rule p(c | prefix) = softmax_c(−‖ŷ − Ē_c‖² / τ),
 * so stages 2 and 3 are proper character LMs (bits per character, BLiMP, generation). The training loss of
 * stages 2–3 is soft-NN (that cross-entropy), MSE or cosine distance to Ē[next], or a weighted mix.
 *
 * The scans are `diagScan` of `../nn/scan.ts` (dispatched: host loop on cpu/wasm, fused WGSL on webgpu;
 * `scan: "ref"` runs the plain-loop oracle). Weight names: `enc.weight`, `tiny.*`, `main.*`, so a later stage
 * loads an earlier one's checkpoint by prefix (`loadFrozenSubmodules`, see `stageFrozenPrefixes`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel, ModelConfig } from "./types.ts";
import { defaultConfig, type FieldTable, type ModelSpec, resolveConfig, validateFields } from "./spec.ts";
import { Params } from "../nn/params.ts";
import { embed } from "../nn/embedding.ts";
import { matmul } from "../nn/matmul.ts";
import { diagScan, diagScanRef } from "../nn/scan.ts";
import { IGNORE_INDEX } from "../nn/losses.ts";
import { Rng } from "../rng.ts";

/** The three stage kinds, in curriculum order. */
export const CHAR_STAGE_KINDS = ["char_encoder", "char_tiny", "char_main"] as const;
/** A stage kind. */
export type CharStageKind = typeof CHAR_STAGE_KINDS[number];
/** Training losses of stages 2–3. */
export const CHAR_LOSSES = ["softnn", "mse", "cosine", "mix"] as const;
/** A stage-2/3 training loss. */
export type CharLoss = typeof CHAR_LOSSES[number];

/** Config of every stage (fields a stage does not use are ignored by it, and kept for its successors). */
export interface CharCurriculumConfig extends ModelConfig {
  /** "char_encoder" (stage 1), "char_tiny" (stage 2) or "char_main" (stage 3). */
  kind: CharStageKind;
  /** Width d of the embedding map and of both SSMs. */
  dim: number;
  /** Rank r of tinySSM's low-rank projections. */
  rank: number;
  /** Smallest denoising noise level σ (stage 1). */
  noiseMin: number;
  /** Largest denoising noise level σ (stage 1); σ is log-uniform in [noiseMin, noiseMax]. */
  noiseMax: number;
  /** Characters per step that get noised and denoised (stage 1; the first ones of the batch). */
  denoiseSamples: number;
  /** Weight of the neighbour-context term of stage 1 (0 = pure denoising). */
  contextWeight: number;
  /** Soft nearest-neighbour temperature τ: logits = −‖ŷ − Ē_c‖² / τ. */
  temperature: number;
  /** Training loss of stages 2–3. */
  loss: CharLoss;
  /** Weight of the MSE term in the "mix" loss (soft-NN weight 1). */
  mixMse: number;
  /** Weight of the cosine term in the "mix" loss. */
  mixCosine: number;
  /** Initial value of mainSSM's residual gate γ: "zero" (stack = tinySSM at init) or "one" (plain residual). */
  gateInit: "zero" | "one";
  /** Scan implementation: dispatched fast kernels ("fast") or the plain-loop reference ("ref"). */
  scan: "fast" | "ref";
}

/** The field table: default, help and bounds of every field (the CLI's flags come from it). */
export const CHAR_FIELDS: FieldTable<CharCurriculumConfig> = {
  vocabSize: { value: 128, type: "int", min: 2, help: "Character vocabulary (the 128 ASCII codes)." },
  maxLen: { value: null, type: "int", min: 1, nullable: true, help: "Longest input (null: unbounded)." },
  dim: { value: 512, type: "int", min: 1, help: "Width d of the embedding map and of both SSMs." },
  rank: { value: 256, type: "int", min: 1, help: "Rank r of tinySSM's low-rank projections." },
  noiseMin: { value: 1, type: "number", min: 0, minExclusive: true, help: "Smallest denoising σ (stage 1)." },
  noiseMax: { value: 16, type: "number", min: 0, minExclusive: true, help: "Largest denoising σ (stage 1)." },
  denoiseSamples: { value: 4096, type: "int", min: 1, help: "Characters noised per step (stage 1)." },
  contextWeight: { value: 0, type: "number", min: 0, help: "Weight of the stage-1 neighbour-context term." },
  temperature: { value: 64, type: "number", min: 0, minExclusive: true, help: "Soft-NN temperature τ." },
  loss: { value: "softnn", type: "string", choices: CHAR_LOSSES, help: "Training loss of stages 2-3." },
  mixMse: { value: 1, type: "number", min: 0, help: "MSE weight in the mix loss." },
  mixCosine: { value: 1, type: "number", min: 0, help: "Cosine weight in the mix loss." },
  gateInit: {
    value: "zero",
    type: "string",
    choices: ["zero", "one"],
    help: "Initial mainSSM gate: zero (stack = tinySSM) or one.",
  },
  scan: { value: "fast", type: "string", choices: ["fast", "ref"], help: "Scan: fast kernels or ref loop." },
};

/** Presets: `published` = the post's sizes; `small` for notebooks; `tiny` for tests. */
export const CHAR_PRESETS: Record<string, Partial<CharCurriculumConfig>> = {
  published: {},
  small: { dim: 64, rank: 32, denoiseSamples: 1024, temperature: 16 },
  tiny: { dim: 16, rank: 8, denoiseSamples: 64, temperature: 4, noiseMin: 0.5, noiseMax: 4 },
};

/** The stage number (1, 2, 3) of a kind. */
export function charStage(kind: string): 1 | 2 | 3 {
  const i = (CHAR_STAGE_KINDS as readonly string[]).indexOf(kind);
  if (i < 0) {
    throw new Error(
      `Model config field "kind" must be one of ${
        CHAR_STAGE_KINDS.map((k) => `"${k}"`).join(", ")
      }, got "${kind}".`,
    );
  }
  return (i + 1) as 1 | 2 | 3;
}

/** Check every field; errors name the field and what was expected. */
export function validateCharConfig(cfg: CharCurriculumConfig): void {
  charStage(cfg?.kind);
  validateFields({ kind: cfg.kind, defaults: CHAR_FIELDS }, cfg);
  if (cfg.noiseMax < cfg.noiseMin) {
    throw new Error(
      `Model config field "noiseMax" must be ≥ noiseMin (${cfg.noiseMin}), got "${cfg.noiseMax}".`,
    );
  }
  if (cfg.rank > cfg.dim) {
    throw new Error(`Model config field "rank" must be ≤ dim (${cfg.dim}), got "${cfg.rank}".`);
  }
}

/** Weight-name prefixes of the stages before `kind` (what a stage loads frozen from its predecessor). */
export function stageFrozenPrefixes(kind: CharStageKind): string[] {
  return ["enc.", "tiny."].slice(0, charStage(kind) - 1);
}

/** The parameters a stage adds, by name (for docs and tests). */
export function stageParamCount(
  kind: CharStageKind,
  cfg: Pick<CharCurriculumConfig, "dim" | "rank" | "vocabSize">,
): number {
  const { dim: d, rank: r, vocabSize: V } = cfg;
  return [V * d, 6 * d * r + d, 3 * d * d + 4 * d][charStage(kind) - 1];
}

/** Initial decay logits: timescales 1 … 1000 log-spaced over the channels, a = 1 − 1/τ_k, logit = log(a/(1−a)). */
function decayLogits(d: number): Float32Array {
  const out = new Float32Array(d);
  for (let k = 0; k < d; k++) {
    const tau = 1 + Math.pow(1000, d === 1 ? 0 : k / (d - 1)); // 2 … 1001 steps
    const a = 1 - 1 / tau;
    out[k] = Math.log(a / (1 - a));
  }
  return out;
}

/**
 * One stage of the character curriculum (its kind chooses which); stages 2 and 3 are language models over the
 * 128 ASCII codes.
 *
 * @example
 * ```ts
 * import { CharCurriculumModel, charConfig } from "./char_curriculum.ts";
 * const enc = new CharCurriculumModel(charConfig("char_encoder"), 1);
 * enc.numParams(); // 65_536
 * enc.dispose();
 * ```
 */
export class CharCurriculumModel implements LanguageModel<CharCurriculumConfig> {
  /** The full, validated config. */
  readonly config: CharCurriculumConfig;
  /** Stage number (1 encoder, 2 tinySSM, 3 mainSSM). */
  readonly stage: 1 | 2 | 3;
  /** Parameter store (names, shapes, initial values). */
  readonly params: Params;
  /** Names AdamW does not decay: the SSM vectors. */
  readonly noDecay: Set<string>;
  /** Noise generator of the stage-1 denoising loss (checkpointed with a run). */
  noiseRng: Rng;
  #aux: Record<string, tf.Scalar> = {};

  /**
   * Build a stage from its config.
   * @param config full config (validated here)
   * @param seed drives every initial value; the noise generator is seeded with seed + 1
   * @param dryRun shapes only (for parameter counts)
   */
  constructor(config: CharCurriculumConfig, seed = 1337, dryRun = false) {
    validateCharConfig(config);
    this.config = config;
    this.stage = charStage(config.kind);
    this.params = new Params(new Rng(seed), dryRun);
    this.noiseRng = new Rng(seed + 1);
    const { dim: d, rank: r, vocabSize: V } = config;
    const p = this.params;
    p.normal("enc.weight", [V, d], 1);
    if (this.stage >= 2) {
      for (const m of ["in", "gate", "out"]) {
        p.uniform(`tiny.${m}.u`, [d, r], 1 / Math.sqrt(d));
        p.uniform(`tiny.${m}.v`, [r, d], 1 / Math.sqrt(r));
      }
      p.add("tiny.logit_a", [d], dryRun ? null : decayLogits(d), { noDecay: true });
    }
    if (this.stage >= 3) {
      for (const m of ["in", "gate", "out"]) p.uniform(`main.${m}.weight`, [d, d], 1 / Math.sqrt(d));
      p.add("main.logit_a", [d], dryRun ? null : decayLogits(d), { noDecay: true });
      p.fill("main.b", [d], 1, { noDecay: true });
      p.fill("main.d_skip", [d], 0, { noDecay: true });
      p.fill("main.gamma", [d], config.gateInit === "zero" ? 0 : 1, { noDecay: true });
    }
    this.noDecay = p.noDecay;
  }

  /** Every parameter under its checkpoint name. */
  get weights(): Map<string, tf.Variable> {
    return this.params.weights;
  }

  /** The generators to checkpoint: `{ noise }`. */
  get rngs(): Record<string, Rng> {
    return { noise: this.noiseRng };
  }

  /** All parameters of the stage, frozen predecessors included. */
  numParams(): number {
    return this.params.count();
  }

  /** No dropout: training mode changes nothing. */
  setTraining(_training: boolean): void {}

  #w(name: string): tf.Variable {
    return this.weights.get(name)!;
  }

  /** Ē = E / rms over each row (eps 1e-6). @returns [V, d] */
  embeddingMap(): tf.Tensor2D {
    return tf.tidy(() => {
      const e = this.#w("enc.weight");
      return tf.div(e, tf.sqrt(tf.add(tf.mean(tf.square(e), 1, true), 1e-6))) as tf.Tensor2D;
    });
  }

  #scan(u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor3D {
    return this.config.scan === "ref" ? diagScanRef(u, a, b) : diagScan(u, a, b);
  }

  /** x [B, T, n] · W [n, m] → [B, T, m] */
  #proj(x: tf.Tensor3D, w: tf.Tensor): tf.Tensor3D {
    const [B, T, n] = x.shape;
    return matmul(x.reshape([B * T, n]) as tf.Tensor2D, w as tf.Tensor2D).reshape([B, T, -1]) as tf.Tensor3D;
  }

  /** tinySSM's prediction. @param u [B, T, d] @returns ŷ [B, T, d] */
  tinyPredict(u: tf.Tensor3D): tf.Tensor3D {
    const lowRank = (x: tf.Tensor3D, m: string) =>
      this.#proj(this.#proj(x, this.#w(`tiny.${m}.u`)), this.#w(`tiny.${m}.v`));
    const v = lowRank(u, "in");
    const g = lowRank(u, "gate");
    const a = tf.sigmoid(this.#w("tiny.logit_a")) as tf.Tensor1D;
    const s = this.#scan(v, a, tf.sub(1, a) as tf.Tensor1D);
    const h = tf.mul(s, tf.mul(g, tf.sigmoid(g))) as tf.Tensor3D;
    return lowRank(h, "out");
  }

  /** mainSSM's gated correction on top of tinySSM. @param u [B, T, d] @param yTiny [B, T, d] @returns [B, T, d] */
  mainPredict(u: tf.Tensor3D, yTiny: tf.Tensor3D): tf.Tensor3D {
    const z = tf.add(u, yTiny) as tf.Tensor3D;
    const v = this.#proj(z, this.#w("main.in.weight"));
    const g = this.#proj(z, this.#w("main.gate.weight"));
    const a = tf.sigmoid(this.#w("main.logit_a")) as tf.Tensor1D;
    const s = this.#scan(v, a, this.#w("main.b") as tf.Tensor1D);
    const h = tf.mul(tf.add(s, tf.mul(v, this.#w("main.d_skip"))), tf.mul(g, tf.sigmoid(g))) as tf.Tensor3D;
    const delta = this.#proj(h, this.#w("main.out.weight"));
    return tf.add(yTiny, tf.mul(this.#w("main.gamma"), delta)) as tf.Tensor3D;
  }

  /**
   * The stage's prediction of the next character's coordinates (stages 2–3).
   * @param ids [B, T] int32
   * @returns ŷ [B, T, d]
   */
  predict(ids: tf.Tensor2D, map?: tf.Tensor2D): tf.Tensor3D {
    this.#needLm("predict");
    return tf.tidy(() => {
      const e = map ?? this.embeddingMap();
      const u = embed(e, ids) as tf.Tensor3D;
      const yTiny = this.tinyPredict(u);
      return this.stage === 3 ? this.mainPredict(u, yTiny) : yTiny;
    });
  }

  #needLm(what: string): void {
    if (this.stage === 1) {
      throw new Error(
        `The char_encoder stage has no ${what}: it is the stage-1 map trained by denoising, not a language model; ` +
          `use a char_tiny or char_main model for log-probabilities.`,
      );
    }
  }

  /** Soft-NN logits (2 ŷ·Ē_c − ‖Ē_c‖²) / τ (the −‖ŷ‖² term is the same for every c). @returns [B, T, V] */
  softNNLogits(y: tf.Tensor3D, map: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T, d] = y.shape;
      const dots = matmul(y.reshape([B * T, d]) as tf.Tensor2D, tf.transpose(map) as tf.Tensor2D);
      const norms = tf.sum(tf.square(map), 1);
      return tf.div(tf.sub(tf.mul(dots, 2), norms), this.config.temperature).reshape([
        B,
        T,
        -1,
      ]) as tf.Tensor3D;
    });
  }

  /** Next-character soft-NN logits. @param ids [B, T] @returns [B, T, V] */
  logits(ids: tf.Tensor2D): tf.Tensor3D {
    this.#needLm("logits");
    return tf.tidy(() => {
      const map = this.embeddingMap();
      return this.softNNLogits(this.predict(ids, map), map);
    });
  }

  /** Next-character log-probabilities. @param ids [B, T] @returns [B, T, V] */
  logProbs(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => tf.logSoftmax(this.logits(ids)) as tf.Tensor3D);
  }

  /**
   * Stage 1: the denoising MSE (+ context term). Stages 2–3: the configured loss of ŷ against the next
   * character, over targets ≠ −100.
   * @param ids [B, T] @param targets [B, T]
   */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => {
      const terms = this.stage === 1 ? this.#denoiseTerms(ids) : this.#predictionTerms(ids, targets);
      this.#keepAux(terms);
      return Object.values(terms).reduce((a, b) => a.add(b)) as tf.Scalar;
    });
  }

  #denoiseTerms(ids: tf.Tensor2D): Record<string, tf.Scalar> {
    const cfg = this.config;
    const map = this.embeddingMap();
    const flat = ids.reshape([-1]) as tf.Tensor1D;
    const n = Math.min(cfg.denoiseSamples, flat.shape[0]);
    const x = embed(map, flat.slice(0, n)) as tf.Tensor2D; // [n, d]
    const logLo = Math.log(cfg.noiseMin), logHi = Math.log(cfg.noiseMax);
    const sig = new Float32Array(n);
    for (let i = 0; i < n; i++) sig[i] = Math.exp(logLo + (logHi - logLo) * this.noiseRng.uniform());
    const sigma = tf.tensor2d(sig, [n, 1]);
    const eps = tf.tensor2d(this.noiseRng.normalArray(n * cfg.dim), [n, cfg.dim]);
    const noisy = tf.add(x, tf.mul(sigma, eps));
    // ‖x̃ − Ē_j‖² = ‖x̃‖² − 2 x̃·Ē_j + ‖Ē_j‖²
    const d2 = tf.add(
      tf.sub(
        tf.sum(tf.square(noisy), 1, true),
        tf.mul(matmul(noisy as tf.Tensor2D, tf.transpose(map) as tf.Tensor2D), 2),
      ),
      tf.sum(tf.square(map), 1),
    );
    const w = tf.softmax(tf.div(tf.neg(d2), tf.mul(2, tf.square(sigma))));
    const denoised = matmul(w as tf.Tensor2D, map);
    const terms: Record<string, tf.Scalar> = {
      denoise_mse: tf.mean(tf.square(tf.sub(denoised, x))) as tf.Scalar,
    };
    const [B, T] = ids.shape;
    if (cfg.contextWeight > 0 && T >= 3) {
      const u = embed(map, ids) as tf.Tensor3D;
      const mid = u.slice([0, 1, 0], [B, T - 2, -1]);
      const nb = tf.mul(tf.add(u.slice([0, 0, 0], [B, T - 2, -1]), u.slice([0, 2, 0], [B, T - 2, -1])), 0.5);
      terms.context = tf.mul(tf.mean(tf.square(tf.sub(mid, nb))), cfg.contextWeight) as tf.Scalar;
    }
    return terms;
  }

  #predictionTerms(ids: tf.Tensor2D, targets: tf.Tensor2D): Record<string, tf.Scalar> {
    const cfg = this.config;
    const map = this.embeddingMap();
    const y = this.predict(ids, map);
    const [B, T, d] = y.shape;
    const tFlat = targets.reshape([B * T]).cast("int32");
    const valid = tf.notEqual(tFlat, IGNORE_INDEX);
    const mask = tf.cast(valid, "float32");
    const count = tf.maximum(tf.sum(mask), 1);
    const safe = tf.where(valid, tFlat, tf.zerosLike(tFlat)) as tf.Tensor1D;
    const meanOf = (perItem: tf.Tensor) => tf.div(tf.sum(tf.mul(perItem, mask)), count) as tf.Scalar;
    const y2 = y.reshape([B * T, d]);
    const terms: Record<string, tf.Scalar> = {};
    const w = { softnn: 0, mse: 0, cosine: 0 };
    if (cfg.loss === "mix") Object.assign(w, { softnn: 1, mse: cfg.mixMse, cosine: cfg.mixCosine });
    else w[cfg.loss] = 1;
    if (w.softnn > 0) {
      const lp = tf.logSoftmax(this.softNNLogits(y, map).reshape([B * T, -1]));
      const picked = tf.sum(tf.mul(lp, tf.oneHot(safe, cfg.vocabSize)), 1);
      terms.softnn = tf.mul(meanOf(tf.neg(picked)), w.softnn) as tf.Scalar;
    }
    if (w.mse > 0 || w.cosine > 0) {
      const target = embed(map, safe) as tf.Tensor2D; // [BT, d]
      if (w.mse > 0) {
        terms.mse = tf.mul(meanOf(tf.mean(tf.square(tf.sub(y2, target)), 1)), w.mse) as tf.Scalar;
      }
      if (w.cosine > 0) {
        const cos = tf.div(
          tf.sum(tf.mul(y2, target), 1),
          tf.add(tf.mul(tf.norm(y2, 2, 1), tf.norm(target, 2, 1)), 1e-8),
        );
        terms.cosine = tf.mul(meanOf(tf.sub(1, cos)), w.cosine) as tf.Scalar;
      }
    }
    return terms;
  }

  /** The terms of the last `loss` call, by name (each already weighted); they add up to the loss. */
  lastAux(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.#aux).map(([k, v]) => [k, v.dataSync()[0]]));
  }

  #keepAux(terms: Record<string, tf.Scalar>): void {
    tf.dispose(Object.values(this.#aux));
    this.#aux = Object.fromEntries(Object.entries(terms).map(([k, v]) => [k, tf.keep(tf.clone(v))]));
  }

  /** Release the weights and the kept loss terms. */
  dispose(): void {
    tf.dispose(Object.values(this.#aux));
    this.#aux = {};
    this.params.dispose();
  }
}

/**
 * A full, validated config of a stage: defaults, then the preset, then the overrides.
 *
 * @example
 * ```ts
 * import { charConfig } from "./char_curriculum.ts";
 * const cfg = charConfig("char_main", { loss: "mse" }, "tiny"); // dim 16, rank 8, …
 * ```
 */
export function charConfig(
  kind: CharStageKind,
  overrides: Partial<CharCurriculumConfig> = {},
  preset = "published",
): CharCurriculumConfig {
  return resolveConfig<CharCurriculumConfig>(charSpecBase(kind), { ...overrides, kind }, preset);
}

function charSpecBase(kind: CharStageKind) {
  return { kind, defaults: CHAR_FIELDS, presets: CHAR_PRESETS, validate: validateCharConfig };
}

const DESCRIPTIONS: Record<CharStageKind, string> = {
  char_encoder:
    "Character curriculum stage 1: the 128 x d diffusion character map, trained by denoising MSE.",
  char_tiny: "Character curriculum stage 2: tinySSM (rank-r diagonal SSM) predicting the next character's " +
    "coordinates in the frozen map (soft nearest-neighbour readout).",
  char_main: "Character curriculum stage 3: mainSSM, a zero-gated d x d SSM correction on frozen stages 1-2.",
};

/** The spec of one stage kind (its registry line). */
export function charSpec(kind: CharStageKind): ModelSpec<CharCurriculumConfig> {
  return {
    ...charSpecBase(kind),
    description: DESCRIPTIONS[kind],
    defaults: CHAR_FIELDS,
    create: (config, seed) => new CharCurriculumModel(config, seed),
    paramCount: (config) => new CharCurriculumModel(config, 0, true).numParams(),
  };
}

/** Stage 1's registry spec. */
export const CHAR_ENCODER_SPEC: ModelSpec<CharCurriculumConfig> = charSpec("char_encoder");
/** Stage 2's registry spec. */
export const CHAR_TINY_SPEC: ModelSpec<CharCurriculumConfig> = charSpec("char_tiny");
/** Stage 3's registry spec. */
export const CHAR_MAIN_SPEC: ModelSpec<CharCurriculumConfig> = charSpec("char_main");

/** The defaults as a config of `kind` (no preset). */
export function charDefaults(kind: CharStageKind): CharCurriculumConfig {
  return defaultConfig<CharCurriculumConfig>({ kind, defaults: CHAR_FIELDS });
}
