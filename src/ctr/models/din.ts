/**
 * DIN (Zhou et al. 2018) and its multimodal extensions (arXiv 2407.19467): ID embeddings ->
 * target attention over the behaviour sequence -> over-MLP on [user, target, interest] -> logit.
 * Composed of named parts:
 *   features (IdFeatures), content (ItemVectors, frozen item vectors), interest (TargetAttention),
 *   simtier (SimTier histogram into the MLP input), make (a trained MAKE, frozen by default:
 *   its interest beside ours, its hidden layers beside ours, its logit into our output layer, as
 *   config.make.join says; their weights start at zero under contentInit 'zero'),
 *   over (MLP).
 * The paper's baselines: `vector` joins the raw vectors to the item embeddings (attention and
 * MLP); `simScore` adds each behaviour's cosine to its raw attention weight, which for raw
 * (unnormalised) DIN weights is interest + w * sum_l cos_l * behaviour_l.
 */
import { Module } from '../../engine/module.js';
import { constant } from '../../engine/init.js';
import { add, concat, mul, reshape, simTierCounts } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { Parameter, Tensor } from '../../engine/tensor.js';
import type { Batch } from '../../data/batches.js';
import type { DinConfig, MakeConfig } from '../config.js';
import { TargetAttention } from '../../nn/attention.js';
import { FeatureSpace, IdFeatures } from '../parts/id-features.js';
import { ItemVectors, ItemVectorTable } from '../parts/item-vectors.js';
import { MLP } from '../../nn/mlp.js';
import { maskedSum } from '../../nn/pooling.js';
import { SimTier } from '../parts/simtier.js';
import { ConfigError } from '../../util/errors.js';
import type { Make, MakeCrossFit, MakeOutputs } from './make.js';

type MakeJoin = MakeConfig['join'];

/** What a DIN needs beyond its config and the ID feature space. */
export interface DinExtras {
  /** Item vectors (Vector, SimScore, SimTier, MAKE). */
  vectors?: ItemVectorTable;
  /** A trained MAKE (required when config.make is set). */
  make?: Make;
  /** The out-of-fold MAKEs that score training rows (config.make.folds >= 2; absent: `make` scores every row, as when only evaluating). */
  makeCrossFit?: MakeCrossFit;
}

export class Din extends Module {
  readonly features: IdFeatures;
  readonly content: ItemVectors | null = null;
  readonly interest: TargetAttention;
  readonly simtier: SimTier | null = null;
  readonly make: Make | null = null;
  /** Not a part: its models are not saved with the ID model (training only). */
  private readonly makeCrossFit: MakeCrossFit | null = null;
  readonly over: MLP;
  private readonly simScoreWeight: Parameter | null = null;

  constructor(
    readonly config: DinConfig,
    space: FeatureSpace,
    rng: RandomStream,
    extras: DinExtras = {},
  ) {
    super();
    this.features = this.child('features', new IdFeatures(space, config, rng.fork('features')));
    const multimodal = config.vector || config.simScore || config.simTier || config.make;
    if (multimodal) {
      if (!extras.vectors) throw new ConfigError('data.vectors', ['the model uses item vectors (vector, simScore, simTier or make): give data.vectors, a file of item vectors']);
      this.content = this.child('content', new ItemVectors(extras.vectors));
    }
    const d = this.features.itemDim + (config.vector ? this.content!.dim : 0);
    this.interest = this.child('interest', new TargetAttention({ dim: d, hidden: config.attentionHidden, activation: config.attentionActivation, softmax: config.attentionSoftmax, padding: config.attentionPadding }, rng.fork('interest')));
    if (config.simScore) this.simScoreWeight = this.param('simscore_weight', [1], constant(1), rng);
    if (config.simTier) this.simtier = this.child('simtier', new SimTier(config.simTier, rng.fork('simtier')));
    let input = this.features.userDim + 2 * d + (this.simtier?.width ?? 0);
    let contentTail = this.simtier?.width ?? 0;
    let side: number[] | undefined;
    if (config.make) {
      if (!extras.make) throw new ConfigError('model.make', ['the model takes a trained MAKE: train one first (the run does it) or give model.make.module']);
      this.make = this.child('make', extras.make);
      if (config.make.fineTuneLr === undefined) this.make.freeze();
      if (extras.makeCrossFit) {
        if (config.make.fineTuneLr !== undefined) throw new ConfigError('model.make', ['fineTuneLr fine-tunes MAKE, and out-of-fold MAKEs (folds) need it frozen: set make.folds: 0 to fine-tune it']);
        this.makeCrossFit = extras.makeCrossFit;
        for (const m of this.makeCrossFit.models) m.freeze();
      }
      const joined = config.make.join.includes('interest') ? this.make.widths.interest : 0;
      input += joined;
      contentTail += joined;
      side = makeSideWidths(config.mlpHidden.length, config.make.join, this.make.widths.hidden);
    }
    // Content inputs are the tail of the MLP input (parts in forward) and all of its side inputs.
    const zero = config.contentInit === 'zero';
    this.over = this.child('over', new MLP({ input, hidden: config.mlpHidden, activation: config.mlpActivation, output: 1, dropout: config.dropout, side, zeroTail: zero ? contentTail : 0, zeroSides: zero }, rng.fork('over')));
  }

