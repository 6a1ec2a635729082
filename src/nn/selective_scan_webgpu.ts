/**
 * Fused WGSL kernels for the selective scan (Mamba-1, `selectiveScanRef` of `scan.ts`) on the webgpu backend:
 *
 *   h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t B_t x_t,   y_t = C_t · h_t + D ⊙ x_t      (per channel d, state n)
 *
 * Forward, two dispatches: `SsmlabSelScanH` (one invocation per (b, d, n), looping forward over t; writes the
 * states H [B, T, Din, N], kept for the backward pass like the tf-op scan keeps them) and `SsmlabSelScanY` (one
 * invocation per (b, t, d): y = Σ_n C h (+ D x)).
 *
 * Backward, with Ā_t = exp(Δ_t A) and r_t = ȳ_t C_t: the reverse recurrence ḡ_t = r_t + Ā_{t+1} ⊙ ḡ_{t+1}
 * (`SsmlabSelScanG`, one invocation per (b, d, n)), then one kernel per gradient, each a plain sum over n, d or
 * (b, t) of products of saved tensors:
 *   dx_t = Δ_t Σ_n ḡ B (+ D ȳ);  dΔ_t = Σ_n ḡ_t h_{t−1} Ā_t A + x_t Σ_n ḡ B;  dA = Σ_{b,t} ḡ_t h_{t−1} Ā_t Δ_t;
 *   dB_t = Σ_d ḡ_t Δ_t x_t;  dC_t = Σ_d h_t ȳ_t;  dD = Σ_{b,t} ȳ x (tf ops).
 * Eight dispatches in all (plus two for dD), against a few hundred for the log-depth tf-op scan. Only products of
 * decays are formed, never quotients, so Ā near 0 is exact.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { SelectiveScanFn } from "./scan.ts";
import {
  type CustomFn,
  requireWebGPU,
  type WebGPUKernel,
  webgpuKernel,
  webgpuProgram,
} from "./webgpu_kernel.ts";

const WG = 64;

/** Index helpers shared by the kernels: sizes from the X [B,T,Din] and Am [Din,N] inputs' shape uniforms. */
const SIZES = `
    let nB = uniforms.xShape.x;
    let nT = uniforms.xShape.y;
    let nD = uniforms.xShape.z;
    let nN = uniforms.amShape.y;`;

/** Head of the two recurrences: one invocation per (b, d, n), with the state's continuous-time rate a = A[d, n]. */
const PER_STATE = `
    if (index >= nB * nD * nN) { return; }
    let n = index % nN;
    let bd = index / nN;
    let d = bd % nD;
    let b = bd / nD;
    let a = Am[d * nN + n];`;

/** States: per (b, d, n). Inputs X, Dt [B,T,Din], Am [Din,N], Bm [B,T,N]; output H [B,T,Din,N]. */
const H_CODE = `
  fn main(index : i32) {${SIZES}
${PER_STATE}
    var h = 0.0;
    for (var t = 0; t < nT; t++) {
      let bt = b * nT + t;
      let dt = Dt[bt * nD + d];
      h = exp(dt * a) * h + dt * Bm[bt * nN + n] * X[bt * nD + d];
      result[(bt * nD + d) * nN + n] = h;
    }
  }
`;

/** Output: per (b, t, d). Inputs X, H, Cm, Am (sizes) (, Dv [Din]); output y [B,T,Din]. */
function yCode(withD: boolean): string {
  return `
  fn main(index : i32) {${SIZES}
    if (index >= nB * nT * nD) { return; }
    let d = index % nD;
    let bt = index / nD;
    var acc = ${withD ? "Dv[d] * X[index]" : "0.0"};
    for (var n = 0; n < nN; n++) {
      acc = acc + Cm[bt * nN + n] * H[index * nN + n];
    }
    result[index] = acc;
  }
`;
}

/** Reverse recurrence: per (b, d, n). Inputs X (sizes), Dy, Dt [B,T,Din], Am, Cm; output G [B,T,Din,N]. */
const G_CODE = `
  fn main(index : i32) {${SIZES}
${PER_STATE}
    var carry = 0.0;
    for (var t = nT - 1; t >= 0; t--) {
      let bt = b * nT + t;
      let g = Dy[bt * nD + d] * Cm[bt * nN + n] + carry;
      result[(bt * nD + d) * nN + n] = g;
      carry = exp(Dt[bt * nD + d] * a) * g;
    }
  }
`;

