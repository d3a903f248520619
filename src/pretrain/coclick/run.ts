/**
 * Text-only item vectors for logs without searches (MovieLens and the like), the whole run on a
 * sample store: this file owns putting the co-click pieces together (texts.ts, pairs.ts,
 * train.ts, config.ts) and their retrieval evaluation through the one of pre-training
 * (pretrain/evaluate.ts). The CLI is `mmctr pretrain text` (src/cli/text-vectors.ts).
 *
 *   item text = title + the values of the catalogue fields listed in `text.fields` that the
 *               store's catalogue has (MovieLens: category = first genre, and, when the store was
 *               built with the adapter's attributes, all genres and the release year)
 *   positives = co-click pairs (h, t): a clicked *training* sample's target t with each of the
 *               last `pairs.window` clicks of its history h (earlier clicks of the same user; all
 *               of them are in the training split because the split is by time). Validation and
 *               test samples are never read for training.
 *   model     = the SCL text tower (hashed n-gram bag -> MLP -> 128, ../model.ts) on the item text,
 *               run as an SclModel whose items have no image (the fused vector is then the text
 *               side, l2-normalised); the encoder only sees text, so every catalogue item (and
 *               any new one) gets a vector.
 *   loss      = symmetric InfoNCE over in-batch negatives (+ optionally a MoCo queue of
 *               momentum-encoder keys, with the batch's own items masked out of it, and optionally
 *               uniformly drawn catalogue items as extra constant negatives).
 *   baseline  = 'ngram': the untrained bag of hashed n-gram counts (same tokenizer, no
 *               truncation) projected to outDim by a fixed seeded Gaussian projection (one
 *               N(0, 1) row per token id, drawn from the id itself, so a new item's projection
 *               never depends on the catalogue), L2-normalised.
 *   evaluation= held-out co-click pairs of the validation split (each clicked sample's target
 *               with its most recent earlier click): the target ranked among `eval.candidates`
 *               items (itself + distinct random catalogue items other than the query), top-1 and
 *               top-K, ties broken at random in expectation; also for targets with no training
 *               click ("cold"); `eval.holdOutItems` withholds a share of the catalogue from
 *               training to measure new items on many more pairs.
 *
 * Measured on MovieLens-100k (store with title + genres + year; 209k training pairs, 5,558
 * validation pairs, 100 candidates; defaults; seed 1 / seed 2), top-1 / top-10 %:
 *   coclick 9.6 / 47.5 (9.7 / 46.5), ngram 2.9 / 16.6, popular-item reference 8.3 / 48.1;
 *   20% of items withheld from training (1,180 pairs whose target is withheld):
 *   coclick 4.7 / 35.0, ngram 3.2 / 17.6, popular 0 / 0.
 *   tau 0.05 / 0.2, window 1 / 10, 10 epochs, a 4,096-key queue: within about +-1.5 points of the
 *   defaults; 1,024 uniform negatives: worse (6.2 / 45.3).
 */
import type { SampleStore } from '../../data/store.js';
import { RandomStream } from '../../engine/random.js';
import { ngramVectors } from '../../encoders/ngram-projection.js';
import { drawCandidates, itemVectorScorer, rankTargets, RetrievalFigures, Scorer } from '../evaluate.js';
import type { TrainProgress } from '../trainer.js';
import type { CoClickConfig } from './config.js';
import { CoClickPairs, dropItems, mineCoClicks, trainClickCounts, withheldItems } from './pairs.js';
import { itemTexts, textInputs } from './texts.js';
import { trainCoClick } from './train.js';

export type TextMethod = 'coclick' | 'ngram';
export const TEXT_METHODS: TextMethod[] = ['coclick', 'ngram'];

export interface CoClickEval {
  method: string;
  all: RetrievalFigures;
  /** Targets with no click in the training split. */
  cold: RetrievalFigures;
}

