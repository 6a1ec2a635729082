/**
 * Published reference numbers, in one place: what the notebooks, experiments and tests compare against.
 *
 * @module
 */

/** The three rows of the published mHC ablation table. */
export const MHC_VARIANTS = ["baseline", "mhc", "mhc_adapters"] as const;
/** A row name of the published mHC ablation. */
export type MhcVariant = typeof MHC_VARIANTS[number];

/** The reference README's final-checkpoint benchmark (GPU not stated, AMP on, one run each). */
export const PUBLISHED_MHC_TABLE: {
  variant: MhcVariant;
  val_loss: number;
  ppl: number;
  tokens_per_sec: number;
  peak_mb: number;
}[] = [
  { variant: "baseline", val_loss: 6.3507, ppl: 572.91, tokens_per_sec: 1025.52, peak_mb: 2365 },
  { variant: "mhc", val_loss: 6.2448, ppl: 515.35, tokens_per_sec: 964.81, peak_mb: 2568 },
  { variant: "mhc_adapters", val_loss: 6.1353, ppl: 461.88, tokens_per_sec: 938.90, peak_mb: 3092 },
];

/** Parameter counts of the published configuration (GPT-2 vocabulary, d = 512, 8 layers, 4 streams, rank 64). */
export const PUBLISHED_MHC_PARAMS: Record<MhcVariant, number> = {
  baseline: 32_203_776,
  mhc: 33_254_596,
  mhc_adapters: 33_791_684,
};
