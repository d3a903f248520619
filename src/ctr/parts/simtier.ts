/**
 * SimTier as a model part: the histogram of cosine(target, behaviour) over N tiers of [-1, 1]
 * (native kernel, padding and items without a vector never counted), transformed (raw counts,
 * log(1 + count) or counts / history length) and optionally weighted per tier by learnable
 * weights (MUSE's production choice). Its output joins the over-MLP input.
 */
import { Module } from '../../engine/module.js';
import { constant } from '../../engine/init.js';
import { mul, simTierCounts } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { Parameter, Tensor } from '../../engine/tensor.js';
import type { BatchVectors } from '../../data/batches.js';
import type { SimTierConfig } from '../config.js';

export class SimTier extends Module {
  private readonly weights: Parameter | null = null;

  constructor(
    readonly config: SimTierConfig,
    rng: RandomStream,
  ) {
    super();
    if (config.learnableWeights) this.weights = this.param('tier_weights', [config.tiers], constant(1), rng);
  }

  get width(): number {
    return this.config.tiers;
  }

  /** [B, tiers] features and, when asked, each behaviour's cosine [B, L]. */
  histogram(rows: BatchVectors, histLen: Int32Array, length: number, withSims = false): { features: Tensor; sims: Float32Array | null } {
    const { counts, sims } = simTierCounts({ ...rows, histLen, length }, this.config.tiers, withSims);
    transformCounts(counts, histLen, this.config.tiers, this.config.transform);
    const features = new Tensor(counts, [histLen.length, this.config.tiers]);
    return { features: this.weights ? mul(features, this.weights) : features, sims };
  }
}

/** In place: counts -> log(1 + count) or count / history length (0 for an empty history). */
export function transformCounts(counts: Float32Array, histLen: Int32Array, tiers: number, transform: SimTierConfig['transform']): void {
  if (transform === 'count') return;
  for (let b = 0; b < histLen.length; b++) {
    const inv = histLen[b] > 0 ? 1 / histLen[b] : 0;
    for (let t = b * tiers; t < (b + 1) * tiers; t++) counts[t] = transform === 'log' ? Math.log1p(counts[t]) : counts[t] * inv;
  }
}
