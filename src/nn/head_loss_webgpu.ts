/**
 * The tied LM head fused with cross-entropy on the webgpu backend: the tiled matmul of `matmul_webgpu.ts` for the
 * three products and two WGSL kernels for everything element-wise, so no [N, V] tensor besides one chunk's logits
 * (and, backward, its gradient) ever exists.
 *
 * - `SsmlabHeadLse` — one workgroup of 256 lanes per row of a chunk's logits z [rows, V]: an online max / sum-exp
 *   over the row (one pass), then a tree reduction: lse = m + log s; writes [rows, 2] = (lse, (lse − z_t) · mask),
 *   mask = 0 for an ignored target (−100).
 * - `SsmlabHeadGrad` — one lane per logit: G = (exp(z − lse) − [v = t]) · scale_row, scale = mask / count · dy.
 *
 * Per chunk of rows: forward z = h_c Eᵀ, `SsmlabHeadLse` (2 dispatches); backward z again, `SsmlabHeadGrad`,
 * dh_c = G E and dE += Gᵀ h_c (4–5 dispatches). `tiedHeadCrossEntropyOps` in `head_loss.ts` (tf ops) is the
 * reference, and `crossEntropy(tiedHead(h, E))` the oracle of both (`tests/head_loss_test.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mmWebGPU } from "./matmul_webgpu.ts";
import {
  type CustomFn,
  elementwiseProgram,
  intUniforms,
  requireWebGPU,
  webgpuKernel,
  webgpuProgram as program,
} from "./webgpu_kernel.ts";
import { IGNORE_INDEX } from "./losses.ts";

/** Lanes per row of the log-sum-exp kernel. */
const WG = 256;
/** Lanes per workgroup of the element-wise gradient kernel. */
const WG_EW = 256;

/** Inputs Z [rows, V] (logits of rows r0 … r0 + rows − 1), T [N] int32 targets; uniform r0. Output [rows, 2]. */
const LSE_CODE = `
  var<workgroup> pm : array<f32, ${WG}>;
  var<workgroup> ps : array<f32, ${WG}>;
  fn main(index : i32) {
    let nRows = uniforms.zShape.x;
    let V = uniforms.zShape.y;
    _ = T[0];
    let row = index / ${WG};
    let lane = index - row * ${WG};
    var m = -3.0e38;
    var s = 0.0;
    if (row < nRows) {
      let base = row * V;
      for (var j = lane; j < V; j = j + ${WG}) {
        let x = Z[base + j];
        if (x > m) { s = s * exp(m - x) + 1.0; m = x; } else { s = s + exp(x - m); }
      }
    }
    pm[lane] = m;
    ps[lane] = s;
    workgroupBarrier();
    for (var h = ${WG / 2}; h > 0; h = h / 2) {
      if (lane < h) {
        let m1 = pm[lane]; let m2 = pm[lane + h];
        let mx = max(m1, m2);
        ps[lane] = ps[lane] * exp(m1 - mx) + ps[lane + h] * exp(m2 - mx);
        pm[lane] = mx;
      }
      workgroupBarrier();
    }
    if (row >= nRows || lane != 0) { return; }
    let lse = pm[0] + log(ps[0]);
    let t = T[uniforms.r0 + row];
    var nll = 0.0;
    if (t != ${IGNORE_INDEX}) { nll = lse - Z[row * V + t]; }
    result[row * 2] = lse;
    result[row * 2 + 1] = nll;
  }
`;

/**
 * Inputs Z [rows, V], L [N, 2] (lse in column 0), T [N] int32, S [N] per-row scale; uniform r0. Output G [rows, V].
 */
const GRAD_CODE = `
  fn main(index : i32) {
    let nRows = uniforms.zShape.x;
    let V = uniforms.zShape.y;
    _ = L[0]; _ = T[0]; _ = S[0];
    if (index >= nRows * V) { return; }
    let row = index / V;
    let v = index - row * V;
    let r = uniforms.r0 + row;
    var g = exp(Z[index] - L[r * 2]);
    if (T[r] == v) { g = g - 1.0; }
    result[index] = g * S[r];
  }
`;

