/**
 * AdamW written by hand over tf.Variables, with PyTorch's `torch.optim.AdamW` semantics (SPEC §1.7):
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
}

/** One parameter's moments. */
export interface AdamWMoments {
  m: Float32Array;
  v: Float32Array;
  shape: number[];
  /** Number of updates this parameter has received (PyTorch's per-parameter `step`). */
  step: number;
}

/** Serialisable optimizer state (for checkpoints). */
export interface AdamWState {
  /** Number of optimizer steps taken. */
  step: number;
  hyper: AdamWHyper;
  /** Names frozen by name (variables with `trainable === false` are frozen regardless). */
  frozen: string[];
  /** Moments of every non-frozen parameter. */
  moments: Map<string, AdamWMoments>;
}

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  step: number;
}

/**
 * AdamW over a map of named tf.Variables.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { AdamW } from "./optim.ts";
 * const w = new Map([["w", tf.variable(tf.tensor1d([1, 2]), true, "w")]]);
 * const opt = new AdamW(w, { lr: 1e-2, weightDecay: 0.1 });
 * const g = new Map([["w", tf.tensor1d([0.5, -0.5])]]);
 * opt.applyGradients(g);
 * g.get("w")!.dispose();
 * opt.dispose();
 * ```
 */
export class AdamW {
  readonly hyper: AdamWHyper;
  /** Optimizer steps taken. */
  step = 0;
  readonly #params: Map<string, tf.Variable>;
  readonly #slots = new Map<string, Slot>();
  readonly #frozen = new Set<string>();
  readonly #noDecay: (name: string) => boolean;
  readonly #alias = new Map<string, string>();

  /**
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
    for (const name of params.keys()) if (!this.isFrozen(name) && !this.#alias.has(name)) this.#slot(name);
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

  /** Names of the parameters that are updated. */
  trainableNames(): string[] {
    return [...this.#params.keys()].filter((n) => !this.isFrozen(n) && !this.#alias.has(n));
  }

  /** Names frozen by name (see {@linkcode AdamW.isFrozen}). */
  frozenNames(): string[] {
    return [...this.#frozen];
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
        const s = this.#slots.get(n);
        if (s) {
          s.m.dispose();
          s.v.dispose();
          this.#slots.delete(n);
        }
        out.push(n);
      }
    }
    return out;
  }

  /** Unfreeze parameters frozen by name (fresh zero moments). */
  unfreeze(names: Iterable<string>): void {
    for (const n of names) {
      const c = this.#alias.get(n) ?? n;
      this.#frozen.delete(c);
      if (!this.isFrozen(c) && this.#params.has(c)) this.#slot(c);
    }
  }

  #slot(name: string): Slot {
    let s = this.#slots.get(name);
    if (!s) {
      const p = this.#params.get(name)!;
      const z = tf.zeros(p.shape, "float32");
      s = { m: tf.variable(z, false), v: tf.variable(z, false), step: 0 };
      z.dispose(); // the variables hold their own reference to the data
      this.#slots.set(name, s);
    }
    return s;
  }

  /**
   * One AdamW step.
   *
   * @param grads gradients by parameter name (the caller keeps ownership and disposes them); parameters
   *   without an entry are skipped, as are frozen ones
   * @param lr learning rate for this step (default `hyper.lr`)
   * @throws Error naming gradients whose parameter is unknown or whose shape differs.
   */
  applyGradients(
    grads: Map<string, tf.Tensor | null> | Record<string, tf.Tensor | null>,
    lr = this.hyper.lr,
  ): void {
    if (!(lr > 0) || !Number.isFinite(lr)) {
      throw new Error(`AdamW: learning rate must be a positive number, got "${lr}".`);
    }
    const raw = grads instanceof Map ? [...grads.entries()] : Object.entries(grads);
    const names = new Set(raw.map(([n]) => this.#alias.get(n) ?? n));
    if (names.size !== raw.length) {
      throw new Error(
        `AdamW: gradients given twice for one tied parameter (${raw.map(([n]) => `"${n}"`).join(", ")}).`,
      );
    }
    const entries = raw.map(([n, g]) => [this.#alias.get(n) ?? n, g] as const);
    const bad: string[] = [];
    for (const [name, g] of entries) {
      const p = this.#params.get(name);
      if (!p) bad.push(`"${name}" (no such parameter)`);
      else if (g && !sameShape(g.shape, p.shape)) {
        bad.push(`"${name}" (gradient [${g.shape}] vs parameter [${p.shape}])`);
      }
    }
    if (bad.length) throw new Error(`AdamW: bad gradients: ${bad.join(", ")}.`);
    const { beta1, beta2, eps, weightDecay } = this.hyper;
    this.step++;
    for (const [name, g] of entries) {
      if (!g || this.isFrozen(name)) continue;
      const p = this.#params.get(name)!;
      const s = this.#slot(name);
      s.step++;
      const bc1 = 1 - Math.pow(beta1, s.step);
      const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, s.step));
      const stepSize = lr / bc1;
      const decay = this.isDecayed(name) ? 1 - lr * weightDecay : 1;
      tf.tidy(() => {
        const g32 = g.dtype === "float32" ? g : g.cast("float32");
        const pd = decay !== 1 ? p.mul(tf.scalar(decay)) : p;
        const m = s.m.mul(tf.scalar(beta1)).add(g32.mul(tf.scalar(1 - beta1)));
        const v = s.v.mul(tf.scalar(beta2)).add(g32.mul(g32).mul(tf.scalar(1 - beta2)));
        const denom = v.sqrt().div(tf.scalar(bc2Sqrt)).add(tf.scalar(eps));
        const next = pd.sub(m.div(denom).mul(tf.scalar(stepSize)));
        s.m.assign(m);
        s.v.assign(v);
        p.assign(next);
      });
    }
  }

  /**
   * A copy of the state, the moments read to the host asynchronously (all reads are started at once, before
   * the first await, so the copy is of the state at the time of the call).
   */
  async getState(): Promise<AdamWState> {
    const slots = [...this.#slots].map(([name, s]) => ({
      name,
      shape: [...s.m.shape],
      step: s.step,
      m: s.m.data(),
      v: s.v.data(),
    }));
    const step = this.step, hyper = { ...this.hyper }, frozen = [...this.#frozen];
    const moments = new Map<string, AdamWMoments>();
    for (const s of slots) {
      moments.set(s.name, {
        m: Float32Array.from(await s.m as Float32Array),
        v: Float32Array.from(await s.v as Float32Array),
        shape: s.shape,
        step: s.step,
      });
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
    for (const [name, s] of this.#slots) {
      const mo = state.moments.get(name);
      tf.tidy(() => {
        if (mo) {
          s.m.assign(tf.tensor(mo.m, s.m.shape, "float32"));
          s.v.assign(tf.tensor(mo.v, s.v.shape, "float32"));
          s.step = mo.step;
        } else {
          s.m.assign(tf.zerosLike(s.m));
          s.v.assign(tf.zerosLike(s.v));
          s.step = 0;
        }
      });
    }
  }

  /** Release the moments (not the parameters). */
  dispose(): void {
    for (const s of this.#slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.#slots.clear();
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
