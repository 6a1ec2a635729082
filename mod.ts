/**
 * ssmlab: state-space language models in Deno/TypeScript on TensorFlow.js — models, training, evaluation and
 * results. This module only re-exports the public API of `src/`.
 *
 * Names that two modules share are exported once: `inJupyter` from `src/results/display.ts`, `writeFileAtomic`
 * from `src/results/atomic.ts`; the data loader's `Batch` (`src/data/batches.ts`) is exported as `PackedBatch`,
 * and `Batch` is the trainer's batch (`src/train/batch_source.ts`).
 *
 * @example
 * ```ts
 * import { createModel, getTokenizer, initBackend } from "./mod.ts";
 * await initBackend({ backend: "cpu" });
 * const tokenizer = getTokenizer("ascii");
 * const model = createModel({ kind: "baseline", vocabSize: 128, maxLen: 32, dim: 16, layers: 1 }, 1);
 * tokenizer.encode("Hi"); // [72, 105]
 * ```
 *
 * @module
 */

// Backend and randomness
export {
  type BackendName,
  type BackendOptions,
  BACKENDS,
  currentBackend,
  describeEnvironment,
  type EnvironmentInfo,
  initBackend,
  SSMLAB_VERSION,
} from "./src/backend.ts";
export { Rng, type RngState } from "./src/rng.ts";

// Models
export { type LanguageModel, type ModelConfig, parameterCount, type Trainable } from "./src/models/types.ts";
export {
  type ConfigFieldType,
  defaultConfig,
  expectation,
  fieldAccepts,
  fieldFlag,
  type FieldSpec,
  type FieldTable,
  type ModelSpec,
  parseFieldFlag,
  resolveConfig,
  validateFields,
} from "./src/models/spec.ts";
export {
  addNorm,
  applyNorm,
  type AuxLosses,
  LmShell,
  type LmShellOptions,
  type NormKind,
} from "./src/models/lm.ts";
export {
  MHC_DEFAULTS,
  MHC_FIELDS,
  MHC_PRESETS,
  type MhcConfig,
  mhcConfig,
  MhcFamilyModel,
  mhcFamilySpec,
  validateMhcConfig,
} from "./src/models/mhc_family.ts";
export { addSsmBlock, BASELINE_SPEC, BaselineSLM, ssmBlock } from "./src/models/diag_ssm.ts";
export {
  MHC_SPEC,
  MhcSLM,
  mixResidual,
  mixResidualRef,
  mixStreams,
  streamDiversity,
} from "./src/models/mhc_ssm.ts";
export {
  type AnySpec,
  createModel,
  modelConfig,
  type ModelConfigInput,
  modelKinds,
  modelSpec,
  type ModelVariant,
  modelVariants,
  registerModel,
} from "./src/models/registry.ts";
export {
  exportReferenceWeights,
  type HostTensor,
  importReferenceWeights,
  type PreparedWeights,
  prepareReferenceWeights,
  referenceStateDict,
  TIED_ALIASES,
  type TiedHeadMode,
  type TiedLayout,
  toFloat32,
} from "./src/models/reference_weights.ts";
export {
  exportPytorch,
  type ExportPytorchOptions,
  type ExportPytorchResult,
  type ImportedPytorch,
  importPytorch,
  type ImportPytorchOptions,
  importPytorchToCheckpoint,
  type ImportToCheckpointOptions,
  inferReferenceConfig,
} from "./src/models/interop.ts";

