/**
 * The generic language-model shell every ssmlab family builds on: token embedding, optional learned positions,
 * a body (the family's own layers), final norm, tied or untied head, and auxiliary losses reported by name.
 *
 *   x = dropout(E[ids] (+ P[t]))       E [V, d] "tok_emb.emb.weight", P [maxLen, d] "pos_emb.pos.weight"
 *   x = body(x)                         [B, T, d] → [B, T, d], may add named auxiliary loss terms
 *   h = Norm_f(x)                       "norm_f.weight" (+ "norm_f.bias" for LayerNorm)
 *   logits = h Wᵀ                       W = E (tied) or "lm_head.weight" [V, d] (untied)
 *   loss = mean CE(logits, targets) + Σ aux
 *
 * Parameters are created in this order: E, P, the body's (`build()`), Norm_f, then an untied head; so a family
 * that keeps the same body code keeps its initial values for a given seed.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { LmShell } from "./lm.ts";
 * import type { ModelConfig } from "./types.ts";
 * // A family is a subclass that creates its body's parameters in build() and runs them in body():
 * class Identity extends LmShell<ModelConfig & { dim: number }> {
 *   protected build(): void {}
 *   protected body(x: tf.Tensor3D): tf.Tensor3D { return x; }
 * }
 * const m = new Identity({ kind: "identity", vocabSize: 8, maxLen: 4, dim: 2 },
 *   { dim: 2, positions: true, head: "tied", norm: "rms", dropout: 0 }, 1);
 * m.dispose();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel, ModelConfig } from "./types.ts";
import { Params } from "../nn/params.ts";
import { layerNorm, rmsNorm } from "../nn/norm.ts";
import { dropout } from "../nn/linear.ts";
import { embed, tiedHead } from "../nn/embedding.ts";
import { tiedHeadCrossEntropy } from "../nn/head_loss.ts";
import { Rng } from "../rng.ts";

/** Norm kind: "rms" (RMSNorm, eps 1e-6) or "ln" (LayerNorm, eps 1e-5). */
export type NormKind = "rms" | "ln";

/** How the shell around a family's body is built (a family derives it from its config). */
export interface LmShellOptions {
  /** Model width d. */
  dim: number;
  /** Learned absolute positions P [maxLen, d], N(0, 1) (needs a numeric `maxLen`). */
  positions: boolean;
  /** "tied": logits = h Eᵀ; "untied": a separate `lm_head.weight` [V, d], U(±1/√d). */
  head: "tied" | "untied";
  /** Final norm kind. */
  norm: NormKind;
  /** Dropout rate on the embeddings (training mode only). */
  dropout: number;
}

/** Auxiliary loss terms a body adds during one forward pass, by name (each already weighted, a scalar). */
export type AuxLosses = Record<string, tf.Scalar>;

/** Create a norm's parameters under `prefix` ("…norm"): weight (1) and, for LayerNorm, bias (0). */
export function addNorm(p: Params, prefix: string, d: number, kind: NormKind): void {
  p.fill(`${prefix}.weight`, [d], 1);
  if (kind === "ln") p.fill(`${prefix}.bias`, [d], 0);
}

/** Apply the norm whose parameters live under `prefix`. @param x [..., d] @returns [..., d] */
export function applyNorm(
  w: Map<string, tf.Variable>,
  prefix: string,
  x: tf.Tensor,
  kind: NormKind,
): tf.Tensor {
  return kind === "rms"
    ? rmsNorm(x, w.get(`${prefix}.weight`)!, 1e-6)
    : layerNorm(x, w.get(`${prefix}.weight`)!, w.get(`${prefix}.bias`)!, 1e-5);
}

/**
 * The shell: a {@linkcode LanguageModel} whose subclasses supply only `build()` (the body's parameters) and
 * `body()` (its forward pass).
 */
export abstract class LmShell<C extends ModelConfig> implements LanguageModel<C> {
  /** The full, validated config. */
  readonly config: C;
  /** The parameter store (names, shapes, initial values in creation order). */
  readonly params: Params;
  /** How the shell around the body is built. */
  readonly shell: LmShellOptions;
  /** Training mode (dropout on); see `setTraining`. */
  protected training = false;
  /** Generator for dropout masks (seeded from the init seed + 1; restored from checkpoints through `rngs`). */
  dropoutRng: Rng;
  #aux: Record<string, tf.Scalar> = {};

