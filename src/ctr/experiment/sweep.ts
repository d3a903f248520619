/**
 * A grid search (`mmctr sweep`), as FuxiCTR's tuner: the cartesian grid of `--set path=v1,v2`
 * values over an experiment config, one training run per (point, seed) through `trainRun`, each in
 * its own folder under one sweep folder, which holds SWEEP_FILE (the plan, then the summary).
 * Points are ranked on validation, never on test (runs.ts `ValidationRanking`), by the same
 * comparison `mmctr report` draws, so the sweep's summary and the folder's report agree.
 *
 * An override is applied to the raw config, which is then validated by the schema the config
 * reader uses (`experimentConfigOf`), so a bad path or value fails before anything trains, with
 * the flag, the value and what the schema expected.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { SampleStore } from '../../data/store.js';
import { writeTextAtomic } from '../../util/atomic-write.js';
import { ConfigError, MmctrError, UsageError } from '../../util/errors.js';
import { readJsonFile } from '../../util/config-file.js';
import { fnv1aCodeUnits } from '../../util/hash.js';
import { ExperimentConfig } from '../config.js';
import type { ItemVectorTable } from '../parts/item-vectors.js';
import { experimentConfigOf, loadRunVectors, runConfigText, trainRun, type TrainRunOptions } from '../run.js';
import type { MetricSet, Spread } from './result.js';
import { compareRuns, SWEEP_FILE, type RunComparisonResult } from './runs.js';

/** One `--set`: a dotted path into the config and the values it takes, in the order given. */
export interface SweepAxis {
  path: string;
  values: unknown[];
}

export interface SweepPoint {
  /** `path=value` per axis, joined by commas: the point's name in its runs' config (after the config's name) and in reports. */
  label: string;
  overrides: Record<string, unknown>;
  /** The point's config, validated; its name is `<config name>:<label>`, so reports group its runs by point. */
  config: ExperimentConfig;
  /** Its runs' folder names, one per seed, in the sweep folder. */
  runs: { seed: number; dir: string }[];
}

export interface SweepPlan {
  config: string;
  name: string;
  axes: SweepAxis[];
  seeds: number[];
  points: SweepPoint[];
}

/**
 * Splits a flag's value list at commas outside brackets, braces and double quotes, so JSON values
 * keep theirs: `["a","b"],["c"]` is two values.
 */