// Neural-network ops
export {
  causalDepthwiseConv1d,
  causalDepthwiseConv1dRef,
  longConv,
  type LongConvOptions,
  longConvRef,
} from "./src/nn/conv.ts";
export { embed, scatterAddRows, scatterAddRowsRef, tiedHead } from "./src/nn/embedding.ts";
export { glu, sigmoidGate, siluGate } from "./src/nn/gated.ts";
export { dropout, linear } from "./src/nn/linear.ts";
export { crossEntropy, crossEntropyRef, IGNORE_INDEX, logSoftmax } from "./src/nn/losses.ts";
export {
  DEFAULT_HEAD_CHUNK_ROWS,
  tiedHeadCrossEntropy,
  type TiedHeadCrossEntropyOptions,
} from "./src/nn/head_loss.ts";
export {
  type ExpertWeights,
  gatherRows,
  gelu,
  initMoE,
  moeForward,
  type MoEOptions,
  type MoEOutput,
  moeRef,
  type MoEWeights,
  type Routing,
  scatterRows,
  topKRouting,
} from "./src/nn/moe.ts";
export { layerNorm, rmsNorm, rmsNormRef } from "./src/nn/norm.ts";
export { type ParamOptions, Params } from "./src/nn/params.ts";
export {
  type CustomFn,
  diagScan,
  diagScanRef,
  expectShape,
  selectiveScan,
  type SelectiveScanFn,
  selectiveScanRef,
} from "./src/nn/scan.ts";
export { simplexWeights, sinkhornKnopp, sinkhornKnoppRef } from "./src/nn/sinkhorn.ts";
export { streamMix, streamMixRef, streamMixWebGPU, streamScale } from "./src/nn/stream_mix.ts";
export { installDeviceGradients } from "./src/nn/device_grads.ts";
export {
  currentImpl,
  defineOp,
  type Impl,
  IMPLS,
  type Op,
  type OpImpls,
  type OpKernel,
  withImpl,
} from "./src/nn/dispatch.ts";

// Tokenizers
export { AsciiTokenizer, type AsciiTokenizerOptions } from "./src/tokenizers/ascii.ts";
export { Gpt2Tokenizer, type Gpt2TokenizerOptions } from "./src/tokenizers/gpt2.ts";
export {
  getTokenizer,
  type GetTokenizerOptions,
  type Tokenizer,
  TOKENIZER_NAMES,
  type TokenizerName,
} from "./src/tokenizers/types.ts";
export {
  GPT2_SPLIT_RE,
  preTokenize,
  VOCAB20K_SPECIALS,
  type Vocab20kJSON,
  Vocab20kTokenizer,
  type Vocab20kTrainOptions,
} from "./src/tokenizers/vocab20k.ts";

// Data
export {
  type Batch as PackedBatch,
  BatchIterator,
  type BatchIteratorOptions,
  type BatchPosition,
  type IdArray,
  loadIds,
  PackedDataset,
  type PackedItem,
  saveIds,
  tokenizeLines,
  type TokenizeLinesOptions,
} from "./src/data/batches.ts";
export {
  BLIMP_PARADIGMS,
  BLIMP_PHENOMENA,
  BLIMP_PHENOMENON_NAMES,
  BLIMP_UIDS,
  type BlimpPair,
  type BlimpPhenomenon,
  groupBlimpByParadigm,
  loadBlimp,
  type LoadBlimpOptions,
  normalizeBlimpField,
  parseBlimpJsonl,
  phenomenonOf,
  readBlimpJsonl,
  readBlimpParquet,
} from "./src/data/blimp.ts";
export {
  BABYLM_REPO,
  BABYLM_SPLITS,
  type BabyLMCorpus,
  type BabyLMOptions,
  type CorpusLines,
  type CorpusName,
  DATASETS,
  FINEWEB_EDU_REPO,
  type FineWebEduOptions,
  iterParquetText,
  loadBabyLM,
  loadCorpus,
  type LoadCorpusOptions,
  loadFineWebEdu,
  loadWikitext2,
  parquetColumns,
  readParquetColumns,
  readText,
  splitLines,
  streamFineWebEdu,
  WIKITEXT_CONFIGS,
  WIKITEXT_REPO,
  WIKITEXT_SPLITS,
  type WikitextOptions,
  type WikitextSplit,
} from "./src/data/corpora.ts";
export { DataError, errorMessage, HubError } from "./src/data/errors.ts";
export {
  HubClient,
  type HubClientOptions,
  type HubEntry,
  type HubFileOptions,
  type HubListOptions,
  type RepoType,
} from "./src/data/hub.ts";
export {
  type AblationData,
  type AblationDataOptions,
  type CorpusSliceOptions,
  type CorpusSlices,
  loadAblationData,
  sliceCorpusIds,
  WIKITEXT2_TRAIN_TOKENS,
  WIKITEXT2_VALID_TOKENS,
} from "./src/data/slices.ts";

