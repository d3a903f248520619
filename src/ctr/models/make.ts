/**
 * MAKE, the multimodal knowledge extractor (arXiv 2407.19467, phase 2b): a DIN over frozen item
 * vectors only (query = the target's vector, keys = the behaviours' vectors), a shallow over-MLP
 * on [target vector, interest], and a logit; trained alone for several epochs on clicks, since
 * its dense parameters converge far slower than ID embeddings overfit. Parts: content
 * (ItemVectors), interest (TargetAttention), over (MLP). The ID model then takes its interest
 * vector, hidden layers and logit (`extract`). MakeCrossFit: the out-of-fold MAKEs that score
 * the ID model's training rows (config.make.folds).
 */
import { Module } from '../../engine/module.js';
import { noGrad } from '../../engine/autograd.js';
import { concat, reshape } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { Tensor } from '../../engine/tensor.js';
import { Batch, historyMask, takeBatch } from '../../data/batches.js';
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
    const mask = historyMask(batch, L, rows.hist);
    const interest = this.interest.forward(target, history, mask, batch.sharedHistory);
    const { out, hidden } = this.over.forwardWithHidden(concat([target, interest], 1));
    return { interest, hidden, logit: out };
  }

  forward(batch: Batch): Tensor {
    return reshape(this.extract(batch).logit, [batch.size]);
  }
}

/** The fold of a user for MAKE's cross-fitting: a seeded integer hash, the same in every batch and run. */
export function makeFoldOf(user: number, folds: number, seed: number): number {
  let h = Math.imul(user ^ Math.imul(seed + 1, 0x9e3779b1), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % folds;
}

/**
 * Out-of-fold MAKE for the ID model's training rows: fold model k is trained on the rows of
 * users outside fold k (`trainRows`), and scores the rows of users in fold k (`extract`), so no
 * training row is scored by a MAKE that saw it. Held apart from the ID model's parameters (only
 * the MAKE trained on every row is part of the model file: it scores validation, test, serving).
 */
export class MakeCrossFit {
  constructor(
    readonly models: readonly Make[],
    readonly seed: number,
  ) {}

  get folds(): number {
    return this.models.length;
  }

  /** Positions of the batch rows fold model k trains on: those of users outside fold k. */
  trainRows(batch: Batch, k: number): Int32Array {
    const out: number[] = [];
    for (let i = 0; i < batch.size; i++) if (makeFoldOf(batch.user[i], this.folds, this.seed) !== k) out.push(i);
    return Int32Array.from(out);
  }

  /** MAKE's outputs for a training batch, each row's from the fold model that did not train on it. */
  extract(batch: Batch): MakeOutputs {
    const L = batch.hist.length / batch.size;
    const rowsOf: number[][] = Array.from({ length: this.folds }, () => []);
    for (let i = 0; i < batch.size; i++) rowsOf[makeFoldOf(batch.user[i], this.folds, this.seed)].push(i);
    let out: Float32Array[] = [], widths: number[] = [];
    noGrad(() => {
      for (const [k, rows] of rowsOf.entries()) {
        if (rows.length === 0) continue;
        const made = this.models[k].extract(takeBatch(batch, Int32Array.from(rows), L));
        const parts = [made.interest, ...made.hidden, made.logit];
        if (widths.length === 0) {
          widths = parts.map((t) => t.shape[1]);
          out = widths.map((w) => new Float32Array(batch.size * w));
        }
        parts.forEach((t, p) => rows.forEach((row, j) => out[p].set(t.data.subarray(j * widths[p], (j + 1) * widths[p]), row * widths[p])));
      }
    });
    const tensors = out.map((data, p) => new Tensor(data, [batch.size, widths[p]]));
    return { interest: tensors[0], hidden: tensors.slice(1, -1), logit: tensors[tensors.length - 1] };
  }
}
