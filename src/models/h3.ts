/**
 * H3 (Hungry Hungry Hippos, Fu et al., ICLR 2023) as a language model (docs/models/h3.md), read from
 * HazyResearch/H3 `src/models/ssm/h3.py` and `src/models/ssm_seq.py`.
 *
 * - **H3 mixer** on u [B, T, d]: q, k, v = three Linear(d, d) of u; k̃ = K_shift ∗ k + D_k ⊙ k (shift SSM: a
 *   learned causal filter of length N per channel); kv = k̃ ⊙ v (head_dim 1; per head the outer product
 *   k̃ vᵀ for head_dim > 1); y = K_diag ∗ kv + D ⊙ kv (diagonal S4D SSM, kernel as long as the sequence);
 *   o = q ⊙ y (per head Σ_i q_i y[i, j]); out = Linear(d, d) of o.
 * - **Block**: x ← x + drop(mixer(LN₁ x)); x ← x + drop(fc2(GELU_tanh(fc1(LN₂ x)))), fc1: d → 4d.
 * - **LM**: token embedding (no positional embeddings), embedding dropout, L blocks, final LayerNorm, tied head
 *   (the shell of `lm.ts`).
 *
 * The convolutions run through `longConv` (`conv.ts`): blockwise Toeplitz matmuls on cpu and wasm, fused WGSL
 * kernels on webgpu, a plain loop under `withImpl("ref", …)`; the SSM kernels through `ssm_kernel.ts`.
 *
 * @example
 * ```ts
 * import { H3LM, h3Config } from "./h3.ts";
 * const model = new H3LM(h3Config({}, "tiny"), 1);
 * // model.loss(ids, targets) → scalar; h3Config({}, "published") has 126,630,144 parameters (docs/models/h3.md)
 * model.dispose();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "./types.ts";
import { applyNorm, LmShell } from "./lm.ts";
import { defaultConfig, type FieldTable, type ModelSpec, resolveConfig, validateFields } from "./spec.ts";
import type { Params } from "../nn/params.ts";
import { dropout, linear } from "../nn/linear.ts";
import { longConv } from "../nn/conv.ts";
import { diagKernel, type DiagSsmParams, type Discretisation, shiftKernel } from "../nn/ssm_kernel.ts";

/** Configuration of an H3 language model (defaults: the released H3-125M's SSM layers, GPT-2 vocabulary). */
export interface H3Config extends ModelConfig {
  /** Always "h3". */
  kind: "h3";
  /** Vocabulary size V (GPT-2: 50257). */
  vocabSize: number;
  /** Longest sequence accepted (no position table; 2048 as in the paper's training). */
  maxLen: number;
  /** Model width d (768). */
  dim: number;
  /** Number of blocks L (12). */
  layers: number;
  /** SSM state size N: taps of the shift filter, and N/2 complex modes of the diagonal SSM (64). */
  stateSize: number;
  /** Head dimension d_h of the multiplicative interaction (1: elementwise k̃ ⊙ v). */
  headDim: number;
  /** Discretisation of the diagonal SSM: "bilinear" (the repository's default) or "zoh". */
  discretisation: Discretisation;
  /** Smallest initial step Δ (0.001). */
  dtMin: number;
  /** Largest initial step Δ (0.1). */
  dtMax: number;
  /** Dropout on the embeddings (0.1). */
  dropout: number;
  /** Dropout on each mixer and MLP output before the residual add (0.0). */
  residDropout: number;
}

const rate = (help: string, value: number) =>
  ({ value, type: "number", min: 0, max: 1, maxExclusive: true, help }) as const;

/** Every field of {@linkcode H3Config}: default, help, accepted values. */
export const H3_FIELDS: FieldTable<H3Config> = {
  vocabSize: {
    value: 50257,
    type: "int",
    min: 1,
    flag: false,
    help: "Vocabulary size V (set from --tokenizer).",
  },
  maxLen: {
    value: 2048,
    type: "int",
    min: 1,
    flag: "seq_len",
    help: "Training sequence length = longest input accepted (no position table).",
  },
  dim: { value: 768, type: "int", min: 1, help: "Model width d." },
  layers: { value: 12, type: "int", min: 1, help: "Number of H3 blocks L." },
  stateSize: { value: 64, type: "int", min: 2, help: "SSM state size N (even: N/2 complex modes)." },
  headDim: { value: 1, type: "int", min: 1, help: "Head dimension of the k̃ vᵀ interaction (divides dim)." },
  discretisation: {
    value: "bilinear",
    type: "string",
    choices: ["bilinear", "zoh"],
    help: "Discretisation of the diagonal SSM.",
  },
  dtMin: { value: 0.001, type: "number", min: 0, minExclusive: true, help: "Smallest initial step Δ." },
  dtMax: { value: 0.1, type: "number", min: 0, minExclusive: true, help: "Largest initial step Δ." },
  dropout: rate("Dropout on the embeddings.", 0.1),
  residDropout: rate("Dropout on each mixer and MLP output.", 0.0),
};