// Training
export {
  ArrayBatchSource,
  type ArrayBatchSourceOptions,
  type ArrayBatchSourceState,
  type Batch,
  type BatchSource,
} from "./src/train/batch_source.ts";
export {
  diffConfigs,
  type FrozenLoadOptions,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  type LoadedCheckpoint,
  loadFrozenSubmodules,
  optimizerFromSafetensors,
  optimizerToSafetensors,
  pruneCheckpoints,
  resolveCheckpoint,
  restoreModel,
  saveCheckpoint,
  type SaveCheckpointOptions,
  type TrainState,
} from "./src/train/checkpoint.ts";
export { clipGradNorm, clipGradNormTensor, globalNorm, globalNormTensor } from "./src/train/clip.ts";
export {
  assertFinite,
  NonFiniteError,
  TensorLeakError,
  TensorLeakGuard,
  type TrainConfigLike,
  validateTrainConfig,
} from "./src/train/guards.ts";
export {
  AdamW,
  type AdamWHyper,
  type AdamWMoments,
  type AdamWOptions,
  type AdamWState,
  type ApplyOptions,
  nameMatcher,
  type NamePattern,
  PreparedGradients,
  type PrepareOptions,
} from "./src/train/optim.ts";
export {
  BarProgress,
  createProgress,
  formatDuration,
  formatProgress,
  JupyterProgress,
  LogProgress,
  type ProgressInfo,
  type ProgressMode,
  type ProgressReporter,
  SilentProgress,
} from "./src/train/progress.ts";
export {
  type AssignOptions,
  assignVariables,
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  type SafeData,
  type SafeDtype,
  type SafeTensor,
  type SafetensorsFile,
  saveSafetensors,
  tensorsFromVariables,
} from "./src/train/safetensors.ts";
export {
  constantLr,
  cosineSchedule,
  linearWarmup,
  makeSchedule,
  type Schedule,
  SCHEDULE_NAMES,
  type ScheduleName,
  type ScheduleSpec,
} from "./src/train/schedule.ts";
export { type Stateful, type StepRecord, train, type TrainOptions } from "./src/train/trainer.ts";
export {
  type MicroBatch,
  microBatch,
  type MicroBatchOptions,
  type StepInput,
  type StepModel,
  type StepPhase,
  type StepStats,
  TrainStep,
  type TrainStepOptions,
} from "./src/train/step.ts";

// Capture and replay of a training step on webgpu (src/train/capture.ts).
export {
  type CaptureCounts,
  CapturedForward,
  CapturedLoss,
  CapturedStep,
  capturePinnedBuffers,
} from "./src/train/capture.ts";
export {
  type Batches,
  type BatchIteratorLike,
  type BatchLike,
  epochBatches,
  type PullSource,
  toBatchSource,
} from "./src/train/batch_input.ts";

// Evaluation
export {
  aggregateBlimp,
  type BlimpEvalPair,
  type BlimpOptions,
  type BlimpPairScore,
  type BlimpResult,
  blimpResultFromScores,
  type BlimpVariant,
  encodeSentence,
  evaluateBlimp,
  type ParadigmAccuracy,
  type PhenomenonAccuracy,
  type ScoredSequence,
  scoringSequence,
  sequenceLogProbs,
} from "./src/eval/blimp.ts";
export {
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  bannedNgramTokens,
  banRepeatedNgrams,
  generate,
  type GenerateOptions,
  processScores,
  sampleFrom,
} from "./src/eval/generate.ts";
export {
  type BatchLosses,
  batchLosses,
  type BatchLossOptions,
  evaluatePerplexity,
  type PerplexityOptions,
  type PerplexityResult,
  type TokenBatch,
} from "./src/eval/perplexity.ts";
export {
  measureThroughput,
  type ThroughputMemory,
  type ThroughputOptions,
  type ThroughputResult,
} from "./src/eval/throughput.ts";