/** dx: per (b, t, d). Inputs X (sizes), G, Bm, Dt, Am (sizes) (, Dy, Dv); output [B,T,Din]. */
function dxCode(withD: boolean): string {
  return `
  fn main(index : i32) {${SIZES}
    if (index >= nB * nT * nD) { return; }
    let bt = index / nD;
    var s = 0.0;
    for (var n = 0; n < nN; n++) { s = s + G[index * nN + n] * Bm[bt * nN + n]; }
    result[index] = Dt[index] * s${withD ? " + Dv[index % nD] * Dy[index]" : ""};
  }
`;
}

/** dΔ: per (b, t, d). Inputs X, G, H, Dt, Am, Bm; output [B,T,Din]. */
const DDT_CODE = `
  fn main(index : i32) {${SIZES}
    if (index >= nB * nT * nD) { return; }
    let d = index % nD;
    let bt = index / nD;
    let t = bt % nT;
    let dt = Dt[index];
    var sExp = 0.0;
    var sB = 0.0;
    for (var n = 0; n < nN; n++) {
      let g = G[index * nN + n];
      let a = Am[d * nN + n];
      if (t > 0) { sExp = sExp + g * H[(index - nD) * nN + n] * exp(dt * a) * a; }
      sB = sB + g * Bm[bt * nN + n];
    }
    result[index] = sExp + X[index] * sB;
  }
`;

/** dA: per (d, n), summing over (b, t). Inputs X (sizes), G, H, Dt, Am; output [Din, N]. */
const DA_CODE = `
  fn main(index : i32) {${SIZES}
    if (index >= nD * nN) { return; }
    let n = index % nN;
    let d = index / nN;
    let a = Am[index];
    var acc = 0.0;
    for (var bt = 0; bt < nB * nT; bt++) {
      if (bt % nT == 0) { continue; }
      let i = bt * nD + d;
      let dt = Dt[i];
      acc = acc + G[i * nN + n] * H[(i - nD) * nN + n] * exp(dt * a) * dt;
    }
    result[index] = acc;
  }
`;

/**
 * dB or dC: per (b, t, n), a sum over the channels d of `term` (with i = (b, t, d)). dB: ḡ Δ x (inputs X, G, Dt,
 * Am); dC: h ȳ (inputs X, H, Dy, Am; X and Am for the sizes). Output [B,T,N].
 */
function sumOverChannelsCode(term: string): string {
  return `
  fn main(index : i32) {${SIZES}
    if (index >= nB * nT * nN) { return; }
    let n = index % nN;
    let bt = index / nN;
    var acc = 0.0;
    for (var d = 0; d < nD; d++) {
      let i = bt * nD + d;
      acc = acc + ${term};
    }
    result[index] = acc;
  }
`;
}

