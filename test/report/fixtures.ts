/** A small comparison of trained runs (two experiments, two seeds each, an oracle), shared by the report tests. */
import type { RunComparisonResult } from '../../src/ctr/experiment/runs.js';
import { summarize } from '../../src/ctr/experiment/summary.js';

const m = (auc: number, gauc: number, logloss: number) => ({ auc, gauc, logloss, count: 500 });

export function runFixture(): RunComparisonResult {
  const perSeed = { base: [m(0.7, 0.68, 0.6), m(0.72, 0.7, 0.58)], 'din+simtier': [m(0.74, 0.72, 0.55), m(0.76, 0.74, 0.53)] };
  const names = Object.keys(perSeed) as (keyof typeof perSeed)[];
  const point = (epoch: number, validGauc: number) => ({ epoch, validAuc: validGauc, validGauc, validLogloss: 0.6, trainLoss: 0.6 });
  return {
    createdAt: '2026-11-24T22:00:00.000Z',
    baseline: 'base',
    groups: names.map((name) => ({ name, description: 'demo', store: '/s', seeds: [1, 2], runs: [`/r/${name}-1`, `/r/${name}-2`] })),
    slices: [{ slice: 'overall', description: 'all test impressions', count: 500, perSeed, summary: summarize(perSeed, names, 'base'), oracle: m(0.9, 0.88, 0.4) }],
    curves: { base: [point(1, 0.69), point(2, 0.68)], 'din+simtier': [point(1, 0.73)] },
    paired: { 'din+simtier': { seeds: [1, 2], auc: { mean: 0.04, std: 0 }, gauc: { mean: 0.04, std: 0 }, logloss: { mean: -0.05, std: 0 }, steady: true } },
    notes: ['a note with <b>markup</b>'],
  };
}
