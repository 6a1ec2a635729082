/**
 * A port of the Elixir library Edifice's `Edifice.SSM.H3` (v0.2.0, docs/models/h3.md § Edifice): **not the
 * paper's H3** (that is `h3.ts`). It maps continuous features [B, T, embed_dim] to the last timestep's hidden
 * state [B, hidden_size]; both of its "SSMs" are input-dependent (Mamba-like) diagonal SSMs on the same input.
 *
 *   x = Dense(embed_dim → h)(input)                      (identity when embed_dim = h)
 *   num_layers × block:
 *     z = LN(x)
 *     s = SSM_shift(z), g = SSM_diag(z)                  each: B_t = Dense_{h→N}(z_t), C_t = Dense_{h→N}(z_t),
 *                                                        A_n = −exp(a_log_n), Δ = softplus(dt_log) (a scalar),
 *                                                        h_t = e^{ΔA} ⊙ h_{t−1} + Δ B_t z_t,  y_t = C_t · h_t
 *     c = SiLU(causal depthwise Conv1d_k(s ⊙ g) + b)
 *     x = x + Dropout(Dense_{h→h}(c))
 *     x = x + Dropout(Dense_{4h→h}(GELU(Dense_{h→4h}(LN(x)))))
 *   out = LN(x)[:, T − 1]                                [B, h]
 *
 * The SSMs run a true scan (`selectiveScan` of `scan.ts`: a host loop on cpu and wasm, fused kernels on webgpu,
 * the plain loop under `withImpl("ref", …)`), not Edifice's cumulative-product form h_t = P_t·Σ(ΔB u/P) with
 * P_t = Π e^{ΔA}, which loses everything once P_t underflows (A = −64, Δ = 0.01: P_60 ≈ e^{−38}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { EdificeH3 } from "./edifice_h3.ts";
 * const model = EdificeH3.build({ embedDim: 287 });
 * console.log(model.numParams(), EdificeH3.paramCount({ embedDim: 287 })); // 2712584 2712584
 * console.log(EdificeH3.formulaParamCount({ embedDim: 287 })); // 2957056 (Edifice's own param_count/1)
 * const y = model.apply(tf.zeros([2, 60, 287]) as tf.Tensor3D); // [2, 256]
 * model.dispose();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Params } from "../nn/params.ts";
import { dropout, linear } from "../nn/linear.ts";
import { layerNorm } from "../nn/norm.ts";
import { causalDepthwiseConv1d } from "../nn/conv.ts";
import { selectiveScan } from "../nn/scan.ts";
import { Rng } from "../rng.ts";

/** Options of {@linkcode EdificeH3.build}: Edifice's `build/1` options, camel-cased. */
export interface EdificeH3Options {
  /** Features per input frame (required; Edifice's `:embed_dim`). */
  embedDim: number;
  /** Hidden width h (256). */
  hiddenSize?: number;
  /** SSM state size N (64). */
  stateSize?: number;
  /** Kernel size of the short depthwise causal conv (4). */
  convSize?: number;
  /** Number of H3 blocks (4). */
  numLayers?: number;
  /** Dropout after the output projection and the FFN, in training mode (0.1). */
  dropout?: number;
  /** Expected sequence length (60); recorded, any length is accepted. */
  windowSize?: number;
  /** Sequence length (= windowSize unless given). */
  seqLen?: number;
}

/** Every option filled in. */
export type EdificeH3Config = Required<EdificeH3Options>;

/** Edifice's `recommended_defaults/0` (everything but `embedDim`). */
export function recommendedDefaults(): Omit<EdificeH3Config, "embedDim" | "seqLen"> {
  return { hiddenSize: 256, stateSize: 64, convSize: 4, numLayers: 4, dropout: 0.1, windowSize: 60 };
}

/** Fill in the defaults and check every option; errors name the option and what was expected. */
export function edificeH3Config(opts: EdificeH3Options): EdificeH3Config {
  const o = opts ?? ({} as EdificeH3Options);
  const cfg = { ...recommendedDefaults(), ...o } as EdificeH3Config;
  cfg.seqLen = o.seqLen ?? cfg.windowSize;
  for (
    const k of [
      "embedDim",
      "hiddenSize",
      "stateSize",
      "convSize",
      "numLayers",
      "windowSize",
      "seqLen",
    ] as const
  ) {
    const v = cfg[k];
    if (!(Number.isInteger(v) && v >= 1)) {
      throw new Error(
        `EdificeH3.build: option "${k}" must be a positive integer, got "${v}"` +
          (k === "embedDim" && v === undefined ? " (it is required)." : "."),
      );
    }
  }
  if (!(typeof cfg.dropout === "number" && cfg.dropout >= 0 && cfg.dropout < 1)) {
    throw new Error(`EdificeH3.build: option "dropout" must be a number in [0, 1), got "${cfg.dropout}".`);
  }
  return cfg;
}

