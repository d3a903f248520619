import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ExperimentConfig } from '../../src/ctr/config.js';
import { compareRuns } from '../../src/ctr/experiment/runs.js';
import { trainRun } from '../../src/ctr/run.js';
import { buildStoreFromSpec } from '../../src/data/samples.js';
import { SampleStore } from '../../src/data/store.js';
import { SampleConfig } from '../../src/data/sample-config.js';
import { ConfigError } from '../../src/util/errors.js';
import { writeDemoData } from '../../src/world/demo-data.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-runs-');

const set = (auc: number, gauc: number, logloss: number, count = 1000) => ({ count, clicks: 100, auc, gauc, gaucUsers: 50, logloss });
/** A run folder as `mmctr train` writes it, with chosen test metrics. */
function fakeRun(folder: string, name: string, seed: number, gauc: number, { count = 1000, newCount = 40, store = '/stores/a' } = {}): string {
  const runDir = path.join(dir, folder);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(path.join(runDir, 'config.json'), JSON.stringify({ name, data: { store }, model: { model: 'din' }, train: { seed } }));
  const buckets = { new: set(0.55, gauc - 0.1, 0.7, newCount), rare: set(0.6, gauc - 0.05, 0.68), mid: set(0.7, gauc, 0.6), head: set(0.72, gauc + 0.01, 0.58, 0) };
  const test = { overall: set(gauc + 0.01, gauc, 0.6, count), buckets };
  const epochs = [1, 2].map((epoch) => ({ epoch, trainLoss: 0.6, valid: { overall: set(0.7, gauc - 0.01 * epoch, 0.62), buckets } }));
  writeFileSync(path.join(runDir, 'metrics.json'), JSON.stringify({ fit: { epochs, bestEpoch: 1 }, test }));
  return runDir;
}

test('runs are grouped by experiment: mean ± std over seeds per slice, gains over the baseline, curves, notes', () => {
  fakeRun('cmp/base-1', 'base', 1, 0.7);
  fakeRun('cmp/base-2', 'base', 2, 0.72);
  fakeRun('cmp/new-1', 'new', 1, 0.73);
  fakeRun('cmp/new-2', 'new', 2, 0.75);
  // Seed 2 of "new" trained again earlier: the newest run counts, and the report says so.
  const stale = fakeRun('cmp/new-2-old', 'new', 2, 0.5);
  utimesSync(path.join(stale, 'metrics.json'), new Date(2000, 0, 1), new Date(2000, 0, 1));
  fakeRun('cmp/solo', 'solo', 1, 0.71);
  const r = compareRuns([path.join(dir, 'cmp')]);
  assert.deepEqual(r.groups.map((g) => [g.name, g.seeds]), [['base', [1, 2]], ['new', [1, 2]], ['solo', [1]]]);
  assert.equal(r.baseline, 'base', 'the first experiment found by default');
  const overall = r.slices[0];
  assert.equal(overall.slice, 'overall');
  assert.deepEqual(overall.summary.base.gauc, { mean: 0.71, std: Number((Math.SQRT2 * 0.01).toFixed(6)) });
  assert.equal(overall.summary.new.gauc.mean, 0.74);
  assert.equal(overall.summary.new.gain.gauc, Number(((100 * 0.03) / 0.71).toFixed(6)));
  assert.equal(overall.summary.base.gain.gauc, 0);
  // Buckets with test impressions only ("head" has none here), with the store's thresholds when it is gone: the bucket names.
  assert.deepEqual(r.slices.map((s) => s.slice), ['overall', 'new', 'rare', 'mid']);
  assert.equal(r.slices[1].count, 40);
  assert.deepEqual(r.curves.new.map((p) => p.validGauc), [0.72, 0.71]);
  assert.ok(r.notes.some((n) => n.includes('new seed 2 was trained more than once') && n.includes(stale)), r.notes.join('\n'));
  assert.ok(r.notes.some((n) => n.startsWith('solo has one seed')));
  assert.ok(!r.notes.some((n) => n.includes('same test set')));
  // Seed by seed: new - base = +0.03 GAUC on both seeds, steady; solo shares one seed only.
  const gap = r.paired.new!;
  assert.deepEqual(gap.seeds, [1, 2]);
  assert.ok(Math.abs(gap.gauc.mean - 0.03) < 1e-6 && gap.gauc.std < 1e-6 && gap.steady, JSON.stringify(gap));
  assert.equal(r.paired.solo, null);
  assert.ok(!('base' in r.paired));
  // Another baseline by name.
  const again = compareRuns([path.join(dir, 'cmp')], { baseline: 'new' });
  assert.equal(again.slices[0].summary.new.gain.gauc, 0);
  assert.ok(again.slices[0].summary.base.gain.gauc < 0);
});

