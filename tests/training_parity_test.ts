/**
 * Step-by-step training parity with the reference training script (issue 12 item 1; docs/models/mhc.md).
 *
 * A tiny mHC-SSM with stream adapters (dropout off) is trained for 50 steps at T = 256 through the ablation's own
 * code path — `ablationTrainOptions` (shared with `runMhcAblation`) → `train()`, its data source, validation
 * source, optimizer, clip, schedule and cadence. Beside it runs a loop-level float64 reference of the script:
 * its data order (non-overlapping windows, a fresh permutation per epoch, last partial batch dropped — the
 * permutation drawn from ssmlab's `Rng(seed)`, since torch's generator cannot be replayed), `clip_grad_norm_(…, 1)`
 * and `torch.optim.AdamW` (`tests/adamw_torch_reference.ts`). The reference's gradients come from tfjs
 * (`tf.variableGrads` on a second copy of the model holding the reference's current weights): the test checks the
 * optimizer, clip, schedule, data order and evaluation semantics, the model's gradients having their own tests.
 * Every step compares the batch, the loss, the pre-clip gradient norm and all weights; the evaluations compare
 * the validation loss (whole validation set in order, partial last batch weighted like the others).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "./assert.ts";
import { backendCases } from "./webgpu_helpers.ts";
import { clipGradNormRef, TorchAdamWRef } from "./adamw_torch_reference.ts";
import { initBackend } from "../src/backend.ts";
import { mhcConfig } from "../src/models/diag_ssm.ts";
import { MhcSLM } from "../src/models/mhc_ssm.ts";
import type { LanguageModel } from "../src/models/types.ts";
import { Rng } from "../src/rng.ts";
import { type Batch, type BatchSource, type StepRecord, train } from "../src/train/trainer.ts";
import { ablationTrainOptions, MHC_REFERENCE_RECIPE } from "../src/experiments/ablation_recipe.ts";
import { runMhcAblation } from "../src/experiments/mhc_ablation.ts";
import { fusedWebGPUActive } from "../src/nn/dispatch.ts";

const V = 128, T = 256, B = 2, STEPS = 50, SEED = 1337, EVAL_EVERY = 20;
/** 7 training windows → 3 batches of 2 per epoch (1 dropped): 50 steps cross 16 epoch boundaries. */
const N_TRAIN_SEQ = 7;
/** 3 validation windows → one batch of 2 and a partial batch of 1. */
const N_VALID_SEQ = 3;

/** Ids with structure (a noisy affine recurrence), so the loss moves and batches differ. */
function synthIds(n: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const out = new Int32Array(n);
  for (let i = 1; i < n; i++) out[i] = rng.uniform() < 0.7 ? (5 * out[i - 1] + 3) % V : rng.int(V);
  return out;
}
const TRAIN = synthIds(N_TRAIN_SEQ * T + 1 + 37, 1); // + 37 tokens that make no full window
const VALID = synthIds(N_VALID_SEQ * T + 1, 2);

/** One layer (it has every parameter kind of the model; a second one doubles the software adapter's time). */
const cfg = () =>
  mhcConfig(
    { streamAdapters: true, dropout: 0, adapterDropout: 0, vocabSize: V, maxLen: T, dim: 8, layers: 1 },
    "tiny",
  );

/**
 * The fixed starting weights: the seed's initialisation with the zero-initialised mixing logits (ℓ_pre, ℓ_post,
 * ℓ_agg) drawn from N(0, 0.5²). At a uniform aggregator the last block's Sinkhorn logits have an exactly zero
 * gradient (H is column-stochastic, so Σᵢ X̃ᵢ does not depend on it); Adam would normalise float rounding noise
 * there into ±lr steps, different on each side, and the comparison would test the noise, not the semantics.
 */
function breakSymmetry(m: MhcSLM): MhcSLM {
  const rng = new Rng(7);
  tf.tidy(() => {
    for (const [k, v] of m.weights) {
      if (/(hpre|hpost|w)_logits$/.test(k)) v.assign(tf.tensor(rng.normalArray(v.size, 0, 0.5), v.shape));
    }
  });
  return m;
}