function splitValues(list: string): string[] {
  const parts: string[] = [];
  let depth = 0, quoted = false, start = 0;
  for (let i = 0; i < list.length; i++) {
    const ch = list[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(list.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(list.slice(start));
  return parts.map((p) => p.trim());
}

/**
 * One value as text: JSON when it reads as JSON (numbers, true / false, null, "quoted strings",
 * arrays, objects), else the text itself as a string (`relu`, `best`).
 */
function parseValue(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    if (/^["[{]/.test(text)) throw new UsageError(`${flag}: '${text}' starts like JSON but is not valid JSON (arrays and objects are written as JSON: ["logit","hidden"], {"tiers":10})`);
    return text;
  }
}

/** Reads `path=v1,v2,...` (the text of one --set). */
export function parseSetFlag(text: string, flag = '--set'): SweepAxis {
  const eq = text.indexOf('=');
  const where = `${flag} ${text}`;
  if (eq <= 0) throw new UsageError(`${where}: expected <path>=<value>[,<value>...], e.g. model.embeddingDim=16,32`);
  const dotted = text.slice(0, eq).trim();
  if (dotted.split('.').some((s) => s === '')) throw new UsageError(`${where}: '${dotted}' is not a dotted path into the config (e.g. train.lr)`);
  const texts = splitValues(text.slice(eq + 1));
  if (texts.some((t) => t === '')) throw new UsageError(`${where}: an empty value (values are separated by single commas)`);
  const values = texts.map((t) => parseValue(t, `${flag} ${dotted}`));
  const seen = new Set(values.map((v) => JSON.stringify(v)));
  if (seen.size !== values.length) throw new UsageError(`${where}: lists a value twice`);
  return { path: dotted, values };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The raw config with `dotted` set to `value` (sections on the way created when absent); null + a reason when the path cannot hold a value. */
function withOverride(raw: Record<string, unknown>, dotted: string, value: unknown): Record<string, unknown> | string {
  const out = structuredClone(raw);
  const keys = dotted.split('.');
  let node = out;
  for (const [k, key] of keys.slice(0, -1).entries()) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (!isObject(next)) return `${keys.slice(0, k + 1).join('.')} is ${JSON.stringify(next)} in the config, not a section, so ${dotted} names no field`;
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
  return out;
}

function valueAt(config: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), config);
}

const valueText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * `overrides` applied to the raw config and validated as the config reader does; a ConfigError
 * names `source` (the flags) with what the schema expected, or the path that is no field.
 */
function configWith(raw: Record<string, unknown>, file: string, overrides: [string, unknown][], source: string): ExperimentConfig {
  let changed = raw;
  for (const [dotted, value] of overrides) {
    const next = withOverride(changed, dotted, value);
    if (typeof next === 'string') throw new ConfigError(source, [next]);
    changed = next;
  }
  const config = experimentConfigOf(changed, file, source);
  // Every object of the schema is strict, so an unknown key already failed; this also catches a value a schema transforms away.
  const missing = overrides.filter(([dotted]) => valueAt(config, dotted) === undefined);
  if (missing.length) throw new ConfigError(source, missing.map(([dotted]) => `${dotted}: not a field of this config`));
  return config;
}

/**
 * The config of `file` with each `path=value` of `sets` applied (one value each, the --set syntax
 * of a sweep), checked as a sweep point is: one experiment with a few fields changed.
 */
export function configWithSets(file: string, sets: readonly string[], flag = '--set'): ExperimentConfig {
  const overrides = sets.map((text): [string, unknown] => {
    const axis = parseSetFlag(text, flag);
    if (axis.values.length !== 1) throw new UsageError(`${flag} ${text}: one value here (a grid of several is \`mmctr sweep\`)`);
    return [axis.path, axis.values[0]];
  });
  return configWith(readJsonFile(file) as Record<string, unknown>, file, overrides, `${file} with ${sets.map((s) => `${flag} ${s}`).join(' ')}`);
}

/** A point's folder name: its label where the label is a safe file name, else a readable part and a hash that tells points apart. */
function pointFolder(label: string): string {
  const safe = label.replace(/[^A-Za-z0-9._=,+-]/g, '_');
  if (safe === label && safe.length <= 100) return safe;
  return `${safe.slice(0, 80)}-${fnv1aCodeUnits(label).toString(16).padStart(8, '0')}`;
}

/** Paths a sweep sets itself, each with the flag that does it. */
const OWN_PATHS: Record<string, string> = { name: 'the sweep names each point `<config name>:<point>`', 'train.seed': 'use --seeds' };

/**
 * The grid of `sets` (each --set's text) over the raw config read from `file`, every point checked
 * against the config's schema before anything trains: first each value alone (the error names its
 * --set), then each point (values that are only wrong together). `seeds` (--seeds) are checked as
 * values of train.seed; absent, the config's seed.
 */
export function planSweep(file: string, raw: unknown, sets: readonly string[], seeds?: readonly number[]): SweepPlan {
  const base = experimentConfigOf(raw, file);
  const rawObject = raw as Record<string, unknown>;
  if (sets.length === 0) throw new UsageError('give at least one --set <path>=<value>[,<value>...] (the grid to search)');
  const axes = sets.map((s) => parseSetFlag(s));
  for (const [k, axis] of axes.entries()) {
    if (axes.findIndex((a) => a.path === axis.path) !== k) throw new UsageError(`--set ${axis.path} is given twice: list all its values in one --set`);
    if (OWN_PATHS[axis.path]) throw new UsageError(`--set ${axis.path}: ${OWN_PATHS[axis.path]}`);
    for (const value of axis.values) configWith(rawObject, file, [[axis.path, value]], `--set ${axis.path}=${valueText(value)} (on ${file})`);
  }
  const seedList = seeds === undefined ? [base.train.seed] : [...new Set(seeds)];
  for (const seed of seedList) configWith(rawObject, file, [['train.seed', seed]], `--seeds ${valueText(seed)} (on ${file})`);

  const grid = axes.reduce<[string, unknown][][]>((acc, axis) => acc.flatMap((combo) => axis.values.map((v) => [...combo, [axis.path, v] as [string, unknown]])), [[]]);
  const points = grid.map((combo) => {
    const label = combo.map(([dotted, v]) => `${dotted}=${valueText(v)}`).join(',');
    const config = configWith(rawObject, file, combo, `${combo.map(([dotted, v]) => `--set ${dotted}=${valueText(v)}`).join(' ')} (on ${file}; the values are valid alone, not together)`);
    const folder = pointFolder(label);
    return {
      label,
      overrides: Object.fromEntries(combo),
      config: { ...config, name: `${base.name}:${label}` },
      runs: seedList.map((seed) => ({ seed, dir: `${folder}-seed${seed}` })),
    };
  });
  return { config: path.resolve(file), name: base.name, axes, seeds: seedList, points };
}

export interface PointSummary {
  point: string;
  overrides: Record<string, unknown>;
  runs: { seed: number; dir: string; valid: MetricSet; test: MetricSet }[];
  /** Over seeds (mean ± sample std): the kept epoch's validation metrics, and the test metrics. */
  valid: { auc: Spread; gauc: Spread; logloss: Spread };
  test: { auc: Spread; gauc: Spread; logloss: Spread };
}

/** SWEEP_FILE: the plan (written before training), and after it the points ranked best first on validation. */
export interface SweepSummary {
  config: string;
  name: string;
  axes: SweepAxis[];
  seeds: number[];
  /** What ranks the points; test metrics never do. */
  selectedOn: string;
  best: PointSummary | null;
  points: PointSummary[];
}

export interface SweepOptions {
  /** The store of a point's data section (points that override data.* may differ). */
  storeOf: (data: ExperimentConfig['data']) => Promise<SampleStore>;
  /** Where trained MAKE modules are kept for reuse (default: beside the sweep folder, as `mmctr train`'s beside its runs). */
  makeCacheDir?: string;
  /** Before each run (k of total) trains: its log and progress hooks. */
  onStart?: (run: { point: string; seed: number; dir: string }, k: number, total: number) => Pick<TrainRunOptions, 'log' | 'onProgress'>;
  /** After each run, trained or skipped (finished by an earlier sweep of the same name). */
  onEnd?: (run: { point: string; seed: number; dir: string }, status: 'trained' | 'skipped') => void;
}

export interface SweepResult {
  dir: string;
  summary: SweepSummary;
  comparison: RunComparisonResult;
  trained: number;
  skipped: number;
}

const SELECTED_ON = 'validation AUC of the kept epoch, mean over seeds (then validation GAUC); never test';

const planOf = (plan: Pick<SweepPlan, 'config' | 'name' | 'axes' | 'seeds'>) => ({ config: plan.config, name: plan.name, axes: plan.axes, seeds: plan.seeds });

/**
 * Trains every (point, seed) of `plan` not yet finished in `dir`, then ranks the points. `dir`
 * may hold an earlier sweep of the same plan (same config file, --set values and seeds): its
 * finished runs (metrics.json written) are skipped when they were trained from the same config,
 * an unfinished run is trained again from the start; a sweep of another plan there is refused.
 */
export async function runSweep(plan: SweepPlan, dir: string, options: SweepOptions): Promise<SweepResult> {
  const sweepFile = path.join(dir, SWEEP_FILE);
  if (existsSync(sweepFile)) {
    const earlier = JSON.parse(readFileSync(sweepFile, 'utf8')) as SweepSummary;
    if (JSON.stringify(planOf(earlier)) !== JSON.stringify(planOf(plan)))
      throw new UsageError(`${dir} holds a sweep of another grid (${earlier.axes.map((a) => `--set ${a.path}=${a.values.map(valueText).join(',')}`).join(' ')} --seeds ${earlier.seeds.join(',')} on ${earlier.config}): give another --name to start a new sweep`);
  }
  mkdirSync(dir, { recursive: true });
  writeTextAtomic(sweepFile, JSON.stringify({ ...planOf(plan), selectedOn: SELECTED_ON, best: null, points: [] } satisfies SweepSummary, null, 2) + '\n');

  const stores = new Map<string, Promise<SampleStore>>();
  const vectors = new Map<string, ItemVectorTable | null>();
  const makeCacheDir = options.makeCacheDir ?? path.join(path.dirname(path.resolve(dir)), 'make-cache');
  const total = plan.points.length * plan.seeds.length;
  let trained = 0, skipped = 0, k = 0;
  for (const point of plan.points) {
    const dataKey = JSON.stringify(point.config.data);
    if (!stores.has(dataKey)) stores.set(dataKey, options.storeOf(point.config.data));
    const store = await stores.get(dataKey)!;
    const vectorKey = `${store.dir}\n${point.config.data.vectors ?? ''}`;
    if (!vectors.has(vectorKey)) vectors.set(vectorKey, loadRunVectors(point.config, store));
    for (const { seed, dir: name } of point.runs) {
      const runDir = path.join(dir, name);
      const run = { point: point.label, seed, dir: runDir };
      const config = { ...point.config, train: { ...point.config.train, seed } };
      k++;
      if (existsSync(path.join(runDir, 'metrics.json'))) {
        if (readFileSync(path.join(runDir, 'config.json'), 'utf8') !== runConfigText(config, store))
          throw new MmctrError(`${runDir} was trained from another config than this sweep's point (was ${plan.config} or its store changed?): give another --name, or remove that run folder`);
        skipped++;
        options.onEnd?.(run, 'skipped');
        continue;
      }
      // A run that stopped before writing its metrics starts again: its checkpoints and log are of an unfinished run.
      rmSync(runDir, { recursive: true, force: true });
      trainRun(config, store, runDir, { ...options.onStart?.(run, k, total), makeCacheDir, vectors: vectors.get(vectorKey) ?? undefined });
      trained++;
      options.onEnd?.(run, 'trained');
    }
  }
  const comparison = compareRuns([dir]);
  const summary = summarize(plan, dir, comparison);
  writeTextAtomic(sweepFile, JSON.stringify(summary, null, 2) + '\n');
  return { dir, summary, comparison, trained, skipped };
}

function summarize(plan: SweepPlan, dir: string, c: RunComparisonResult): SweepSummary {
  const ranking = c.ranking!;
  const overall = c.slices[0];
  const byName = new Map(plan.points.map((p) => [p.config.name, p]));
  const points = ranking.order.map((name): PointSummary => {
    const point = byName.get(name);
    if (!point) throw new MmctrError(`${dir} holds runs of ${name}, no point of this sweep: remove them, or give another --name`);
    const group = c.groups.find((g) => g.name === name)!;
    const t = overall.summary[name];
    return {
      point: point.label,
      overrides: point.overrides,
      runs: group.seeds.map((seed, i) => ({ seed, dir: group.runs[i], valid: ranking.perSeed[name][i], test: overall.perSeed[name][i] })),
      valid: ranking.summary[name],
      test: { auc: t.auc, gauc: t.gauc, logloss: t.logloss },
    };
  });
  return { ...planOf(plan), selectedOn: SELECTED_ON, best: points[0] ?? null, points };
}