// Results
export {
  writeFileAtomic,
  writeTextAtomic,
  writeViaTemp,
  type WriteViaTempOptions,
} from "./src/results/atomic.ts";
export {
  barChart,
  type BarChartOptions,
  type ChartFont,
  chartFont,
  type ChartOptions,
  decodePng,
  type FieldType,
  heatmapChart,
  type HeatmapChartOptions,
  lineChart,
  type LineChartOptions,
  type PngOptions,
  pngSize,
  renderPng,
  renderSvg,
  type RgbaImage,
  saveChart,
  type SavedChart,
  VEGA_LITE_SCHEMA,
  type VegaLiteSpec,
} from "./src/results/charts.ts";
export {
  chartBundle,
  chartDisplay,
  frameToHtml,
  frameToText,
  inJupyter,
  type JupyterApi,
  LiveChart,
  type LiveChartOptions,
  type MimeBundle,
  showChart,
  type ShowChartOptions,
  showFrame,
  type TableOptions,
} from "./src/results/display.ts";
export {
  type DataFrame,
  formatMeanStd,
  isFrame,
  readFrame,
  type Row,
  type SavedFrame,
  saveFrame,
  summarize,
  type SummarizeOptions,
  toFrame,
  type ToFrameOptions,
} from "./src/results/frames.ts";
export {
  createRun,
  NAME_PATTERN,
  type Run,
  type RunConfigRecord,
  type RunOptions,
  validateName,
} from "./src/results/run_dir.ts";

// Experiments
export {
  type AblationVariant,
  ablationVariant,
  checkIds,
  makeMhcVariant,
  MHC_ABLATION,
  type MhcAblationOptions,
  type MhcAblationRow,
  type MhcCurvePoint,
  runMhcAblation,
  variantCheckpointDir,
  variantConfig,
} from "./src/experiments/mhc_ablation.ts";
export {
  MHC_VARIANTS,
  type MhcVariant,
  PUBLISHED_MHC_PARAMS,
  PUBLISHED_MHC_TABLE,
} from "./src/experiments/reference_numbers.ts";
export {
  evaluateVariants,
  type EvaluateVariantsOptions,
  quickstart,
  QUICKSTART_SETTINGS,
  quickstartCharts,
  type QuickstartData,
  quickstartData,
  type QuickstartOptions,
  type QuickstartResult,
  type QuickstartRow,
  type QuickstartSettings,
  saveQuickstart,
  trainQuickstart,
  type TrainQuickstartOptions,
  variantParams,
} from "./src/experiments/quickstart.ts";
export {
  type AblationModel,
  ablationTrainOptions,
  type AblationTrainSpec,
  MHC_REFERENCE_RECIPE,
} from "./src/experiments/ablation_recipe.ts";
export {
  checkPplOrdering,
  compareWithPublished,
  type LoadedMhcResults,
  loadMhcResults,
  meanCurves,
  MHC_SUMMARY_METRICS,
  type MhcComparisonRow,
  type MhcResultsReport,
  mhcResultsReport,
  type MhcSeedsOptions,
  type MhcSeedsResult,
  type PplOrdering,
  runMhcSeeds,
  summarizeMhcRows,
} from "./src/experiments/seeds.ts";
export { causalDepthwiseConv1dWebGPU, webgpuConvAvailable } from "./src/nn/conv_webgpu.ts";
export { diagScanWebGPU, webgpuScanAvailable } from "./src/nn/scan_webgpu.ts";
export { selectiveScanWebGPU } from "./src/nn/selective_scan_webgpu.ts";
export { dropoutMaskWebGPU } from "./src/nn/dropout_webgpu.ts";

