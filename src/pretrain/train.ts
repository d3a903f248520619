/**
 * SCL training: InfoNCE between queries and bought items over the batch plus a MoCo queue of
 * momentum-encoder keys (earlier batches' items), plus lambda x a cosine triplet loss on the
 * hard negatives (clicked, not bought, same search):
 *   loss = symInfoNCE(q, k+, tau; queue) + lambda * mean(max(0, margin - cos(q, k+) + cos(q, k-)))
 * The queue's keys come from the EMA key encoder and get no gradient; a batch positive's own
 * earlier keys are masked out of the queue (a zero key) so an item is never its own negative.
 *
 * Variants for the ablations: 'scl' (all), 'noqueue' (in-batch negatives only), 'nohard'
 * (lambda = 0), 'align' (the 'CLIP fine-tuned on e-commerce pairs' analogue: the same towers
 * trained only on each item's own title <-> image pair, in-batch InfoNCE, no search logs).
 */
import { backward } from '../engine/autograd.js';
import { Adam, SparseAdam } from '../engine/optim.js';
import { add, affine, concat, embeddingLookup, mean, mul, relu, scale, slice, sub, sum, symmetricInfoNCE } from '../engine/ops/index.js';
import { RandomStream } from '../engine/random.js';
import { Tensor } from '../engine/tensor.js';
import { tokenizeBatch } from '../encoders/tokenizer.js';
import { MmctrError } from '../util/errors.js';
import type { SclConfig } from './config.js';
import { ItemInputs, SclModel } from './model.js';
import { KeyQueue, MomentumEncoder } from './moco.js';
import type { Pair } from './pairs.js';

export type Variant = 'scl' | 'noqueue' | 'nohard' | 'align';
export const VARIANTS: Variant[] = ['scl', 'noqueue', 'nohard', 'align'];

export interface TrainProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  nce: number;
  triplet: number;
  pairsPerSec: number;
}