/** Edifice's `output_size/1`: the hidden size. */
export function outputSize(opts: Partial<EdificeH3Options> = {}): number {
  return opts.hiddenSize ?? recommendedDefaults().hiddenSize;
}

/**
 * Exact parameter count of the built model: input projection E·h + h (when E ≠ h); per block
 * 2h (LN) + 2·(2·(h·N + N) + N + 1) (two SSM branches) + k·h + h (depthwise conv) + h² + h (out proj)
 * + 2h (LN) + 8h² + 5h (FFN); final LN 2h.
 */
export function paramCount(opts: EdificeH3Options): number {
  const { embedDim: E, hiddenSize: h, stateSize: N, convSize: k, numLayers: L } = edificeH3Config(opts);
  const input = E === h ? 0 : E * h + h;
  const branch = 2 * (h * N + N) + N + 1;
  const block = 2 * h + 2 * branch + k * h + h + h * h + h + 2 * h + 8 * h * h + 5 * h;
  return input + L * block + 2 * h;
}

/**
 * Edifice's own `param_count/1` formula: E·h (when E ≠ h) + L·(4hN + h² + h² + 2·h·4h). It leaves out biases,
 * norms, a_log and dt_log and counts the depthwise conv as a dense h × h, so it differs from the built model's
 * count ({@linkcode paramCount}): 2,957,056 vs 2,712,584 at embed_dim 287 and the defaults.
 */
export function formulaParamCount(opts: EdificeH3Options): number {
  const { embedDim: E, hiddenSize: h, stateSize: N, numLayers: L } = edificeH3Config(opts);
  return (E === h ? 0 : E * h) + L * (4 * h * N + h * h + h * h + 2 * h * 4 * h);
}

/** Glorot (Xavier) uniform, Axon's default kernel init: U(±√(6 / (fan_in + fan_out))). */
function glorot(p: Params, name: string, shape: number[], fanIn: number, fanOut: number): void {
  p.uniform(name, shape, Math.sqrt(6 / (fanIn + fanOut)));
}

/** A Dense layer (PyTorch layout [out, in] for `linear`): glorot-uniform kernel, zero bias. */
function dense(p: Params, prefix: string, inF: number, outF: number): void {
  glorot(p, `${prefix}.weight`, [outF, inF], inF, outF);
  p.fill(`${prefix}.bias`, [outF], 0);
}

/** softplus⁻¹(y) = log(eʸ − 1). */
const softplusInv = (y: number) => Math.log(Math.expm1(y));

/** One SSM branch's parameters: B and C projections, a_log = log(n + 1), dt_log = softplus⁻¹(dt). */
function addBranch(p: Params, prefix: string, h: number, N: number, dt: number): void {
  dense(p, `${prefix}.B_proj`, h, N);
  dense(p, `${prefix}.C_proj`, h, N);
  p.add(
    `${prefix}.a_log`,
    [N],
    p.dryRun ? null : Float32Array.from({ length: N }, (_, n) => Math.log(n + 1)),
  );
  p.fill(`${prefix}.dt_log`, [1], softplusInv(dt));
}

/**
 * One input-dependent diagonal SSM branch (Edifice's "shift" or "diag"): a true scan.
 * @param w the weights @param prefix "blocks.i.shift" or "blocks.i.diag" @param z [B, T, h] @returns [B, T, h]
 */
export function edificeBranch(w: Map<string, tf.Variable>, prefix: string, z: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const g = (n: string) => w.get(`${prefix}.${n}`)!;
    const h = z.shape[2];
    const Bt = linear(z, g("B_proj.weight"), g("B_proj.bias")) as tf.Tensor3D; // [B, T, N]
    const Ct = linear(z, g("C_proj.weight"), g("C_proj.bias")) as tf.Tensor3D;
    const A = tf.mul(tf.neg(tf.exp(g("a_log"))), tf.ones([h, 1])) as tf.Tensor2D; // [h, N], the same per channel
    const delta = tf.mul(tf.softplus(g("dt_log")), tf.onesLike(z)) as tf.Tensor3D; // one scalar Δ
    return selectiveScan(z, delta, A, Bt, Ct, null);
  });
}

/** GELU (exact, Axon's `:gelu`): x·Φ(x) = x/2·(1 + erf(x/√2)). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** A built Edifice-style H3 model: weights, forward pass to the last timestep, parameter count. */
export class EdificeH3Model {
  /** The options, defaults filled in. */
  readonly config: EdificeH3Config;
  /** The parameter store (names, shapes, initial values). */
  readonly params: Params;
  /** Generator of dropout masks. */
  readonly dropoutRng: Rng;
  #training = false;