/** TensorFlow.js tensor types that ssmlab's public signatures use, re-exported so the API is complete. */
export type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Variable } from "@tensorflow/tfjs";
// H3 (docs/models/h3.md): the paper's language model, its SSM kernels, the long-conv WGSL kernels, Edifice's H3
export {
  addH3Mixer,
  geluTanh,
  H3_DEFAULTS,
  H3_FIELDS,
  H3_PRESETS,
  H3_SPEC,
  type H3Config,
  h3Config,
  H3LM,
  h3Mixer,
  h3ParamFormula,
  validateH3Config,
} from "./src/models/h3.ts";
export {
  diagKernel,
  diagKernelRef,
  type DiagSsmParams,
  type Discretisation,
  shiftKernel,
  shiftKernelRef,
} from "./src/nn/ssm_kernel.ts";
export { longConvWebGPU } from "./src/nn/long_conv_webgpu.ts";
export {
  edificeBranch,
  EdificeH3,
  type EdificeH3Config,
  edificeH3Config,
  EdificeH3Model,
  type EdificeH3Options,
} from "./src/models/edifice_h3.ts";
// HSSM (issue 13): the model, its sparse MoE on stacked experts, streaming pretraining, generation helpers
export {
  HSSM_FIELDS,
  HSSM_GENERATION,
  HSSM_PRESETS,
  HSSM_SPEC,
  type HssmConfig,
  hssmConfig,
  HssmLM,
  type HssmRoutingStats,
  validateHssmConfig,
} from "./src/models/hssm.ts";
export {
  initStackedMoE,
  moeStacked,
  type MoEStackedFn,
  moeStackedRef,
  routingStats,
  type StackedMoEWeights,
  unstackExperts,
} from "./src/nn/moe.ts";
export { moeGroupedWebGPU } from "./src/nn/moe_webgpu.ts";
export {
  type SampleUnit,
  StreamingBatchSource,
  type StreamingBatchSourceOptions,
  type StreamingSourceState,
  type StreamPosition,
  TextSampleStream,
  type TextSampleStreamOptions,
  trainTokenizerOnStream,
} from "./src/data/stream.ts";
export {
  pretrainStreaming,
  type StreamingPretrainOptions,
  type StreamingPretrainResult,
} from "./src/train/streaming.ts";
export { checkTokenizerFits, encodePrompt, type PromptTokenizer } from "./src/eval/generate.ts";
export { LiveText } from "./src/eval/live_text.ts";
// Character curriculum (issue 14): three stage models, BabyLM ASCII cleaning report, the stage-by-stage experiment.
export {
  CHAR_ENCODER_SPEC,
  CHAR_FIELDS,
  CHAR_LOSSES,
  CHAR_MAIN_SPEC,
  CHAR_PRESETS,
  CHAR_STAGE_KINDS,
  CHAR_TINY_SPEC,
  charConfig,
  type CharCurriculumConfig,
  CharCurriculumModel,
  type CharLoss,
  charStage,
  type CharStageKind,
  stageFrozenPrefixes,
  stageParamCount,
  validateCharConfig,
} from "./src/models/char_curriculum.ts";
export {
  type CharCleaningRow,
  type CharCorpus,
  type CharCorpusOptions,
  cleanCharCorpus,
  formatCleaningReport,
  gunzipBytes,
  gzipBytes,
  packLines,
  subsampleStream,
} from "./src/data/char_corpus.ts";
export {
  blimpRows as charBlimpRows,
  type CharBlimpRow,
  type CharBlimpSet,
  type CharCurriculumOptions,
  type CharCurriculumResult,
  type CharCurvePoint,
  type CharProbeRow,
  type CharStage3Comparison,
  type CharStage3Variant,
  type CharStageRow,
  type CharStageTraining,
  charSummaryRows,
  CharTimeUp,
  compareStage3,
  loadCharResults,
  OPEN_QUESTION_VARIANTS,
  runCharCurriculum,
} from "./src/experiments/char_curriculum.ts";
// ---- command line: the size guard, checkpoint tokenizers (issue 17) ----
export {
  ACTIVATION_FLOATS,
  backendMemoryLimit,
  type BatchShape,
  checkTrainingFits,
  estimateTrainingMemory,
  type MemoryEstimate,
  type MemoryLimit,
  registerActivationEstimate,
  WASM_HEAP_MAX_BYTES,
} from "./src/train/memory_estimate.ts";
export {
  checkpointTokenizer,
  saveRunTokenizer,
  TOKENIZER_FILE,
  type TokenizerRecord,
} from "./src/cli/tokenizer.ts";
export {
  type CheckpointModel,
  type CheckpointModelOptions,
  loadCheckpointModel,
} from "./src/cli/checkpoint_model.ts";
// BLiMP for any checkpoint: n-gram baselines, BabyLM-layout outputs, word milestones, learning curves (issue 16)
export {
  neyDiscount,
  NgramModel,
  type NgramOptions,
  type NgramUnit,
  type NgramVariant,
  parseNgramSpec,
  trainNgram,
  type TrainNgramOptions,
  wordUnits,
} from "./src/eval/ngram.ts";
export {
  babylmBackend,
  type BabyLMOutputOptions,
  babylmTaskDir,
  writeBabyLMBlimp,
} from "./src/eval/blimp_babylm.ts";
export { milestoneName, milestoneWords, wordsPerToken } from "./src/eval/blimp_milestones.ts";
export {
  blimpFastSubset,
  blimpLearningCurve,
  blimpRows,
  type BlimpSet,
  type EvalCheckpoint,
  evaluateBlimpNgram,
  type LearningCurveOptions,
  listMilestones,
  loadEvalCheckpoint,
  type NgramBlimpOptions,
  readTextLines,
  runBlimp,
  type RunBlimpOptions,
  type RunBlimpResult,
} from "./src/eval/blimp_run.ts";
export {
  BLIMP_ANCHORS,
  type BlimpAnchor,
  type BlimpComparison,
  blimpComparison,
  evaluateRunsUnder,
  findCheckpoints,
  learningCurveChart,
  type NamedBlimpResult,
  type RunsEvaluation,
  type TinyBlimpModelOptions,
  trainTinyBlimpModel,
} from "./src/eval/blimp_report.ts";

