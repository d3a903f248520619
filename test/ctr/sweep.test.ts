import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compareRuns } from '../../src/ctr/experiment/runs.js';
import { configWithSets, parseSetFlag, planSweep, runSweep, type SweepSummary } from '../../src/ctr/experiment/sweep.js';
import { buildStoreFromSpec } from '../../src/data/samples.js';
import { SampleStore } from '../../src/data/store.js';
import { SampleConfig } from '../../src/data/sample-config.js';
import { renderMarkdown } from '../../src/report/render.js';
import { runComparison } from '../../src/report/run-report.js';
import { ConfigError, UsageError } from '../../src/util/errors.js';
import { repoRoot } from '../../src/util/paths.js';
import { writeDemoData } from '../../src/world/demo-data.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-sweep-');
const storeDir = path.join(dir, 'store');
const configFile = path.join(dir, 'tiny.json');
const raw = {
  name: 'tiny',
  data: { store: storeDir },
  model: { model: 'sum-pooling', embeddingDim: 4, mlpHidden: [8] },
  train: { batchSize: 256, lr: 0.01, epochs: 1, seed: 1 },
};
writeFileSync(configFile, JSON.stringify(raw));

test('--set values: JSON where it reads as JSON, text otherwise; commas inside brackets and quotes do not split', () => {
  assert.deepEqual(parseSetFlag('model.embeddingDim=16,32'), { path: 'model.embeddingDim', values: [16, 32] });
  assert.deepEqual(parseSetFlag('train.keep=best,last').values, ['best', 'last']);
  assert.deepEqual(parseSetFlag('model.make.join=["logit"],["interest","logit"]').values, [['logit'], ['interest', 'logit']]);
  assert.deepEqual(parseSetFlag('model.simTier={"tiers":10,"transform":"count"},{"tiers":20}').values, [{ tiers: 10, transform: 'count' }, { tiers: 20 }]);
  assert.deepEqual(parseSetFlag('description="a, b",true').values, ['a, b', true]);
  assert.throws(() => parseSetFlag('model.embeddingDim'), (e: Error) => e instanceof UsageError && /--set model\.embeddingDim: expected <path>=<value>/.test(e.message));
  assert.throws(() => parseSetFlag('model..x=1'), UsageError);
  assert.throws(() => parseSetFlag('train.lr=0.1,,0.2'), /an empty value/);
  assert.throws(() => parseSetFlag('model.make.join=[logit]'), (e: Error) => e instanceof UsageError && /'\[logit\]' starts like JSON but is not valid JSON/.test(e.message));
  assert.throws(() => parseSetFlag('train.lr=0.1,0.1'), /lists a value twice/);
});

test('the grid is the cartesian product of the --set values, each point validated and named by its values', () => {
  const plan = planSweep(configFile, raw, ['model.embeddingDim=4,8', 'train.lr=0.01,0.03,0.1'], [1, 2]);
  assert.equal(plan.points.length, 6);
  assert.deepEqual(plan.seeds, [1, 2]);
  assert.deepEqual(plan.points.map((p) => p.label).slice(0, 2), ['model.embeddingDim=4,train.lr=0.01', 'model.embeddingDim=4,train.lr=0.03']);
  const last = plan.points[5];
  assert.equal(last.config.model.embeddingDim, 8);
  assert.equal(last.config.train.lr, 0.1);
  assert.equal(last.config.train.epochs, 1, 'the rest of the config as it was');
  assert.equal(last.config.name, 'tiny:model.embeddingDim=8,train.lr=0.1');
  assert.deepEqual(last.runs.map((r) => r.dir), ['model.embeddingDim=8,train.lr=0.1-seed1', 'model.embeddingDim=8,train.lr=0.1-seed2']);
  // A value that is no safe file name gets a readable folder and a hash that tells points apart.
  const odd = planSweep(configFile, { ...raw, model: { ...raw.model, model: 'din' } }, ['model.attentionHidden=[8],[8,4]']).points.map((p) => p.runs[0].dir);
  assert.equal(new Set(odd).size, 2);
  assert.ok(odd.every((d) => /^model\.attentionHidden=_8[_,\d]*-[0-9a-f]{8}-seed1$/.test(d)), odd.join(' '));
});

test('a bad path or value fails before training, naming the flag, the path, the value and what was expected', () => {
  const fails = (sets: string[], pattern: RegExp, seeds?: number[]) =>
    assert.throws(
      () => planSweep(configFile, raw, sets, seeds),
      (e: Error) => e instanceof ConfigError && pattern.test(e.message),
    );
  fails(['model.embedingDim=16'], /--set model\.embedingDim=16 \(on .*tiny\.json\): invalid configuration\n {2}- model: Unrecognized key: "embedingDim"/);
  fails(['model.embeddingDim=16,abc'], /--set model\.embeddingDim=abc .*\n {2}- model\.embeddingDim: .*expected number, received string/);
  fails(['train.lr=0.01,-1'], /--set train\.lr=-1 .*\n {2}- train\.lr: .*>0/);
  fails(['model.embeddingDim.width=3'], /--set model\.embeddingDim\.width=3 [^]*model\.embeddingDim is 4 in the config, not a section/);
  fails(['train.lr=0.01'], /--seeds 1\.5 .*train\.seed: .*expected int/s, [1, 1.5]);
  // Valid alone, not together: a DIN-only field on a sum-pooling point of a DIN config.
  const din = { ...raw, model: { ...raw.model, model: 'din' } };
  assert.throws(
    () => planSweep(configFile, din, ['model.model=din,sum-pooling', 'model.simScore=true']),
    (e: Error) => e instanceof ConfigError && /--set model\.model=sum-pooling --set model\.simScore=true .*not together.*\n {2}- model: Unrecognized key: "simScore"/.test(e.message),
  );
  assert.throws(() => planSweep(configFile, raw, []), UsageError);
  assert.throws(() => planSweep(configFile, raw, ['train.seed=1,2']), /--set train\.seed: use --seeds/);
  assert.throws(() => planSweep(configFile, raw, ['train.lr=0.1', 'train.lr=0.2']), /given twice/);
  assert.equal(existsSync(path.join(dir, 'runs')), false, 'nothing was written');
});

