/**
 * DIN (Zhou et al. 2018): ID embeddings -> target attention over the behaviour sequence ->
 * over-MLP on [user, target, interest] -> logit. Composed of named parts:
 *   features (IdFeatures), interest (TargetAttention), over (MLP).
 */
import { Module } from '../../engine/module.js';
import { concat, reshape } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { Tensor } from '../../engine/tensor.js';
import type { Batch } from '../../data/batches.js';
import type { DinConfig } from '../config.js';
import { TargetAttention } from '../parts/attention.js';
import { FeatureSpace, IdFeatures } from '../parts/id-features.js';
import { MLP } from '../parts/mlp.js';

export class Din extends Module {
  readonly features: IdFeatures;
  readonly interest: TargetAttention;
  readonly over: MLP;

  constructor(
    readonly config: DinConfig,
    space: FeatureSpace,
    rng: RandomStream,
  ) {
    super();
    this.features = this.child('features', new IdFeatures(space, config, rng.fork('features')));
    const d = this.features.itemDim;
    this.interest = this.child('interest', new TargetAttention({ dim: d, hidden: config.attentionHidden, activation: config.attentionActivation, softmax: config.attentionSoftmax }, rng.fork('interest')));
    this.over = this.child('over', new MLP({ input: this.features.userDim + 2 * d, hidden: config.mlpHidden, activation: config.mlpActivation, output: 1, dropout: config.dropout }, rng.fork('over')));
  }

  /** Logits [B]. */
  forward(batch: Batch): Tensor {
    const e = this.features.forward(batch);
    const interest = this.interest.forward(e.target, e.history, e.mask);
    const x = concat(e.user ? [e.user, e.target, interest] : [e.target, interest], 1);
    return reshape(this.over.forward(x), [batch.size]);
  }
}
