/**
 * A loop-level, float64 reference of the reference training script's optimizer step (`mhc_slm/train.py`; docs/models/mhc.md):
 *
 * ```
 * opt = torch.optim.AdamW(model.parameters(), lr, weight_decay)      # β (0.9, 0.999), ε 1e-8, every parameter decayed
 * loss.backward(); clip_grad_norm_(model.parameters(), grad_clip); opt.step()   # constant lr, no warm-up
 * ```
 *
 * written element by element from PyTorch's documented algorithms, with no tfjs and nothing shared with
 * `src/train/optim.ts`:
 * - `clip_grad_norm_(max_norm)`: total = ‖concat(all grads)‖₂; coef = max_norm / (total + 1e-6), clamped to ≤ 1;
 *   every gradient multiplied by the clamped coef (PyTorch multiplies even when coef = 1).
 * - `AdamW.step` (single-tensor, `amsgrad=False`, `maximize=False`), per parameter with step count t:
 *   p ← p − lr·wd·p;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
 *   step_size = lr / (1 − β₁ᵗ);  denom = √v / √(1 − β₂ᵗ) + ε;  p ← p − step_size · m / denom.
 *
 * @module
 */

/** Hyperparameters of {@linkcode TorchAdamWRef} (PyTorch defaults where the script uses them). */
export interface TorchAdamWHyper {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** `torch.nn.utils.clip_grad_norm_(params, maxNorm)` in place on float64 gradients; returns the total norm. */
export function clipGradNormRef(grads: Float64Array[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const total = Math.sqrt(sq);
  const coef = Math.min(maxNorm / (total + 1e-6), 1);
  for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return total;
}

/** `torch.optim.AdamW` over named float64 parameters, every parameter decayed (the script's param groups). */
export class TorchAdamWRef {
  readonly params: Map<string, Float64Array>;
  readonly #m = new Map<string, Float64Array>();
  readonly #v = new Map<string, Float64Array>();
  #t = 0;

  constructor(params: Map<string, Float64Array>, readonly hyper: TorchAdamWHyper) {
    this.params = params;
    for (const [k, p] of params) {
      this.#m.set(k, new Float64Array(p.length));
      this.#v.set(k, new Float64Array(p.length));
    }
  }

  /** Steps taken. */
  get t(): number {
    return this.#t;
  }

  /** One `opt.step()` with gradients for every parameter (the script's models give every parameter a gradient). */
  step(grads: Map<string, Float64Array>, lr = this.hyper.lr): void {
    const { weightDecay, beta1, beta2, eps } = this.hyper;
    this.#t++;
    const bc1 = 1 - Math.pow(beta1, this.#t);
    const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, this.#t));
    const stepSize = lr / bc1;
    for (const [k, p] of this.params) {
      const g = grads.get(k);
      if (!g || g.length !== p.length) {
        throw new Error(`TorchAdamWRef: no gradient of length ${p.length} for "${k}".`);
      }
      const m = this.#m.get(k)!, v = this.#v.get(k)!;
      for (let i = 0; i < p.length; i++) {
        p[i] *= 1 - lr * weightDecay;
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
        const denom = Math.sqrt(v[i]) / bc2Sqrt + eps;
        p[i] -= stepSize * (m[i] / denom);
      }
    }
  }
}
