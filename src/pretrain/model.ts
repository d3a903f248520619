/**
 * The SCL model: two towers and a fusion, as named parts of one Module.
 *   text:   hashed n-gram embedding bag (SparseEmbedding over token ids, masked mean) -> MLP (nn/) -> outDim
 *   image:  MLP (nn/) over frozen backbone features -> outDim; with model.trainableLayers the
 *           backbone's top (nn/pointwise.ts, from the pretrained weights) first turns the cached
 *           7 x 7 activations into those features, trained with the rest
 *   fuse:   the item vector, L2-normalised ('sum': l2(l2 t + l2 v); 'linear': l2(W [t; v] + b));
 *           an item without an image uses its text side only, one without a title its image side.
 * Query encoders share the towers: query text -> text tower, query photo -> image tower.
 */
import { Module } from '../engine/module.js';
import { noGrad } from '../engine/autograd.js';
import { add, bmm, concat, l2Normalize, linear, mul, reshape, slice } from '../engine/ops/index.js';
import { glorotUniform, normal, zeros } from '../engine/init.js';
import { RandomStream } from '../engine/random.js';
import { SparseEmbedding } from '../engine/sparse-embedding.js';
import { Parameter, Tensor } from '../engine/tensor.js';
import { MLP } from '../nn/mlp.js';
import { PointwiseHead, PointwiseHeadArgs } from '../nn/pointwise.js';
import { MmctrError } from '../util/errors.js';
import type { SclConfig } from './config.js';

/** Per-item inputs, computed once: tokenised titles and frozen image features. */
export interface ItemInputs {
  count: number;
  maxTokens: number;
  /** [count, maxTokens] token ids, 0 = padding. */
  titleIds: Int32Array;
  /** Tokens per title; 0 = no title. */
  titleLen: Int32Array;
  featureDim: number;
  /** [count, featureDim]. */
  features: Float32Array;
  /** 1 = no usable image. */
  imageMissing: Uint8Array;
  /**
   * The backbone's pretrained top layers when `features` are their input (model.trainableLayers >
   * 0): the first `positions x channels` columns of a row are the cut activations, any further
   * ones (the colour histogram) join after the pool. Absent: the features are final.
   */
  imageHead?: PointwiseHeadArgs | null;
}

export interface TokenBatch {
  ids: Int32Array;
  lengths: ArrayLike<number>;
}

/** A tower's projection: one ReLU hidden layer of `hidden` (none when 0), then the linear output, named w0/b0, w1/b1 as SCL model files have them. */
function projection(input: number, hidden: number, outDim: number, rng: RandomStream): MLP {
  return new MLP({ input, hidden: hidden > 0 ? [hidden] : [], activation: 'relu', output: outDim, outputNames: 'next' }, rng);
}

export class TextTower extends Module {
  readonly tokens: SparseEmbedding;
  readonly proj: MLP;
  constructor(
    readonly buckets: number,
    readonly tokenDim: number,
    hidden: number,
    outDim: number,
    rng: RandomStream,
  ) {
    super();
    this.tokens = this.table('tokens', new SparseEmbedding({ rows: buckets, dim: tokenDim, init: normal(0.1) }, rng.fork('tokens')));
    this.proj = this.child('proj', projection(tokenDim, hidden, outDim, rng.fork('proj')));
  }
  /** ids [B * L] (0 = padding), lengths [B] -> [B, outDim] (not normalised). */
  forward(ids: Int32Array, lengths: ArrayLike<number>, L: number): Tensor {
    const B = lengths.length;
    if (ids.length !== B * L) throw new MmctrError(`text tower: ${ids.length} token ids do not make ${B} rows of ${L}`);
    for (let i = 0; i < ids.length; i++) if (ids[i] < 0 || ids[i] >= this.buckets) throw new MmctrError(`text tower: token id ${ids[i]} is outside [0, ${this.buckets})`);
    const w = new Float32Array(B * L);
    for (let b = 0; b < B; b++) {
      const n = Math.min(L, lengths[b]);
      for (let j = 0; j < n; j++) w[b * L + j] = 1 / n;
    }
    const emb = this.tokens.lookup(ids, [B, L]);
    const bag = reshape(bmm(new Tensor(w, [B, 1, L]), emb), [B, this.tokenDim]);
    return this.proj.forward(bag);
  }
}

export class ImageTower extends Module {
  readonly proj: MLP;
  /** The trainable backbone top, when the features are its input. */
  readonly head: PointwiseHead | null;
  constructor(inDim: number, hidden: number, outDim: number, rng: RandomStream, head: PointwiseHeadArgs | null = null) {
    super();
    this.head = head ? this.child('head', new PointwiseHead(head)) : null;
    const extra = this.head ? inDim - this.head.inDim : 0;
    if (extra < 0) throw new MmctrError(`image tower: ${inDim}-d features are fewer than the ${this.head!.inDim} activations its backbone top reads`);
    this.pooledDim = this.head ? this.head.outDim + extra : inDim;
    if (this.head && this.pooledDim === inDim) throw new MmctrError(`image tower: the backbone top maps ${this.head.inDim} activations to as many features; its input and output could not be told apart`);
    this.proj = this.child('proj', projection(this.pooledDim, hidden, outDim, rng));
  }
  /** The width the projection reads: the top's output (with any joined columns), or the features themselves without a top. */
  readonly pooledDim: number;
  /** Cut activations go through the top; features already through the frozen top (frozenFeatures: the epochs before it trains) go straight to the projection. */
  forward(features: Tensor): Tensor {
    return this.proj.forward(this.head && features.shape[1] !== this.pooledDim ? pooled(this.head, features) : features);
  }
}

