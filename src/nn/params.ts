/**
 * Named parameters with seeded initialisers. Models create their weights through a {@linkcode Params}
 * so that names match checkpoints and one {@linkcode Rng} drives every initial value.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../rng.ts";

/** Options for one parameter. */
export interface ParamOptions {
  /** Trainable (default true). Frozen weights get no gradient and stay bit-for-bit unchanged. */
  trainable?: boolean;
  /** Exclude from weight decay (default false). */
  noDecay?: boolean;
}

/**
 * A registry of named tf.Variables. Map keys are checkpoint names; each variable's own `name` is made unique
 * (`<name>@<n>`) because tfjs names are global — map gradients back through the variable, not its name.
 *
 * @example
 * ```ts
 * import { Params } from "./params.ts";
 * import { Rng } from "../rng.ts";
 * const p = new Params(new Rng(1));
 * const w = p.uniform("proj.weight", [8, 4], 0.5); // U(−0.5, 0.5), PyTorch layout [out, in]
 * p.dispose();
 * ```
 */
export class Params {
  /** The parameters under their checkpoint names. */
  readonly weights: Map<string, tf.Variable> = new Map();
  /** Names of the parameters excluded from weight decay. */
  readonly noDecay: Set<string> = new Set();

  /** Shapes recorded by a dry run (no tensors are created). */
  readonly shapes: Map<string, number[]> = new Map();

  /**
   * @param rng the generator that draws every initial value
   * @param dryRun record names and shapes only (for parameter counts of large configs without allocating)
   */
  /** A registry drawing initial values from `rng`. */
  constructor(readonly rng: Rng, readonly dryRun = false) {}

  /** Add a parameter from explicit values. */
  add(name: string, shape: number[], values: Float32Array | null, opts: ParamOptions = {}): tf.Variable {
    if (this.weights.has(name) || this.shapes.has(name)) {
      throw new Error(`Parameter "${name}" is defined twice.`);
    }
    if (this.dryRun) {
      this.shapes.set(name, [...shape]);
      if (opts.noDecay) this.noDecay.add(name);
      return null as unknown as tf.Variable;
    }
    if (!values) throw new Error(`Parameter "${name}": no values given.`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (values.length !== size) {
      throw new Error(
        `Parameter "${name}": ${values.length} values for shape [${shape}] (expected ${size}).`,
      );
    }
    const init = tf.tensor(values, shape, "float32");
    // tfjs variable names are global to the engine: make them unique so that several models (or two copies of
    // one) can live side by side. The map key is the checkpoint name; `v.name` is `<name>@<n>`.
    const v = tf.variable(init, opts.trainable ?? true, `${name}@${nextId++}`);
    init.dispose();
    this.weights.set(name, v);
    if (opts.noDecay) this.noDecay.add(name);
    return v;
  }

  /** N(mean, std²). */
  normal(name: string, shape: number[], std: number, mean = 0, opts?: ParamOptions): tf.Variable {
    return this.add(name, shape, this.dryRun ? null : this.rng.normalArray(size(shape), mean, std), opts);
  }

  /** U(−bound, bound). */
  uniform(name: string, shape: number[], bound: number, opts?: ParamOptions): tf.Variable {
    return this.add(
      name,
      shape,
      this.dryRun ? null : this.rng.uniformArray(size(shape), -bound, bound),
      opts,
    );
  }

  /** A constant. */
  fill(name: string, shape: number[], value: number, opts?: ParamOptions): tf.Variable {
    return this.add(name, shape, this.dryRun ? null : new Float32Array(size(shape)).fill(value), opts);
  }

  /**
   * PyTorch's nn.Linear default init: W [out, in] and b [out] ~ U(−1/√in, 1/√in).
   * Returns [weight, bias?].
   */
  linear(
    prefix: string,
    inF: number,
    outF: number,
    bias = true,
    opts?: ParamOptions,
  ): [tf.Variable, tf.Variable | null] {
    const bound = 1 / Math.sqrt(inF);
    const w = this.uniform(`${prefix}.weight`, [outF, inF], bound, opts);
    const b = bias ? this.uniform(`${prefix}.bias`, [outF], bound, opts) : null;
    return [w, b];
  }

  /** Total number of scalars. */
  count(): number {
    let n = 0;
    for (const v of this.weights.values()) n += v.size;
    for (const s of this.shapes.values()) n += size(s);
    return n;
  }

  /** Dispose every variable. */
  dispose(): void {
    for (const v of this.weights.values()) v.dispose();
    this.weights.clear();
  }
}

let nextId = 0;

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
