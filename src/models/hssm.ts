/**
 * HSSM: a hierarchical chunked selective-SSM language model with sparse mixture-of-experts blocks
 * (DevHunterAI's HSSM card: vocab 20,000, d_model 512, d_state 32, 6 blocks, 8 experts top-2, expert_dim 1024,
 * chunk_size 4, 73.8M parameters). No source code was published; this is a causal design that matches the card's
 * numbers (docs/models/hssm.md works the count out: 73,766,960).
 *
 *   x_t = E[id_t] + P[t]                                    [B, T, d]     (the LM shell)
 *   z_k = W_dn · concat(x_{ck}, …, x_{ck+c−1}) + b_dn       [B, K, d]     chunker, K = T/c
 *   6 × { z ← z + Mamba(RMSNorm(z));  z ← z + MoE(RMSNorm(z)) }           on the chunk sequence
 *   g_0 = s, g_k = z_{k−1}                                  [B, K, d]     causal chunk shift (s learned)
 *   [u_{ck}, …, u_{ck+c−1}] = split_c(W_up g_k + b_up)      [B, T, d]     expansion back to token positions
 *   h_t = x_t + u_t + DWConv_causal(x)_t                    [B, T, d]     local token path (width c)
 *   logits = RMSNorm_f(h) Eᵀ                                               tied head
 *
 * Causality: chunk k's summary z_k holds tokens ck…ck+c−1, so it reaches tokens ≥ c(k+1) only (the shift); inside
 * a chunk, token t sees its own chunk's tokens ≤ t through the causal conv of width c.
 * A length T that is not a multiple of c is padded on the right inside the body and cropped after: padded
 * positions lie after every real one, so they never change a real position's output.
 *
 * Weight names: `chunker.down.{weight,bias}`, `chunker.start`, `chunker.up.{weight,bias}`,
 * `local_conv.{weight,bias}`, `blocks.{i}.norm_ssm.weight`, `blocks.{i}.mixer.{in_proj.weight, conv1d.weight,
 * conv1d.bias, x_proj.weight, dt_proj.weight, dt_proj.bias, A_log, D, out_proj.weight}`,
 * `blocks.{i}.norm_moe.weight`, `blocks.{i}.moe.{router.weight, router.bias, w1, b1, w2, b2}`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "./types.ts";
import { addNorm, applyNorm, type AuxLosses, LmShell } from "./lm.ts";
import { defaultConfig, type FieldTable, type ModelSpec, validateFields } from "./spec.ts";
import { linear } from "../nn/linear.ts";
import { causalDepthwiseConv1d } from "../nn/conv.ts";
import { selectiveScan } from "../nn/scan.ts";
import { initStackedMoE, moeStacked, routingStats, type StackedMoEWeights } from "../nn/moe.ts";
import type { Params } from "../nn/params.ts";

/** Configuration of an HSSM model (defaults: the card's Config A). */
export interface HssmConfig extends ModelConfig {
  /** Always "hssm". */
  kind: "hssm";
  /** Vocabulary size V (20000, the card's `simple_tokenizer_20k`). */
  vocabSize: number;
  /** Longest sequence = size of the learned position table (1024). */
  maxLen: number;
  /** Model width d (512). */
  dim: number;
  /** Tokens per chunk c (4). */
  chunkSize: number;
  /** Number of HSSM blocks (6). */
  numBlocks: number;
  /** State size N of the selective SSM (32). */
  dState: number;
  /** Inner width factor of the selective SSM, d_inner = expand·d (2). */
  expand: number;
  /** Causal depthwise conv width of the selective SSM (4). */
  dConv: number;
  /** Rank of the Δ projection (32 = ⌈d/16⌉). */
  dtRank: number;
  /** Experts per MoE layer (8). */
  numExperts: number;
  /** Experts per chunk representation (2). */
  topK: number;
  /** Hidden width of each expert (1024). */
  expertDim: number;
  /** Weight α of the Switch load-balance loss, reported as the auxiliary loss "moe_balance" (0.01). */
  balanceCoeff: number;
  /** Dropout on the embeddings (0). */
  dropout: number;
}

