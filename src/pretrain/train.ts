/**
 * SCL training: the contrastive loop (trainer.ts) over search -> purchase pairs. InfoNCE between
 * queries and bought items over the batch plus a MoCo queue of momentum-encoder keys (earlier
 * batches' items), plus lambda x a cosine triplet loss on the hard negatives (clicked, not
 * bought, same search):
 *   loss = symInfoNCE(q, k+, tau; queue) + lambda * mean(max(0, margin - cos(q, k+) + cos(q, k-)))
 * The queue's keys come from the EMA key encoder and get no gradient; a batch positive's own
 * earlier keys are masked out of the queue (a zero key) so an item is never its own negative.
 *
 * Variants for the ablations: 'scl' (all), 'noqueue' (in-batch negatives only), 'nohard'
 * (lambda = 0), 'align' (the 'CLIP fine-tuned on e-commerce pairs' analogue: the same towers
 * trained only on each item's own title <-> image pair, in-batch InfoNCE, no search logs).
 */
import { affine, concat, embeddingLookup, mean, mul, relu, slice, sub, sum } from '../engine/ops/index.js';
import { RandomStream } from '../engine/random.js';
import { Tensor } from '../engine/tensor.js';
import { tokenizeBatch } from '../encoders/tokenizer.js';
import { MmctrError } from '../util/errors.js';
import type { SclConfig } from './config.js';
import type { ItemInputs, Side } from './model.js';
import type { Pair } from './pairs.js';
import { ContrastiveBatch, ContrastiveResult, Encoders, LoopOptions, PairSource, trainContrastive } from './trainer.js';

export type Variant = 'scl' | 'noqueue' | 'nohard' | 'align';
export const VARIANTS: Variant[] = ['scl', 'noqueue', 'nohard', 'align'];

export interface TrainResult extends ContrastiveResult {
  variant: Variant;
}

export type Tokenizer = (texts: readonly (string | null)[], maxTokens: number) => { ids: Int32Array; lengths: ArrayLike<number> };
export const defaultTokenizer: Tokenizer = (texts, L) => tokenizeBatch(texts, L);

/**
 * Cosine triplet loss: mean over rows of w_r * max(0, margin - <q, p> + <q, n>) for unit rows
 * (w_r = 1 without `weights`).
 */
export function cosineTriplet(q: Tensor, p: Tensor, n: Tensor, margin: number, weights?: Float32Array): Tensor {
  const cp = sum(mul(q, p), 1);
  const cn = sum(mul(q, n), 1);
  const hinge = relu(affine(sub(cn, cp), 1, margin));
  return mean(weights ? mul(hinge, new Tensor(weights, [weights.length], false)) : hinge);
}

/**
 * Which sampled hard negatives enter the triplet loss, and with what weight, from the cosine
 * between the positive's and the negative's current item vectors (no gradient). Clicked items
 * that are (near) copies of the bought one are likely false negatives (the user clicked several
 * items that all match the query and bought one of them): with `maxCos` < 1 a negative whose
 * cosine to the positive exceeds it is dropped; with 'dissimilar' weighting each kept triplet
 * counts (1 - cos) / 2.
 */
export function filterHard(cosToPos: readonly number[], maxCos: number, weighting: 'uniform' | 'dissimilar'): { keep: number[]; weights: Float32Array | undefined } {
  const keep: number[] = [], w: number[] = [];
  cosToPos.forEach((c, h) => {
    if (c > maxCos) return;
    keep.push(h);
    w.push(Math.max(0, (1 - c) / 2));
  });
  return { keep, weights: weighting === 'dissimilar' ? Float32Array.from(w) : undefined };
}

/** Builds the per-item inputs from titles and a feature table aligned with `itemIds`. */
export function itemInputs(titles: readonly (string | null)[], features: Float32Array, featureDim: number, missing: Uint8Array, maxTokens: number, tokenize: Tokenizer = defaultTokenizer): ItemInputs {
  const n = titles.length;
  if (features.length !== n * featureDim || missing.length !== n) throw new MmctrError(`item inputs: ${n} titles but features for ${features.length / featureDim} items`);
  const tok = tokenize(titles, maxTokens);
  return { count: n, maxTokens, titleIds: tok.ids, titleLen: Int32Array.from(tok.lengths), featureDim, features, imageMissing: missing };
}

function gatherFeatures(inputs: ItemInputs, index: ArrayLike<number>): Tensor {
  const F = inputs.featureDim, out = new Float32Array(index.length * F);
  for (let r = 0; r < index.length; r++) out.set(inputs.features.subarray(index[r] * F, (index[r] + 1) * F), r * F);
  return new Tensor(out, [index.length, F]);
}

export interface TrainOptions extends LoopOptions {
  variant?: Variant;
  tokenize?: Tokenizer;
}

export function trainScl(config: SclConfig, inputs: ItemInputs, pairs: readonly Pair[], { variant = 'scl', tokenize = defaultTokenizer, ...loop }: TrainOptions = {}): TrainResult {
  const useQueue = variant === 'scl' || variant === 'nohard';
  const source = new SearchPairSource(config, inputs, pairs, variant, tokenize);
  // The ablations without a queue train the same loop with none.
  const loopConfig = useQueue ? config : { ...config, loss: { ...config.loss, queueSize: 0 } };
  return { ...trainContrastive(loopConfig, inputs, source, loop), variant };
}

