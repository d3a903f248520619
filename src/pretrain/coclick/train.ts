/**
 * Co-click training: co-click pairs as a pair source of the one contrastive loop
 * (pretrain/trainer.ts), and the CoClickConfig read as a config of it. The SCL text tower runs as
 * an SclModel whose items have no image, so the fused vector is the text side, L2-normalised;
 * q = the earlier clicks, k = the clicked targets, one pass through the tower for the batch's
 * distinct items. In-batch negatives, optionally a MoCo queue (the batch's items masked out of
 * it) and uniformly drawn catalogue items as extra constant negatives.
 */
import { DEFAULT_BACKBONE } from '../../encoders/backbone.js';
import { noGrad } from '../../engine/autograd.js';
import { embeddingLookup } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { encodeCatalogue } from '../evaluate.js';
import type { ItemInputs, SclModel } from '../model.js';
import type { MomentumEncoder } from '../moco.js';
import { ContrastiveBatch, ContrastiveConfig, ContrastiveResult, Encoders, PairSource, trainContrastive, TrainProgress } from '../trainer.js';
import type { CoClickConfig } from './config.js';
import { SclModelConfig } from '../config.js';
import type { CoClickPairs } from './pairs.js';

export interface CoClickResult extends ContrastiveResult {
  /** [items, outDim], L2-normalised, row r = catalogue index r + 1. */
  vectors: Float32Array;
}

/** A co-click run as a config of the contrastive loop (a text-only model: no image side is ever used). */
export function contrastiveConfig(c: CoClickConfig): ContrastiveConfig {
  return {
    seed: c.seed,
    model: { ...SclModelConfig.parse({}), ...c.model, maxTokens: c.text.maxTokens, fusion: 'sum', keySide: 'fused', colourHistogram: 0, backbone: DEFAULT_BACKBONE },
    loss: { tau: c.loss.tau, queueSize: c.loss.queueSize, momentum: c.loss.momentum },
    train: c.train,
  };
}

export function trainCoClick(config: CoClickConfig, inputs: ItemInputs, pairs: Pick<CoClickPairs, 'a' | 'b'>, { onProgress, reportEvery = 20 }: { onProgress?: (p: TrainProgress) => void; reportEvery?: number } = {}): CoClickResult {
  const res = trainContrastive(contrastiveConfig(config), inputs, new CoClickSource(config, pairs), { onProgress, reportEvery });
  return { ...res, vectors: encodeCatalogue(res.model, inputs) };
}

class CoClickSource implements PairSource {
  readonly name = 'co-click training';
  private readonly uniform: RandomStream;

  constructor(
    private readonly config: CoClickConfig,
    private readonly pairs: Pick<CoClickPairs, 'a' | 'b'>,
  ) {
    this.uniform = new RandomStream(config.seed).fork('uniform-negatives');
  }

  get count(): number {
    return this.pairs.a.length;
  }

  batch(rows: Int32Array, { model, keys, inputs }: Encoders): ContrastiveBatch {
    const B = rows.length, idx = new Int32Array(2 * B);
    for (let r = 0; r < B; r++) {
      idx[r] = this.pairs.a[rows[r]];
      idx[B + r] = this.pairs.b[rows[r]];
    }
    const { unique, position } = distinct(idx);
    const all = model.encodeItems(inputs, unique);
    const q = embeddingLookup(all, position.subarray(0, B)), k = embeddingLookup(all, position.subarray(B));
    const count = this.config.loss.uniformNegatives;
    const negatives = count > 0 ? uniformKeys(model, keys, inputs, idx, count, this.uniform) : null;
    return { q, k, negatives, masked: idx, enqueue: { items: idx.subarray(B), side: 'fused' } };
  }
}

/** `count` distinct catalogue rows outside the batch, encoded without gradient (by the key encoder when there is one). */
function uniformKeys(model: SclModel, keys: MomentumEncoder | null, inputs: ItemInputs, batch: Int32Array, count: number, rng: RandomStream): Float32Array {
  const taken = new Set(batch);
  const want = Math.min(count, inputs.count - taken.size);
  const rows: number[] = [];
  while (rows.length < want)
    for (const r of rng.ints(want, inputs.count)) {
      if (rows.length >= want) break;
      if (taken.has(r)) continue;
      taken.add(r);
      rows.push(r);
    }
  return keys ? keys.encodeItems(inputs, rows) : noGrad(() => model.encodeItems(inputs, rows)).data;
}

/** The distinct values of `idx` (ascending) and each entry's position among them. */
export function distinct(idx: Int32Array): { unique: Int32Array; position: Int32Array } {
  const unique = Int32Array.from(new Set(idx)).sort();
  const at = new Map<number, number>();
  unique.forEach((v, i) => at.set(v, i));
  return { unique, position: Int32Array.from(idx, (v) => at.get(v)!) };
}
