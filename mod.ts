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
  nameMatcher,
  type NamePattern,
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
  batchLosses,
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
  frameToHtml,
  frameToText,
  inJupyter,
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
  checkPplOrdering,
  compareWithPublished,
  type LoadedMhcResults,
  loadMhcResults,
  meanCurves,
  MHC_SUMMARY_METRICS,
  type MhcComparisonRow,
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
  checkpointTokenizer,
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
  type TokenizerSpec,
  writeTokenizerSpec,
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