test('experiments tested on different test sets are flagged; NaN metrics (null in JSON) stay NaN', () => {
  fakeRun('mixed/a', 'a', 1, 0.7, { count: 1000 });
  const b = fakeRun('mixed/b', 'b', 1, 0.7, { count: 800, store: '/stores/b' });
  const metrics = JSON.parse(readFileSync(path.join(b, 'metrics.json'), 'utf8'));
  metrics.test.buckets.new.auc = null;
  writeFileSync(path.join(b, 'metrics.json'), JSON.stringify(metrics));
  const r = compareRuns([path.join(dir, 'mixed')]);
  assert.ok(r.notes.some((n) => n.includes('not tested on the same test set') && n.includes('a: 1000') && n.includes('b: 800')), r.notes.join('\n'));
  assert.ok(Number.isNaN(r.slices[1].perSeed.b[0].auc));
});

test('no runs, an unknown baseline and a malformed metrics.json are refused with what is wrong', () => {
  mkdirSync(path.join(dir, 'empty'), { recursive: true });
  assert.throws(() => compareRuns([path.join(dir, 'empty')]), /no run found \(a run folder holds config\.json and metrics\.json/);
  assert.throws(() => compareRuns([path.join(dir, 'nowhere')]), /nowhere: no such folder/);
  fakeRun('one/x', 'x', 1, 0.7);
  assert.throws(() => compareRuns([path.join(dir, 'one')], { baseline: 'y' }), /--baseline y: no such experiment among the runs \(found: x\)/);
  const bad = fakeRun('bad/x', 'x', 1, 0.7);
  writeFileSync(path.join(bad, 'metrics.json'), JSON.stringify({ fit: { epochs: [] }, test: { overall: { count: 'many' } } }));
  assert.throws(
    () => compareRuns([path.join(dir, 'bad')]),
    (e: unknown) => e instanceof ConfigError && e.message.includes(path.join(bad, 'metrics.json')) && /test\.overall\.count/.test(e.message),
  );
});

test('real runs of `mmctr train` are read back: the figures are the runs own test metrics', async () => {
  const storeDir = path.join(dir, 'store');
  await buildStoreFromSpec(writeDemoData(path.join(dir, 'data'), { users: 80, items: 120, impressionsPerUser: 30, seed: 4 }), SampleConfig.parse({}), storeDir);
  const config = (model: 'din' | 'sum-pooling', seed: number) =>
    ExperimentConfig.parse({ name: `real-${model}`, data: { store: storeDir }, model: { model, embeddingDim: 8, mlpHidden: [8] }, train: { batchSize: 256, epochs: 1, seed } });
  const runs = [trainRun(config('din', 1), SampleStore.open(storeDir), path.join(dir, 'real', 'din-1')), trainRun(config('sum-pooling', 1), SampleStore.open(storeDir), path.join(dir, 'real', 'sum-1'))];
  const r = compareRuns([path.join(dir, 'real')]);
  assert.deepEqual(r.groups.map((g) => g.name), ['real-din', 'real-sum-pooling']);
  assert.equal(r.slices[0].summary['real-din'].auc.mean, Number(runs[0].test.overall.auc.toFixed(6)));
  assert.equal(r.slices[0].summary['real-sum-pooling'].logloss.mean, Number(runs[1].test.overall.logloss.toFixed(6)));
  // The store is there: buckets are described by its thresholds.
  assert.ok(r.slices.slice(1).every((s) => /training impression/.test(s.description)), r.slices.map((s) => s.description).join('; '));
  assert.equal(r.curves['real-din'].length, runs[0].fit.epochs.filter((e) => e.valid).length);
});

test('a sweep folder (sweep.json) is ranked on validation, best first, and its best point is the default baseline', () => {
  // Equal validation AUC: validation GAUC decides, so the point found second ranks first.
  fakeRun('sweep/a-seed1', 'p:a', 1, 0.6);
  fakeRun('sweep/b-seed1', 'p:b', 1, 0.7);
  writeFileSync(path.join(dir, 'sweep', 'sweep.json'), '{}');
  const r = compareRuns([path.join(dir, 'sweep')]);
  assert.deepEqual(r.ranking?.order, ['p:b', 'p:a']);
  assert.deepEqual(r.groups.map((g) => g.name), ['p:b', 'p:a']);
  assert.equal(r.baseline, 'p:b');
  assert.equal(r.ranking?.summary['p:b'].gauc.mean, 0.68, 'the last evaluated epoch when the run records no keptEpoch');
  assert.match(r.notes[0], /^Ranked on validation, never on test: p:b/);
  assert.equal(compareRuns([path.join(dir, 'sweep', 'a-seed1'), path.join(dir, 'sweep', 'b-seed1')]).ranking, undefined, 'run folders alone are not ranked');
});