/**
 * SCL's examples: search -> purchase pairs (text queries through the text tower, photo queries
 * through the image tower, the bought item's vector as the key) with up to `hardPerPair` sampled
 * hard negatives each in the triplet term; or (align) every item with both a title and an image,
 * its title against its image.
 */
class SearchPairSource implements PairSource {
  readonly name = 'SCL';
  private readonly examples: Pair[];
  private readonly textTok: { ids: Int32Array; lengths: ArrayLike<number> };
  private readonly lambda: number;
  private readonly hardRng: RandomStream;

  constructor(
    private readonly config: SclConfig,
    inputs: ItemInputs,
    pairs: readonly Pair[],
    private readonly variant: Variant,
    tokenize: Tokenizer,
  ) {
    this.lambda = variant === 'scl' || variant === 'noqueue' ? config.loss.lambda : 0;
    if (variant === 'align') {
      this.examples = [];
      for (let i = 0; i < inputs.count; i++)
        if (inputs.titleLen[i] > 0 && !inputs.imageMissing[i]) this.examples.push({ search: '', ts: 0, kind: 'text', text: null, queryItem: -1, pos: i, hard: [] });
    } else this.examples = [...pairs];
    this.textTok = tokenize(this.examples.map((p) => p.text), config.model.maxTokens);
    this.hardRng = new RandomStream(config.seed).fork('hard');
  }

  get count(): number {
    return this.examples.length;
  }

  batch(order: Int32Array, { model, inputs }: Encoders): ContrastiveBatch {
    const { examples, textTok } = this;
    const mc = this.config.model, lc = this.config.loss, L = mc.maxTokens;
    const batch = Array.from(order);
    // Text queries first, then photo queries: rows of q follow this order.
    const textRows = batch.filter((e) => examples[e].kind === 'text');
    const imageRows = batch.filter((e) => examples[e].kind === 'image');
    const rows = [...textRows, ...imageRows];
    const pos = rows.map((e) => examples[e].pos);
    const keySide = (of: readonly number[]): Side => (mc.keySide === 'fused' ? 'fused' : Float32Array.from(of, (e) => (examples[e].kind === 'text' ? 1 : 0)));
    const enqueue = { items: pos, side: keySide(rows) };
    const masked = lc.maskQueuePositives ? pos : [];
    if (this.variant === 'align') {
      const q = model.encodeQueryText({ ids: gatherTokens(inputs.titleIds, pos, L), lengths: pos.map((i) => inputs.titleLen[i]) }, L);
      return { q, k: model.encodeQueryImage(gatherFeatures(inputs, pos)), masked, enqueue };
    }
    const parts: Tensor[] = [];
    if (textRows.length) parts.push(model.encodeQueryText({ ids: gatherTokens(textTok.ids, textRows, L), lengths: textRows.map((e) => textTok.lengths[e]) }, L));
    if (imageRows.length) parts.push(model.encodeQueryImage(gatherFeatures(inputs, imageRows.map((e) => examples[e].queryItem))));
    const q = parts.length === 1 ? parts[0] : concat(parts, 0);
    const hardQ: number[] = [], hardItems: number[] = [];
    if (this.lambda > 0)
      rows.forEach((e, r) => {
        const h = examples[e].hard;
        if (!h.length) return;
        const take = Math.min(lc.hardPerPair, h.length);
        const picks = take === h.length ? h : Array.from(this.hardRng.permutation(h.length).subarray(0, take), (j) => h[j]);
        for (const item of picks) {
          hardQ.push(r);
          hardItems.push(item);
        }
      });
    const all = model.encodeItems(inputs, [...pos, ...hardItems], keySide([...rows, ...hardQ.map((r) => rows[r])]));
    const k = hardItems.length ? slice(all, 0, 0, rows.length) : all;
    if (!hardItems.length) return { q, k, masked, enqueue };
    const d = mc.outDim, v = all.data, P = rows.length;
    const cos = hardQ.map((r, h) => {
      let c = 0;
      for (let j = 0; j < d; j++) c += v[r * d + j] * v[(P + h) * d + j];
      return c;
    });
    const { keep, weights } = filterHard(cos, lc.hardMaxCos, lc.hardWeighting);
    if (!keep.length) return { q, k, masked, enqueue };
    const qi = Int32Array.from(keep, (h) => hardQ[h]);
    const ni = Int32Array.from(keep, (h) => P + h);
    const term = { loss: cosineTriplet(embeddingLookup(q, qi), embeddingLookup(k, qi), embeddingLookup(all, ni), lc.margin, weights), weight: this.lambda };
    return { q, k, term, masked, enqueue };
  }
}

function gatherTokens(ids: Int32Array, rows: readonly number[], L: number): Int32Array {
  const out = new Int32Array(rows.length * L);
  rows.forEach((e, r) => out.set(ids.subarray(e * L, (e + 1) * L), r * L));
  return out;
}
