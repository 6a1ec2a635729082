/**
 * A training step on a fixed random batch, shared by the GPU benchmark entries (`device_bench.ts`,
 * `gpu_step_profile.ts`): the trainer's AdamW over the model's trainable weights, gradients keyed by weight name.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LanguageModel } from "../src/models/types.ts";
import { AdamW } from "../src/train/optim.ts";

/** The batch, the optimizer and the step functions of {@linkcode syntheticStep}. */
export interface SyntheticStep {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
  opt: AdamW;
  /** Loss and gradients by weight name (the caller disposes both). */
  grads(): { value: tf.Scalar; grads: Map<string, tf.Tensor> };
  /** One full step (forward, backward, AdamW); returns the loss (the caller disposes it). */
  step(): tf.Scalar;
  dispose(): void;
}

/** Random token batch [B, T] and the step functions for `model`. */
export function syntheticStep(model: LanguageModel, B: number, T: number): SyntheticStep {
  const V = model.config.vocabSize;
  const x = tf.randomUniformInt([B, T], 0, V) as tf.Tensor2D;
  const y = tf.randomUniformInt([B, T], 0, V) as tf.Tensor2D;
  const vars = [...model.weights.entries()].filter(([, v]) => v.trainable);
  const keyOf = new Map(vars.map(([n, v]) => [v.name, n]));
  const opt = new AdamW(model.weights, { weightDecay: 0.01, noDecay: model.noDecay ?? [] });
  const grads = () => {
    const { value, grads } = tf.variableGrads(() => model.loss(x, y), vars.map(([, v]) => v));
    const byName = new Map<string, tf.Tensor>();
    for (const [k, t] of Object.entries(grads)) byName.set(keyOf.get(k) ?? k, t);
    return { value, grads: byName };
  };
  const step = () => {
    const { value, grads: g } = grads();
    opt.applyGradients(g, 1e-4);
    tf.dispose([...g.values()]);
    return value;
  };
  return { x, y, opt, grads, step, dispose: () => (opt.dispose(), tf.dispose([x, y])) };
}