/**
 * Presets: `published` the SSM layers of H3-125M (d 768, 12 layers; the released hybrid's attention layer is not
 * part of ssmlab); `small30m` about 30 M parameters at the GPT-2 vocabulary (the cross-architecture table);
 * `tiny` runs on a CPU in tests.
 */
export const H3_PRESETS: Record<string, Partial<H3Config>> = {
  published: {},
  small30m: { dim: 384, layers: 6, maxLen: 512 },
  tiny: { vocabSize: 128, dim: 16, layers: 2, stateSize: 8, maxLen: 32 },
};

/** Throw a clear error for an invalid field (names the field and what was expected). */
export function validateH3Config(cfg: H3Config): void {
  validateFields({ kind: "h3", defaults: H3_FIELDS }, cfg);
  if (cfg.stateSize % 2 !== 0) {
    throw new Error(
      `Model config field "stateSize" must be even (N/2 complex modes), got "${cfg.stateSize}".`,
    );
  }
  if (cfg.dim % cfg.headDim !== 0) {
    throw new Error(`Model config field "headDim" must divide dim = ${cfg.dim}, got "${cfg.headDim}".`);
  }
  if (cfg.dtMin > cfg.dtMax) {
    throw new Error(`Model config field "dtMin" must be ≤ dtMax = ${cfg.dtMax}, got "${cfg.dtMin}".`);
  }
}

/**
 * A full, validated H3 config from a preset and overrides.
 * @example
 * ```ts
 * import { h3Config } from "./h3.ts";
 * h3Config({ dim: 32 }, "tiny"); // { kind: "h3", vocabSize: 128, dim: 32, layers: 2, stateSize: 8, … }
 * ```
 */
export function h3Config(overrides: Partial<H3Config> = {}, preset = "published"): H3Config {
  return resolveConfig<H3Config>(
    { kind: "h3", defaults: H3_FIELDS, presets: H3_PRESETS, validate: validateH3Config },
    overrides,
    preset,
  );
}

/**
 * Parameter count by the formula of docs/models/h3.md, per block 12d² + 2dN + 14d + n_h(3N + 2) with
 * n_h = d / d_h heads (= 12d² + 5dN + 16d at d_h = 1), plus V·d (tied head) and the final norm 2d.
 */
export function h3ParamFormula(
  cfg: Pick<H3Config, "vocabSize" | "dim" | "layers" | "stateSize" | "headDim">,
): number {
  const { vocabSize: V, dim: d, layers: L, stateSize: N, headDim } = cfg;
  const nh = d / headDim;
  return V * d + L * (12 * d * d + 2 * d * N + 14 * d + nh * (3 * N + 2)) + 2 * d;
}

/** Linear as the reference's `_init_weights`: W ~ N(0, std²), bias 0. */
function addLinear(p: Params, prefix: string, inF: number, outF: number, std = 0.02): void {
  p.normal(`${prefix}.weight`, [outF, inF], std);
  p.fill(`${prefix}.bias`, [outF], 0);
}

/** The diagonal SSM's initial values (diag-lin): A_m = −0.5 + iπm, B = 1, C ~ CN(0, 1), log Δ ~ U[log dt_min, log dt_max]. */
function addDiagSsm(p: Params, prefix: string, nh: number, N: number, cfg: H3Config): void {
  const M = N / 2, nd = { noDecay: true };
  const [lo, hi] = [Math.log(cfg.dtMin), Math.log(cfg.dtMax)];
  const u = p.dryRun ? null : p.rng.uniformArray(nh, lo, hi);
  p.add(`${prefix}.log_dt`, [nh], u, nd);
  p.fill(`${prefix}.log_A_real`, [nh, M], Math.log(0.5), nd);
  const imag = p.dryRun ? null : Float32Array.from({ length: nh * M }, (_, i) => Math.PI * (i % M));
  p.add(`${prefix}.A_imag`, [nh, M], imag, nd);
  const b = p.dryRun ? null : Float32Array.from({ length: nh * M * 2 }, (_, i) => (i % 2 === 0 ? 1 : 0));
  p.add(`${prefix}.B`, [nh, M, 2], b, nd);
  // torch.randn of a complex dtype: real and imaginary parts each N(0, 1/2)
  p.normal(`${prefix}.C`, [nh, M, 2], Math.SQRT1_2);
}