// Notebook 02's steps (HSSM pretraining)
export {
  HSSM_SMALL_SETTINGS,
  type HssmRoutingRecord,
  type HssmRun,
  hssmRunViews,
  loadHssmRun,
  recentTokensPerSec,
  runHssmSmall,
} from "./src/experiments/hssm_pretraining.ts";

// Notebook 04: one comparison across every architecture (issue 15)
export {
  type ArchitectureBlimpRow,
  type ArchitectureBlimpSet,
  architectureConfig,
  type ArchitectureCurvePoint,
  type ArchitectureRow,
  ARCHITECTURES,
  type ArchitecturesOptions,
  type ArchitectureSpec,
  architectureSpec,
  type ArchitecturesResult,
  bitsPerChar,
  heldOutBatches,
  heldOutNats,
  type HeldOutText,
  heldOutText,
  runArchitectures,
  splitHeldOut,
  stepsForWords,
} from "./src/experiments/architectures.ts";
export {
  ARCHITECTURES_SMALL_SETTINGS,
  architectureSizes,
  type ArchitecturesRunSettings,
  architecturesTable,
  bitsPerCharChart,
  blimpHeatmap,
  loadArchitectures,
  runArchitecturesOn,
  saveArchitectures,
} from "./src/experiments/architectures_report.ts";