/** Every field of {@linkcode HssmConfig} with its default (the card's Config A), help and accepted values. */
export const HSSM_FIELDS: FieldTable<HssmConfig> = {
  vocabSize: {
    value: 20000,
    type: "int",
    min: 1,
    flag: false,
    help: "Vocabulary size V (set from the tokenizer).",
  },
  maxLen: {
    value: 1024,
    type: "int",
    min: 1,
    flag: "seq_len",
    help: "Longest sequence (learned position table).",
  },
  dim: { value: 512, type: "int", min: 1, help: "Model width d_model." },
  chunkSize: { value: 4, type: "int", min: 1, help: "Tokens per chunk of the hierarchical chunker." },
  numBlocks: { value: 6, type: "int", min: 1, help: "Number of HSSM blocks (selective SSM + MoE)." },
  dState: { value: 32, type: "int", min: 1, help: "State size N of the selective SSM." },
  expand: { value: 2, type: "int", min: 1, help: "Selective-SSM inner width factor (d_inner = expand·d)." },
  dConv: { value: 4, type: "int", min: 1, help: "Causal conv width inside the selective SSM." },
  dtRank: { value: 32, type: "int", min: 1, help: "Rank of the selective SSM's Δ projection." },
  numExperts: { value: 8, type: "int", min: 1, help: "Experts per MoE layer." },
  topK: { value: 2, type: "int", min: 1, help: "Experts chosen per chunk representation (top-k routing)." },
  expertDim: { value: 1024, type: "int", min: 1, help: "Hidden width of each expert FFN." },
  balanceCoeff: { value: 0.01, type: "number", min: 0, help: "Weight of the MoE load-balance loss." },
  dropout: {
    value: 0,
    type: "number",
    min: 0,
    max: 1,
    maxExclusive: true,
    help: "Dropout on the embeddings.",
  },
};

/** Presets: `published` = Config A (73.8M); `small` for notebooks; `tiny` for CPU tests. */
export const HSSM_PRESETS: Record<string, Partial<HssmConfig>> = {
  published: {},
  small: { dim: 128, numBlocks: 2, dState: 16, dtRank: 8, expertDim: 256, maxLen: 256 },
  tiny: {
    vocabSize: 128,
    maxLen: 32,
    dim: 16,
    numBlocks: 2,
    dState: 4,
    dtRank: 2,
    numExperts: 4,
    topK: 2,
    expertDim: 24,
  },
};

/**
 * The card's generation settings (`generate_reply(max_length=48, temperature=0.3, top_k=12, top_p=0.78,
 * repetition_penalty=1.45, no_repeat_ngram_size=4)`), as options of `generate()` (src/eval/generate.ts).
 * `max_length` is read as 48 new tokens (the card's function is unpublished; HF's `max_length` would count the
 * prompt too).
 */
export const HSSM_GENERATION = {
  maxNewTokens: 48,
  temperature: 0.3,
  topK: 12,
  topP: 0.78,
  repetitionPenalty: 1.45,
  noRepeatNgramSize: 4,
} as const;

/** Throw an error naming the field for an invalid config. */
export function validateHssmConfig(cfg: HssmConfig): void {
  validateFields({ kind: "hssm", defaults: HSSM_FIELDS }, cfg);
  if (cfg.topK > cfg.numExperts) {
    throw new Error(
      `Model config field "topK" must be at most numExperts = ${cfg.numExperts}, got "${cfg.topK}".`,
    );
  }
}

/** Routing statistics of the last forward pass, per block (for logging at evaluation). */
export interface HssmRoutingStats {
  /** Fraction of routed slots per expert, one row per block (each row sums to 1). */
  load: number[][];
  /** Mean router entropy per block (nats; log E when uniform). */
  entropy: number[];
}

function inverseSoftplus(y: number): number {
  return y + Math.log(-Math.expm1(-y));
}

