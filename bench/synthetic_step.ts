/**
 * The trainer's own training step ({@linkcode TrainStep} of `src/train/step.ts`) on a fixed random batch, for the
 * GPU benchmark entries (`device_bench.ts`, `gpu_step_profile.ts`): AdamW (wd 0.01, the model's `noDecay`
 * exclusions), no clipping (the benchmark protocol), steps issued deferred (no host read until `sync()`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../src/models/types.ts";
import type { AdamW } from "../src/train/optim.ts";
import { TrainStep } from "../src/train/step.ts";

/** The batch, the step and its helpers of {@linkcode syntheticStep}. */
export interface SyntheticStep {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
  /** The trainer's step over the model. */
  trainStep: TrainStep;
  /** Its optimizer. */
  opt: AdamW;
  /** Forward and backward only: the loss and the gradients by weight name (the caller disposes both). */
  grads(): { value: tf.Scalar; grads: Map<string, tf.Tensor> };
  /** Issue one full step (forward, backward, AdamW) without waiting for it. */
  step(): void;
  /** Wait for every issued step; returns the last one's loss (NaN when none was issued). */
  sync(): Promise<number>;
  dispose(): void;
}

/** Random token batch [B, T] and the trainer's step for `model` (learning rate 1e-4). */
export function syntheticStep(model: LanguageModel, B: number, T: number): SyntheticStep {
  const V = model.config.vocabSize;
  const x = tf.randomUniformInt([B, T], 0, V) as tf.Tensor2D;
  const y = tf.randomUniformInt([B, T], 0, V) as tf.Tensor2D;
  const trainStep = new TrainStep(model, { optimizer: { weightDecay: 0.01 }, gradClip: null });
  const micro = [{ ids: x, targets: y }];
  let n = 0;
  return {
    x,
    y,
    trainStep,
    opt: trainStep.optimizer,
    grads: () => {
      const { losses, grads } = trainStep.gradients(micro);
      return { value: losses[0], grads };
    },
    step: () => trainStep.issue({ micro, lr: 1e-4, step: ++n }),
    sync: async () => (await trainStep.flush()).at(-1)?.loss ?? NaN,
    dispose: () => (trainStep.dispose(), tf.dispose([x, y])),
  };
}