/** A flat program over `threads` invocations with variables named as the inputs (first letter upper-cased). */
function def(
  kernel: string,
  key: string,
  inputs: string[],
  out: (x: number[], N: number) => number[],
  threads: (x: number[], N: number) => number,
  code: string,
): WebGPUKernel {
  return webgpuKernel(kernel, inputs, (ins) => {
    const x = ins[0].shape;
    const N = ins[inputs.indexOf("am")].shape[1];
    const names = inputs.map((n) => n[0].toUpperCase() + n.slice(1));
    // Every binding must be used by the shader: tfjs-webgpu builds pipelines with layout "auto", which drops
    // unused bindings, and its bind group (all inputs) then fails validation and the dispatch silently does not
    // run. A phony assignment per input keeps each one (X is otherwise unread by some kernels).
    const src = code.replace(
      "fn main(index : i32) {",
      `fn main(index : i32) {\n    ${names.map((n) => `_ = ${n}[0];`).join(" ")}`,
    );
    return webgpuProgram(key, names, out(x, N), Math.ceil(threads(x, N) / WG), WG, src);
  });
}
const bdn = (x: number[], N: number) => x[0] * x[2] * N;
const btd = (x: number[]) => x[0] * x[1] * x[2];
const btn = (x: number[], N: number) => x[0] * x[1] * N;
const states = (x: number[], N: number) => [...x, N];
const perToken = (x: number[]) => x;
const perTokenN = (x: number[], N: number) => [x[0], x[1], N];
const K = {
  h: def("SsmlabSelScanH", "selscan_h", ["x", "dt", "am", "bm"], states, bdn, H_CODE),
  y: def("SsmlabSelScanY", "selscan_y", ["x", "h", "cm", "am"], perToken, btd, yCode(false)),
  yD: def("SsmlabSelScanYD", "selscan_y_d", ["x", "h", "cm", "am", "dv"], perToken, btd, yCode(true)),
  g: def("SsmlabSelScanG", "selscan_g", ["x", "dy", "dt", "am", "cm"], states, bdn, G_CODE),
  dx: def("SsmlabSelScanDx", "selscan_dx", ["x", "g", "bm", "dt", "am"], perToken, btd, dxCode(false)),
  dxD: def(
    "SsmlabSelScanDxD",
    "selscan_dx_d",
    ["x", "g", "bm", "dt", "am", "dy", "dv"],
    perToken,
    btd,
    dxCode(true),
  ),
  ddt: def("SsmlabSelScanDdt", "selscan_ddt", ["x", "g", "h", "dt", "am", "bm"], perToken, btd, DDT_CODE),
  da: def(
    "SsmlabSelScanDA",
    "selscan_da",
    ["x", "g", "h", "dt", "am"],
    (x, N) => [x[2], N],
    (x, N) => x[2] * N,
    DA_CODE,
  ),
  db: def(
    "SsmlabSelScanDB",
    "selscan_db",
    ["x", "g", "dt", "am"],
    perTokenN,
    btn,
    sumOverChannelsCode("G[i * nN + n] * Dt[i] * X[i]"),
  ),
  dc: def(
    "SsmlabSelScanDC",
    "selscan_dc",
    ["x", "h", "dy", "am"],
    perTokenN,
    btn,
    sumOverChannelsCode("H[i * nN + n] * Dy[i]"),
  ),
};

/**
 * Selective scan by fused WGSL kernels (webgpu backend only): the values and gradients (x, Δ, A, B, C, D) of
 * `selectiveScanRef`. Shapes are checked by the caller (`selectiveScan` of `scan.ts`, its `webgpu` form). The
 * forward keeps the states H [B, T, Din, N] for the backward pass: call it inside `tf.tidy` (or a gradient
 * function), as any tfjs custom-gradient op that saves an intermediate.
 *
 * @param x [B, T, Din]
 * @param delta [B, T, Din] (already softplus'ed)
 * @param A [Din, N]
 * @param Bm [B, T, N]
 * @param Cm [B, T, N]
 * @param D [Din] or null
 * @returns y [B, T, Din]
 * @throws Error when the current backend is not webgpu.
 */
export const selectiveScanWebGPU: SelectiveScanFn = (x, delta, A, Bm, Cm, D): tf.Tensor3D => {
  requireWebGPU("selectiveScanWebGPU");
  const hasD = D !== null;
  const f = tf.customGrad(
    ((...args: unknown[]) => {
      const [x, dt, am, bm, cm] = args as [tf.Tensor3D, tf.Tensor3D, tf.Tensor2D, tf.Tensor3D, tf.Tensor3D];
      const dv = hasD ? args[5] as tf.Tensor1D : null;
      const save = args[hasD ? 6 : 5] as tf.GradSaveFunc;
      const h = K.h.run<tf.Tensor4D>({ x, dt, am, bm });
      const y = dv ? K.yD.run<tf.Tensor3D>({ x, h, cm, am, dv }) : K.y.run<tf.Tensor3D>({ x, h, cm, am });
      save([x, dt, am, bm, cm, h, ...(dv ? [dv] : [])]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
          const [x, dt, am, bm, cm, h] = saved;
          const dv = hasD ? saved[6] : null;
          const g = K.g.run<tf.Tensor4D>({ x, dy, dt, am, cm });
          const dx = dv ? K.dxD.run({ x, g, bm, dt, am, dy, dv }) : K.dx.run({ x, g, bm, dt, am });
          const grads = [
            dx,
            K.ddt.run({ x, g, h, dt, am, bm }),
            K.da.run({ x, g, h, dt, am }),
            K.db.run({ x, g, dt, am }),
            K.dc.run({ x, h, dy, am }),
          ];
          g.dispose();
          if (dv) grads.push(tf.tidy(() => tf.sum(tf.mul(dy, x), [0, 1])));
          return grads;
        },
      };
    }) as unknown as CustomFn,
  );
  return (D ? f(x, delta, A, Bm, Cm, D) : f(x, delta, A, Bm, Cm)) as unknown as tf.Tensor3D;
};