/** Create one selective-SSM mixer (Mamba-1, bias-free projections) under `p` with Mamba's init. */
function addMixer(params: Params, p: string, cfg: HssmConfig): void {
  const d = cfg.dim, Din = cfg.expand * d, N = cfg.dState, r = cfg.dtRank;
  params.linear(`${p}.in_proj`, d, 2 * Din, false);
  params.uniform(`${p}.conv1d.weight`, [Din, 1, cfg.dConv], 1 / Math.sqrt(cfg.dConv));
  params.uniform(`${p}.conv1d.bias`, [Din], 1 / Math.sqrt(cfg.dConv));
  params.linear(`${p}.x_proj`, Din, r + 2 * N, false);
  params.uniform(`${p}.dt_proj.weight`, [Din, r], 1 / Math.sqrt(r));
  // b_dt = softplus⁻¹(dt), dt = exp(U[log 0.001, log 0.1]) clamped ≥ 1e-4
  const u = params.dryRun ? null : params.rng.uniformArray(Din, Math.log(0.001), Math.log(0.1));
  params.add(
    `${p}.dt_proj.bias`,
    [Din],
    u && u.map((v) => inverseSoftplus(Math.max(Math.exp(v), 1e-4))),
    { noDecay: true },
  );
  const aLog = params.dryRun ? null : new Float32Array(Din * N).map((_, i) => Math.log((i % N) + 1));
  params.add(`${p}.A_log`, [Din, N], aLog, { noDecay: true });
  params.fill(`${p}.D`, [Din], 1, { noDecay: true });
  // out_proj: nn.Linear default, rescaled by 1/√n_layer (Mamba's prenorm residual rescale)
  params.uniform(`${p}.out_proj.weight`, [d, Din], 1 / Math.sqrt(Din) / Math.sqrt(cfg.numBlocks));
}

/**
 * The selective-SSM mixer (Mamba-1): [x, z] = W_in u; x ← SiLU(conv(x)); [δ, B, C] = W_x x;
 * Δ = softplus(W_dt δ + b_dt); y = selectiveScan(x, Δ, −exp(A_log), B, C, D); out = W_out (y ⊙ SiLU(z)).
 * @param u [B, L, d] @returns [B, L, d]
 */
function mixer(w: Map<string, tf.Variable>, p: string, u: tf.Tensor3D, cfg: HssmConfig): tf.Tensor3D {
  const [B, L] = u.shape;
  const Din = cfg.expand * cfg.dim, N = cfg.dState, r = cfg.dtRank;
  const get = (n: string) => w.get(`${p}.${n}`)!;
  const xz = linear(u, get("in_proj.weight"), null);
  const x0 = tf.slice(xz, [0, 0, 0], [B, L, Din]) as tf.Tensor3D;
  const z = tf.slice(xz, [0, 0, Din], [B, L, Din]);
  const xc = causalDepthwiseConv1d(
    x0,
    get("conv1d.weight") as tf.Tensor3D,
    get("conv1d.bias") as tf.Tensor1D,
  );
  const x = tf.mul(xc, tf.sigmoid(xc)) as tf.Tensor3D;
  const dbc = linear(x, get("x_proj.weight"), null);
  const dlow = tf.slice(dbc, [0, 0, 0], [B, L, r]);
  const Bm = tf.slice(dbc, [0, 0, r], [B, L, N]) as tf.Tensor3D;
  const Cm = tf.slice(dbc, [0, 0, r + N], [B, L, N]) as tf.Tensor3D;
  const delta = tf.softplus(linear(dlow, get("dt_proj.weight"), get("dt_proj.bias"))) as tf.Tensor3D;
  const A = tf.neg(tf.exp(get("A_log"))) as tf.Tensor2D;
  const y = selectiveScan(x, delta, A, Bm, Cm, get("D") as tf.Tensor1D);
  const gated = tf.mul(y, tf.mul(z, tf.sigmoid(z)));
  return linear(gated, get("out_proj.weight"), null) as tf.Tensor3D;
}