/** Ranks each held-out pair's target (candidate 0) among its candidates, for its earlier click. */
export function evaluateCoClick(scorer: Scorer, pairs: Pick<CoClickPairs, 'a' | 'cold'>, candidates: Int32Array, N: number, K: number): CoClickEval {
  const f = rankTargets(scorer, pairs.a.length, candidates, N, K, ['all', 'cold'], (j) => (pairs.cold[j] ? ['all', 'cold'] : ['all']));
  return { method: scorer.name, all: f.all, cold: f.cold };
}

export function formatCoClickTable(rows: readonly CoClickEval[], N: number, K: number): string {
  const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(1).padStart(6) : '     -');
  const head = `method    pairs   top1  top${K}    mrr | cold pairs   top1  top${K}   (target among ${N} candidates)`;
  return [head, ...rows.map((r) => `${r.method.padEnd(8)} ${String(r.all.n).padStart(6)} ${pct(r.all.top1)} ${pct(r.all.topK)} ${pct(r.all.mrr)} | ${String(r.cold.n).padStart(10)} ${pct(r.cold.top1)} ${pct(r.cold.topK)}`)].join('\n');
}

export interface TextVectorRun {
  method: TextMethod;
  ids: string[];
  dim: number;
  vectors: Float32Array;
  fields: string[];
  train: CoClickPairs['stats'];
  training?: { steps: number; pairs: number; seconds: number; finalLoss: number };
  eval: CoClickEval[];
  heldOut: CoClickPairs['stats'];
}

/**
 * Builds the vectors of `method` for every catalogue item of a store and evaluates them (and the
 * ngram baseline, always) on the validation split's co-click pairs.
 */
export function runTextVectors(store: SampleStore, config: CoClickConfig, method: TextMethod, onProgress?: (p: TrainProgress) => void): TextVectorRun {
  const catalog = store.catalog;
  const texts = itemTexts(catalog, config.text.fields);
  const items = texts.ids.length;
  const dim = config.model.outDim;
  const popularity = trainClickCounts(store, items);
  const withheld = withheldItems(items, config.eval.holdOutItems, config.eval.seed);
  for (let r = 0; r < items; r++) if (withheld[r]) popularity[r] = 0;
  const clicked = Uint8Array.from(popularity, (c) => (c > 0 ? 1 : 0));
  const mined = mineCoClicks(store, 'train', config.pairs.window, clicked);
  const train = config.eval.holdOutItems > 0 ? dropItems(mined, withheld) : mined;
  const heldOut = mineCoClicks(store, 'valid', config.eval.window, clicked);
  const N = config.eval.candidates, K = config.eval.topK;
  const candidates = heldOut.a.length ? drawCandidates(heldOut.b, items, N, new RandomStream(config.eval.seed).fork('coclick-candidates'), heldOut.a) : new Int32Array(0);
  const ngram = ngramVectors(texts.texts, dim, config.seed);
  // A reference, not a vector: candidates ranked by their training clicks (ignores the query).
  const popular: Scorer = { name: 'popular', score: (_j, cands) => Float64Array.from(cands, (c) => popularity[c]) };
  const evals = [evaluateCoClick(popular, heldOut, candidates, N, K), evaluateCoClick(itemVectorScorer('ngram', ngram, dim, heldOut.a), heldOut, candidates, N, K)];
  let vectors = ngram;
  let training: TextVectorRun['training'];
  if (method === 'coclick') {
    const res = trainCoClick(config, textInputs(texts.texts, config.text.maxTokens), train, { onProgress });
    vectors = res.vectors;
    training = { steps: res.steps, pairs: res.pairs, seconds: res.seconds, finalLoss: res.finalLoss };
    evals.push(evaluateCoClick(itemVectorScorer('coclick', vectors, dim, heldOut.a), heldOut, candidates, N, K));
  }
  return { method, ids: texts.ids, dim, vectors, fields: texts.fields, train: train.stats, training, eval: evals, heldOut: heldOut.stats };
}
