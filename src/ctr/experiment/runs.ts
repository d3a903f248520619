/**
 * Trained runs compared (`mmctr report`): the run folders under the given paths (what
 * `mmctr train` writes: config.json + metrics.json), grouped by experiment name, summarised over
 * seeds per slice (overall, then the item-frequency buckets) with gains over a baseline group, and
 * each group's validation curve (first seed). What could mislead is said in the notes: groups
 * tested on different test sets, a seed trained twice (the newest run counts), one seed only.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { SampleStore } from '../../data/store.js';
import { readConfigFile } from '../../util/config-file.js';
import { MmctrError } from '../../util/errors.js';
import { BUCKETS, type Bucket, type Evaluation, type MetricSet as EvalMetrics } from '../metrics.js';
import type { EpochRecord } from '../trainer.js';
import type { EpochPoint, MetricSet, Spread } from './result.js';
import { bucketDescriptions, epochCurve, metricsOf, oracleOf, spread, summarize, type Summary } from './summary.js';

export interface RunGroup {
  name: string;
  description: string;
  /** The sample store the group was trained and tested on. */
  store: string;
  seeds: number[];
  runs: string[];
}

export interface RunSlice {
  slice: string;
  description: string;
  /** Test impressions behind the slice (the baseline's first run). */
  count: number | null;
  perSeed: Record<string, MetricSet[]>;
  summary: Record<string, Summary>;
  oracle: MetricSet | null;
}

/**
 * An experiment against the baseline seed by seed (the seeds both ran), overall: experiment minus
 * baseline per seed (logloss: lower is better, so a negative gap is a gain). The spread of the
 * per-seed differences says whether a gain is steady or noise, which the two separate spreads
 * cannot (a seed moves both models together).
 */
export interface PairedGap {
  seeds: number[];
  auc: Spread;
  gauc: Spread;
  logloss: Spread;
  /** Every seed's GAUC difference has the mean's sign. */
  steady: boolean;
}

export interface RunComparisonResult {
  createdAt: string;
  baseline: string;
  groups: RunGroup[];
  slices: RunSlice[];
  /** Per experiment other than the baseline; null when it shares fewer than 2 seeds with it. */
  paired: Record<string, PairedGap | null>;
  curves: Record<string, EpochPoint[]>;
  notes: string[];
}

// JSON writes NaN (an AUC on a slice with one class) as null.
const metric = z.number().nullable().transform((x) => (x === null ? Number.NaN : x));
const metricSet = z.object({ count: z.number(), clicks: z.number().default(0), auc: metric, gauc: metric, gaucUsers: z.number().default(0), logloss: metric });
const evaluation = z.object({
  overall: metricSet,
  buckets: z.record(z.enum(BUCKETS as [Bucket, ...Bucket[]]), metricSet),
  oracle: z.object({ overall: metricSet, buckets: z.record(z.enum(BUCKETS as [Bucket, ...Bucket[]]), metricSet) }).optional(),
});
const RunMetrics = z.object({
  fit: z.object({ epochs: z.array(z.object({ epoch: z.number(), trainLoss: metric, valid: evaluation.nullable() })) }),
  test: evaluation,
});
const RunConfig = z.object({
  name: z.string(),
  description: z.string().optional(),
  data: z.object({ store: z.string().optional(), dataset: z.string().optional(), adapter: z.string().optional() }),
  train: z.object({ seed: z.number().int() }),
});

interface RunRecord {
  dir: string;
  name: string;
  description: string;
  store: string;
  seed: number;
  test: Evaluation;
  epochs: EpochRecord[];
  mtime: number;
}

const isRun = (dir: string) => existsSync(path.join(dir, 'metrics.json')) && existsSync(path.join(dir, 'config.json'));

/** Run folders at or under `root` (a run's own folders are not searched), in name order. */
function runsUnder(root: string, depth = 3): string[] {
  if (isRun(root)) return [root];
  if (depth === 0 || !statSync(root).isDirectory()) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .flatMap((name) => runsUnder(path.join(root, name), depth - 1));
}

function readRun(dir: string): RunRecord {
  const config = readConfigFile(RunConfig, path.join(dir, 'config.json'));
  const metrics = readConfigFile(RunMetrics, path.join(dir, 'metrics.json'));
  return {
    dir,
    name: config.name,
    description: config.description ?? config.data.dataset ?? config.data.adapter ?? '',
    store: config.data.store ?? '',
    seed: config.train.seed,
    test: metrics.test as Evaluation,
    epochs: metrics.fit.epochs as EpochRecord[],
    mtime: statSync(path.join(dir, 'metrics.json')).mtimeMs,
  };
}