/**
 * The HSSM language model on the {@linkcode LmShell} (learned positions, RMSNorm_f, tied head).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { HssmLM, hssmConfig } from "./hssm.ts";
 * const model = new HssmLM(hssmConfig({}, "tiny"), 1);
 * const logits = model.logits(tf.tensor2d([[1, 2, 3, 4, 5]], [1, 5], "int32")); // [1, 5, 128]
 * await model.routingStats(); // { load: [[…4 experts…], …], entropy: [...] }
 * model.dispose();
 * ```
 */
export class HssmLM extends LmShell<HssmConfig> {
  #stats: { load: tf.Tensor1D; entropy: tf.Scalar }[] = [];

  /**
   * Build the model from its config.
   * @param config full config (validated here)
   * @param seed init seed
   * @param dryRun record names and shapes only
   */
  constructor(config: HssmConfig, seed = 1337, dryRun = false) {
    validateHssmConfig(config);
    super(
      config,
      { dim: config.dim, positions: true, head: "tied", norm: "rms", dropout: config.dropout },
      seed,
      dryRun,
    );
  }

  /** A_log, D and the Δ bias (Mamba excludes them from weight decay). */
  get noDecay(): Set<string> {
    return this.params.noDecay;
  }

  /** Chunker, blocks, local conv (see the module doc for names). */
  protected build(): void {
    const c = this.config, p = this.params, d = c.dim, k = c.chunkSize;
    // Mamba's model-level init: embeddings N(0, 0.02²) (the shell drew N(0, 1); the same draws, scaled), so the
    // tied head starts with small logits; the learned positions likewise.
    if (!p.dryRun) {
      for (const n of ["tok_emb.emb.weight", "pos_emb.pos.weight"]) {
        const v = this.weights.get(n)!;
        const scaled = tf.mul(v, 0.02);
        v.assign(scaled);
        scaled.dispose();
      }
    }
    p.linear("chunker.down", k * d, d);
    for (let i = 0; i < c.numBlocks; i++) {
      addNorm(p, `blocks.${i}.norm_ssm`, d, "rms");
      addMixer(p, `blocks.${i}.mixer`, c);
      addNorm(p, `blocks.${i}.norm_moe`, d, "rms");
      initStackedMoE(p, `blocks.${i}.moe`, d, c.expertDim, c.numExperts);
    }
    p.fill("chunker.start", [d], 0);
    p.linear("chunker.up", d, k * d);
    const kb = 1 / Math.sqrt(k);
    p.uniform("local_conv.weight", [d, 1, k], kb);
    p.uniform("local_conv.bias", [d], kb);
  }