const K_LSE = webgpuKernel("SsmlabHeadLse", ["Z", "T"], ([z], attrs) => ({
  ...program("head_lse", ["Z", "T"], [z.shape[0], 2], z.shape[0], WG, LSE_CODE),
  ...intUniforms({ r0: attrs.r0 as number }),
}));
const K_GRAD = webgpuKernel("SsmlabHeadGrad", ["Z", "L", "T", "S"], ([z], attrs) => ({
  ...elementwiseProgram("head_grad", ["Z", "L", "T", "S"], z.shape, GRAD_CODE, { wg: WG_EW }),
  ...intUniforms({ r0: attrs.r0 as number }),
}));

/**
 * Mean token cross-entropy of the tied head on the webgpu backend (see the module doc); same contract as
 * `tiedHeadCrossEntropy` in `head_loss.ts`, which calls this on webgpu.
 *
 * @param h [N, d] or [B, T, d]
 * @param table [V, d]
 * @param targets [N] or [B, T] int32; −100 = ignored
 * @param chunkRows rows of logits formed at once
 * @returns scalar
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tiedHeadCrossEntropyWebGPU } from "./head_loss_webgpu.ts";
 * // on the webgpu backend: log 4
 * // tiedHeadCrossEntropyWebGPU(tf.zeros([2, 3]), tf.ones([4, 3]), tf.tensor1d([1, -100], "int32"), 1024)
 * ```
 */
export function tiedHeadCrossEntropyWebGPU(
  h: tf.Tensor,
  table: tf.Tensor,
  targets: tf.Tensor,
  chunkRows: number,
): tf.Scalar {
  requireWebGPU("tiedHeadCrossEntropyWebGPU");
  const [, d] = table.shape as [number, number];
  const n = h.size / d;
  const starts: number[] = [];
  for (let r = 0; r < n; r += chunkRows) starts.push(r);
  const rowsOf = (r: number) => Math.min(chunkRows, n - r);
  const rowsOfH = (h2: tf.Tensor2D, r: number) => rowsOf(r) === n ? h2 : tf.slice(h2, [r, 0], [rowsOf(r), d]);

  const f = tf.customGrad(
    ((x: tf.Tensor, e: tf.Tensor2D, save: tf.GradSaveFunc) => {
      const h2 = x.reshape([n, d]) as tf.Tensor2D;
      const t = targets.dtype === "int32" ? targets.reshape([n]) : targets.reshape([n]).cast("int32");
      const count = tf.tidy(() =>
        tf.maximum(t.notEqual(tf.scalar(IGNORE_INDEX, "int32")).cast("float32").sum(), 1)
      );
      const parts = starts.map((r) =>
        tf.tidy(() => {
          const hc = rowsOfH(h2, r);
          const z = mmWebGPU(hc, e, false, true);
          return K_LSE.run<tf.Tensor2D>({ Z: z, T: t }, { r0: r });
        })
      );
      const ln = parts.length === 1 ? parts[0] : tf.concat(parts); // [N, 2]: lse, masked nll
      if (parts.length > 1) tf.dispose(parts);
      const value = tf.tidy(() => tf.sum(ln, 0).slice([1], [1]).reshape([]).div(count)) as tf.Scalar;
      save([h2, e, t, count, ln]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [hs, es, ts, c, l] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Scalar, tf.Tensor2D];
          const scale = tf.tidy(() =>
            ts.notEqual(tf.scalar(IGNORE_INDEX, "int32")).cast("float32").mul(dy.div(c))
          ) as tf.Tensor1D;
          const dhParts: tf.Tensor2D[] = [];
          let de: tf.Tensor2D | null = null;
          for (const r of starts) {
            const [dhc, de2] = tf.tidy(() => {
              const hc = rowsOfH(hs, r);
              const z = mmWebGPU(hc, es, false, true);
              const g = K_GRAD.run<tf.Tensor2D>({ Z: z, L: l, T: ts, S: scale }, { r0: r });
              z.dispose();
              const dec = mmWebGPU(g, hc, true, false); // [V, d]
              return [mmWebGPU(g, es), de ? tf.add(de, dec) : dec] as tf.Tensor2D[];
            });
            de?.dispose();
            de = de2;
            dhParts.push(dhc);
          }
          scale.dispose();
          const dh = dhParts.length === 1 ? dhParts[0] : tf.concat(dhParts);
          if (dhParts.length > 1) tf.dispose(dhParts);
          const dx = dh.reshape(x.shape);
          dh.dispose();
          return [dx, de!];
        },
      };
    }) as unknown as CustomFn,
  );
  return f(h, table) as tf.Scalar;
}