/** The script's batches: PackedLMDataset windows, DataLoader(shuffle=True, drop_last=True), a permutation per epoch. */
function referenceBatches(ids: Int32Array, steps: number): Batch[] {
  const nSeq = Math.floor((ids.length - 1) / T);
  const perEpoch = Math.floor(nSeq / B);
  const rng = new Rng(SEED);
  const out: Batch[] = [];
  while (out.length < steps) {
    const perm = rng.permutation(nSeq);
    for (let b = 0; b < perEpoch && out.length < steps; b++) {
      out.push(windows(ids, perm.subarray(b * B, b * B + B)));
    }
  }
  return out;
}

function windows(ids: Int32Array, seqs: ArrayLike<number>): Batch {
  const x = new Int32Array(seqs.length * T), y = new Int32Array(seqs.length * T);
  for (let r = 0; r < seqs.length; r++) {
    x.set(ids.subarray(seqs[r] * T, seqs[r] * T + T), r * T);
    y.set(ids.subarray(seqs[r] * T + 1, seqs[r] * T + T + 1), r * T);
  }
  return { x, y, batch: seqs.length, seqLen: T };
}

/** Records every batch the trainer draws; otherwise the ablation's source, untouched. */
class Recorder implements BatchSource {
  readonly seen: Batch[] = [];
  constructor(readonly inner: BatchSource) {}
  next(): Batch | null {
    const b = this.inner.next();
    if (b) this.seen.push(b);
    return b;
  }
  getState(): unknown {
    return this.inner.getState();
  }
  setState(s: unknown): void {
    this.inner.setState(s);
  }
  get epoch(): number {
    return this.inner.epoch;
  }
  get length(): number | undefined {
    return this.inner.length;
  }
}

/** The tensors flattened and concatenated, read back in one transfer (slow software adapters pay per read). */
async function readFlat(ts: tf.Tensor[]): Promise<Float32Array> {
  const all = tf.tidy(() => tf.concat(ts.map((t) => t.reshape([-1]))));
  const out = await all.data() as Float32Array;
  all.dispose();
  return out;
}

/** Write float64 weights (rounded to float32) into a model's variables. */
function setWeights(model: MhcSLM, weights: Map<string, Float64Array>): void {
  tf.tidy(() => {
    for (const [k, w] of weights) {
      const v = model.weights.get(k)!;
      v.assign(tf.tensor(Float32Array.from(w), v.shape));
    }
  });
}

/**
 * Loss and float64 gradients of `oracle` at `weights` (written into its variables first), and the values of
 * `alsoRead` (the trained model's weights) in the same device read.
 */
async function lossAndGrads(
  oracle: MhcSLM,
  weights: Map<string, Float64Array>,
  b: Batch,
  alsoRead: tf.Tensor[],
): Promise<{ loss: number; grads: Map<string, Float64Array>; also: Float32Array }> {
  setWeights(oracle, weights);
  const keyOf = new Map([...oracle.weights].map(([k, v]) => [v.name, k]));
  const { value, grads } = tf.tidy(() => {
    const x = tf.tensor2d(b.x, [b.batch, T], "int32"), y = tf.tensor2d(b.y, [b.batch, T], "int32");
    return tf.variableGrads(() => oracle.loss(x, y), [...oracle.weights.values()]);
  });
  const names = Object.keys(grads);
  const flat = await readFlat([value, ...names.map((n) => grads[n]), ...alsoRead]);
  tf.dispose([value, ...Object.values(grads)]);
  const out = new Map<string, Float64Array>();
  let at = 1;
  for (const n of names) {
    const size = grads[n].size;
    out.set(keyOf.get(n)!, Float64Array.from(flat.subarray(at, at + size)));
    at += size;
  }
  return { loss: flat[0], grads: out, also: flat.subarray(at) };
}