  #moeWeights(i: number): StackedMoEWeights {
    const g = (n: string) => this.weights.get(`blocks.${i}.moe.${n}`)!;
    return {
      routerW: g("router.weight") as tf.Tensor2D,
      routerB: g("router.bias") as tf.Tensor1D,
      w1: g("w1") as tf.Tensor3D,
      b1: g("b1") as tf.Tensor2D,
      w2: g("w2") as tf.Tensor3D,
      b2: g("b2") as tf.Tensor2D,
    };
  }

  /** Chunk → blocks → shift → expand → local path. @param x [B, T, d] @returns [B, T, d] */
  protected body(x: tf.Tensor3D, aux: AuxLosses): tf.Tensor3D {
    const c = this.config, w = this.weights, d = c.dim, k = c.chunkSize;
    const [B, T] = x.shape;
    const Tp = Math.ceil(T / k) * k, K = Tp / k;
    const xp = Tp === T ? x : tf.pad(x, [[0, 0], [0, Tp - T], [0, 0]]) as tf.Tensor3D;
    let z = linear(tf.reshape(xp, [B, K, k * d]), w.get("chunker.down.weight")!, w.get("chunker.down.bias")!);
    let balance: tf.Scalar | null = null;
    const stats: { load: tf.Tensor1D; entropy: tf.Scalar }[] = [];
    for (let i = 0; i < c.numBlocks; i++) {
      const hs = applyNorm(w, `blocks.${i}.norm_ssm`, z, "rms") as tf.Tensor3D;
      z = tf.add(z, mixer(w, `blocks.${i}.mixer`, hs, c));
      const hm = tf.reshape(applyNorm(w, `blocks.${i}.norm_moe`, z, "rms"), [B * K, d]) as tf.Tensor2D;
      const out = moeStacked(hm, this.#moeWeights(i), { topK: c.topK, auxAlpha: c.balanceCoeff });
      z = tf.add(z, tf.reshape(out.y, [B, K, d]));
      balance = balance ? tf.add(balance, out.auxLoss) : out.auxLoss;
      stats.push(routingStats(out));
    }
    this.#keepStats(stats);
    if (balance) aux.moe_balance = balance;
    // causal shift: chunk k reads the summary of chunk k − 1; chunk 0 reads the learned start vector
    const start = tf.reshape(w.get("chunker.start")!, [1, 1, d]);
    const shifted = tf.concat([tf.tile(start, [B, 1, 1]), tf.slice(z, [0, 0, 0], [B, K - 1, d])], 1);
    const u = tf.reshape(linear(shifted, w.get("chunker.up.weight")!, w.get("chunker.up.bias")!), [B, Tp, d]);
    const local = causalDepthwiseConv1d(
      xp,
      w.get("local_conv.weight") as tf.Tensor3D,
      w.get("local_conv.bias") as tf.Tensor1D,
    );
    const h = tf.add(tf.add(xp, u), local) as tf.Tensor3D;
    return Tp === T ? h : tf.slice(h, [0, 0, 0], [B, T, d]) as tf.Tensor3D;
  }

  #keepStats(stats: { load: tf.Tensor1D; entropy: tf.Scalar }[]): void {
    for (const s of this.#stats) tf.dispose([s.load, s.entropy]);
    this.#stats = stats.map((s) => ({ load: tf.keep(s.load), entropy: tf.keep(s.entropy) }));
  }

  /**
   * Expert-load histogram and router entropy of every block, from the last forward pass (`logits`, `logProbs`
   * or `loss`); read asynchronously (webgpu cannot read synchronously). Empty before the first pass.
   */
  async routingStats(): Promise<HssmRoutingStats> {
    const load = await Promise.all(this.#stats.map(async (s) => Array.from(await s.load.data())));
    const entropy = await Promise.all(this.#stats.map(async (s) => (await s.entropy.data())[0]));
    return { load, entropy };
  }

  /** Release the weights and the kept statistics. */
  override dispose(): void {
    this.#keepStats([]);
    super.dispose();
  }
}

/**
 * A full, validated HSSM config: defaults (Config A), then the preset, then the overrides.
 *
 * @example
 * ```ts
 * import { hssmConfig } from "./hssm.ts";
 * const cfg = hssmConfig({ vocabSize: 300 }, "tiny");
 * ```
 */
export function hssmConfig(overrides: Partial<HssmConfig> = {}, preset = "published"): HssmConfig {
  const p = HSSM_PRESETS[preset];
  if (!p) {
    throw new Error(
      `Unknown hssm preset "${preset}": expected one of ${Object.keys(HSSM_PRESETS).join(", ")}.`,
    );
  }
  const cfg = { ...defaultConfig({ kind: "hssm", defaults: HSSM_FIELDS }), ...p, ...overrides, kind: "hssm" };
  validateHssmConfig(cfg as HssmConfig);
  return cfg as HssmConfig;
}

/** The HSSM family's spec (registered in `registry.ts`). */
export const HSSM_SPEC: ModelSpec<HssmConfig> = {
  kind: "hssm",
  description:
    "HSSM: hierarchical chunker (chunk 4) + selective-SSM blocks with sparse top-2 MoE on chunks, causal shift, tied head.",
  defaults: HSSM_FIELDS,
  presets: HSSM_PRESETS,
  validate: validateHssmConfig,
  create: (config, seed) => new HssmLM(config, seed),
  paramCount: (config) => new HssmLM(config, 0, true).numParams(),
};