  /** Build the weights (seeded; a dry run records shapes only). */
  constructor(opts: EdificeH3Options, seed = 42, dryRun = false) {
    this.config = edificeH3Config(opts);
    this.params = new Params(new Rng(seed), dryRun);
    this.dropoutRng = new Rng(seed + 1);
    const { embedDim: E, hiddenSize: h, stateSize: N, convSize: k, numLayers: L } = this.config;
    const p = this.params;
    if (E !== h) dense(p, "input_proj", E, h);
    for (let i = 0; i < L; i++) {
      const b = `blocks.${i}`;
      p.fill(`${b}.norm.weight`, [h], 1);
      p.fill(`${b}.norm.bias`, [h], 0);
      addBranch(p, `${b}.shift`, h, N, 0.01);
      addBranch(p, `${b}.diag`, h, N, 0.001);
      glorot(p, `${b}.conv.weight`, [h, 1, k], k, k * h); // Axon kernel {k, 1, h}: fans k and k·h
      p.fill(`${b}.conv.bias`, [h], 0);
      dense(p, `${b}.out_proj`, h, h);
      p.fill(`${b}.ffn_norm.weight`, [h], 1);
      p.fill(`${b}.ffn_norm.bias`, [h], 0);
      dense(p, `${b}.ffn.up`, h, 4 * h);
      dense(p, `${b}.ffn.down`, 4 * h, h);
    }
    p.fill("final_norm.weight", [h], 1);
    p.fill("final_norm.bias", [h], 0);
  }

  /** Every parameter under its name. */
  get weights(): Map<string, tf.Variable> {
    return this.params.weights;
  }

  /** Number of parameters (equals {@linkcode paramCount} of the options). */
  numParams(): number {
    return this.params.count();
  }

  /** Dropout on (training) or off. */
  setTraining(training: boolean): void {
    this.#training = training;
  }

  /**
   * Forward pass over the whole sequence.
   * @param x [B, T, embed_dim] @returns every timestep's final-normed hidden state [B, T, h]
   */
  sequence(x: tf.Tensor3D): tf.Tensor3D {
    const { embedDim: E, hiddenSize: h, numLayers: L } = this.config;
    if (x.rank !== 3 || x.shape[2] !== E || x.shape[1] < 1) {
      throw new Error(
        `EdificeH3: input has shape [${
          x.shape.join(", ")
        }], expected [B, T, embed_dim] = [B, T, ${E}] with T ≥ 1.`,
      );
    }
    return tf.tidy(() => {
      const w = this.weights, g = (n: string) => w.get(n)!;
      const drop = (t: tf.Tensor) => dropout(t, this.config.dropout, this.#training, this.dropoutRng);
      let y: tf.Tensor = E === h ? x : linear(x, g("input_proj.weight"), g("input_proj.bias"));
      for (let i = 0; i < L; i++) {
        const b = `blocks.${i}`;
        const z = layerNorm(y, g(`${b}.norm.weight`), g(`${b}.norm.bias`)) as tf.Tensor3D;
        const comb = tf.mul(
          edificeBranch(w, `${b}.shift`, z),
          edificeBranch(w, `${b}.diag`, z),
        ) as tf.Tensor3D;
        const c = causalDepthwiseConv1d(
          comb,
          g(`${b}.conv.weight`) as tf.Tensor3D,
          g(`${b}.conv.bias`) as tf.Tensor1D,
        );
        const s = tf.mul(c, tf.sigmoid(c)); // SiLU
        y = tf.add(y, drop(linear(s, g(`${b}.out_proj.weight`), g(`${b}.out_proj.bias`))));
        const f = layerNorm(y, g(`${b}.ffn_norm.weight`), g(`${b}.ffn_norm.bias`));
        const up = gelu(linear(f, g(`${b}.ffn.up.weight`), g(`${b}.ffn.up.bias`)));
        y = tf.add(y, drop(linear(up, g(`${b}.ffn.down.weight`), g(`${b}.ffn.down.bias`))));
      }
      return layerNorm(y, g("final_norm.weight"), g("final_norm.bias")) as tf.Tensor3D;
    });
  }

  /** The model's output: the last timestep. @param x [B, T, embed_dim] @returns [B, hidden_size] */
  apply(x: tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(() => {
      const s = this.sequence(x);
      const [B, T, h] = s.shape;
      return tf.reshape(tf.slice(s, [0, T - 1, 0], [B, 1, h]), [B, h]) as tf.Tensor2D;
    });
  }

  /** Release the weights. */
  dispose(): void {
    this.params.dispose();
  }
}

/**
 * Edifice's `Edifice.SSM.H3` module functions: `build`, `outputSize`, `paramCount` (exact), `formulaParamCount`
 * (Edifice's approximation) and `recommendedDefaults`.
 */
export const EdificeH3 = {
  /** Build the model (Edifice's `build/1`); `seed` drives every initial value. */
  build: (opts: EdificeH3Options, seed = 42): EdificeH3Model => new EdificeH3Model(opts, seed),
  outputSize,
  paramCount,
  formulaParamCount,
  recommendedDefaults,
} as const;
