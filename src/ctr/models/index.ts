/** The model registry: a model config -> the model it names. */
import { Module } from '../../engine/module.js';
import { Parameter } from '../../engine/tensor.js';
import { RandomStream } from '../../engine/random.js';
import { Tensor } from '../../engine/tensor.js';
import type { Batch } from '../../data/batches.js';
import type { MakeConfig, ModelConfig } from '../config.js';
import type { FeatureSpace } from '../parts/id-features.js';
import type { TableRows } from '../parts/table-rows.js';
import type { ItemVectorTable } from '../parts/item-vectors.js';
import { Din, DinExtras } from './din.js';
import { Make } from './make.js';
import { SumPooling } from './sum-pooling.js';

export interface CtrModel extends Module {
  /** The model's config; the trainer reads its embedding L2. */
  readonly config: { model: string; embeddingL2: number };
  /** Logits [B] for a batch. */
  forward(batch: Batch): Tensor;
}

export function createModel(config: ModelConfig, space: FeatureSpace, seed: number, extras: DinExtras = {}): CtrModel {
  const rng = new RandomStream(seed).fork('model');
  switch (config.model) {
    case 'din': return new Din(config, space, rng, extras);
    case 'sum-pooling': return new SumPooling(config, space, rng);
  }
}

/** A model's bounded ID tables (model.embeddingTables), for the run log; empty when all are full. */
export function boundedTables(model: CtrModel): TableRows[] {
  return model instanceof Din || model instanceof SumPooling ? model.features.tableRows : [];
}

export function createMake(config: MakeConfig, vectors: ItemVectorTable, seed: number): Make {
  return new Make(config, vectors, new RandomStream(seed).fork('make'));
}

/**
 * Dense parameter groups and their learning rates: every trainable parameter at `lr`, except a
 * fine-tuned MAKE's, which get MAKE's own (smaller) rate.
 */
export function parameterGroups(model: CtrModel, lr: number): { name: string; params: Map<string, Parameter>; lr: number }[] {
  const all = model.namedTrainableParameters();
  const fineTuneLr = model instanceof Din ? model.config.make?.fineTuneLr : undefined;
  if (fineTuneLr === undefined) return [{ name: 'dense', params: all, lr }];
  const isMake = (name: string) => name.startsWith('make.');
  return [
    { name: 'dense', params: new Map([...all].filter(([n]) => !isMake(n))), lr },
    { name: 'make', params: new Map([...all].filter(([n]) => isMake(n))), lr: fineTuneLr },
  ];
}

export { Din, Make };
