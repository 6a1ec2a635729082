/**
 * The tied LM head fused with cross-entropy: the loss of `crossEntropy(tiedHead(h, E), targets)` without keeping
 * the [N, V] logits, and without a second [N, V] tensor (softmax, one-hot) in the backward pass.
 *
 * {@linkcode tiedHeadCrossEntropy} is one `tf.customGrad`. The forward pass walks the rows in chunks; per chunk it
 * forms the logits h_c Eᵀ, their log-sum-exp and the target's logit, and disposes the logits; it saves only h, E,
 * the targets and lse [N]. The backward pass recomputes each chunk's logits and forms
 * G_c = (softmax_c − onehot_c) · mask / count · dy, then dh_c = G_c E and dE += G_cᵀ h_c. Peak memory therefore
 * holds one chunk's logits (a few of them in the backward), never the full [N, V].
 *
 * Forms (`dispatch.ts`): `webgpu` — `head_loss_webgpu.ts` runs the same algorithm in the tiled matmul and two
 * fused kernels; `ops` — the tf-op form below ({@linkcode tiedHeadCrossEntropyOps}); `ref` — the unfused
 * `crossEntropy(tiedHead(h, E), targets)`, which forms the whole [N, V] logits.
 *
 * In the tf-op form every product has the untransposed-B (or transposed-A) form with sizes that are multiples of 4, which
 * tfjs-webgpu runs in its vec4 kernel (see `matmul.ts`): V is padded to a multiple of 4 with zero rows of E, and
 * the padded columns get a logit bias of −1e30, so they add exactly 0 to every sum and to the softmax.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { crossEntropy, IGNORE_INDEX } from "./losses.ts";
import { tiedHeadCrossEntropyWebGPU } from "./head_loss_webgpu.ts";
import { tiedHead } from "./embedding.ts";
import { defineOp } from "./dispatch.ts";

/** Options of {@linkcode tiedHeadCrossEntropy}. */
export interface TiedHeadCrossEntropyOptions {
  /** Rows of logits formed at once (default 1024). */
  chunkRows?: number;
}

/** Default rows per chunk: 1024 × 50257 float32 logits ≈ 206 MB. */
export const DEFAULT_HEAD_CHUNK_ROWS = 1024;

/** fn(x), disposing x: keeps one large chunk intermediate alive instead of the whole chain. */
function then(x: tf.Tensor, fn: (x: tf.Tensor) => tf.Tensor): tf.Tensor2D {
  const y = fn(x);
  x.dispose();
  return y as tf.Tensor2D;
}

/** Logit bias of the padded vocabulary columns: exp(−1e30 − max) is exactly 0 in float32, and −1e30 is finite. */
const PAD_LOGIT = -1e30;

/**
 * Mean token cross-entropy of the tied head, −mean_{t: y_t ≠ −100} log softmax(h_t Eᵀ)[y_t], computed chunk by
 * chunk with gradients for `h` and `table`. Equals `crossEntropy(tiedHead(h, table), targets)` in value and
 * gradients.
 *
 * @param h [N, d] or [B, T, d] hidden states
 * @param table [V, d] tied embedding table
 * @param targets [N] or [B, T] int32; −100 = ignored
 * @param opts chunk size
 * @returns scalar; 0 (with zero gradients) when every target is ignored
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tiedHeadCrossEntropy } from "./head_loss.ts";
 * const l = tiedHeadCrossEntropy(tf.zeros([2, 3]), tf.ones([4, 3]), tf.tensor1d([1, -100], "int32")); // log 4
 * ```
 */
export function tiedHeadCrossEntropy(
  h: tf.Tensor,
  table: tf.Tensor,
  targets: tf.Tensor,
  opts: TiedHeadCrossEntropyOptions = {},
): tf.Scalar {
  if (table.rank !== 2) throw new Error(`tiedHeadCrossEntropy: table must be [V, d], got [${table.shape}].`);
  const d = table.shape[1];
  if (h.shape[h.rank - 1] !== d) {
    throw new Error(`tiedHeadCrossEntropy: h is [${h.shape}] but the table is [${table.shape}].`);
  }
  const n = h.size / d;
  if (targets.size !== n) {
    throw new Error(`tiedHeadCrossEntropy: ${targets.size} targets for ${n} rows of h (shape [${h.shape}]).`);
  }
  const chunk = Math.max(1, Math.floor(opts.chunkRows ?? DEFAULT_HEAD_CHUNK_ROWS));
  return headLoss(h, table, targets, chunk);
}

/** The reference: the whole logits, then the cross-entropy (`chunk` unused). */
function tiedHeadCrossEntropyRef(
  h: tf.Tensor,
  table: tf.Tensor,
  targets: tf.Tensor,
  _chunk: number,
): tf.Scalar {
  return tf.tidy(() => crossEntropy(tiedHead(h, table), targets));
}

const headLoss = defineOp("tiedHeadCrossEntropy", {
  ref: tiedHeadCrossEntropyRef,
  ops: tiedHeadCrossEntropyOps,
  webgpu: tiedHeadCrossEntropyWebGPU,
});

/**
 * {@linkcode tiedHeadCrossEntropy} in tf ops, any backend (the reference of the webgpu kernels; see the module
 * doc). Inputs as there, already checked; `chunk` rows of logits at once.
 */
