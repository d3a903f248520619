/**
 * The embedding + MLP baseline: the behaviour sequence is sum-pooled (no attention), then the
 * over-MLP sees [user, target, pooled]. Parts: features (IdFeatures), over (MLP).
 */
import { Module } from '../../engine/module.js';
import { concat, reshape } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { Tensor } from '../../engine/tensor.js';
import type { Batch } from '../../data/batches.js';
import type { ModelConfig } from '../config.js';
import { FeatureSpace, IdFeatures } from '../parts/id-features.js';
import { MLP } from '../../nn/mlp.js';
import { maskedSum } from '../../nn/pooling.js';

export class SumPooling extends Module {
  readonly features: IdFeatures;
  readonly over: MLP;

  constructor(
    readonly config: ModelConfig,
    space: FeatureSpace,
    rng: RandomStream,
  ) {
    super();
    this.features = this.child('features', new IdFeatures(space, config, rng.fork('features')));
    const d = this.features.itemDim;
    this.over = this.child('over', new MLP({ input: this.features.userDim + 2 * d, hidden: config.mlpHidden, activation: config.mlpActivation, output: 1, dropout: config.dropout }, rng.fork('over')));
  }

  forward(batch: Batch): Tensor {
    const e = this.features.forward(batch);
    const pooled = maskedSum(e.history, e.mask);
    const x = concat(e.user ? [e.user, e.target, pooled] : [e.target, pooled], 1);
    return reshape(this.over.forward(x), [batch.size]);
  }
}
