/** Shared cases of the AdamW tests: a plain-loop PyTorch AdamW and small variable maps. */
import * as tf from "@tensorflow/tfjs";

/** PyTorch's single-tensor AdamW on plain numbers (float64). */
export function refAdamW(
  p: number[],
  grads: number[][],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number; decay: boolean[] },
): number[] {
  const m = p.map(() => 0), v = p.map(() => 0);
  p = [...p];
  grads.forEach((g, t) => {
    const step = t + 1;
    for (let i = 0; i < p.length; i++) {
      if (o.decay[i]) p[i] *= 1 - o.lr * o.wd;
      m[i] = o.b1 * m[i] + (1 - o.b1) * g[i];
      v[i] = o.b2 * v[i] + (1 - o.b2) * g[i] * g[i];
      const bc1 = 1 - o.b1 ** step, bc2 = 1 - o.b2 ** step;
      const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps;
      p[i] -= (o.lr / bc1) * (m[i] / denom);
    }
  });
  return p;
}

export function vars(entries: [string, number[]][]): Map<string, tf.Variable> {
  return new Map(
    entries.map(([n, x]) => [n, tf.variable(tf.tensor1d(x), true, `optim_test.${n}.${Math.random()}`)]),
  );
}

export function dispose(m: Map<string, tf.Tensor>) {
  for (const t of m.values()) t.dispose();
}
