/**
 * The library entry (`import ... from 'mmctr'`): a small, deliberate public API, each name
 * re-exported from the stage that owns it. What is not here is internal and may change.
 *
 *   train from a config      readExperimentConfig -> resolveStore -> trainRun (ctr/, pipeline/)
 *   open a run and rank      loadServingModel -> idsToFetch -> index.getMany -> rankCandidates (serve/)
 *   item-vector files        readVectorFile, writeVectorFile, writeEmbeddings (encoders/vector-file.ts)
 *   the vector index         openIndex, loadVectorsInto, closeIndex (index/)
 *   image backbones          loadImageBackbone (an encoder config), ImageBackbone, imageFeatures (encoders/; docs/encoders.md)
 */
export { MmctrError, ConfigError, UsageError } from './util/errors.js';
export { homeDir, setHomeDir } from './util/paths.js';

export { ExperimentConfig } from './ctr/config.js';
export { openRun, readExperimentConfig, trainRun, type RunResult, type TrainRunOptions } from './ctr/run.js';
export { resolveStore, type StoreSource } from './pipeline/store.js';
export { configWithSets, planSweep, runSweep } from './ctr/experiment/sweep.js';
export { checkConfigFile, jsonSchemaOf, CONFIG_KIND_NAMES, type ConfigKind } from './pipeline/configs.js';
export { SampleStore } from './data/store.js';

export { exportOnnx, type OnnxGraph } from './export/onnx.js';
export { exportRunToOnnx, type OnnxSideFile } from './export/run-export.js';
export { OnnxScorer } from './export/onnx-scorer.js';

export { loadServingModel, type ServingBackend, type ServingModel } from './serve/model-state.js';
export { idsToFetch, rankCandidates, type RankInput, type RankOutput } from './serve/ranker.js';

export { readEmbeddings, readVectorFile, writeEmbeddings, writeVectorFile, type ItemEmbeddings, type VectorFile, type VectorSource, type VectorSpace } from './encoders/vector-file.js';
export { closeIndex, loadVectorsInto, openIndex, type IndexOptions, type OpenedIndex, type VectorIndex, type SimilarItem } from './index/index.js';

export { imageFeatures, type ImageFeatureOptions } from './encoders/cache.js';
export type { FeatureTable, ImageBackbone, ItemContent } from './encoders/types.js';
export { ImageBackboneConfig, loadImageBackbone, type ImageBackboneConfigInput, type LoadBackboneOptions } from './encoders/backbone.js';
