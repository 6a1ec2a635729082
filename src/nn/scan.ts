/**
 * Linear recurrences over time: the diagonal time-invariant scan of the baseline SSM unit
 * (docs/models/baseline.md) and Mamba's selective scan (`selective_scan_ref` of state-spaces/mamba). Each fast
 * kernel sits beside its plain-loop reference (`…Ref`), which is the test oracle.
 *
 * Three fast forms, chosen by `dispatch.ts` (`withImpl`; the fast path by default): on the host-memory backends
 * (cpu, wasm) a sequential loop over Float32Arrays (`host`: O(B·T·D) work, no per-op overhead), elsewhere a
 * log-depth tf-op scan (`ops`, also what `withImpl("ops", …)` runs on every backend). On webgpu both scans instead
 * run fused WGSL kernels (`scan_webgpu.ts`: diagonal, one dispatch forward, three
 * backward; `selective_scan_webgpu.ts`: selective, two forward, eight backward), since there the many small ops of
 * the parallel scan are bound by per-dispatch overhead.
 * The parallel kernels run a log-depth Hillis–Steele scan with the associative operator
 * (a₁, b₁) ∘ (a₂, b₂) = (a₁a₂, a₂b₁ + b₂): ⌈log₂T⌉ levels of shift / multiply / add over the whole sequence. Only
 * products of decays are formed — never a division by a cumulative product (a trick of some H3 ports that
 * underflows and must not be used) — so decays near 0 underflow harmlessly to 0 and decays near 1 stay exact.
 * Gradients are `tf.customGrad`s: the adjoint of a linear recurrence is the same recurrence run backwards, so the
 * backward pass is one more fast scan plus elementwise products and sums. Every op used has a gradient-free
 * kernel on cpu, wasm and webgpu.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { diagScanWebGPU } from "./scan_webgpu.ts";
import { selectiveScanWebGPU } from "./selective_scan_webgpu.ts";
import { defineOp, type Op } from "./dispatch.ts";
import type { CustomFn } from "./webgpu_kernel.ts";

export type { CustomFn } from "./webgpu_kernel.ts";

// ---------------------------------------------------------------------------------------------------------------
// Shape checks

/** Throw a clear error unless `t` has the given shape (`-1` = any size). */
export function expectShape(fn: string, name: string, t: tf.Tensor, shape: number[], desc: string): void {
  const ok = t.rank === shape.length && shape.every((s, i) => s < 0 || t.shape[i] === s);
  if (!ok) {
    throw new Error(
      `${fn}: argument "${name}" has shape [${t.shape.join(", ")}], expected ${desc} = [${
        shape.map((s) => (s < 0 ? "*" : String(s))).join(", ")
      }].`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Time-major helpers. The scan cores work on [T, ...] tensors: slicing along the leading axis is a contiguous copy,
// which is much faster than a strided slice along axis 1 (tfjs-cpu's strided slice is a per-element loop).

/** [B, T, ...] → [T, B, ...] (a reshape when B = 1). */
function toTimeMajor(x: tf.Tensor): tf.Tensor {
  const [B, T, ...rest] = x.shape;
  if (B === 1) return tf.reshape(x, [T, 1, ...rest]);
  return tf.transpose(x, [1, 0, ...rest.map((_, i) => i + 2)]);
}

/** [T, B, ...] → [B, T, ...] (a reshape when B = 1). */
function fromTimeMajor(x: tf.Tensor): tf.Tensor {
  const [T, B, ...rest] = x.shape;
  if (B === 1) return tf.reshape(x, [1, T, ...rest]);
  return tf.transpose(x, [1, 0, ...rest.map((_, i) => i + 2)]);
}

/** Time-major x moved k steps later (`fill` enters at t < k). x: [T, ...]. */
function later(x: tf.Tensor, k: number, fill = 0): tf.Tensor {
  const [T, ...rest] = x.shape;
  if (k >= T) return tf.fill(x.shape, fill);
  const head = tf.fill([k, ...rest], fill);
  return tf.concat([head, tf.slice(x, 0, T - k)], 0);
}

/** Time-major x moved k steps earlier (`fill` enters at t ≥ T − k). x: [T, ...]. */
function earlier(x: tf.Tensor, k: number, fill = 0): tf.Tensor {
  const [T, ...rest] = x.shape;
  if (k >= T) return tf.fill(x.shape, fill);
  return tf.concat([tf.slice(x, k, T - k), tf.fill([k, ...rest], fill)], 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Scan cores (no autograd: they run inside customGrad)

/**
 * Time-major linear recurrence by Hillis–Steele in ⌈log₂T⌉ levels:
 * forward s_t = a_t ⊙ s_{t−1} + x_t, or with `reverse` s_t = a_t ⊙ s_{t+1} + x_t.
 * `a` is either time-invariant (broadcastable to one step, x[0]) or time-varying (same shape as x).
 * Level ℓ (k = 2^ℓ): s ← s + P ⊙ shift_k(s), P ← P ⊙ shift_k(P) with identity (P = 1) shifted in; for a
 * time-invariant decay P is just a^(2^ℓ). Only products of decays are formed, never quotients.
 * @param x [T, ...]
 * @param a [...] (time-invariant) or [T, ...] (time-varying)
 */
function scanCore(x: tf.Tensor, a: tf.Tensor, timeVarying: boolean, reverse: boolean): tf.Tensor {
  return tf.tidy(() => {
    const T = x.shape[0];
    const shift = reverse ? earlier : later;
    let s = x;
    let p = a;
    for (let k = 1; k < T; k *= 2) {
      s = tf.add(s, tf.mul(shift(s, k), p));
      if (2 * k < T) p = timeVarying ? tf.mul(p, shift(p, k, 1)) : tf.mul(p, p);
    }
    return s;
  });
}

/**
 * tf.unstack along axis 0 that also differentiates when there is one slice (tfjs's Unpack gradient breaks on a
 * single output).
 */
function unstack0(x: tf.Tensor): tf.Tensor[] {
  if (x.shape[0] === 1) return [tf.squeeze(x, [0])];
  return tf.unstack(x, 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Kernels. Which one runs is chosen by `dispatch.ts` (see {@linkcode diagScan}): `host` — a sequential loop over
// Float32Arrays on the host (O(B·T·D) work, fastest where tensors already live in host memory: the cpu and wasm
// backends); `ops` — the log-depth tf-op scan (no host round trip); `webgpu` — fused WGSL kernels
// (`scan_webgpu.ts`, `selective_scan_webgpu.ts`); `ref` — the plain loop over t.

const f32 = (t: tf.Tensor) => t.dataSync() as Float32Array;

/** Host kernel of diagScan: forward states and a gradient closure over the saved arrays. */
function diagScanHost(u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor3D {
  const [B, T, D] = u.shape;
  const f = tf.customGrad(
    ((u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
      const uv = f32(u), av = f32(a), bv = f32(b);
      const sv = new Float32Array(B * T * D);
      for (let bi = 0; bi < B; bi++) {
        const o = bi * T * D;
        for (let d = 0; d < D; d++) sv[o + d] = bv[d] * uv[o + d];
        for (let t = 1; t < T; t++) {
          const i = o + t * D;
          for (let d = 0; d < D; d++) sv[i + d] = av[d] * sv[i - D + d] + bv[d] * uv[i + d];
        }
      }
      save([]);
      return {
        value: tf.tensor3d(sv, [B, T, D]),
        gradFunc: (dy: tf.Tensor3D) => {
          const gy = f32(dy);
          const du = new Float32Array(B * T * D);
          const da = new Float64Array(D), db = new Float64Array(D);
          const g = new Float32Array(D);
          for (let bi = 0; bi < B; bi++) {
            const o = bi * T * D;
            g.fill(0);
            for (let t = T - 1; t >= 0; t--) {
              const i = o + t * D;
              for (let d = 0; d < D; d++) {
                const gt = gy[i + d] + av[d] * g[d]; // ḡ_t = ȳ_t + a ⊙ ḡ_{t+1}
                g[d] = gt;
                du[i + d] = gt * bv[d];
                db[d] += gt * uv[i + d];
                if (t > 0) da[d] += gt * sv[i - D + d];
              }
            }
          }
          return [
            tf.tensor3d(du, [B, T, D]),
            tf.tensor1d(Float32Array.from(da)),
            tf.tensor1d(Float32Array.from(db)),
          ];
        },
      };
    }) as unknown as CustomFn,
  );
  return f(u, a, b) as unknown as tf.Tensor3D;
}

/** Host kernel of selectiveScan (see {@linkcode selectiveScanRef} for the recurrence). */
const selectiveScanHost: SelectiveScanFn = (x, delta, A, Bm, Cm, D) => {
  const [B, T, Din] = x.shape;
  const N = A.shape[1];
  const hasD = D !== null;
  const f = tf.customGrad(
    ((...args: unknown[]) => {
      const [xv, dv, Av, Bv, Cv] = (args.slice(0, 5) as tf.Tensor[]).map(f32);
      const Dv = hasD ? f32(args[5] as tf.Tensor) : null;
      const save = args[hasD ? 6 : 5] as tf.GradSaveFunc;
      const M = Din * N;
      const H = new Float32Array(B * T * M); // all states, kept for the backward pass
      const y = new Float32Array(B * T * Din);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const bt = b * T + t, hi = bt * M, hp = hi - M;
          for (let d = 0; d < Din; d++) {
            const dl = dv[bt * Din + d], xd = xv[bt * Din + d];
            let acc = Dv ? Dv[d] * xd : 0;
            for (let n = 0; n < N; n++) {
              const j = d * N + n;
              const prev = t > 0 ? H[hp + j] : 0;
              const h = Math.exp(dl * Av[j]) * prev + dl * Bv[bt * N + n] * xd;
              H[hi + j] = h;
              acc += Cv[bt * N + n] * h;
            }
            y[bt * Din + d] = acc;
          }
        }
      }
      save([]);
      return {
        value: tf.tensor3d(y, [B, T, Din]),
        gradFunc: (dy: tf.Tensor3D) => {
          const gy = f32(dy);
          const dx = new Float32Array(B * T * Din), dDelta = new Float32Array(B * T * Din);
          const dB = new Float32Array(B * T * N), dC = new Float32Array(B * T * N);
          const dA = new Float64Array(M), dD = new Float64Array(Din);
          const carry = new Float32Array(M); // Ā_{t+1} ⊙ ḡ_{t+1}
          for (let b = 0; b < B; b++) {
            carry.fill(0);
            for (let t = T - 1; t >= 0; t--) {
              const bt = b * T + t, hi = bt * M, hp = hi - M;
              for (let d = 0; d < Din; d++) {
                const i = bt * Din + d;
                const dl = dv[i], xd = xv[i], gyd = gy[i];
                let gx = 0, gdl = 0;
                for (let n = 0; n < N; n++) {
                  const j = d * N + n, bn = bt * N + n;
                  const g = gyd * Cv[bn] + carry[j]; // ḡ_t
                  dC[bn] += gyd * H[hi + j];
                  const at = Math.exp(dl * Av[j]);
                  if (t > 0) {
                    const dExp = g * H[hp + j] * at; // ∂L/∂(Δ·A)
                    gdl += dExp * Av[j];
                    dA[j] += dExp * dl;
                  }
                  gdl += g * Bv[bn] * xd;
                  gx += g * Bv[bn] * dl;
                  dB[bn] += g * dl * xd;
                  carry[j] = g * at;
                }
                dx[i] = gx + (Dv ? gyd * Dv[d] : 0);
                dDelta[i] = gdl;
                if (Dv) dD[d] += gyd * xd;
              }
            }
          }
          const grads: tf.Tensor[] = [
            tf.tensor3d(dx, [B, T, Din]),
            tf.tensor3d(dDelta, [B, T, Din]),
            tf.tensor2d(Float32Array.from(dA), [Din, N]),
            tf.tensor3d(dB, [B, T, N]),
            tf.tensor3d(dC, [B, T, N]),
          ];
          if (Dv) grads.push(tf.tensor1d(Float32Array.from(dD)));
          return grads;
        },
      };
    }) as unknown as CustomFn,
  );
  return (D ? f(x, delta, A, Bm, Cm, D) : f(x, delta, A, Bm, Cm)) as unknown as tf.Tensor3D;
};

// ---------------------------------------------------------------------------------------------------------------
// Diagonal time-invariant scan (docs/models/baseline.md)

function checkDiag(fn: string, u: tf.Tensor, a: tf.Tensor, b: tf.Tensor): void {
  if (u.rank !== 3) {
    throw new Error(`${fn}: argument "u" has shape [${u.shape.join(", ")}], expected [B, T, D] (rank 3).`);
  }
  const D = u.shape[2] as number;
  expectShape(fn, "a", a, [D], "[D]");
  expectShape(fn, "b", b, [D], "[D]");
}

/**
 * Reference diagonal scan: a plain loop over t (the test oracle).
 * s_0 = 0; s_t = a ⊙ s_{t−1} + b ⊙ u_t; returns all states s_1..s_T.
 *
 * @param u [B, T, D] input
 * @param a [D] decay per channel
 * @param b [D] input gain per channel
 * @returns s [B, T, D]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { diagScanRef } from "./scan.ts";
 * const s = diagScanRef(tf.ones([1, 3, 1]), tf.tensor1d([0.5]), tf.tensor1d([1])); // [[1], [1.5], [1.75]]
 * ```
 */
export function diagScanRef(u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor3D {
  checkDiag("diagScanRef", u, a, b);
  return tf.tidy(() => {
    const [B, T, D] = u.shape;
    if (T === 0) return tf.zeros([B, 0, D]) as tf.Tensor3D;
    const steps = unstack0(toTimeMajor(tf.mul(u, b))) as tf.Tensor2D[];
    let s: tf.Tensor2D = tf.zeros([B, D]);
    const out: tf.Tensor2D[] = [];
    for (const x of steps) {
      s = tf.add(tf.mul(s, a), x);
      out.push(s);
    }
    return fromTimeMajor(tf.stack(out, 0)) as tf.Tensor3D;
  });
}

/** A fast form of diagScan behind the shape check and the empty case. */
function checkedDiag(
  kernel: (u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor3D,
): (u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor3D {
  return (u, a, b) => {
    checkDiag("diagScan", u, a, b);
    return u.shape[1] === 0 ? tf.zeros(u.shape) as tf.Tensor3D : kernel(u, a, b);
  };
}

/** The log-depth parallel tf-op form of diagScan (inputs checked, T > 0). */
function diagScanParallel(u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor3D {
  const f = tf.customGrad(
    ((u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
      const uT = tf.tidy(() => toTimeMajor(u)); // [T, B, D]
      const sT = tf.tidy(() => scanCore(tf.mul(uT, b), a, false, false));
      const s = tf.tidy(() => fromTimeMajor(sT));
      save([uT, a, b, sT]);
      return {
        value: s,
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
          const [uT, a, b, sT] = saved;
          return tf.tidy(() => {
            // ḡ_t = ȳ_t + a ⊙ ḡ_{t+1}
            const g = scanCore(toTimeMajor(dy), a, false, true);
            const da = tf.sum(tf.mul(g, later(sT, 1)), [0, 1]);
            const db = tf.sum(tf.mul(g, uT), [0, 1]);
            const du = fromTimeMajor(tf.mul(g, b));
            return [du, da, db];
          });
        },
      };
    }) as unknown as CustomFn,
  );
  return f(u, a, b) as unknown as tf.Tensor3D;
}

/**
 * Fast diagonal scan, same result as {@linkcode diagScanRef}. Forms (`dispatch.ts`): `host` a loop over host
 * arrays (the fast path on cpu, wasm), `webgpu` fused WGSL kernels (`scan_webgpu.ts`), `ops` a log-depth parallel
 * scan (the fast path elsewhere), each with a custom gradient (the reverse scan); `ref` {@linkcode diagScanRef}.
 * Differentiable w.r.t. u, a and b on every backend. Call a form directly through `diagScan.impls`.
 *
 * @param u [B, T, D] input
 * @param a [D] decay per channel (any real value; |a| ≤ 1 for stability)
 * @param b [D] input gain per channel
 * @returns s [B, T, D]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { diagScan } from "./scan.ts";
 * const s = diagScan(tf.ones([1, 3, 1]), tf.tensor1d([0.5]), tf.tensor1d([1])); // [[1], [1.5], [1.75]]
 * ```
 */
export const diagScan: Op<(u: tf.Tensor3D, a: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor3D> = defineOp(
  "diagScan",
  {
    ref: diagScanRef,
    ops: checkedDiag(diagScanParallel),
    host: checkedDiag(diagScanHost),
    webgpu: checkedDiag(diagScanWebGPU),
  },
);

// ---------------------------------------------------------------------------------------------------------------
// Selective scan (Mamba-1)

function checkSelective(
  fn: string,
  x: tf.Tensor,
  delta: tf.Tensor,
  A: tf.Tensor,
  Bm: tf.Tensor,
  Cm: tf.Tensor,
  D: tf.Tensor | null,
): void {
  if (x.rank !== 3) {
    throw new Error(`${fn}: argument "x" has shape [${x.shape.join(", ")}], expected [B, T, Din] (rank 3).`);
  }
  const [B, T, Din] = x.shape as number[];
  if (A.rank !== 2) {
    throw new Error(`${fn}: argument "A" has shape [${A.shape.join(", ")}], expected [Din, N] (rank 2).`);
  }
  const N = A.shape[1] as number;
  expectShape(fn, "delta", delta, [B, T, Din], "[B, T, Din]");
  expectShape(fn, "A", A, [Din, N], "[Din, N]");
  expectShape(fn, "Bm", Bm, [B, T, N], "[B, T, N]");
  expectShape(fn, "Cm", Cm, [B, T, N], "[B, T, N]");
  if (D) expectShape(fn, "D", D, [Din], "[Din]");
}

/**
 * Reference selective scan (Mamba-1, `selective_scan_ref`): a plain loop over t.
 * h_0 = 0; h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t B_t x_t; y_t = C_t · h_t + D ⊙ x_t.
 *
 * @param x [B, T, Din] input
 * @param delta [B, T, Din] step sizes Δ (already softplus'ed)
 * @param A [Din, N] continuous-time state matrix (diagonal per channel; negative for decay)
 * @param Bm [B, T, N] input projection per token
 * @param Cm [B, T, N] output projection per token
 * @param D [Din] skip connection, or null for none
 * @returns y [B, T, Din]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { selectiveScanRef } from "./scan.ts";
 * const y = selectiveScanRef(tf.ones([1, 4, 2]), tf.fill([1, 4, 2], 0.1), tf.fill([2, 3], -1),
 *   tf.ones([1, 4, 3]), tf.ones([1, 4, 3]), tf.ones([2]));
 * ```
 */
export function selectiveScanRef(
  x: tf.Tensor3D,
  delta: tf.Tensor3D,
  A: tf.Tensor2D,
  Bm: tf.Tensor3D,
  Cm: tf.Tensor3D,
  D: tf.Tensor1D | null,
): tf.Tensor3D {
  checkSelective("selectiveScanRef", x, delta, A, Bm, Cm, D);
  return tf.tidy(() => {
    const [B, T, Din] = x.shape;
    const N = A.shape[1];
    if (T === 0) return tf.zeros([B, 0, Din]) as tf.Tensor3D;
    // time-major: [T, B, ...]
    const xT = toTimeMajor(x), dT = toTimeMajor(delta), BT = toTimeMajor(Bm), CT = toTimeMajor(Cm);
    const d4 = tf.expandDims(dT, 3); // [T, B, Din, 1]
    const dA = unstack0(tf.exp(tf.mul(d4, A))); // T × [B, Din, N]
    const dBx = unstack0(tf.mul(tf.mul(d4, tf.expandDims(xT, 3)), tf.expandDims(BT, 2)));
    const Cs = unstack0(tf.expandDims(CT, 2)); // T × [B, 1, N]
    let h: tf.Tensor = tf.zeros([B, Din, N]);
    const ys: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      h = tf.add(tf.mul(dA[t], h), dBx[t]);
      ys.push(tf.sum(tf.mul(h, Cs[t]), 2));
    }
    let y = fromTimeMajor(tf.stack(ys, 0));
    if (D) y = tf.add(y, tf.mul(x, D));
    return y as tf.Tensor3D;
  });
}

/** The signature of every form of selectiveScan (that of {@linkcode selectiveScanRef}). */
export type SelectiveScanFn = typeof selectiveScanRef;

/** A fast form of selectiveScan behind the shape check and the empty case. */
function checkedSelective(kernel: SelectiveScanFn): SelectiveScanFn {
  return (x, delta, A, Bm, Cm, D) => {
    checkSelective("selectiveScan", x, delta, A, Bm, Cm, D);
    const [B, T, Din] = x.shape;
    return T === 0 ? tf.zeros([B, 0, Din]) as tf.Tensor3D : kernel(x, delta, A, Bm, Cm, D);
  };
}

/** The log-depth parallel tf-op form of selectiveScan (inputs checked, T > 0). */
const selectiveScanParallel: SelectiveScanFn = (x, delta, A, Bm, Cm, D) => {
  const hasD = D !== null;
  const f = tf.customGrad(
    ((...args: unknown[]) => {
      const [x, delta, A, Bm, Cm] = args as [tf.Tensor3D, tf.Tensor3D, tf.Tensor2D, tf.Tensor3D, tf.Tensor3D];
      const Dv = hasD ? args[5] as tf.Tensor1D : null;
      const save = args[hasD ? 6 : 5] as tf.GradSaveFunc;
      // Everything inside runs time-major: [T, B, ...].
      const [xT, dT, BT, CT] = tf.tidy(() => [x, delta, Bm, Cm].map(toTimeMajor));
      const h = tf.tidy(() => {
        const dA = tf.exp(tf.mul(tf.expandDims(dT, 3), A)); // Ā_t [T, B, Din, N]
        const z = tf.mul(tf.expandDims(tf.mul(dT, xT), 3), tf.expandDims(BT, 2)); // Δ_t B_t x_t
        return scanCore(z, dA, true, false);
      });
      const y = tf.tidy(() => {
        const yh = fromTimeMajor(tf.sum(tf.mul(h, tf.expandDims(CT, 2)), 3));
        return Dv ? tf.add(yh, tf.mul(x, Dv)) : yh;
      });
      save([xT, dT, A, BT, CT, h, ...(Dv ? [x, Dv] : [])]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
          const [xT, dT, A, BT, CT, h] = saved;
          const [x, Dv] = hasD ? [saved[6], saved[7]] : [null, null];
          return tf.tidy(() => {
            const dyT = toTimeMajor(dy);
            const d4 = tf.expandDims(dT, 3);
            const dA = tf.exp(tf.mul(d4, A)); // recomputed rather than kept: saves a [T, B, Din, N] tensor
            const r = tf.mul(tf.expandDims(dyT, 3), tf.expandDims(CT, 2)); // ∂y_t/∂h_t
            // ḡ_t = r_t + Ā_{t+1} ⊙ ḡ_{t+1}
            const g = scanCore(r, earlier(dA, 1), true, true);
            const dC = tf.sum(tf.mul(h, tf.expandDims(dyT, 3)), 2); // [T, B, N]
            const dExp = tf.mul(tf.mul(g, later(h, 1)), dA); // ∂L/∂(Δ·A) [T, B, Din, N]
            const gB = tf.sum(tf.mul(g, tf.expandDims(BT, 2)), 3); // [T, B, Din]
            const dxT = tf.mul(gB, dT);
            const dDelta = tf.add(tf.sum(tf.mul(dExp, A), 3), tf.mul(gB, xT));
            const dAm = tf.sum(tf.mul(dExp, d4), [0, 1]); // [Din, N]
            const dB = tf.sum(tf.mul(g, tf.expandDims(tf.mul(dT, xT), 3)), 2); // [T, B, N]
            const dx = Dv ? tf.add(fromTimeMajor(dxT), tf.mul(dy, Dv)) : fromTimeMajor(dxT);
            const grads = [dx, fromTimeMajor(dDelta), dAm, fromTimeMajor(dB), fromTimeMajor(dC)];
            if (Dv && x) grads.push(tf.sum(tf.mul(dy, x), [0, 1]));
            return grads;
          });
        },
      };
    }) as unknown as CustomFn,
  );
  return (D ? f(x, delta, A, Bm, Cm, D) : f(x, delta, A, Bm, Cm)) as unknown as tf.Tensor3D;
};

/**
 * Fast selective scan, same result as {@linkcode selectiveScanRef}. Forms (`dispatch.ts`): `host` a loop over
 * host arrays (the fast path on cpu, wasm), `webgpu` fused WGSL kernels (`selective_scan_webgpu.ts`), `ops` a
 * log-depth parallel scan over the [T, B, Din·N] states (the fast path elsewhere), each with a custom gradient (the
 * reverse scan); `ref` {@linkcode selectiveScanRef}. Call a form directly through `selectiveScan.impls`.
 * Differentiable in x, delta, A, Bm, Cm and D. Memory: the [B, T, Din, N] states are kept for the backward pass.
 *
 * @param x [B, T, Din]
 * @param delta [B, T, Din]
 * @param A [Din, N]
 * @param Bm [B, T, N]
 * @param Cm [B, T, N]
 * @param D [Din] or null
 * @returns y [B, T, Din]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { selectiveScan } from "./scan.ts";
 * const y = selectiveScan(tf.ones([1, 4, 2]), tf.fill([1, 4, 2], 0.1), tf.fill([2, 3], -1),
 *   tf.ones([1, 4, 3]), tf.ones([1, 4, 3]), tf.ones([2]));
 * ```
 */
export const selectiveScan: Op<SelectiveScanFn> = defineOp("selectiveScan", {
  ref: selectiveScanRef,
  ops: checkedSelective(selectiveScanParallel),
  host: checkedSelective(selectiveScanHost),
  webgpu: checkedSelective(selectiveScanWebGPU),
});