test('a 2x1 grid with one seed trains two runs, ranks them on validation, and resumes by skipping finished runs', async () => {
  await buildStoreFromSpec(writeDemoData(path.join(dir, 'data'), { users: 60, items: 80, impressionsPerUser: 30, seed: 3 }), SampleConfig.parse({}), storeDir);
  const plan = planSweep(configFile, raw, ['train.lr=0.0001,0.03']);
  const sweepDir = path.join(dir, 'runs', 'tiny-sweep');
  const started: string[] = [];
  const options = { storeOf: async () => SampleStore.open(storeDir), onStart: (run: { point: string }) => (started.push(run.point), {}) };
  const first = await runSweep(plan, sweepDir, options);
  assert.deepEqual([first.trained, first.skipped], [2, 0]);
  assert.equal(started.length, 2);

  const summary = JSON.parse(readFileSync(path.join(sweepDir, 'sweep.json'), 'utf8')) as SweepSummary;
  assert.equal(summary.points.length, 2);
  assert.match(summary.selectedOn, /validation AUC.*never test/);
  const [best, other] = summary.points;
  assert.ok(best.valid.auc.mean >= other.valid.auc.mean, 'best first on validation AUC');
  assert.equal(summary.best?.point, best.point);
  assert.equal(best.runs.length, 1);
  assert.equal(best.runs[0].seed, 1);
  assert.ok(best.runs[0].valid.count > 0 && best.runs[0].test.count > 0);
  assert.equal(best.valid.auc.mean, best.runs[0].valid.auc);
  assert.notEqual(best.valid.auc.mean, best.test.auc.mean, 'validation and test are different splits');
  // The validation metrics are those of the kept epoch recorded in the run.
  const metrics = JSON.parse(readFileSync(path.join(best.runs[0].dir, 'metrics.json'), 'utf8'));
  assert.equal(best.runs[0].valid.auc, Number(metrics.fit.epochs[metrics.fit.keptEpoch - 1].valid.overall.auc.toFixed(6)));

  // `mmctr report` over the folder draws the same ranking, best first, and says it chose on validation.
  const report = compareRuns([sweepDir]);
  assert.deepEqual(report.ranking?.order, summary.points.map((p) => `tiny:${p.point}`));
  assert.equal(report.baseline, `tiny:${best.point}`);
  assert.match(report.notes[0], /Ranked on validation, never on test/);
  const md = renderMarkdown(runComparison(report));
  assert.match(md, /## Points ranked on validation \(best first\)/);
  assert.ok(md.indexOf(`| 1 | tiny:${best.point} | 1 |`) > 0, md);
  assert.ok(md.indexOf(`| 2 | tiny:${other.point} | 1 |`) > md.indexOf(`| 1 | tiny:${best.point}`));

  const mtime = statSync(path.join(best.runs[0].dir, 'metrics.json')).mtimeMs;
  const again = await runSweep(plan, sweepDir, options);
  assert.deepEqual([again.trained, again.skipped], [0, 2]);
  assert.equal(started.length, 2, 'no run started again');
  assert.equal(statSync(path.join(best.runs[0].dir, 'metrics.json')).mtimeMs, mtime);
  assert.deepEqual(again.summary.points.map((p) => p.point), summary.points.map((p) => p.point));

  await assert.rejects(runSweep(planSweep(configFile, raw, ['train.lr=0.0001,0.1']), sweepDir, options), (e: Error) => e instanceof UsageError && /holds a sweep of another grid .*--set train\.lr=0\.0001,0\.03/.test(e.message));
});

test('configWithSets: one experiment with a few fields changed, checked as a sweep point (bench:peer --set)', () => {
  const file = path.join(repoRoot(), 'configs', 'movielens-din.json');
  const c = configWithSets(file, ['model.mlpActivation=relu', 'train.clipGradNorm=0']);
  assert.equal(c.model.mlpActivation, 'relu');
  assert.equal(c.train.clipGradNorm, 0);
  assert.throws(() => configWithSets(file, ['model.nope=1']), (e: Error) => e instanceof ConfigError && /model: Unrecognized key: "nope"/.test(e.message));
  assert.throws(() => configWithSets(file, ['train.lr=0.1,0.2']), (e: Error) => e instanceof UsageError && /one value here/.test(e.message));
});
