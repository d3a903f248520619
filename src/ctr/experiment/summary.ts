/**
 * Test metrics summarised over seeds, the same way for every comparison (the paper experiment,
 * `mmctr train --seeds`, `mmctr report`): mean and sample std of the finite values, relative gains
 * over a baseline's means, validation curves from a fit's epochs. Rounded to 6 decimals, so JSON
 * results stay readable.
 */
import type { Bucket, Evaluation, MetricSet as EvalMetrics } from '../metrics.js';
import type { EpochRecord } from '../trainer.js';
import type { EpochPoint, MetricSet, Spread } from './result.js';

export const round = (x: number) => Number(x.toFixed(6));

/** The three metrics of a slice (and its size), rounded. */
export function metricsOf(m: EvalMetrics): MetricSet {
  return { auc: round(m.auc), gauc: round(m.gauc), logloss: round(m.logloss), count: m.count };
}

/** Mean and sample standard deviation of the finite values (std 0 for one; NaN for none). */
export function spread(xs: readonly number[]): Spread {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = ok.reduce((a, b) => a + b, 0) / ok.length;
  const std = ok.length > 1 ? Math.sqrt(ok.reduce((a, b) => a + (b - mean) ** 2, 0) / (ok.length - 1)) : 0;
  return { mean: round(mean), std: round(std) };
}

export interface Summary {
  auc: Spread;
  gauc: Spread;
  logloss: Spread;
  /** 100 * (x - base) / base of the means (logloss: lower is better, so 100 * (base - x) / base); NaN without a baseline. */
  gain: { auc: number; gauc: number; logloss: number };
}

/** Per model: the spread of each metric over its seeds and the gain of its means over `baseline`'s. */
export function summarize<K extends string>(perSeed: Record<K, MetricSet[]>, models: readonly K[], baseline: K | null): Record<K, Summary> {
  const stats = (k: K) => ({ auc: spread(perSeed[k].map((m) => m.auc)), gauc: spread(perSeed[k].map((m) => m.gauc)), logloss: spread(perSeed[k].map((m) => m.logloss)) });
  const base = baseline !== null && models.includes(baseline) ? stats(baseline) : null;
  const gain = (x: number, b: number | undefined, lowerIsBetter = false) => (b === undefined || !Number.isFinite(b) || b === 0 ? Number.NaN : round((100 * (lowerIsBetter ? b - x : x - b)) / b));
  const out = {} as Record<K, Summary>;
  for (const k of models) {
    const s = stats(k);
    out[k] = { ...s, gain: { auc: gain(s.auc.mean, base?.auc.mean), gauc: gain(s.gauc.mean, base?.gauc.mean), logloss: gain(s.logloss.mean, base?.logloss.mean, true) } };
  }
  return out;
}

/** Validation metrics after each epoch that was evaluated. */
export function epochCurve(epochs: readonly EpochRecord[]): EpochPoint[] {
  return epochs.filter((e) => e.valid).map((e) => ({ epoch: e.epoch, validAuc: round(e.valid!.overall.auc), validGauc: round(e.valid!.overall.gauc), validLogloss: round(e.valid!.overall.logloss), trainLoss: round(e.trainLoss) }));
}

/** What each frequency bucket holds, from the store's thresholds. */
export function bucketDescriptions({ rareMax, midMax }: { rareMax: number; midMax: number }): Record<Bucket, string> {
  return {
    new: 'items with no training impression',
    rare: `items with 1-${rareMax} training impressions`,
    mid: `items with ${rareMax + 1}-${midMax} training impressions`,
    head: `items with more than ${midMax} training impressions`,
  };
}

/** The oracle's metrics on a slice: the mean over the evaluations that carry one (null if none). */
export function oracleOf(tests: readonly Evaluation[], slice: (o: NonNullable<Evaluation['oracle']>) => EvalMetrics): MetricSet | null {
  const ms = tests.filter((e) => e.oracle).map((e) => slice(e.oracle!));
  if (ms.length === 0) return null;
  return { auc: spread(ms.map((m) => m.auc)).mean, gauc: spread(ms.map((m) => m.gauc)).mean, logloss: spread(ms.map((m) => m.logloss)).mean, count: ms[0].count };
}
