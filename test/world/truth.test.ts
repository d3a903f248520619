import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { buildStoreFromSpec } from '../../src/data/samples.js';
import { readSampleConfig, SPLITS } from '../../src/data/sample-config.js';
import { SampleStore, STORE_FILES, TRUTH_FILE } from '../../src/data/store.js';
import { ExperimentConfig } from '../../src/ctr/config.js';
import { featureSpaceOf } from '../../src/ctr/feature-space.js';
import { createModel } from '../../src/ctr/models/index.js';
import { evaluateSplit, fit } from '../../src/ctr/trainer.js';
import { generateWorld } from '../../src/world/generate.js';
import { worldParams } from '../../src/world/params.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-truth-');

test('p_true never reaches a model: stores built with other true probabilities are the same byte for byte, and batches do not carry it', async () => {
  const w = await generateWorld(worldParams('small', { seed: 5, users: 80, days: 6 }), path.join(dir, 'world'));
  const config = readSampleConfig(w.sampleConfigFile);
  const a = path.join(dir, 'store-a');
  await buildStoreFromSpec(w.specFile, config, a);
  // The same world with the answer key turned upside down.
  const other = path.join(dir, 'world-flipped');
  cpSync(w.dir, other, { recursive: true });
  const lines = readFileSync(path.join(other, 'events.csv'), 'utf8').split('\n');
  const flipped = lines.map((l, i) => {
    if (i === 0 || !l) return l;
    const f = l.split(',');
    if (f[7]) f[7] = (1 - Number(f[7])).toFixed(6);
    return f.join(',');
  });
  writeFileSync(path.join(other, 'events.csv'), flipped.join('\n'));
  const b = path.join(dir, 'store-b');
  await buildStoreFromSpec(path.join(other, 'dataset.json'), config, b);
  for (const split of SPLITS) {
    for (const f of readdirSync(path.join(a, split))) {
      if (f === TRUTH_FILE) continue;
      assert.ok(readFileSync(path.join(a, split, f)).equals(readFileSync(path.join(b, split, f))), `${split}/${f} depends on p_true`);
    }
    const ta = SampleStore.open(a).truth(split)!, tb = SampleStore.open(b).truth(split)!;
    assert.ok(ta.length > 0 && Math.abs(ta[0] + tb[0] - 1) < 1e-5, 'the truth files do differ');
  }
  for (const folder of [STORE_FILES.catalog, STORE_FILES.users])
    for (const f of readdirSync(path.join(a, folder))) assert.ok(readFileSync(path.join(a, folder, f)).equals(readFileSync(path.join(b, folder, f))), path.join(folder, f));
  // Batches are read without the truth file, and hold nothing named after it.
  rmSync(path.join(b, 'test', TRUTH_FILE));
  const reader = SampleStore.open(b).split('test');
  const batch = reader.readRange(0, 16);
  reader.close();
  assert.ok(Object.keys(batch).every((k) => !/true|truth|oracle/i.test(k)), Object.keys(batch).join(', '));
  assert.equal(SampleStore.open(b).truth('test'), null);
});

test('evaluation reports the oracle next to a trained model, and the oracle is better', async () => {
  const w = await generateWorld(worldParams('small', { seed: 1 }), path.join(dir, 'world-eval'));
  const store = path.join(dir, 'store-eval');
  await buildStoreFromSpec(w.specFile, readSampleConfig(w.sampleConfigFile), store);
  const config = ExperimentConfig.parse({
    name: 't',
    data: { store },
    model: { model: 'sum-pooling', embeddingDim: 8, mlpHidden: [16] },
    train: { batchSize: 256, lr: 0.005, epochs: 1 },
  });
  const opened = SampleStore.open(store);
  const model = createModel(config.model, featureSpaceOf(opened), 1);
  fit(model, opened, config.train);
  const e = evaluateSplit(model, opened, 'test');
  assert.ok(e.oracle, 'oracle metrics where the store has p_true');
  assert.equal(e.oracle.overall.count, e.overall.count);
  assert.ok(e.oracle.overall.gauc > e.overall.gauc && e.oracle.overall.auc > e.overall.auc, `oracle ${e.oracle.overall.auc} vs model ${e.overall.auc}`);
  assert.ok(e.oracle.overall.auc > 0.7);
});
