import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExperimentConfig } from '../../src/ctr/config.js';
import { openRun, readExperimentConfig, trainRun } from '../../src/ctr/run.js';
import { evaluateSplit } from '../../src/ctr/trainer.js';
import { buildStoreFromSpec } from '../../src/data/samples.js';
import { SampleStore } from '../../src/data/store.js';
import { SampleConfig } from '../../src/data/sample-config.js';
import { ConfigError } from '../../src/util/errors.js';
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
