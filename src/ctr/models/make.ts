/**
 * MAKE, the multimodal knowledge extractor (arXiv 2407.19467, phase 2b): a DIN over frozen item
 * vectors only (query = the target's vector, keys = the behaviours' vectors), a shallow over-MLP
 * on [target vector, interest], and a logit; trained alone for several epochs on clicks, since
 * its dense parameters converge far slower than ID embeddings overfit. Parts: content
 * (ItemVectors), interest (TargetAttention), over (MLP). The ID model then takes its interest
 * vector, hidden layers and logit (`extract`).
 */
import { Module } from '../../engine/module.js';
import { concat, reshape } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { Tensor } from '../../engine/tensor.js';
import type { Batch } from '../../data/batches.js';
import type { MakeConfig } from '../config.js';
import { TargetAttention } from '../../nn/attention.js';
import { ItemVectors, ItemVectorTable } from '../parts/item-vectors.js';
import { MLP } from '../../nn/mlp.js';

/** What MAKE hands the ID model. */
export interface MakeOutputs {
  /** [B, dim] attention-pooled behaviour vectors. */
  interest: Tensor;
  /** Each hidden layer of its over-MLP, [B, width_i]. */
  hidden: Tensor[];
  /** [B, 1] */
  logit: Tensor;
}

export class Make extends Module {
  readonly content: ItemVectors;
  readonly interest: TargetAttention;
  readonly over: MLP;
  /** The trainer's view: MAKE has no ID embeddings (no L2 on rows). */
  readonly config: MakeConfig & { model: 'make'; embeddingL2: number };

  constructor(config: MakeConfig, vectors: ItemVectorTable, rng: RandomStream) {
    super();
    this.config = { ...config, model: 'make', embeddingL2: 0 };
    this.content = this.child('content', new ItemVectors(vectors));
    const d = vectors.dim;
    this.interest = this.child('interest', new TargetAttention({ dim: d, hidden: config.attentionHidden, activation: config.attentionActivation, softmax: false }, rng.fork('interest')));
    this.over = this.child('over', new MLP({ input: 2 * d, hidden: config.mlpHidden, activation: config.mlpActivation, output: 1, dropout: 0 }, rng.fork('over')));
  }

  /** Widths of the interest vector and of each hidden layer (the ID model sizes its inputs from them). */
  get widths(): { interest: number; hidden: readonly number[] } {
    return { interest: this.content.dim, hidden: this.config.mlpHidden };
  }

  extract(batch: Batch): MakeOutputs {
    const rows = this.content.rowsOf(batch);
    const L = batch.hist.length / batch.size;
    const target = this.content.gather(rows, rows.target, [batch.size]);
    const history = this.content.historyOf(rows, batch);
    // Padding, and behaviours without a vector, are masked out of the attention.
    const mask = new Float32Array(batch.size * L);
    for (let b = 0; b < batch.size; b++) for (let l = 0; l < batch.histLen[b]; l++) if (rows.hist[b * L + l] !== 0) mask[b * L + l] = 1;
    const interest = this.interest.forward(target, history, mask, batch.sharedHistory);
    const { out, hidden } = this.over.forwardWithHidden(concat([target, interest], 1));
    return { interest, hidden, logit: out };
  }

  forward(batch: Batch): Tensor {
    return reshape(this.extract(batch).logit, [batch.size]);
  }
}
