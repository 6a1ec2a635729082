/**
 * The PyTorch reference's H100 numbers, as cited in results/bench/h100/README.md (PyTorch 2.11 eager, the
 * reference code, synthetic tokens, B = 8, T = 256, AdamW, 10 warm-up + 50 timed steps), by ssmlab benchmark
 * model name. Printed beside ssmlab's numbers in the GPU benchmark; never used as a result.
 *
 * @module
 */

/** One reference measurement. */
export interface ReferenceNumbers {
  /** Training tokens per second. */
  tokS: number;
  /** Peak memory, MiB (torch.cuda.max_memory_allocated). */
  peakMiB: number;
  /** Precision the reference ran in. */
  precision: "fp32" | "bf16";
}

/** The reference's measurements, by model name as in `benchVariants()`. */
export const REFERENCE_H100: Record<string, ReferenceNumbers | undefined> = {
  baseline: { tokS: 2498, peakMiB: 2369, precision: "fp32" },
  mhc: { tokS: 2342, peakMiB: 2578, precision: "fp32" },
  mhc_adapters: { tokS: 2299, peakMiB: 2625, precision: "bf16" },
};