  /**
   * @param config full, validated configuration
   * @param shell how the shell is built around the body
   * @param seed drives every initial value
   * @param dryRun record parameter names and shapes only (see {@linkcode Params}); the model cannot run
   */
  /** Create the shell's and the body's parameters (see the class doc for the order). */
  constructor(config: C, shell: LmShellOptions, seed: number, dryRun = false) {
    this.config = config;
    this.shell = shell;
    const rng = new Rng(seed);
    this.params = new Params(rng, dryRun);
    this.dropoutRng = new Rng(seed + 1);
    const { vocabSize: V, maxLen: T } = config;
    const d = shell.dim;
    // nn.Embedding default init N(0, 1) for both tables.
    this.params.normal("tok_emb.emb.weight", [V, d], 1.0);
    if (shell.positions) {
      if (T === null) {
        throw new Error(`Model "${config.kind}": learned positions need a numeric maxLen, got null.`);
      }
      this.params.normal("pos_emb.pos.weight", [T, d], 1.0);
    }
    this.build();
    addNorm(this.params, "norm_f", d, shell.norm);
    if (shell.head === "untied") this.params.uniform("lm_head.weight", [V, d], 1 / Math.sqrt(d));
  }

  /** Create the body's parameters (between the embeddings and the final norm), in the reference's order. */
  protected abstract build(): void;
  /** Body forward: [B, T, d] → [B, T, d]; may add named auxiliary loss terms to `aux`. */
  protected abstract body(x: tf.Tensor3D, aux: AuxLosses): tf.Tensor3D;

  /** Every parameter under its checkpoint name. */
  get weights(): Map<string, tf.Variable> {
    return this.params.weights;
  }

  /** The model's generators, checkpointed with a training run: `{ dropout }`. */
  get rngs(): Record<string, Rng> {
    return { dropout: this.dropoutRng };
  }

  /** Parameter names and shapes, in creation order (works for dry-run models too). */
  parameterShapes(): Map<string, number[]> {
    if (this.params.dryRun) return new Map(this.params.shapes);
    return new Map([...this.weights].map(([k, v]) => [k, [...v.shape]]));
  }

  /** Number of parameters (a tied head counted once, as PyTorch's `parameters()`). */
  numParams(): number {
    return this.params.count();
  }

  /** Switch dropout on (training) or off (evaluation). */
  setTraining(training: boolean): void {
    this.training = training;
  }

  /** The head matrix [V, d]: the token embedding when tied. */
  protected headWeight(): tf.Variable {
    return this.weights.get(this.shell.head === "tied" ? "tok_emb.emb.weight" : "lm_head.weight")!;
  }

  #hidden(ids: tf.Tensor2D, aux: AuxLosses): tf.Tensor3D {
    const [, T] = ids.shape;
    const maxLen = this.config.maxLen;
    if (maxLen !== null && T > maxLen) {
      throw new Error(
        this.shell.positions
          ? `Sequence length ${T} exceeds the model's learned position table (maxLen = ${maxLen}).`
          : `Sequence length ${T} exceeds the model's maxLen = ${maxLen}.`,
      );
    }
    const w = this.weights;
    let x = embed(w.get("tok_emb.emb.weight")!, ids) as tf.Tensor3D;
    if (this.shell.positions) {
      x = tf.add(x, tf.slice(w.get("pos_emb.pos.weight")!, [0, 0], [T, this.shell.dim])) as tf.Tensor3D;
    }
    x = dropout(x, this.shell.dropout, this.training, this.dropoutRng) as tf.Tensor3D;
    x = this.body(x, aux);
    return applyNorm(w, "norm_f", x, this.shell.norm) as tf.Tensor3D;
  }

  /**
   * Logits of the head.
   * @param ids [B, T] int32
   * @returns [B, T, V]
   */
  logits(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => tiedHead(this.#hidden(ids, {}), this.headWeight()) as tf.Tensor3D);
  }

  /** Next-token log-probabilities. @param ids [B, T] int32 @returns [B, T, V] */
  logProbs(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => tf.logSoftmax(this.logits(ids)) as tf.Tensor3D);
  }

  /**
   * Mean cross-entropy over targets ≠ −100 plus the body's auxiliary terms.
   * @param ids [B, T]
   * @param targets [B, T]
   */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => {
      const aux: AuxLosses = {};
      const h = this.#hidden(ids, aux);
      let l = tiedHeadCrossEntropy(h, this.headWeight(), targets);
      for (const a of Object.values(aux)) l = l.add(a);
      this.#keepAux(aux);
      return l;
    });
  }

  /** The weighted auxiliary terms of the last `loss` call, by name (one host read each). */
  lastAux(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.#aux).map(([k, v]) => [k, v.dataSync()[0]]));
  }

  #keepAux(aux: AuxLosses): void {
    tf.dispose(Object.values(this.#aux));
    this.#aux = Object.fromEntries(Object.entries(aux).map(([k, v]) => [k, tf.keep(tf.clone(v))]));
  }

  /** Release the weights and the kept auxiliary terms. */
  dispose(): void {
    tf.dispose(Object.values(this.#aux));
    this.#aux = {};
    this.params.dispose();
  }
}