/** Create one H3 mixer's parameters under `prefix` ("blocks.i.mixer"), in the reference's order. */
export function addH3Mixer(p: Params, prefix: string, cfg: H3Config): void {
  const { dim: d, stateSize: N } = cfg;
  for (const n of ["q_proj", "k_proj", "v_proj"]) addLinear(p, `${prefix}.${n}`, d, d);
  const e1 = p.dryRun ? null : Float32Array.from({ length: d * N }, (_, i) => (i % N === 0 ? 1 : 0));
  p.add(`${prefix}.ssm_k_kernel.B`, [d, N], e1, { noDecay: true });
  p.uniform(`${prefix}.ssm_k_kernel.C`, [d, N], 1 / Math.sqrt(N)); // kaiming_uniform(a=√5) on (d, 1, N)
  p.normal(`${prefix}.ssm_k_D`, [d], 1);
  const nh = d / cfg.headDim;
  addDiagSsm(p, `${prefix}.kernel`, nh, N, cfg);
  p.normal(`${prefix}.D`, [nh], 1);
  addLinear(p, `${prefix}.output_linear`, d, d);
}

/** The diagonal SSM's parameters under `prefix` ("blocks.i.mixer.kernel"). */
function diagParams(w: Map<string, tf.Variable>, prefix: string): DiagSsmParams {
  const g = (n: string) => w.get(`${prefix}.${n}`)!;
  return {
    logDt: g("log_dt") as tf.Tensor1D,
    logAReal: g("log_A_real") as tf.Tensor2D,
    aImag: g("A_imag") as tf.Tensor2D,
    B: g("B") as tf.Tensor3D,
    C: g("C") as tf.Tensor3D,
  };
}

/**
 * y = K_diag ∗ kv + D ⊙ kv with one kernel per head, shared by the head's d_h × d_h products.
 * @param kv [B, T, n_h·d_h·d_h] @param K [n_h, T] @param D [n_h] @returns [B, T, n_h·d_h·d_h]
 */
function diagSsm(kv: tf.Tensor3D, K: tf.Tensor2D, D: tf.Tensor1D, dh: number): tf.Tensor3D {
  if (dh === 1) return tf.add(longConv(kv, K), tf.mul(kv, D)) as tf.Tensor3D;
  const [nh, T] = K.shape, r = dh * dh;
  // repeat each head's kernel and skip r times (a broadcast multiply: tfjs-webgpu's small tile reads to the host)
  const Kr = tf.reshape(tf.mul(tf.expandDims(K, 1), tf.ones([1, r, 1])), [nh * r, T]) as tf.Tensor2D;
  const Dr = tf.reshape(tf.mul(tf.expandDims(D, 1), tf.ones([1, r])), [nh * r]);
  return tf.add(longConv(kv, Kr), tf.mul(kv, Dr)) as tf.Tensor3D;
}

/**
 * H3 mixer forward: Q ⊙ SSM_diag(SSM_shift(K) ⊙ V), then the output projection.
 * @param u [B, T, d] (already normed) @returns [B, T, d]
 */
export function h3Mixer(
  w: Map<string, tf.Variable>,
  prefix: string,
  u: tf.Tensor3D,
  cfg: H3Config,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T, d] = u.shape;
    const g = (n: string) => w.get(`${prefix}.${n}`)!;
    const proj = (n: string) => linear(u, g(`${n}.weight`), g(`${n}.bias`)) as tf.Tensor3D;
    const [q, k, v] = [proj("q_proj"), proj("k_proj"), proj("v_proj")];
    const ks = shiftKernel(g("ssm_k_kernel.B") as tf.Tensor2D, g("ssm_k_kernel.C") as tf.Tensor2D); // [d, N]
    const kt = tf.add(longConv(k, ks), tf.mul(k, g("ssm_k_D"))) as tf.Tensor3D;
    const dh = cfg.headDim, nh = d / dh;
    const K = diagKernel(diagParams(w, `${prefix}.kernel`), T, cfg.discretisation); // [n_h, T]
    let o: tf.Tensor;
    if (dh === 1) {
      o = tf.mul(q, diagSsm(tf.mul(kt, v) as tf.Tensor3D, K, g("D") as tf.Tensor1D, 1));
    } else {
      // kv[h, i, j] = k̃[h·d_h + i] · v[h·d_h + j]; o[h·d_h + j] = Σ_i q[h·d_h + i] · y[h, i, j] (batched
      // matmuls over the B·T·n_h heads, rank 3: tfjs-webgpu has no device kernels for some rank-5 gradients)
      const R = B * T * nh;
      const kv = tf.matMul(tf.reshape(kt, [R, dh, 1]), tf.reshape(v, [R, 1, dh])); // [R, d_h, d_h]
      const y = diagSsm(tf.reshape(kv, [B, T, nh * dh * dh]) as tf.Tensor3D, K, g("D") as tf.Tensor1D, dh);
      o = tf.reshape(tf.matMul(tf.reshape(q, [R, 1, dh]), tf.reshape(y, [R, dh, dh])), [B, T, d]);
    }
    return linear(o, g("output_linear.weight"), g("output_linear.bias")) as tf.Tensor3D;
  });
}