  /** Logits [B]. */
  forward(batch: Batch): Tensor {
    const B = batch.size, L = batch.hist.length / B;
    const e = this.features.forward(batch);
    let { target, history } = e;
    const rows = this.content?.rowsOf(batch);
    if (this.config.vector && rows) {
      target = concat([target, this.content!.gather(rows, rows.target, [B])], 1);
      history = concat([history, this.content!.historyOf(rows, batch)], 2);
    }
    let tiers: Tensor | null = null, sims: Float32Array | null = null;
    if (rows && this.simtier) ({ features: tiers, sims } = this.simtier.histogram(rows, batch.histLen, L, this.simScoreWeight !== null));
    else if (rows && this.simScoreWeight) sims = simTierCounts({ ...rows, histLen: batch.histLen, length: L }, 1, true).sims;
    let interest = this.interest.forward(target, history, e.mask, batch.sharedHistory);
    if (this.simScoreWeight && sims) interest = add(interest, mul(maskedSum(history, sims), this.simScoreWeight));
    const parts = [...(e.user ? [e.user] : []), target, interest, ...(tiers ? [tiers] : [])];
    let made: MakeOutputs | null = null;
    if (this.make) {
      made = this.training && this.makeCrossFit ? this.makeCrossFit.extract(batch) : this.make.extract(batch);
      if (this.config.make!.join.includes('interest')) parts.push(made.interest);
    }
    const x = concat(parts, 1);
    return reshape(this.over.forward(x, made ? makeSides(this.config.mlpHidden.length, this.config.make!.join, made) : []), [B]);
  }
}

/**
 * What of MAKE goes beside each of our hidden layers: of the outputs `join` names, its hidden
 * layers aligned from the last one (its last beside our last, and so on back), and its logit
 * beside our last, into the output layer. One mapping for the widths (at construction) and the
 * tensors (in forward), and for the ONNX export's graph (export/onnx.ts).
 */
export function besideLayers<T>(ours: number, join: MakeJoin, hidden: readonly T[], logit: T): T[][] {
  const theirs = join.includes('hidden') ? hidden : [];
  return Array.from({ length: ours }, (_, i) => {
    const j = i - (ours - theirs.length);
    return [...(j >= 0 ? [theirs[j]] : []), ...(i === ours - 1 && join.includes('logit') ? [logit] : [])];
  });
}

function makeSideWidths(ours: number, join: MakeJoin, hidden: readonly number[]): number[] {
  return besideLayers(ours, join, hidden, 1).map((widths) => widths.reduce((a, b) => a + b, 0));
}

function makeSides(ours: number, join: MakeJoin, made: MakeOutputs): (Tensor | null)[] {
  return besideLayers(ours, join, made.hidden, made.logit).map((pieces) => (pieces.length === 0 ? null : pieces.length === 1 ? pieces[0] : concat(pieces, 1)));
}
