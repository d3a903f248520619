/**
 * The SCL experiment in one place: align frozen features with the catalogue, mine pairs, train
 * the variants, evaluate them, the raw baseline and any reference scorers on the same held-out
 * candidates.
 */
import { RandomStream } from '../engine/random.js';
import type { FeatureTable, ItemContent } from '../encoders/types.js';
import { MmctrError } from '../util/errors.js';
import type { SclConfig } from './config.js';
import { drawCandidates, evaluateInSession, evaluateRetrieval, modelScorer, rawScorer, RetrievalRow, Scorer } from './evaluate.js';
import { frozenFeatures, ItemInputs } from './model.js';
import type { SclFeatureTable } from './features.js';
import { MinedPairs, minePairs, SearchRecord } from './pairs.js';
import { defaultTokenizer, itemInputs, Tokenizer, trainScl, TrainResult, Variant } from './train.js';
import type { TrainProgress } from './trainer.js';

export interface Prepared {
  items: ItemContent[];
  inputs: ItemInputs;
  mined: MinedPairs;
}

/** Features for `items` in catalogue order (rows of `table` matched by id; absent ids missing). */
export function alignFeatures(items: readonly ItemContent[], table: FeatureTable): { features: Float32Array; missing: Uint8Array } {
  const at = new Map<string, number>();
  table.ids.forEach((id, i) => at.set(id, i));
  const F = table.dim, features = new Float32Array(items.length * F), missing = new Uint8Array(items.length);
  items.forEach((it, i) => {
    const r = at.get(it.id);
    if (r === undefined || table.missing[r]) missing[i] = 1;
    else features.set(table.features.subarray(r * F, (r + 1) * F), i * F);
  });
  return { features, missing };
}

/** `table.head`: the backbone top its rows enter (sclImageFeatures with model.trainableLayers), which the image tower then trains. */
export function prepare(config: SclConfig, items: ItemContent[], searches: readonly SearchRecord[], table: FeatureTable & Partial<Pick<SclFeatureTable, 'head'>>, tokenize: Tokenizer = defaultTokenizer): Prepared {
  const { features, missing } = alignFeatures(items, table);
  const inputs = { ...itemInputs(items.map((it) => it.title), features, table.dim, missing, config.model.maxTokens, tokenize), imageHead: table.head ?? null };
  const mined = minePairs(searches, items.map((it) => it.id), { heldOutShare: config.data.heldOutShare, dropSelfPhoto: config.data.dropSelfPhoto });
  if (mined.train.length < 2) throw new MmctrError(`only ${mined.train.length} training pairs (searches ending in a purchase): not enough for SCL`);
  if (mined.heldOut.length === 0) throw new MmctrError('no held-out pairs: nothing to evaluate on');
  return { items, inputs, mined };
}

export type Method = 'raw' | Variant;
export const METHODS: Method[] = ['scl', 'raw', 'align', 'noqueue', 'nohard'];

export interface ExperimentResult {
  rows: RetrievalRow[];
  trained: Partial<Record<Variant, TrainResult>>;
}

export function runExperiment(
  config: SclConfig,
  prep: Prepared,
  methods: readonly Method[] = METHODS,
  {
    tokenize = defaultTokenizer,
    onProgress,
    references = [],
  }: {
    tokenize?: Tokenizer;
    onProgress?: (method: Variant, p: TrainProgress) => void;
    /** More scorers rated on the same held-out candidates after the methods (e.g. an oracle). */
    references?: readonly Scorer[];
  } = {},
): ExperimentResult {
  const { N, K, seed } = { N: Math.min(config.eval.candidates, prep.inputs.count), K: config.eval.topK, seed: config.eval.seed };
  const held = prep.mined.heldOut;
  const candidates = drawCandidates(held.map((p) => p.pos), prep.inputs.count, N, new RandomStream(seed).fork('candidates'));
  const rows: RetrievalRow[] = [];
  const trained: ExperimentResult['trained'] = {};
  for (const m of methods) {
    if (m === 'raw') {
      const scorer = rawScorer(frozenFeatures(prep.inputs), held, tokenize);
      rows.push({ ...evaluateRetrieval(scorer, held, candidates, N, K), session: evaluateInSession(scorer, held) });
      continue;
    }
    const r = trainScl(config, prep.inputs, prep.mined.train, { variant: m, tokenize, onProgress: onProgress ? (p) => onProgress(m, p) : undefined });
    trained[m] = r;
    const scorer = modelScorer(m, r.model, prep.inputs, held, tokenize);
    rows.push({ ...evaluateRetrieval(scorer, held, candidates, N, K), session: evaluateInSession(scorer, held) });
  }
  for (const scorer of references) rows.push({ ...evaluateRetrieval(scorer, held, candidates, N, K), session: evaluateInSession(scorer, held) });
  return { rows, trained };
}