export interface TrainResult {
  model: SclModel;
  variant: Variant;
  steps: number;
  pairs: number;
  seconds: number;
  pairsPerSec: number;
  finalLoss: number;
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

export interface TrainOptions {
  variant?: Variant;
  tokenize?: Tokenizer;
  onProgress?: (p: TrainProgress) => void;
  /** Report every this many steps. */
  reportEvery?: number;
}

export function trainScl(config: SclConfig, inputs: ItemInputs, pairs: readonly Pair[], { variant = 'scl', tokenize = defaultTokenizer, onProgress, reportEvery = 10 }: TrainOptions = {}): TrainResult {
  const mc = config.model, lc = config.loss, tc = config.train;
  if (inputs.maxTokens !== mc.maxTokens) throw new MmctrError(`item inputs have ${inputs.maxTokens} tokens per title, the config says ${mc.maxTokens}`);
  const rng = new RandomStream(config.seed);
  const model = new SclModel(mc, inputs.featureDim, rng.fork('model'));
  const dense = new Adam(model.namedParameters(), { lr: tc.lr, weightDecay: tc.weightDecay });
  const sparse = new SparseAdam(model.namedTables(), { lr: tc.sparseLr });
  const useQueue = variant === 'scl' || variant === 'nohard';
  const lambda = variant === 'scl' || variant === 'noqueue' ? lc.lambda : 0;
  const queue = useQueue && lc.queueSize > 0 ? new KeyQueue(lc.queueSize, mc.outDim) : null;
  const moco = queue ? new MomentumEncoder(model, new SclModel(mc, inputs.featureDim, rng.fork('model')), lc.momentum) : null;
  const L = mc.maxTokens;

  // The training examples: search pairs, or (align) every item with both a title and an image.
  let examples: Pair[];
  if (variant === 'align') {
    examples = [];
    for (let i = 0; i < inputs.count; i++)
      if (inputs.titleLen[i] > 0 && !inputs.imageMissing[i]) examples.push({ search: '', ts: 0, kind: 'text', text: null, queryItem: -1, pos: i, hard: [] });
  } else examples = [...pairs];
  if (examples.length < 2) throw new MmctrError(`SCL needs at least 2 training pairs, got ${examples.length}`);
  const textTok = tokenize(examples.map((p) => p.text), L);

  const B = Math.min(tc.batchSize, examples.length);
  const stepsPerEpoch = Math.floor(examples.length / B);
  const steps = stepsPerEpoch * tc.epochs;
  const shuffle = rng.fork('shuffle'), hardRng = rng.fork('hard');
  const t0 = performance.now();
  let step = 0, finalLoss = NaN;
  model.train();
  for (let epoch = 0; epoch < tc.epochs; epoch++) {
    const order = shuffle.permutation(examples.length);
    for (let s = 0; s < stepsPerEpoch; s++) {
      const batch = Array.from(order.subarray(s * B, (s + 1) * B));
      // Text queries first, then photo queries: rows of q follow this order.
      const textRows = batch.filter((e) => examples[e].kind === 'text');
      const imageRows = batch.filter((e) => examples[e].kind === 'image');
      const rows = [...textRows, ...imageRows];
      const pos = rows.map((e) => examples[e].pos);
      let q: Tensor, k: Tensor;
      let tripletValue = 0;
      let trip: Tensor | null = null;
      const hardQ: number[] = [], hardItems: number[] = [];
      if (variant === 'align') {
        q = model.encodeQueryText({ ids: gatherTokens(inputs.titleIds, pos, L), lengths: pos.map((i) => inputs.titleLen[i]) }, L);
        k = model.encodeQueryImage(gatherFeatures(inputs, pos));
      } else {
        const parts: Tensor[] = [];
        if (textRows.length) parts.push(model.encodeQueryText({ ids: gatherTokens(textTok.ids, textRows, L), lengths: textRows.map((e) => textTok.lengths[e]) }, L));
        if (imageRows.length) parts.push(model.encodeQueryImage(gatherFeatures(inputs, imageRows.map((e) => examples[e].queryItem))));
        q = parts.length === 1 ? parts[0] : concat(parts, 0);
        if (lambda > 0)
          rows.forEach((e, r) => {
            const h = examples[e].hard;
            if (!h.length) return;
            const take = Math.min(lc.hardPerPair, h.length);
            const picks = take === h.length ? h : Array.from(hardRng.permutation(h.length).subarray(0, take), (j) => h[j]);
            for (const item of picks) {
              hardQ.push(r);
              hardItems.push(item);
            }
          });
        const side = mc.keySide === 'fused' ? 'fused' : Float32Array.from([...rows, ...hardQ.map((r) => rows[r])], (e) => (examples[e].kind === 'text' ? 1 : 0));
        const all = model.encodeItems(inputs, [...pos, ...hardItems], side);
        k = hardItems.length ? slice(all, 0, 0, rows.length) : all;
        if (hardItems.length) {
          const d = mc.outDim, v = all.data, P = rows.length;
          const cos = hardQ.map((r, h) => {
            let c = 0;
            for (let j = 0; j < d; j++) c += v[r * d + j] * v[(P + h) * d + j];
            return c;
          });
          const { keep, weights } = filterHard(cos, lc.hardMaxCos, lc.hardWeighting);
          if (keep.length) {
            const qi = Int32Array.from(keep, (h) => hardQ[h]);
            const ni = Int32Array.from(keep, (h) => P + h);
            trip = cosineTriplet(embeddingLookup(q, qi), embeddingLookup(k, qi), embeddingLookup(all, ni), lc.margin, weights);
            tripletValue = trip.data[0];
          }
        }
      }
      const tripLoss = trip;
      const run = (negs: Tensor | null): number => {
        const nce = symmetricInfoNCE(q, k, lc.tau, { queue: negs });
        const loss = tripLoss ? add(nce, scale(tripLoss, lambda)) : nce;
        backward(loss);
        return nce.data[0];
      };
      const nceValue = queue ? queue.withNegatives(new Set(lc.maskQueuePositives ? pos : []), run) : run(null);
      dense.step();
      sparse.step();
      if (queue && moco) {
        moco.update();
        const side = mc.keySide === 'fused' ? 'fused' : Float32Array.from(rows, (e) => (examples[e].kind === 'text' ? 1 : 0));
        queue.enqueue(moco.encodeItems(inputs, pos, side), pos);
      }
      step++;
      finalLoss = nceValue + lambda * tripletValue;
      if (onProgress && (step % reportEvery === 0 || step === steps)) {
        const sec = (performance.now() - t0) / 1000;
        onProgress({ epoch: epoch + 1, epochs: tc.epochs, step, steps, loss: finalLoss, nce: nceValue, triplet: tripletValue, pairsPerSec: (step * B) / sec });
      }
    }
  }
  model.eval();
  const seconds = (performance.now() - t0) / 1000;
  return { model, variant, steps, pairs: step * B, seconds, pairsPerSec: (step * B) / Math.max(seconds, 1e-9), finalLoss };
}

function gatherTokens(ids: Int32Array, rows: readonly number[], L: number): Int32Array {
  const out = new Int32Array(rows.length * L);
  rows.forEach((e, r) => out.set(ids.subarray(e * L, (e + 1) * L), r * L));
  return out;
}
