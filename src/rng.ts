/**
 * The one seeded generator: every source of randomness in ssmlab (weight init, data order, dropout masks,
 * sampling) draws from an {@linkcode Rng}, so one seed reproduces a run. The state is four 32-bit words
 * (xoshiro128**), saved in checkpoints and restored on resume.
 *
 * @module
 */

/** Serialisable generator state. */
export interface RngState {
  /** The four 32-bit words of the xoshiro128** state. */
  s: [number, number, number, number];
  /** A cached second normal deviate from Box–Muller, or null. */
  spare: number | null;
}

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * A small, fast, seedable PRNG (xoshiro128**).
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const rng = new Rng(1337);
 * const x = rng.uniform(); // in [0, 1)
 * const perm = rng.permutation(10);
 * ```
 */
export class Rng {
  #s: Uint32Array;
  #spare: number | null = null;

  /** A generator seeded by `seed`. @param seed any integer; the same seed gives the same stream. */
  constructor(seed = 1337) {
    if (!Number.isFinite(seed)) throw new Error(`Rng seed must be a finite number, got "${seed}".`);
    const sm = splitmix32(Math.floor(seed));
    this.#s = new Uint32Array([sm(), sm(), sm(), sm()]);
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniformRange(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** A standard normal deviate (Box–Muller). */
  normal(): number {
    if (this.#spare !== null) {
      const v = this.#spare;
      this.#spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fill a Float32Array with N(mean, std²). */
  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** Fill a Float32Array with U(lo, hi). */
  uniformArray(n: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  /** A seeded Fisher–Yates permutation of 0..n−1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** A tfjs-compatible integer seed for ops that take one (e.g. dropout). */
  seed(): number {
    return this.nextU32() & 0x7fffffff;
  }

  /** A new, independent generator derived from this one (e.g. one per module). */
  fork(): Rng {
    return new Rng(this.nextU32());
  }

  /** The state, for checkpoints. */
  getState(): RngState {
    return { s: [this.#s[0], this.#s[1], this.#s[2], this.#s[3]], spare: this.#spare };
  }

  /** Restore a state saved by {@linkcode Rng.getState}. */
  setState(state: RngState): void {
    if (!state || !Array.isArray(state.s) || state.s.length !== 4) {
      throw new Error(`Invalid RNG state ${JSON.stringify(state)}: expected { s: [4 uint32], spare }.`);
    }
    this.#s = new Uint32Array(state.s);
    this.#spare = state.spare ?? null;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
