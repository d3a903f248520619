import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExperimentConfig } from '../../src/ctr/config.js';
import { openRun, readExperimentConfig, trainRun } from '../../src/ctr/run.js';
import { evaluateSplit } from '../../src/ctr/trainer.js';
import { buildStoreFromSpec } from '../../src/data/samples.js';
import { SampleStore } from '../../src/data/store.js';
import { SampleConfig } from '../../src/data/sample-config.js';
import { ConfigError } from '../../src/util/errors.js';
import { repoRoot } from '../../src/util/paths.js';
import { writeDemoData } from '../../src/world/demo-data.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-run-'));
const storeDir = path.join(dir, 'store');
let built: Promise<unknown> | null = null;
function store(): Promise<unknown> {
  built ??= buildStoreFromSpec(writeDemoData(path.join(dir, 'data'), { users: 150, items: 200, impressionsPerUser: 40, seed: 3 }), SampleConfig.parse({}), storeDir);
  return built;
}

function config(model: 'din' | 'sum-pooling', seed = 1): ExperimentConfig {
  return ExperimentConfig.parse({
    name: `t-${model}`,
    data: { store: storeDir },
    model: { model, embeddingDim: 8, mlpHidden: [16], ...(model === 'din' ? { attentionHidden: [16, 8] } : {}) },
    train: { batchSize: 128, lr: 0.01, epochs: 3, seed },
  });
}

test('training is deterministic for a seed and differs across seeds', async () => {
  await store();
  const a = trainRun(config('din', 5), SampleStore.open(storeDir), path.join(dir, 'a'));
  const b = trainRun(config('din', 5), SampleStore.open(storeDir), path.join(dir, 'b'));
  const c = trainRun(config('din', 6), SampleStore.open(storeDir), path.join(dir, 'c'));
  assert.equal(a.test.overall.auc, b.test.overall.auc);
  assert.equal(a.test.overall.logloss, b.test.overall.logloss);
  assert.notEqual(a.test.overall.logloss, c.test.overall.logloss);
});

test('DIN and sum pooling learn the demo log beyond chance', async () => {
  await store();
  for (const model of ['din', 'sum-pooling'] as const) {
    const r = trainRun(config(model), SampleStore.open(storeDir), path.join(dir, `learn-${model}`));
    assert.ok(r.test.overall.auc > 0.58, `${model} test AUC ${r.test.overall.auc}`);
    assert.ok(r.fit.epochs.length >= 1 && r.fit.epochs.length <= 3);
  }
});

test('a run folder reopens to the same model: evaluation reproduces the test metrics exactly', async () => {
  await store();
  const r = trainRun(config('din', 2), SampleStore.open(storeDir), path.join(dir, 'reopen'));
  const { model, store: reopenedStore } = openRun(r.dir);
  const again = evaluateSplit(model, reopenedStore, 'test');
  assert.deepEqual(again, r.test);
});

test('an experiment config with a bad field is refused with the field named', () => {
  const file = path.join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ name: 'x', data: { store: storeDir }, model: { model: 'din', embeddingDim: -4 }, train: { lr: 'fast' } }));
  assert.throws(() => readExperimentConfig(file), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /model\.embeddingDim/);
    assert.match(err.message, /train\.lr/);
    return true;
  });
  writeFileSync(file, JSON.stringify({ name: 'x', data: {}, model: { model: 'din' } }));
  assert.throws(() => readExperimentConfig(file), /give one of store, dataset or adapter/);
});

test('a run stopped mid-epoch resumes from its checkpoint to the same weights as an uninterrupted run', async () => {
  await store();
  const cfg = ExperimentConfig.parse({ ...config('din', 9), train: { ...config('din', 9).train, epochs: 2, checkpointEvery: 4 } });
  const straight = trainRun(cfg, SampleStore.open(storeDir), path.join(dir, 'straight'));
  const crashDir = path.join(dir, 'crashed');
  let steps = 0;
  assert.throws(() =>
    trainRun(cfg, SampleStore.open(storeDir), crashDir, {
      onProgress: (p) => {
        if (p.phase === 'train' && ++steps === 10) throw new Error('simulated crash');
      },
    }),
  /simulated crash/);
  const lines: string[] = [];
  const resumed = trainRun(cfg, SampleStore.open(storeDir), crashDir, { resume: true, log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /resumed from .*step-0+8\.safetensors: epoch \d, batch \d+/.test(l)), `the run resumed from the step-8 checkpoint:\n${lines.join('\n')}`);
  assert.deepEqual(resumed.test, straight.test);
  const a = openRun(straight.dir).model, b = openRun(crashDir).model;
  for (const [name, p] of a.namedParameters()) assert.deepEqual(b.namedParameters().get(name)!.data, p.data, name);
  for (const [name, t] of a.namedTables()) assert.deepEqual(b.namedTables().get(name)!.weight, t.weight, name);
});

/** Trains `cfg` straight and again with a simulated crash after `crashAt` steps, resumed; returns both runs and the resume log. */
function crashAndResume(cfg: ExperimentConfig, name: string, crashAt: number): { straight: string; resumed: string; log: string[] } {
  const straight = trainRun(cfg, SampleStore.open(storeDir), path.join(dir, `${name}-straight`));
  const crashDir = path.join(dir, `${name}-crashed`);
  let steps = 0;
  assert.throws(() => trainRun(cfg, SampleStore.open(storeDir), crashDir, { onProgress: (p) => { if (p.phase === 'train' && ++steps === crashAt) throw new Error('simulated crash'); } }), /simulated crash/);
  const log: string[] = [];
  trainRun(cfg, SampleStore.open(storeDir), crashDir, { resume: true, log: (l) => log.push(l) });
  return { straight: straight.dir, resumed: crashDir, log };
}

