import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelConfig, TrainConfig } from '../../src/ctr/config.js';
import { featureSpaceOf } from '../../src/ctr/feature-space.js';
import { createModel } from '../../src/ctr/models/index.js';
import { fit } from '../../src/ctr/trainer.js';
import { SampleStore } from '../../src/data/store.js';
import { demoStoreWithVectors } from './helpers.js';

const demo = demoStoreWithVectors('mmctr-trainer-');

test('maxSteps stops the fit after that many steps, without validating, and counts only their samples', async () => {
  await demo.ready();
  const store = SampleStore.open(demo.storeDir);
  const model = createModel(ModelConfig.parse({ model: 'din' }), featureSpaceOf(store), 1);
  const r = fit(model, store, TrainConfig.parse({ batchSize: 64, epochs: 3, seed: 1 }), { maxSteps: 5 });
  assert.ok(store.meta.splits.train.count > 5 * 64, 'the split holds more than five batches');
  assert.equal(r.samples, 5 * 64);
  assert.deepEqual(r.epochs, []);
  assert.ok(r.samplesPerSecond > 0 && r.loopSamplesPerSecond >= r.samplesPerSecond);
});