/** Reads and compares every run found under `paths`; `baseline` names the reference group (default: the first found). */
export function compareRuns(paths: readonly string[], { baseline }: { baseline?: string } = {}): RunComparisonResult {
  if (paths.length === 0) throw new MmctrError('give at least one run folder, or a folder holding run folders');
  const notes: string[] = [];
  const byGroup = new Map<string, Map<number, RunRecord>>();
  for (const p of paths) {
    if (!existsSync(p)) throw new MmctrError(`${p}: no such folder`);
    const dirs = runsUnder(path.resolve(p));
    if (dirs.length === 0) throw new MmctrError(`${p}: no run found (a run folder holds config.json and metrics.json, as \`mmctr train\` writes them)`);
    for (const dir of dirs) {
      const run = readRun(dir);
      const seeds = byGroup.get(run.name) ?? new Map<number, RunRecord>();
      byGroup.set(run.name, seeds);
      const earlier = seeds.get(run.seed);
      if (earlier && earlier.dir === run.dir) continue;
      if (earlier) {
        const [newer, older] = earlier.mtime >= run.mtime ? [earlier, run] : [run, earlier];
        notes.push(`${run.name} seed ${run.seed} was trained more than once; the newest run counts (${newer.dir}), not ${older.dir}.`);
        seeds.set(run.seed, newer);
      } else seeds.set(run.seed, run);
    }
  }
  const names = [...byGroup.keys()];
  const base = baseline ?? names[0];
  if (!byGroup.has(base)) throw new MmctrError(`--baseline ${base}: no such experiment among the runs (found: ${names.join(', ')})`);
  const groups = names.map((name) => [...byGroup.get(name)!.values()].sort((a, b) => a.seed - b.seed));
  const tests = (k: number) => groups[k].map((r) => r.test);
  const baseGroup = groups[names.indexOf(base)];

  const counts = new Set(groups.map((g) => g[0].test.overall.count));
  const stores = new Set(groups.map((g) => g[0].store));
  if (counts.size > 1 || stores.size > 1)
    notes.push(`The experiments were not tested on the same test set (${names.map((n, k) => `${n}: ${groups[k][0].test.overall.count} impressions`).join(', ')}): their gains over ${base} compare different data.`);
  for (const [k, g] of groups.entries()) if (g.length === 1) notes.push(`${names[k]} has one seed: its std is 0 and says nothing about the spread over seeds.`);

  const baseRun = baseGroup[0];
  let described: Record<Bucket, string> | null = null;
  try {
    described = baseRun.store ? bucketDescriptions(SampleStore.open(baseRun.store).meta.config.buckets) : null;
  } catch {
    // The store may be gone: the buckets keep their names.
  }
  const slice = (name: string, description: string, of: (e: Evaluation) => EvalMetrics, oracle: (o: NonNullable<Evaluation['oracle']>) => EvalMetrics): RunSlice => {
    const perSeed = Object.fromEntries(names.map((n, k) => [n, tests(k).map((e) => metricsOf(of(e)))]));
    return { slice: name, description, count: of(baseRun.test).count, perSeed, summary: summarize(perSeed, names, base), oracle: oracleOf(baseGroup.map((r) => r.test), oracle) };
  };
  const slices = [slice('overall', 'all test impressions', (e) => e.overall, (o) => o.overall)];
  for (const b of BUCKETS) if (baseRun.test.buckets[b]?.count > 0) slices.push(slice(b, described?.[b] ?? `items in the ${b} frequency bucket`, (e) => e.buckets[b], (o) => o.buckets[b]));

  const baseBySeed = new Map(baseGroup.map((r) => [r.seed, r.test.overall]));
  const pairedGap = (name: string): PairedGap | null => {
    const runs = groups[names.indexOf(name)].filter((r) => baseBySeed.has(r.seed));
    if (runs.length < 2) return null;
    const gaps = (metric: 'auc' | 'gauc' | 'logloss') => runs.map((r) => r.test.overall[metric] - baseBySeed.get(r.seed)![metric]);
    const gauc = spread(gaps('gauc'));
    return { seeds: runs.map((r) => r.seed), auc: spread(gaps('auc')), gauc, logloss: spread(gaps('logloss')), steady: gaps('gauc').every((g) => Math.sign(g) === Math.sign(gauc.mean)) };
  };
  const paired = Object.fromEntries(names.filter((n) => n !== base).map((n) => [n, pairedGap(n)]));
  return {
    createdAt: new Date().toISOString(),
    baseline: base,
    paired,
    groups: names.map((name, k) => ({ name, description: groups[k][0].description, store: groups[k][0].store, seeds: groups[k].map((r) => r.seed), runs: groups[k].map((r) => r.dir) })),
    slices,
    curves: Object.fromEntries(names.map((n, k) => [n, epochCurve(groups[k][0].epochs)])),
    notes,
  };
}
