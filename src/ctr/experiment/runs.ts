/**
 * Trained runs compared (`mmctr report`): the run folders under the given paths (what
 * `mmctr train` writes: config.json + metrics.json), grouped by experiment name, summarised over
 * seeds per slice (overall, then the item-frequency buckets) with gains over a baseline group, and
 * each group's validation curve (first seed). What could mislead is said in the notes: groups
 * tested on different test sets, a seed trained twice (the newest run counts), one seed only.
 * A sweep folder (`mmctr sweep`: SWEEP_FILE beside its runs) is reported with its points ranked
 * on validation, best first.
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

/** The file that marks a folder as a sweep's (ctr/experiment/sweep.ts writes it); its runs are ranked on validation. */
export const SWEEP_FILE = 'sweep.json';

/**
 * Experiments ranked on validation, never on test (choosing on test would tune to it, and its
 * metrics would no longer estimate the chosen model's): by the mean over seeds of the kept epoch's
 * validation AUC, then GAUC; experiments without validation metrics last.
 */
export interface ValidationRanking {
  /** Best first. */
  order: string[];
  best: string;
  /** Per experiment, in seed order (as the slices' perSeed): the kept epoch's validation metrics, overall (NaN without validation). */
  perSeed: Record<string, MetricSet[]>;
  summary: Record<string, { auc: Spread; gauc: Spread; logloss: Spread }>;
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
  /** Present when a path is a sweep folder: the groups (its points) are in this order, and the baseline defaults to the best. */
  ranking?: ValidationRanking;
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
  fit: z.object({ epochs: z.array(z.object({ epoch: z.number(), trainLoss: metric, valid: evaluation.nullable() })), keptEpoch: z.number().optional() }),
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
  /** The validation metrics of the epoch the run kept (runs written before keptEpoch was recorded: the last evaluated). */
  valid: Evaluation | null;
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
    valid: ((metrics.fit.keptEpoch === undefined ? metrics.fit.epochs.filter((e) => e.valid).at(-1) : metrics.fit.epochs.find((e) => e.epoch === metrics.fit.keptEpoch))?.valid ?? null) as Evaluation | null,
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
  const ranking = paths.some((p) => existsSync(path.join(p, SWEEP_FILE))) ? rankOnValidation(byGroup) : undefined;
  const names = ranking?.order ?? [...byGroup.keys()];
  const base = baseline ?? ranking?.best ?? names[0];
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
  if (ranking && !Number.isFinite(ranking.summary[ranking.best].auc.mean))
    notes.unshift(`No run has validation metrics (a store without a validation split?): the points are in the order found, and none is chosen on validation.`);
  else if (ranking)
    notes.unshift(
      `Ranked on validation, never on test: ${ranking.best} has the best validation AUC (mean over seeds, the kept epoch of each run), so its test metrics were not used to choose it.${base === ranking.best ? ' Gains are measured against it: every other point shows what it costs.' : ''}`,
    );
  return {
    createdAt: new Date().toISOString(),
    baseline: base,
    paired,
    groups: names.map((name, k) => ({ name, description: groups[k][0].description, store: groups[k][0].store, seeds: groups[k].map((r) => r.seed), runs: groups[k].map((r) => r.dir) })),
    slices,
    curves: Object.fromEntries(names.map((n, k) => [n, epochCurve(groups[k][0].epochs)])),
    notes,
    ...(ranking ? { ranking } : {}),
  };
}

const NO_VALIDATION: MetricSet = { auc: Number.NaN, gauc: Number.NaN, logloss: Number.NaN, count: 0 };

function rankOnValidation(byGroup: Map<string, Map<number, RunRecord>>): ValidationRanking {
  const perSeed = Object.fromEntries([...byGroup].map(([name, seeds]) => [name, [...seeds.values()].sort((a, b) => a.seed - b.seed).map((r) => (r.valid ? metricsOf(r.valid.overall) : NO_VALIDATION))]));
  const summary = Object.fromEntries(Object.entries(perSeed).map(([name, ms]) => [name, { auc: spread(ms.map((m) => m.auc)), gauc: spread(ms.map((m) => m.gauc)), logloss: spread(ms.map((m) => m.logloss)) }]));
  const key = (x: number) => (Number.isFinite(x) ? x : Number.NEGATIVE_INFINITY);
  // Array.sort is stable: ties keep the order the runs were found in.
  const order = [...byGroup.keys()].sort((a, b) => key(summary[b].auc.mean) - key(summary[a].auc.mean) || key(summary[b].gauc.mean) - key(summary[a].gauc.mean));
  return { order, best: order[0], perSeed, summary };
}
