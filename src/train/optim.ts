/**
 * AdamW written by hand over tf.Variables (one flat m and v over all trainable parameters), with PyTorch's `torch.optim.AdamW` semantics:
 *
 * ```
 * p ← p · (1 − lr·wd)                                  (decoupled decay, before the Adam update)
 * m ← β₁ m + (1 − β₁) g ;  v ← β₂ v + (1 − β₂) g²
 * p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
 * ```
 *
 * Weight decay applies to every parameter unless excluded (the model's `noDecay` set plus name patterns).
 * Frozen parameters (`trainable === false` or named in the `frozen` set) get no update of any kind and stay
 * bit-for-bit unchanged. Parameters that receive no gradient on a step are skipped, as PyTorch skips
 * parameters whose `.grad` is `None` (each parameter keeps its own step count).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedWebGPUActive } from "../nn/dispatch.ts";
import {
  type AdamWStepScalars,
  adamwStepWebGPU,
  AdamWWebGPUState,
  flattenGradsWebGPU,
} from "./adamw_webgpu.ts";

/** A parameter-name pattern: an exact name, a glob (`*` any run of characters, `?` one), `/regex/flags`, or a RegExp. */
export type NamePattern = string | RegExp;

function globToRegExp(glob: string): RegExp {
  let re = "^";
  for (const ch of glob) {
    if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(re + "$");
}

/**
 * Compile name patterns into one predicate.
 *
 * @example
 * ```ts
 * import { nameMatcher } from "./optim.ts";
 * const m = nameMatcher(["*.bias", "/norm/", "tok_emb.emb.weight"]);
 * m("blocks.0.ssm.in_proj.bias"); // true
 * m("norm_f.weight"); // true
 * ```
 */
export function nameMatcher(patterns: Iterable<NamePattern> = []): (name: string) => boolean {
  const exact = new Set<string>();
  const res: RegExp[] = [];
  for (const p of patterns) {
    if (p instanceof RegExp) res.push(p);
    else if (typeof p !== "string") {
      throw new Error(`Invalid parameter-name pattern ${JSON.stringify(p)}: expected a string or a RegExp.`);
    } else if (p.length > 2 && p.startsWith("/") && p.lastIndexOf("/") > 0) {
      const end = p.lastIndexOf("/");
      try {
        res.push(new RegExp(p.slice(1, end), p.slice(end + 1)));
      } catch (e) {
        throw new Error(`Invalid regular expression pattern "${p}": ${(e as Error).message}`);
      }
    } else if (p.includes("*") || p.includes("?")) res.push(globToRegExp(p));
    else exact.add(p);
  }
  return (name: string) => exact.has(name) || res.some((r) => r.test(name));
}

/** Hyperparameters of {@linkcode AdamW}. */
export interface AdamWHyper {
  /** Learning rate (default 3e-4); the trainer passes the scheduled value to each step. */
  lr: number;
  /** β₁ (default 0.9). */
  beta1: number;
  /** β₂ (default 0.999). */
  beta2: number;
  /** ε, added after √v̂ (default 1e-8). */
  eps: number;
  /** Decoupled weight decay (default 0.01 as in PyTorch; the reference training uses 0.1). */
  weightDecay: number;
}

/** Options of {@linkcode AdamW}. */
export interface AdamWOptions extends Partial<AdamWHyper> {
  /** Parameter names excluded from weight decay (e.g. the model's `noDecay`). */
  noDecay?: Iterable<string>;
  /** More exclusions as patterns (globs, `/regex/`, RegExp, exact names). */
  noDecayPatterns?: Iterable<NamePattern>;
  /** Parameter names (or patterns) that receive no update at all. */
  frozen?: Iterable<NamePattern>;
  /**
   * On webgpu, run the step as buffer copies and one fused dispatch (`adamw_webgpu.ts`; default true). false
   * keeps the tf-op step there too (the reference; benchmarks compare the two).
   */
  gpuFused?: boolean;
}

/** One parameter's moments. */
export interface AdamWMoments {
  /** First moment (running mean of the gradient), flat. */
  m: Float32Array;
  /** Second moment (running mean of the squared gradient), flat. */
  v: Float32Array;
  /** The parameter's shape. */
  shape: number[];
  /** Number of updates this parameter has received (PyTorch's per-parameter `step`). */
  step: number;
}

/** Serialisable optimizer state (for checkpoints). */
export interface AdamWState {
  /** Number of optimizer steps taken. */
  step: number;
  /** The hyperparameters in effect. */
  hyper: AdamWHyper;
  /** Names frozen by name (variables with `trainable === false` are frozen regardless). */
  frozen: string[];
  /** Moments of every non-frozen parameter. */
  moments: Map<string, AdamWMoments>;
}

/** Options of {@linkcode AdamW.prepareGradients}. */
export interface PrepareOptions {
  /** Divide the flat gradient by this (e.g. the number of accumulated micro-batches; default 1 = none). */
  divisor?: number;
}

/** Options of {@linkcode AdamW.applyPrepared} and of {@linkcode AdamW.applyGradients}. */
export interface ApplyOptions {
  /**
   * Global-norm clip (PyTorch `clip_grad_norm_`: scale = min(1, clipNorm / (norm + 1e-6))); null/undefined =
   * no clipping.
   */
  clipNorm?: number | null;
}

/**
 * The gradients of one step concatenated into one flat float32 vector, in the optimizer's parameter order
 * (zeros where a parameter got no gradient), with their global L2 norm. Made by
 * {@linkcode AdamW.prepareGradients}; consumed by {@linkcode AdamW.applyPrepared}. Holds device memory:
 * `dispose()` it (idempotent) if it is not applied.
 */
export class PreparedGradients {
  #flat: tf.Tensor1D | null;
  #norm: tf.Scalar | null;
  /** @internal */
  constructor(
    flat: tf.Tensor1D | null,
    norm: tf.Scalar | null,
    /** Canonical names of the parameters that received a gradient. */
    readonly present: ReadonlySet<string>,
    /** @internal the optimizer layout version the flat vector follows */
    readonly version: number,
  ) {
    this.#flat = flat;
    this.#norm = norm;
  }
  /** The global L2 norm of the gradients before clipping (owned by this object). */
  get norm(): tf.Scalar {
    if (!this.#norm) throw new Error("PreparedGradients: the norm was not computed or is disposed.");
    return this.#norm;
  }
  /** @internal take the flat gradient (once). */
  takeFlat(): tf.Tensor1D | null {
    const f = this.#flat;
    this.#flat = null;
    return f;
  }
  /** @internal take the norm (the caller owns it afterwards). */
  takeNorm(): tf.Scalar | null {
    const n = this.#norm;
    this.#norm = null;
    return n;
  }
  /** Release the flat gradient and the norm. */
  dispose(): void {
    this.#flat?.dispose();
    this.#norm?.dispose();
    this.#flat = null;
    this.#norm = null;
  }
}

/** The flat layout of the trainable parameters: m and v are one tensor each over all of them, in this order. */
interface Layout {
  names: string[];
  sizes: number[];
  offsets: number[];
  total: number;
  index: Map<string, number>;
  /** null when there is no trainable parameter. */
  m: tf.Variable | null;
  v: tf.Variable | null;
  /** Per-element "decayed by name" mask (bool); null when all or none are decayed. */
  decayMask: tf.Tensor1D | null;
  decayAll: boolean;
  decayNone: boolean;
  version: number;
}

/**
 * AdamW over a map of named tf.Variables.
 *
 * The moments of all trainable parameters are kept as one flat tensor each (m, v), so a step costs a constant
 * number of tensor ops whatever the number of parameters: concatenate the gradients and the parameters, do the
 * Adam math on the flat vectors, split the new values and `assign` them back. On webgpu (unless `gpuFused: false`)
 * the same step is buffer copies and one fused dispatch, the new values going to new tensors that the variables
 * are assigned (`adamw_webgpu.ts`; timings of both forms in
 * results/bench/h100/README.md). Gradient clipping can be fused in
 * (`applyGradients(grads, lr, { clipNorm })`, or {@linkcode AdamW.prepareGradients} +
 * {@linkcode AdamW.applyPrepared} when the norm must be checked on the host before the update, as the trainer
 * does).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { AdamW } from "./optim.ts";
 * const w = new Map([["w", tf.variable(tf.tensor1d([1, 2]), true, "w")]]);
 * const opt = new AdamW(w, { lr: 1e-2, weightDecay: 0.1 });
 * const g = new Map([["w", tf.tensor1d([0.5, -0.5])]]);
 * opt.applyGradients(g);
 * const norm = opt.applyGradients(g, 1e-2, { clipNorm: 1 }); // pre-clip norm, as a scalar tensor
 * norm.dispose();
 * g.get("w")!.dispose();
 * opt.dispose();
 * ```
 */
export class AdamW {
  /** The hyperparameters (lr, betas, eps, weight decay). */
  readonly hyper: AdamWHyper;
  /** Optimizer steps taken. */
  step = 0;
  readonly #params: Map<string, tf.Variable>;
  /** Per-parameter update counts (PyTorch's per-parameter `step`), for every trainable parameter. */
  readonly #steps = new Map<string, number>();
  #layout: Layout | null = null;
  #version = 0;
  readonly #frozen = new Set<string>();
  readonly #noDecay: (name: string) => boolean;
  readonly #alias = new Map<string, string>();
  #constructed = false;
  /** GPU scratch of the fused webgpu step (created on first use). */
  #gpu: AdamWWebGPUState | null = null;
  readonly #gpuFused: boolean;

  /**
   * An optimizer over `params`, with the hyperparameters of `opts` (PyTorch's defaults otherwise).
   * @param params the model's weights by name (moments are created at once for every trainable one)
   * @throws Error on invalid hyperparameters, with the offending value quoted.
   */
  constructor(params: Map<string, tf.Variable>, opts: AdamWOptions = {}) {
    this.hyper = {
      lr: opts.lr ?? 3e-4,
      beta1: opts.beta1 ?? 0.9,
      beta2: opts.beta2 ?? 0.999,
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0.01,
    };
    validateHyper(this.hyper);
    this.#gpuFused = opts.gpuFused ?? true;
    this.#params = params;
    const nd = new Set(opts.noDecay ?? []);
    const pat = nameMatcher(opts.noDecayPatterns ?? []);
    this.#noDecay = (n) => nd.has(n) || pat(n);
    if (opts.frozen) this.freeze(opts.frozen);
    // Tied weights (one tf.Variable under two names, e.g. lm_head.weight = tok_emb.emb.weight) are updated
    // once, under the first name; the other names are aliases.
    const seen = new Map<tf.Variable, string>();
    for (const [name, v] of params) {
      const first = seen.get(v);
      if (first !== undefined) this.#alias.set(name, first);
      else seen.set(v, name);
    }
    this.#constructed = true;
    this.#rebuild();
  }

  /** Whether `name` is decayed. */
  isDecayed(name: string): boolean {
    return this.hyper.weightDecay !== 0 && !this.#noDecay(name);
  }

  /** Whether `name` gets no update (frozen by name, or a variable with `trainable === false`). */
  isFrozen(name: string): boolean {
    const v = this.#params.get(name);
    const c = this.#alias.get(name);
    return this.#frozen.has(name) || (c !== undefined && this.#frozen.has(c)) ||
      (v !== undefined && v.trainable === false);
  }

  /** Names of the parameters that are updated (the order of the flat state). */
  trainableNames(): string[] {
    return [...this.#params.keys()].filter((n) => !this.isFrozen(n) && !this.#alias.has(n));
  }

  /** Names frozen by name (see {@linkcode AdamW.isFrozen}). */
  frozenNames(): string[] {
    return [...this.#frozen];
  }

  /** Number of elements of the flat state (all trainable parameters together). */
  get flatSize(): number {
    return this.#ensure().total;
  }

  /**
   * Freeze parameters (exact names or patterns). Their moments are released; they stay bit-for-bit unchanged.
   * @returns the names frozen
   * @throws Error when a name or pattern matches no parameter.
   */
  freeze(names: Iterable<NamePattern>): string[] {
    const out: string[] = [];
    for (const p of names) {
      const match = nameMatcher([p]);
      const hit = [...this.#params.keys()].filter(match);
      if (hit.length === 0) {
        throw new Error(`Cannot freeze "${String(p)}": no parameter matches it.`);
      }
      for (const hitName of hit) {
        const n = this.#alias.get(hitName) ?? hitName; // freezing a tied alias freezes the tensor
        this.#frozen.add(n);
        out.push(n);
      }
    }
    if (this.#constructed) this.#rebuild();
    return out;
  }

  /** Unfreeze parameters frozen by name (fresh zero moments). */
  unfreeze(names: Iterable<string>): void {
    for (const n of names) {
      const c = this.#alias.get(n) ?? n;
      this.#frozen.delete(c);
    }
    if (this.#constructed) this.#rebuild();
  }

  #ensure(): Layout {
    return this.#layout ?? this.#rebuild();
  }

  /** (Re)build the flat layout over the current trainable set, keeping the moments of parameters still in it. */
  #rebuild(): Layout {
    const names = this.trainableNames();
    const old = this.#layout;
    if (old && old.names.length === names.length && old.names.every((n, i) => n === names[i])) return old;
    const sizes = names.map((n) => this.#params.get(n)!.size);
    const offsets: number[] = [];
    let total = 0;
    for (const s of sizes) {
      offsets.push(total);
      total += s;
    }
    const index = new Map(names.map((n, i) => [n, i]));
    const carry = (flat: tf.Variable | null): tf.Variable | null => {
      if (names.length === 0) return null;
      const t = tf.tidy(() => {
        const parts = names.map((n, i) => {
          const j = old?.index.get(n);
          return j !== undefined && flat ? flat.slice(old!.offsets[j], old!.sizes[j]) : tf.zeros([sizes[i]]);
        });
        return parts.length === 1 ? parts[0] : tf.concat(parts);
      });
      const variable = tf.variable(t, false);
      t.dispose(); // the variable holds its own reference to the data
      return variable;
    };
    const m = carry(old?.m ?? null), v = carry(old?.v ?? null);
    const flags = names.map((n) => !this.#noDecay(n));
    const decayAll = flags.every((f) => f), decayNone = flags.every((f) => !f);
    let decayMask: tf.Tensor1D | null = null;
    if (!decayAll && !decayNone) {
      const mask = new Uint8Array(total);
      names.forEach((_, i) => {
        if (flags[i]) mask.fill(1, offsets[i], offsets[i] + sizes[i]);
      });
      decayMask = tf.tensor1d(mask, "bool");
    }
    if (old) {
      old.m?.dispose();
      old.v?.dispose();
      old.decayMask?.dispose();
    }
    for (const n of [...this.#steps.keys()]) if (!index.has(n)) this.#steps.delete(n);
    for (const n of names) if (!this.#steps.has(n)) this.#steps.set(n, 0);
    this.#layout = {
      names,
      sizes,
      offsets,
      total,
      index,
      m,
      v,
      decayMask,
      decayAll,
      decayNone,
      version: ++this.#version,
    };
    return this.#layout;
  }

  /** Validate gradients and map them to canonical (un-aliased) names. */
  #canonical(
    grads: Map<string, tf.Tensor | null> | Record<string, tf.Tensor | null>,
  ): Map<string, tf.Tensor | null> {
    const raw = grads instanceof Map ? [...grads.entries()] : Object.entries(grads);
    const names = new Set(raw.map(([n]) => this.#alias.get(n) ?? n));
    if (names.size !== raw.length) {
      throw new Error(
        `AdamW: gradients given twice for one tied parameter (${raw.map(([n]) => `"${n}"`).join(", ")}).`,
      );
    }
    const entries = new Map(raw.map(([n, g]) => [this.#alias.get(n) ?? n, g] as const));
    const bad: string[] = [];
    for (const [name, g] of entries) {
      const p = this.#params.get(name);
      if (!p) bad.push(`"${name}" (no such parameter)`);
      else if (g && !sameShape(g.shape, p.shape)) {
        bad.push(`"${name}" (gradient [${g.shape}] vs parameter [${p.shape}])`);
      }
    }
    if (bad.length) throw new Error(`AdamW: bad gradients: ${bad.join(", ")}.`);
    return entries;
  }

  #prepare(
    grads: Map<string, tf.Tensor | null> | Record<string, tf.Tensor | null>,
    withNorm: boolean,
    divisor = 1,
  ): PreparedGradients {
    if (!(divisor > 0) || !Number.isFinite(divisor)) {
      throw new Error(`AdamW: the gradient divisor must be a positive number, got "${divisor}".`);
    }
    const entries = this.#canonical(grads);
    const L = this.#ensure();
    const present = new Set<string>();
    for (const n of L.names) if (entries.get(n)) present.add(n);
    if (present.size === 0) {
      return new PreparedGradients(null, withNorm ? tf.scalar(0) : null, present, L.version);
    }
    const gpuFlat = this.#gpuFused && fusedWebGPUActive() && present.size === L.names.length &&
      L.names.every((n) => entries.get(n)!.dtype === "float32");
    const flat = tf.tidy(() => {
      let f: tf.Tensor1D;
      if (gpuFlat) f = flattenGradsWebGPU(L.names.map((n) => entries.get(n)!), L.total);
      else {
        const parts = L.names.map((n, i) => {
          const g = entries.get(n);
          if (!g) return tf.zeros([L.sizes[i]]);
          return (g.dtype === "float32" ? g : g.cast("float32")).reshape([-1]);
        });
        f = (parts.length === 1 ? parts[0] : tf.concat(parts)) as tf.Tensor1D;
      }
      return divisor === 1 ? f : f.div(tf.scalar(divisor)) as tf.Tensor1D;
    });
    const norm = withNorm ? tf.tidy(() => tf.sqrt(tf.sum(tf.square(flat))) as tf.Scalar) : null;
    return new PreparedGradients(flat, norm, present, L.version);
  }

  /**
   * Concatenate a step's gradients into one flat vector and compute their global L2 norm, without reading
   * anything back and without touching the parameters: the caller can read the norm (e.g. together with the
   * loss), check it, and only then {@linkcode AdamW.applyPrepared} it. The caller keeps ownership of `grads`
   * (they may be disposed right after this call).
   *
   * @throws Error naming gradients whose parameter is unknown or whose shape differs.
   */
  prepareGradients(
    grads: Map<string, tf.Tensor | null> | Record<string, tf.Tensor | null>,
    opts: PrepareOptions = {},
  ): PreparedGradients {
    return this.#prepare(grads, true, opts.divisor ?? 1);
  }

  /**
   * Apply prepared gradients (clipped first when `clipNorm` is given). Consumes the flat gradient; the norm
   * stays owned by `prepared` (dispose it).
   *
   * @throws Error when the learning rate is not positive, or the parameter set changed (freeze/unfreeze)
   *   since the gradients were prepared.
   */
  applyPrepared(prepared: PreparedGradients, lr = this.hyper.lr, opts: ApplyOptions = {}): void {
    checkLr(lr);
    const clip = opts.clipNorm;
    if (clip !== undefined && clip !== null && !(clip > 0)) {
      throw new Error(`Gradient clipping needs a positive max norm, got "${clip}".`);
    }
    const L = this.#ensure();
    if (prepared.version !== L.version) {
      prepared.dispose();
      throw new Error(
        "AdamW.applyPrepared: the trainable parameters changed since the gradients were prepared.",
      );
    }
    const flat = prepared.takeFlat();
    try {
      if (flat === null) {
        this.step++;
        return;
      }
      const clipWith = clip !== undefined && clip !== null ? { clip, norm: prepared.norm } : null;
      this.#update(flat, prepared.present, lr, clipWith);
    } finally {
      flat?.dispose();
    }
  }

  /**
   * One AdamW step.
   *
   * @param grads gradients by parameter name (the caller keeps ownership and disposes them); parameters
   *   without an entry are skipped, as are frozen ones
   * @param lr learning rate for this step (default `hyper.lr`)
   * @param opts with `clipNorm`, the gradients are first clipped to that global L2 norm (in the same flat pass)
   *   and the norm before clipping is returned as a scalar tensor the caller must dispose
   * @throws Error naming gradients whose parameter is unknown or whose shape differs.
   */
  applyGradients(grads: Map<string, tf.Tensor | null> | Record<string, tf.Tensor | null>, lr?: number): void;
  /**
   * One AdamW step with the gradients first clipped to `opts.clipNorm`; returns the norm before clipping (the
   * caller disposes it).
   */
  applyGradients(
    grads: Map<string, tf.Tensor | null> | Record<string, tf.Tensor | null>,
    lr: number | undefined,
    opts: ApplyOptions,
  ): tf.Scalar;
  applyGradients(
    grads: Map<string, tf.Tensor | null> | Record<string, tf.Tensor | null>,
    lr = this.hyper.lr,
    opts?: ApplyOptions,
  ): tf.Scalar | void {
    checkLr(lr);
    const clip = opts?.clipNorm;
    const prepared = this.#prepare(grads, opts !== undefined);
    try {
      this.applyPrepared(prepared, lr, { clipNorm: clip });
      if (opts !== undefined) return prepared.takeNorm()!;
    } finally {
      prepared.dispose();
    }
  }

  /**
   * The Adam math over the flat vectors; `g` is the flat gradient, clipped first to `clipWith.clip` by the
   * global norm `clipWith.norm`. On webgpu, when every parameter has a gradient and one step count, the fused
   * step of `adamw_webgpu.ts`; otherwise tf ops.
   */
  #update(
    g: tf.Tensor1D,
    present: ReadonlySet<string>,
    lr: number,
    clipWith: { clip: number; norm: tf.Scalar } | null = null,
  ): void {
    const L = this.#ensure();
    const { beta1, beta2, eps, weightDecay } = this.hyper;
    this.step++;
    const all = present.size === L.names.length;
    const stepsAfter = L.names.map((n) => this.#steps.get(n)! + (present.has(n) ? 1 : 0));
    const uniform = all && stepsAfter.every((s) => s === stepsAfter[0]);
    const decay = 1 - lr * weightDecay;
    const doDecay = weightDecay !== 0 && !L.decayNone;
    const params = L.names.map((n) => this.#params.get(n)!);
    if (uniform && this.#gpuFused && fusedWebGPUActive() && L.m && L.v) {
      this.#gpu ??= new AdamWWebGPUState();
      adamwStepWebGPU(
        this.#gpu,
        params,
        g,
        L.m,
        L.v,
        clipWith?.norm ?? null,
        this.#fusedScalars(lr, stepsAfter[0], clipWith?.clip ?? 0),
        L.names.map((n) => !this.#noDecay(n)),
        String(L.version),
      );
      for (const n of present) this.#steps.set(n, this.#steps.get(n)! + 1);
      return;
    }
    const clipped = clipWith
      ? tf.tidy(() => {
        const factor = tf.minimum(
          tf.scalar(1),
          tf.div(tf.scalar(clipWith.clip), clipWith.norm.add(tf.scalar(1e-6))),
        );
        return g.mul(factor) as tf.Tensor1D;
      })
      : null;
    if (clipped) g = clipped;
    tf.tidy(() => {
      const flatP = params.map((p) => p.reshape([-1]));
      const p = flatP.length === 1 ? flatP[0] : tf.concat(flatP);
      let bc2: tf.Tensor, stepSize: tf.Tensor, presentMask: tf.Tensor | null = null;
      if (uniform) {
        const s = stepsAfter[0];
        bc2 = tf.scalar(Math.sqrt(1 - Math.pow(beta2, s)));
        stepSize = tf.scalar(lr / (1 - Math.pow(beta1, s)));
      } else {
        // Parameters at different step counts (or without a gradient this step): per-element coefficients.
        const bc2a = new Float32Array(L.total).fill(1), ssa = new Float32Array(L.total);
        const mask = all ? null : new Uint8Array(L.total);
        L.names.forEach((n, i) => {
          if (!present.has(n)) return;
          const s = stepsAfter[i], a = L.offsets[i], b = a + L.sizes[i];
          bc2a.fill(Math.sqrt(1 - Math.pow(beta2, s)), a, b);
          ssa.fill(lr / (1 - Math.pow(beta1, s)), a, b);
          mask?.fill(1, a, b);
        });
        bc2 = tf.tensor1d(bc2a);
        stepSize = tf.tensor1d(ssa);
        if (mask) presentMask = tf.tensor1d(mask, "bool");
      }
      let pd = p;
      if (doDecay) {
        const decayed = p.mul(tf.scalar(decay));
        pd = L.decayAll ? decayed : tf.where(L.decayMask!, decayed, p);
      }
      let m = L.m!.mul(tf.scalar(beta1)).add(g.mul(tf.scalar(1 - beta1)));
      let v = L.v!.mul(tf.scalar(beta2)).add(g.mul(g).mul(tf.scalar(1 - beta2)));
      const denom = v.sqrt().div(bc2).add(tf.scalar(eps));
      let next = pd.sub(m.div(denom).mul(stepSize));
      if (presentMask) {
        // parameters without a gradient keep their values and moments bit for bit
        m = tf.where(presentMask, m, L.m!);
        v = tf.where(presentMask, v, L.v!);
        next = tf.where(presentMask, next, p);
      }
      L.m!.assign(m);
      L.v!.assign(v);
      const pieces = params.length === 1 ? [next] : tf.split(next, L.sizes);
      params.forEach((param, i) => {
        if (present.has(L.names[i])) param.assign(pieces[i].reshape(param.shape));
      });
    });
    clipped?.dispose();
    for (const n of present) this.#steps.set(n, this.#steps.get(n)! + 1);
  }

  /** The scalars of the fused step `s` (1-based, after the update) at learning rate `lr`. */
  #fusedScalars(lr: number, s: number, clip: number): AdamWStepScalars {
    const L = this.#ensure();
    const { beta1, beta2, eps, weightDecay } = this.hyper;
    const doDecay = weightDecay !== 0 && !L.decayNone;
    return {
      beta1,
      beta2,
      eps,
      bc2: Math.sqrt(1 - Math.pow(beta2, s)),
      stepSize: lr / (1 - Math.pow(beta1, s)),
      decay: 1 - lr * weightDecay,
      decayMode: !doDecay ? 0 : L.decayAll ? 1 : 2,
      clip,
    };
  }

  /**
   * Capture support (`capture.ts`): the flat moments (whose data a captured step tracks) and how many fused
   * webgpu updates have written their per-step scalars so far (a capture checks that its update was one).
   */
  captureState(): { m: tf.Variable | null; v: tf.Variable | null; fusedWrites: number } {
    const L = this.#ensure();
    return { m: L.m, v: L.v, fusedWrites: this.#gpu?.writes ?? 0 };
  }

  /**
   * Capture support: account for one fused update that a captured replay runs outside this object. Writes the
   * update's scalars (step size, bias correction and decay for `lr` and the next step number) into the per-step
   * buffer that the replayed dispatch reads, and advances the step counters as {@linkcode AdamW.applyPrepared}
   * does. Call it after submitting the commands before the update and before submitting the update.
   *
   * @throws Error when the learning rate is not positive, or the optimizer cannot take a fused step (not on
   *   webgpu, `gpuFused: false`, or parameters at different step counts).
   */
  replayFusedUpdate(lr: number, clip: number | null): void {
    checkLr(lr);
    const L = this.#ensure();
    const steps = L.names.map((n) => this.#steps.get(n)!);
    if (!this.#gpu || !L.m || !this.#gpuFused || !fusedWebGPUActive() || steps.some((s) => s !== steps[0])) {
      throw new Error(
        "AdamW.replayFusedUpdate: the optimizer is not in a state to take a fused webgpu step.",
      );
    }
    const dev = (tf.backend() as unknown as { device: Parameters<AdamWWebGPUState["scalars"]>[0] }).device;
    const s = this.#fusedScalars(lr, steps[0] + 1, clip ?? 0);
    this.#gpu.writeScalars(dev, s, L.total, clip !== null && clip > 0);
    this.step++;
    for (const n of L.names) this.#steps.set(n, this.#steps.get(n)! + 1);
  }

  /**
   * A copy of the state, the moments read to the host asynchronously (the reads are started at once, before
   * the first await, so the copy is of the state at the time of the call). The per-name format is that of
   * the per-parameter optimizer: the flat moments are sliced by name.
   */
  async getState(): Promise<AdamWState> {
    const L = this.#ensure();
    // Read clones (they share the data, no copy): a step taken before the reads finish assigns the moments new
    // tensors and releases the old ones, which must outlive the reads.
    const held: (tf.Tensor | null)[] = [L.m, L.v].map((t) => (t ? tf.clone(t as tf.Tensor) : null));
    const reads = held.map((t) => t?.data());
    const release = () => tf.dispose(held.filter((t): t is tf.Tensor => t !== null));
    const [mRead, vRead] = reads;
    Promise.allSettled(reads.filter((r) => r !== undefined)).then(release);
    const slots = L.names.map((name, i) => ({
      name,
      shape: [...this.#params.get(name)!.shape],
      step: this.#steps.get(name)!,
      a: L.offsets[i],
      b: L.offsets[i] + L.sizes[i],
    }));
    const step = this.step, hyper = { ...this.hyper }, frozen = [...this.#frozen];
    const moments = new Map<string, AdamWMoments>();
    if (mRead && vRead) {
      const m = await mRead as Float32Array, v = await vRead as Float32Array;
      for (const s of slots) {
        moments.set(s.name, { m: m.slice(s.a, s.b), v: v.slice(s.a, s.b), shape: s.shape, step: s.step });
      }
    }
    return { step, hyper, frozen, moments };
  }

  /**
   * Restore a state saved by {@linkcode AdamW.getState}. Hyperparameters are restored too.
   * @throws Error listing every unknown, missing or mis-shaped moment.
   */
  setState(state: AdamWState): void {
    if (!state || typeof state.step !== "number" || !(state.moments instanceof Map)) {
      throw new Error("AdamW.setState: expected { step, hyper, frozen, moments: Map }.");
    }
    const problems: string[] = [];
    for (const [name, mo] of state.moments) {
      const p = this.#params.get(name);
      if (!p) problems.push(`unknown parameter "${name}"`);
      else if (!sameShape(mo.shape, p.shape) || mo.m.length !== p.size || mo.v.length !== p.size) {
        problems.push(`"${name}" has moments of shape [${mo.shape}] but the parameter is [${p.shape}]`);
      }
    }
    const frozen = new Set(state.frozen ?? []);
    for (const n of frozen) if (!this.#params.has(n)) problems.push(`frozen name "${n}" is not a parameter`);
    if (problems.length) throw new Error(`AdamW.setState: ${problems.join("; ")}.`);
    for (const n of frozen) if (!this.#frozen.has(n)) this.freeze([n]);
    for (const n of [...this.#frozen]) if (!frozen.has(n)) this.unfreeze([n]);
    if (state.hyper) {
      Object.assign(this.hyper, state.hyper);
      validateHyper(this.hyper);
    }
    this.step = state.step;
    const L = this.#ensure();
    if (!L.m || !L.v) return;
    const m = new Float32Array(L.total), v = new Float32Array(L.total);
    L.names.forEach((name, i) => {
      const mo = state.moments.get(name);
      if (mo) {
        m.set(mo.m, L.offsets[i]);
        v.set(mo.v, L.offsets[i]);
      }
      this.#steps.set(name, mo ? mo.step : 0);
    });
    tf.tidy(() => {
      L.m!.assign(tf.tensor1d(m));
      L.v!.assign(tf.tensor1d(v));
    });
  }

  /** Release the moments (not the parameters); a later step starts from fresh zero moments. */
  dispose(): void {
    this.#gpu?.dispose();
    this.#gpu = null;
    const L = this.#layout;
    if (L) {
      L.m?.dispose();
      L.v?.dispose();
      L.decayMask?.dispose();
    }
    this.#layout = null;
    this.#steps.clear();
  }
}

function checkLr(lr: number): void {
  if (!(lr > 0) || !Number.isFinite(lr)) {
    throw new Error(`AdamW: learning rate must be a positive number, got "${lr}".`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function validateHyper(h: AdamWHyper): void {
  if (!(h.lr > 0) || !Number.isFinite(h.lr)) {
    throw new Error(`AdamW: lr must be a positive number, got "${h.lr}".`);
  }
  for (const k of ["beta1", "beta2"] as const) {
    if (!(h[k] >= 0 && h[k] < 1)) throw new Error(`AdamW: ${k} must be in [0, 1), got "${h[k]}".`);
  }
  if (!(h.eps >= 0) || !Number.isFinite(h.eps)) throw new Error(`AdamW: eps must be ≥ 0, got "${h.eps}".`);
  if (!(h.weightDecay >= 0) || !Number.isFinite(h.weightDecay)) {
    throw new Error(`AdamW: weightDecay must be ≥ 0, got "${h.weightDecay}".`);
  }
}