/** The head's output over the first `head.inDim` columns, with the remaining columns joined after it. */
function pooled(head: PointwiseHead, features: Tensor): Tensor {
  const F = features.shape[1];
  if (F === head.inDim) return head.forward(features);
  return concat([head.forward(slice(features, 1, 0, head.inDim)), slice(features, 1, head.inDim, F)], 1);
}

/** The inputs as the frozen backbone gives them: cut activations through the pretrained top (no gradient), for the raw baseline; final features unchanged. */
export function frozenFeatures(inputs: ItemInputs, chunk = 512): ItemInputs {
  if (!inputs.imageHead) return inputs;
  const head = new PointwiseHead(inputs.imageHead);
  const F = inputs.featureDim, D = head.outDim + F - head.inDim;
  const out = new Float32Array(inputs.count * D);
  noGrad(() => {
    for (let s = 0; s < inputs.count; s += chunk) {
      const n = Math.min(chunk, inputs.count - s);
      out.set(pooled(head, new Tensor(inputs.features.subarray(s * F, (s + n) * F), [n, F])).data, s * D);
    }
  });
  return { ...inputs, featureDim: D, features: out, imageHead: null };
}

/** Which side of an item a row uses: fused, or per row text (1) / image (0). */
export type Side = 'fused' | Float32Array;

export class SclModel extends Module {
  readonly text: TextTower;
  readonly image: ImageTower;
  readonly fuseW: Parameter | null = null;
  readonly fuseB: Parameter | null = null;
  /** `head`: the backbone's pretrained top when model.trainableLayers > 0 (pretrain/features.ts `sclImageHead`); a saved model's weights replace it on load. */
  constructor(
    readonly config: SclConfig['model'],
    readonly featureDim: number,
    rng: RandomStream,
    head: PointwiseHeadArgs | null = null,
  ) {
    super();
    const c = config;
    if ((c.trainableLayers > 0) !== (head !== null))
      throw new MmctrError(`SCL model: model.trainableLayers is ${c.trainableLayers} but the image features ${head ? 'are cut below a backbone top' : 'are the final backbone features'}`);
    this.text = this.child('text', new TextTower(c.textBuckets, c.tokenDim, c.hidden, c.outDim, rng.fork('text')));
    this.image = this.child('image', new ImageTower(featureDim, c.hidden, c.outDim, rng.fork('image'), head));
    if (c.fusion === 'linear') {
      this.fuseW = this.param('fuse_w', [2 * c.outDim, c.outDim], glorotUniform, rng.fork('fuse'));
      this.fuseB = this.param('fuse_b', [c.outDim], zeros, rng);
    }
  }

  /** Query texts (tokenised) -> [B, outDim], L2-normalised. */
  encodeQueryText(tokens: TokenBatch, L: number): Tensor {
    return l2Normalize(this.text.forward(tokens.ids, tokens.lengths, L));
  }

  /** Photo queries (their frozen features [B, F]) -> [B, outDim], L2-normalised. */
  encodeQueryImage(features: Tensor): Tensor {
    return l2Normalize(this.image.forward(features));
  }

  /** Items at catalogue indices -> [B, outDim], L2-normalised (fused, or the side per row). */
  encodeItems(inputs: ItemInputs, index: ArrayLike<number>, side: Side = 'fused'): Tensor {
    const B = index.length, L = inputs.maxTokens, F = inputs.featureDim;
    const ids = new Int32Array(B * L), lens = new Int32Array(B), feats = new Float32Array(B * F);
    const hasT = new Float32Array(B), hasV = new Float32Array(B);
    for (let r = 0; r < B; r++) {
      const i = index[r];
      ids.set(inputs.titleIds.subarray(i * L, (i + 1) * L), r * L);
      lens[r] = inputs.titleLen[i];
      feats.set(inputs.features.subarray(i * F, (i + 1) * F), r * F);
      hasT[r] = inputs.titleLen[i] > 0 ? 1 : 0;
      hasV[r] = inputs.imageMissing[i] ? 0 : 1;
    }
    const t = this.text.forward(ids, lens, L);
    const v = this.image.forward(new Tensor(feats, [B, F]));
    let wt = hasT, wv = hasV;
    if (side !== 'fused') {
      // The asked side when the item has it, else the other one.
      wt = new Float32Array(B);
      wv = new Float32Array(B);
      for (let r = 0; r < B; r++) {
        const wantText = side[r] > 0.5;
        const useText = wantText ? hasT[r] > 0 || hasV[r] === 0 : hasV[r] === 0 && hasT[r] > 0;
        if (useText) wt[r] = hasT[r];
        else wv[r] = 1;
      }
    } else if (this.fuseW) {
      const both = concat([mul(t, new Tensor(hasT, [B, 1])), mul(v, new Tensor(hasV, [B, 1]))], 1);
      return l2Normalize(linear(both, this.fuseW, this.fuseB));
    }
    return l2Normalize(add(mul(l2Normalize(t), new Tensor(wt, [B, 1])), mul(l2Normalize(v), new Tensor(wv, [B, 1]))));
  }
}
