/**
 * Named parameters with seeded initialisers. Models create their weights through a {@linkcode Params}
 * so that names match checkpoints and one {@linkcode Rng} drives every initial value.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../rng.ts";

/** Options for one parameter. */
export interface ParamOptions {
  /** Trainable (default true). Frozen weights get no gradient and stay bit-for-bit unchanged. */
  trainable?: boolean;
  /** Exclude from weight decay (default false). */
  noDecay?: boolean;
}

/**
 * A registry of named tf.Variables.
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
  readonly weights = new Map<string, tf.Variable>();
  readonly noDecay = new Set<string>();

  constructor(readonly rng: Rng) {}

  /** Add a parameter from explicit values. */
  add(name: string, shape: number[], values: Float32Array, opts: ParamOptions = {}): tf.Variable {
    if (this.weights.has(name)) throw new Error(`Parameter "${name}" is defined twice.`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (values.length !== size) {
      throw new Error(`Parameter "${name}": ${values.length} values for shape [${shape}] (expected ${size}).`);
    }
    const init = tf.tensor(values, shape, "float32");
    const v = tf.variable(init, opts.trainable ?? true, name);
    init.dispose();
    this.weights.set(name, v);
    if (opts.noDecay) this.noDecay.add(name);
    return v;
  }

  /** N(mean, std²). */
  normal(name: string, shape: number[], std: number, mean = 0, opts?: ParamOptions): tf.Variable {
    return this.add(name, shape, this.rng.normalArray(size(shape), mean, std), opts);
  }

  /** U(−bound, bound). */
  uniform(name: string, shape: number[], bound: number, opts?: ParamOptions): tf.Variable {
    return this.add(name, shape, this.rng.uniformArray(size(shape), -bound, bound), opts);
  }

  /** A constant. */
  fill(name: string, shape: number[], value: number, opts?: ParamOptions): tf.Variable {
    return this.add(name, shape, new Float32Array(size(shape)).fill(value), opts);
  }

  /**
   * PyTorch's nn.Linear default init: W [out, in] and b [out] ~ U(−1/√in, 1/√in).
   * Returns [weight, bias?].
   */
  linear(prefix: string, inF: number, outF: number, bias = true, opts?: ParamOptions): [tf.Variable, tf.Variable | null] {
    const bound = 1 / Math.sqrt(inF);
    const w = this.uniform(`${prefix}.weight`, [outF, inF], bound, opts);
    const b = bias ? this.uniform(`${prefix}.bias`, [outF], bound, opts) : null;
    return [w, b];
  }

  /** Total number of scalars. */
  count(): number {
    let n = 0;
    for (const v of this.weights.values()) n += v.size;
    return n;
  }

  /** Dispose every variable. */
  dispose(): void {
    for (const v of this.weights.values()) v.dispose();
    this.weights.clear();
  }
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
