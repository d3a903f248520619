/** The model registry: a model config -> the model it names. */
import { Module } from '../../engine/module.js';
import { RandomStream } from '../../engine/random.js';
import { Tensor } from '../../engine/tensor.js';
import type { Batch } from '../../data/batches.js';
import type { ModelConfig } from '../config.js';
import type { FeatureSpace } from '../parts/id-features.js';
import { Din } from './din.js';
import { SumPooling } from './sum-pooling.js';

export interface CtrModel extends Module {
  readonly config: ModelConfig;
  /** Logits [B] for a batch. */
  forward(batch: Batch): Tensor;
}

export function createModel(config: ModelConfig, space: FeatureSpace, seed: number): CtrModel {
  const rng = new RandomStream(seed).fork('model');
  switch (config.model) {
    case 'din': return new Din(config, space, rng);
    case 'sum-pooling': return new SumPooling(config, space, rng);
  }
}