/** GELU, tanh approximation (PyTorch's `approximate="tanh"`). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
  });
}

/**
 * The H3 language model on the LM shell (LayerNorm, tied head, no positions).
 *
 * @example
 * ```ts
 * import { H3LM, h3Config } from "./h3.ts";
 * const m = new H3LM(h3Config({ discretisation: "zoh" }, "tiny"), 7);
 * console.log(m.numParams()); // h3ParamFormula(m.config)
 * m.dispose();
 * ```
 */
export class H3LM extends LmShell<H3Config> {
  /**
   * Validate the config and build the shell and the blocks (embedding rescaled to N(0, 0.02²)).
   * @param config full configuration (validated here)
   * @param seed drives every initial value
   * @param dryRun record parameter names and shapes only
   */
  constructor(config: H3Config, seed = 1337, dryRun = false) {
    validateH3Config(config);
    super(
      config,
      { dim: config.dim, positions: false, head: "tied", norm: "ln", dropout: config.dropout },
      seed,
      dryRun,
    );
    if (!dryRun) {
      // the reference's _init_weights: Embedding N(0, 0.02²) (the shell draws N(0, 1))
      const e = this.weights.get("tok_emb.emb.weight")!;
      const scaled = tf.mul(e, 0.02);
      e.assign(scaled);
      scaled.dispose();
    }
  }

  /** SSM parameters (shift B, log Δ, A, diagonal B) excluded from weight decay, as the reference. */
  get noDecay(): Set<string> {
    return this.params.noDecay;
  }

  /** Per block: norm1, mixer, norm2, mlp.fc1, mlp.fc2 (fc2 ~ N(0, 0.02²/(2L))). */
  protected build(): void {
    const { dim: d, layers: L } = this.config;
    for (let i = 0; i < L; i++) {
      const b = `blocks.${i}`;
      this.params.fill(`${b}.norm1.weight`, [d], 1);
      this.params.fill(`${b}.norm1.bias`, [d], 0);
      addH3Mixer(this.params, `${b}.mixer`, this.config);
      this.params.fill(`${b}.norm2.weight`, [d], 1);
      this.params.fill(`${b}.norm2.bias`, [d], 0);
      addLinear(this.params, `${b}.mlp.fc1`, d, 4 * d);
      addLinear(this.params, `${b}.mlp.fc2`, 4 * d, d, 0.02 / Math.sqrt(2 * L));
    }
  }

  /** Pre-norm residual blocks. @param x [B, T, d] @returns [B, T, d] */
  protected body(x: tf.Tensor3D): tf.Tensor3D {
    const w = this.weights, cfg = this.config;
    const drop = (t: tf.Tensor) => dropout(t, cfg.residDropout, this.training, this.dropoutRng);
    for (let i = 0; i < cfg.layers; i++) {
      const b = `blocks.${i}`;
      const m = h3Mixer(w, `${b}.mixer`, applyNorm(w, `${b}.norm1`, x, "ln") as tf.Tensor3D, cfg);
      x = tf.add(x, drop(m));
      const h = geluTanh(
        linear(
          applyNorm(w, `${b}.norm2`, x, "ln"),
          w.get(`${b}.mlp.fc1.weight`)!,
          w.get(`${b}.mlp.fc1.bias`)!,
        ),
      );
      x = tf.add(x, drop(linear(h, w.get(`${b}.mlp.fc2.weight`)!, w.get(`${b}.mlp.fc2.bias`)!)));
    }
    return x;
  }
}

/** The H3 family's spec (one line in the registry). */
export const H3_SPEC: ModelSpec<H3Config> = {
  kind: "h3",
  description: "H3: shift-SSM on K, diagonal S4D SSM on K̃⊙V, Q gate; pre-norm blocks, 4× MLP, tied head.",
  defaults: H3_FIELDS,
  presets: H3_PRESETS,
  validate: validateH3Config,
  create: (config, seed) => new H3LM(config, seed),
  paramCount: (config) => new H3LM(config, 0, true).numParams(),
};

/** The defaults as a full config. */
export const H3_DEFAULTS: H3Config = { ...defaultConfig({ kind: "h3", defaults: H3_FIELDS }), kind: "h3" };