function assertSameWeights(aDir: string, bDir: string): void {
  const a = openRun(aDir).model, b = openRun(bDir).model;
  let compared = 0;
  for (const [name, p] of a.namedParameters()) {
    assert.deepEqual(b.namedParameters().get(name)!.data, p.data, name);
    compared++;
  }
  for (const [name, t] of a.namedTables()) assert.deepEqual(b.namedTables().get(name)!.weight, t.weight, name);
  assert.ok(compared > 0);
}

test('resume is bit-identical with dropout on: the dropout streams are in the checkpoint', async () => {
  await store();
  const base = config('din', 5);
  const cfg = ExperimentConfig.parse({ ...base, model: { ...base.model, dropout: 0.3 }, train: { ...base.train, epochs: 2, checkpointEvery: 3 } });
  const { straight, resumed, log } = crashAndResume(cfg, 'dropout', 8);
  assert.ok(log.some((l) => /resumed from .*step-0+6\.safetensors/.test(l)), log.join('\n'));
  assertSameWeights(straight, resumed);
});

test('with the default checkpointEvery (0) a checkpoint is written at every epoch end, and a run killed in epoch 2 resumes from it', async () => {
  await store();
  const base = config('din', 6);
  const cfg = ExperimentConfig.parse({ ...base, model: { ...base.model, dropout: 0.2 }, train: { ...base.train, epochs: 3 } });
  assert.equal(cfg.train.checkpointEvery, 0);
  // 150 users x 40 impressions, 80 % train, batches of 128: about 38 steps per epoch.
  const { straight, resumed, log } = crashAndResume(cfg, 'epoch-end', 50);
  assert.ok(log.some((l) => /resumed from .*step-\d+\.safetensors: epoch 2, batch 0/.test(l)), `resumed from the end of epoch 1:\n${log.join('\n')}`);
  assertSameWeights(straight, resumed);
});

test('`mmctr resume` refuses a run that has no checkpoint (killed in its first epoch) instead of retraining from epoch 1', async () => {
  await store();
  const cfg = config('din', 7);
  const crashDir = path.join(dir, 'no-checkpoint');
  let steps = 0;
  assert.throws(() => trainRun(cfg, SampleStore.open(storeDir), crashDir, { onProgress: (p) => { if (p.phase === 'train' && ++steps === 5) throw new Error('simulated crash'); } }), /simulated crash/);
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'mmctr.js'), 'resume', crashDir], { encoding: 'utf8' });
  assert.equal(r.status, 1, `exit code; stderr:\n${r.stderr}`);
  assert.match(r.stderr, /has no checkpoint to resume from/);
  assert.match(r.stderr, /mmctr train/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'one clear line, not a stack trace');
  assert.ok(!existsSync(path.join(crashDir, 'model.safetensors')), 'nothing was trained');
});

test('train.keep: best returns the best validation epoch, last trains every epoch and returns the last', async () => {
  await store();
  assert.equal(ExperimentConfig.parse({ name: 'x', data: { store: storeDir }, model: { model: 'din' } }).train.keep, 'best');
  // Patience 0 and a high learning rate: keep 'best' may stop early; keep 'last' never does.
  const train = { ...config('din', 4).train, epochs: 4, earlyStoppingPatience: 0, lr: 0.05 };
  for (const keep of ['best', 'last'] as const) {
    const cfg = ExperimentConfig.parse({ ...config('din', 4), train: { ...train, keep } });
    const r = trainRun(cfg, SampleStore.open(storeDir), path.join(dir, `keep-${keep}`));
    const bestByMonitor = r.fit.epochs.reduce((b, e) => (e.valid!.overall.auc > b.valid!.overall.auc ? e : b)).epoch;
    assert.equal(r.fit.bestEpoch, bestByMonitor);
    if (keep === 'last') {
      assert.equal(r.fit.epochs.length, 4, 'keep last trains all epochs');
      assert.equal(r.fit.keptEpoch, 4);
    } else assert.equal(r.fit.keptEpoch, r.fit.bestEpoch);
    const { model, store: s } = openRun(r.dir);
    assert.deepEqual(evaluateSplit(model, s, 'valid'), r.fit.epochs[r.fit.keptEpoch - 1].valid, `keep ${keep}: the saved model is epoch ${r.fit.keptEpoch}'s`);
  }
});

test('checkpoints by time (train.checkpointMinutes, 5 by default): a run killed between epoch ends resumes from the newest one, bit for bit', async () => {
  await store();
  const base = config('din', 8);
  assert.equal(ExperimentConfig.parse(base).train.checkpointMinutes, 5);
  // An interval shorter than any step: a checkpoint after every step, as a long run gets one every 5 minutes.
  const cfg = ExperimentConfig.parse({ ...base, train: { ...base.train, epochs: 2, checkpointMinutes: 1e-9 } });
  const { straight, resumed, log } = crashAndResume(cfg, 'by-time', 10);
  assert.ok(log.some((l) => /resumed from .*step-0+9\.safetensors: epoch 1, batch 9/.test(l)), `resumed from the step before the crash:\n${log.join('\n')}`);
  assertSameWeights(straight, resumed);
});
