/**
 * Dropout masks generated on the GPU (webgpu backend).
 *
 * `tf.dropout` draws its uniforms on the host (tfjs-core's seeded generator) and uploads them: at the published
 * mHC + adapters size that is 16 calls × 4M numbers per forward pass, which dominated a step on the GPU
 * (results/bench/h100/README.md, "Session 1").
 * Here one WGSL dispatch writes the inverted-dropout mask m_i ∈ {0, 1/(1 − p)} from a counter-based hash (PCG) of
 * the element index and a 64-bit seed (two int32 words, a 2-element upload), so a mask is a pure function of
 * (seed, shape, p): reproducible, and independent across seeds.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { elementwiseProgram, requireWebGPU, webgpuKernel } from "./webgpu_kernel.ts";

/**
 * WGSL `fn dropScale(i : u32, s0 : u32, s1 : u32) -> f32`: the inverted-dropout factor of element i,
 * (u_i ≥ p) / (1 − p) with u_i = PCG(PCG(i ⊕ s₀) + s₁) / 2³² (24-bit resolution). Shared by every kernel that
 * applies a dropout mask, so a fused kernel draws exactly the mask of {@linkcode dropoutMaskWebGPU}.
 */
export function dropScaleSnippet(rate: number): string {
  const keep = 1 - rate;
  return `
  fn pcg(v : u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
  }
  fn dropScale(i : u32, s0 : u32, s1 : u32) -> f32 {
    let h = pcg(pcg(i ^ s0) + s1);
    let u = f32(h >> 8u) * ${(1 / 16777216).toExponential(10)};
    return select(0.0, ${(1 / keep).toExponential(10)}, u >= ${rate.toExponential(10)});
  }`;
}

/** The two int32 words of a dropout seed (the `Seed` input of the mask kernels). */
export function seedWords(seed: number): [number, number] {
  return [seed % 2 ** 32 | 0, Math.floor(seed / 2 ** 32) ^ 0x5bd1e995];
}

/** WGSL: mask[i] = dropScale(i). */
function maskCode(rate: number): string {
  return `${dropScaleSnippet(rate)}
  fn main(index : i32) {
    if (index >= uniforms.size) { return; }
    result[index] = dropScale(bitcast<u32>(index), bitcast<u32>(Seed[0]), bitcast<u32>(Seed[1]));
  }
`;
}

const K_MASK = webgpuKernel("SsmlabDropoutMask", ["seed"], (_ins, attrs) => {
  const shape = attrs.shape as number[];
  const rate = attrs.rate as number;
  return elementwiseProgram(`dropout_mask_${rate}`, ["Seed"], shape, maskCode(rate), { sized: true });
});

/**
 * An inverted-dropout mask on the GPU: each entry 0 with probability `rate`, else 1/(1 − rate).
 *
 * @param shape the mask's shape
 * @param rate drop probability in [0, 1)
 * @param seed any integer (only its low 53 bits count)
 * @returns float32 tensor of `shape`
 * @throws Error off the webgpu backend, or for a rate outside [0, 1).
 * @example
 * ```ts
 * import { dropoutMaskWebGPU } from "./dropout_webgpu.ts";
 * // on webgpu: const m = dropoutMaskWebGPU([8, 256, 512], 0.1, 1234); // mean ≈ 1
 * ```
 */
export function dropoutMaskWebGPU(shape: number[], rate: number, seed: number): tf.Tensor {
  requireWebGPU("dropoutMaskWebGPU");
  if (!(rate >= 0 && rate < 1)) throw new Error(`Dropout rate must be in [0, 1), got "${rate}".`);
  return tf.tidy(() => {
    const s = tf.tensor1d(seedWords(seed), "int32");
    return K_MASK.run({ seed: s }, { shape, rate });
  });
}