/** The script's `evaluate`: mean over the validation batches (in order, batch B, last partial kept) of batch means. */
async function referenceEval(oracle: MhcSLM, weights: Map<string, Float64Array>): Promise<number> {
  setWeights(oracle, weights);
  const nSeq = Math.floor((VALID.length - 1) / T);
  const losses: tf.Scalar[] = [];
  for (let s = 0; s < nSeq; s += B) {
    const seqs = Array.from({ length: Math.min(B, nSeq - s) }, (_, i) => s + i);
    const b = windows(VALID, seqs);
    losses.push(
      tf.tidy(() =>
        oracle.loss(tf.tensor2d(b.x, [b.batch, T], "int32"), tf.tensor2d(b.y, [b.batch, T], "int32"))
      ),
    );
  }
  const vals = await readFlat(losses);
  tf.dispose(losses);
  return vals.reduce((a, b) => a + b, 0) / vals.length;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("the ablation's defaults are the reference script's (mhc_slm/train.py)", () => {
  assertEquals({ ...MHC_REFERENCE_RECIPE }, {
    lr: 3e-4,
    weightDecay: 0.1,
    gradClip: 1.0,
    batchSize: 16,
    seqLen: 256,
    epochs: 10,
    seed: 1337,
    evalEvery: 500,
    saveEvery: 1000,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
  });
});

for (const { name: backend, ignore } of await backendCases()) {
  Deno.test({
    name:
      `[${backend}] 50 ablation training steps follow the reference's AdamW, clip, data order and evaluation`,
    ignore,
    async fn() {
      await initBackend({ backend });
      const n0 = tf.memory().numTensors;
      const model = breakSymmetry(new MhcSLM(cfg(), SEED));
      const oracle = new MhcSLM(cfg(), SEED);
      oracle.setTraining(true);
      // The script decays every parameter: the model must exclude none.
      assertEquals([...((model as LanguageModel).noDecay ?? [])], [], "no decay exclusions");

      // Defaults: what the runner passes when the caller gives only the data.
      const big = synthIds(16 * 256 + 1, 3);
      const d = ablationTrainOptions({ train: big, valid: VALID }, model, "defaults");
      const src = d.data as unknown as { batch: number; seqLen: number; shuffle: boolean; dropLast: boolean };
      assertEquals([src.batch, src.seqLen, src.shuffle, src.dropLast], [16, 256, true, true]);
      assertEquals(
        [d.lr, d.weightDecay, d.gradClip, d.epochs, d.steps, d.seed, d.evalEvery, d.evalBatches, d.schedule],
        [3e-4, 0.1, 1.0, 10, undefined, 1337, 500, undefined, "constant"],
      );
      assertEquals([d.beta1, d.beta2, d.eps, d.accumulate], [0.9, 0.999, 1e-8, 1]);
      // No outDir: no checkpoints and no resume; with one, a checkpoint every 1000 steps as the script.
      assertEquals([d.outDir, d.resume], [undefined, undefined]);
      const withDir = ablationTrainOptions({ train: big, valid: VALID, outDir: "runs/x" }, model, "r");
      assertEquals([withDir.outDir, withDir.saveEvery], ["runs/x/r", 1000]);

      const opts = ablationTrainOptions(
        { train: TRAIN, valid: VALID, batchSize: B, seqLen: T, steps: STEPS, evalEvery: EVAL_EVERY },
        model,
        "parity",
      );
      const data = new Recorder(opts.data as BatchSource);
      const emb0 = Float32Array.from(model.weights.get("tok_emb.emb.weight")!.dataSync() as Float32Array);
      const want = referenceBatches(TRAIN, STEPS);
      const ref = new TorchAdamWRef(
        new Map([...model.weights].map(([k, v]) => [k, Float64Array.from(v.dataSync() as Float32Array)])),
        {
          lr: MHC_REFERENCE_RECIPE.lr,
          weightDecay: MHC_REFERENCE_RECIPE.weightDecay,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
        },
      );
      const worst = { loss: 0, norm: 0, weight: 0, val: 0 };
      const onStep = async (rec: StepRecord) => {
        const k = rec.step;
        const got = data.seen[k - 1], exp = want[k - 1];
        assertEquals([got.batch, got.seqLen], [B, T], `step ${k} batch shape`);
        assert(
          got.x.every((v, i) => v === exp.x[i]) && got.y.every((v, i) => v === exp.y[i]),
          `step ${k}: batch`,
        );
        const { loss, grads, also: now } = await lossAndGrads(oracle, ref.params, exp, [
          ...model.weights.values(),
        ]);
        const norm = clipGradNormRef([...grads.values()], MHC_REFERENCE_RECIPE.gradClip);
        ref.step(grads);
        assertEquals(rec.lr, MHC_REFERENCE_RECIPE.lr, `step ${k}: constant lr, no warm-up`);
        worst.loss = Math.max(worst.loss, Math.abs(rec.loss - loss) / loss);
        worst.norm = Math.max(worst.norm, Math.abs(rec.gradNorm - norm) / norm);
        let at = 0;
        for (const [name, v] of model.weights) {
          worst.weight = Math.max(
            worst.weight,
            maxAbsDiff(now.subarray(at, at + v.size), ref.params.get(name)!),
          );
          at += v.size;
        }
        if (rec.valLoss !== undefined) {
          const rv = await referenceEval(oracle, ref.params);
          worst.val = Math.max(worst.val, Math.abs(rec.valLoss - rv) / rv);
        }
      };
      const history = await train({ ...opts, data, onStep });
      assertEquals(history.length, STEPS);
      assertEquals(history.filter((r) => r.valLoss !== undefined).map((r) => r.step), [20, 40, 50]);
      assert(
        data.inner.epoch >= 16,
        `50 steps of 3 batches cross 16 epoch boundaries (epoch ${data.inner.epoch})`,
      );
      // The final evaluation happens after the last onStep: compare it here.
      const rv = await referenceEval(oracle, ref.params);
      worst.val = Math.max(worst.val, Math.abs(history[STEPS - 1].valLoss! - rv) / rv);
      const moved = maxAbsDiff(ref.params.get("tok_emb.emb.weight")!, emb0);
      console.log(
        `[${backend}] fused AdamW: ${fusedWebGPUActive()}; worst ${JSON.stringify(worst)}; moved ${moved}`,
      );
      // Tolerances. Both sides start from the same float32 weights and see the same batches; they differ by float32
      // vs float64 arithmetic in the update and by the gradient being evaluated at weights that differ by that
      // rounding. Adam's update per element is at most ≈ lr (step 1: exactly lr·sign(g)), so 50 steps move a weight
      // by ≤ 50·lr = 0.015; float32 rounding of the update math is ~1e-7 relative per step. An element whose
      // gradient is ~1e-8 (comparable to ε and to float32 noise in the gradient) can get an update that differs by a
      // fraction of lr, and a handful of such steps gives ≲ 1e-5. The bound 2e-5 (< lr/10) is two orders of magnitude
      // under what any semantic difference gives: a missed decay on one tensor is lr·wd·|p|·50 ≈ 1.5e-3·|p|, one
      // step of the wrong bias correction ≈ lr·(1/(1−β₁) − 1) ≈ 2.7e-3, ε = 1e-6 instead of 1e-8 or no clipping
      // moves small-gradient weights by ≈ lr, a warm-up changes step 1 by ≈ lr.
      assert(moved > 1e-3, `training moved the weights (${moved})`);
      assert(
        worst.weight < 2e-5,
        `weights within 2e-5 of the reference at every step (worst ${worst.weight})`,
      );
      assert(
        worst.loss < 1e-4,
        `loss within 1e-4 (relative) of the reference at every step (worst ${worst.loss})`,
      );
      assert(worst.norm < 1e-3, `gradient norm within 1e-3 (relative) at every step (worst ${worst.norm})`);
      assert(
        worst.val < 1e-4,
        `validation loss within 1e-4 (relative) at every evaluation (worst ${worst.val})`,
      );
      model.dispose();
      oracle.dispose();
      assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
    },
  });
}

Deno.test("runMhcAblation measures the out-of-domain validation set like the in-domain one", async () => {
  await initBackend({ backend: "cpu" });
  const run = (validOutOfDomain?: Int32Array) =>
    runMhcAblation({
      train: synthIds(600, 4).map((v) => v % 32),
      valid: synthIds(300, 5).map((v) => v % 32),
      validOutOfDomain,
      variants: ["mhc"],
      preset: "tiny",
      model: { vocabSize: 32, dim: 8, layers: 2, maxLen: 16, adapterRank: 2 },
      batchSize: 2,
      seqLen: 16,
      steps: 2,
      pplBatches: 3,
      throughput: false,
    });
  const ood = synthIds(300, 6).map((v) => (v * 3) % 32);
  const [r] = (await run(ood)).rows;
  assert(
    Number.isFinite(r.val_loss_ood) && Math.abs(Math.exp(r.val_loss_ood!) - r.ppl_ood!) < 1e-3 * r.ppl_ood!,
  );
  assert(r.val_loss_ood !== r.val_loss, "a different set gives a different loss");
  // The same ids as out-of-domain set give the in-domain numbers exactly (same batches, same code).
  const [same] = (await run(synthIds(300, 5).map((v) => v % 32))).rows;
  assertEquals(same.val_loss_ood, same.val_loss);
  const [none] = (await run()).rows;
  assertEquals([none.val_loss_ood, none.ppl_ood], [null, null]);
});
