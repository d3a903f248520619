/** encoders/: frozen backbones, the one reader of item-vector files, the feature cache and the text tokenizer. */
export type { FeatureTable, ImageBackbone, ItemContent } from './types.js';
export { EncoderError, FeatureFileError } from './errors.js';
export { imageFeatures, cacheFolder, type ImageFeatureOptions } from './cache.js';
export { MobileNetV2Backbone, MOBILENET_DIM, MOBILENET_ID, type MobileNetOptions } from './mobilenet.js';
export { precomputedFeatures } from './precomputed.js';
export { EMBEDDING_FORMAT, quantizeInt8, readEmbeddings, readVectorFile, vectorSpaceMismatch, writeEmbeddings, writeVectorFile, type ItemEmbeddings, type VectorFile, type VectorSource, type VectorSpace } from './vector-file.js';
export { tokenize, tokenizeBatch, tokenStrings, words, wordId, fnv1a, loadWordVectors, DEFAULT_BUCKETS, type TokenizerArgs, type TokenBatch, type WordVectorInit } from './tokenizer.js';