export function tiedHeadCrossEntropyOps(
  h: tf.Tensor,
  table: tf.Tensor,
  targets: tf.Tensor,
  chunk: number,
): tf.Scalar {
  const [vocab, d] = table.shape as [number, number];
  const n = h.size / d;
  const padV = (4 - (vocab % 4)) % 4;
  const vp = vocab + padV;
  const starts: number[] = [];
  for (let r = 0; r < n; r += chunk) starts.push(r);

  /** [1, Vp]: 0 on the real columns, PAD_LOGIT on the padded ones (null when V is a multiple of 4). */
  const colBias = () =>
    // tf.fill runs on the device; tf.zeros would build the values on the host and upload them every step.
    padV ? tf.concat([tf.fill([1, vocab], 0), tf.fill([1, padV], PAD_LOGIT)], 1) as tf.Tensor2D : null;
  /** Logits of rows [r, r + rows) with the padded columns at PAD_LOGIT: [rows, Vp]. */
  const chunkLogits = (
    h2: tf.Tensor2D,
    et: tf.Tensor2D,
    bias: tf.Tensor2D | null,
    r: number,
    rows: number,
  ) => {
    const hc = rows === n ? h2 : tf.slice(h2, [r, 0], [rows, d]);
    const z = tf.matMul(hc, et);
    if (hc !== h2) hc.dispose();
    return bias ? then(z, (v) => tf.add(v, bias)) : z;
  };

  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, e] = args as [tf.Tensor, tf.Tensor2D];
    const save = args[2] as tf.GradSaveFunc;
    const h2 = x.reshape([n, d]) as tf.Tensor2D;
    const t = targets.reshape([n]).cast("int32");
    const mask = t.notEqual(tf.scalar(IGNORE_INDEX, "int32")).cast("float32");
    const safe = t.mul(mask.cast("int32")) as tf.Tensor1D; // ignored rows point at class 0, masked out below
    const count = tf.maximum(mask.sum(), tf.scalar(1));
    const ep = padV ? tf.pad(e, [[0, padV], [0, 0]]) as tf.Tensor2D : e;
    const et = tf.transpose(ep) as tf.Tensor2D; // [d, Vp], materialised: untransposed B for the vec4 kernel
    const bias = colBias();
    const lseParts: tf.Tensor1D[] = [];
    const lossParts: tf.Tensor1D[] = [];
    for (const r of starts) {
      const rows = Math.min(chunk, n - r);
      const [lse, part] = tf.tidy(() => {
        const z = chunkLogits(h2, et, bias, r, rows);
        const lse = tf.logSumExp(z, 1) as tf.Tensor1D;
        const sc = tf.slice(safe, [r], [rows]);
        const flat = tf.range(0, rows, 1, "int32").mul(tf.scalar(vp, "int32")).add(sc);
        const picked = tf.gather(z.reshape([-1]), flat);
        return [lse, lse.sub(picked).mul(tf.slice(mask, [r], [rows])) as tf.Tensor1D];
      });
      lseParts.push(lse);
      lossParts.push(part);
    }
    const lse = lseParts.length === 1 ? lseParts[0] : tf.concat(lseParts);
    const perRow = lossParts.length === 1 ? lossParts[0] : tf.concat(lossParts);
    const value = perRow.sum().div(count) as tf.Scalar;
    save([h2, ep, safe, mask, count, lse]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [hs, eps, s, m, c, l] = saved as [
          tf.Tensor2D,
          tf.Tensor2D,
          tf.Tensor1D,
          tf.Tensor1D,
          tf.Scalar,
          tf.Tensor1D,
        ];
        const ets = tf.transpose(eps) as tf.Tensor2D;
        const b = colBias();
        const scale = m.div(c).mul(dy) as tf.Tensor1D; // [N]
        const dhParts: tf.Tensor2D[] = [];
        let de: tf.Tensor2D | null = null;
        for (const r of starts) {
          const rows = Math.min(chunk, n - r);
          const [dhc, de2] = tf.tidy(() => {
            // Each [rows, Vp] intermediate is disposed as soon as the next exists, so at most three are alive.
            const z = chunkLogits(hs, ets, b, r, rows);
            const p = then(then(z, (v) => tf.sub(v, tf.slice(l, [r], [rows]).reshape([rows, 1]))), tf.exp);
            // int32 then cast: tfjs-wasm 4.22 returns all zeros for a float32 oneHot.
            const oh = then(tf.oneHot(tf.slice(s, [r], [rows]), vp), (v) => v.cast("float32"));
            const d1 = then(p, (v) => tf.sub(v, oh));
            oh.dispose();
            const g = then(d1, (v) => tf.mul(v, tf.slice(scale, [r], [rows]).reshape([rows, 1]))); // [rows, Vp]
            const hc = rows === n ? hs : tf.slice(hs, [r, 0], [rows, d]);
            // dh_c = G_c E (untransposed B, inner size Vp); dE += G_cᵀ h_c (transposed A, Vp a multiple of 4).
            const dec = tf.matMul(g, hc, true, false);
            return [tf.matMul(g, eps), de ? tf.add(de, dec) : dec] as tf.Tensor2D[];
          });
          de?.dispose();
          de = de2;
          dhParts.push(dhc);
        }
        const dh = (dhParts.length === 1 ? dhParts[0] : tf.concat(dhParts)).reshape(x.shape);
        const dE = padV ? tf.slice(de!, [0, 0], [vocab, d]) : de!;
        if (padV) de!.dispose();
        return [dh, dE];
      },
    };
  });
  return f(h, table) as tf.Scalar;
}
