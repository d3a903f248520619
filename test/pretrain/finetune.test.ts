/**
 * SCL with trainable backbone layers on the synthetic world: its 24-d "image features" read as
 * cut activations of 4 positions x 6 channels under a one-layer pointwise top (6 -> 8, ReLU6).
 * The gradients of the top, the raw baseline through the untrained top, training moving the top,
 * and the trained top saved with the model. (The real MobileNetV2 top against the full ONNX
 * network: test/encoders/mobilenet.test.ts.)
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel, saveModel } from '../../src/engine/checkpoint.js';
import { gradCheck } from '../../src/engine/gradcheck.js';
import { RandomStream } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { PointwiseHeadArgs } from '../../src/nn/pointwise.js';
import { sclConfig } from '../../src/pretrain/config.js';
import { encodeCatalogue, formatTable } from '../../src/pretrain/evaluate.js';
import { embedItems } from '../../src/pretrain/export.js';
import { frozenFeatures, SclModel } from '../../src/pretrain/model.js';
import { prepare, runExperiment } from '../../src/pretrain/pipeline.js';
import { tempDir } from '../data/helpers.js';
import { syntheticWorld } from './synthetic.js';

const small = {
  seed: 2,
  model: { tokenDim: 16, hidden: 32, outDim: 16, maxTokens: 16, textBuckets: 2 ** 18 + 1, trainableLayers: 1, trainableLr: 3e-3 },
  loss: { queueSize: 256, momentum: 0.99 },
  train: { epochs: 6, batchSize: 64, lr: 3e-3, sparseLr: 2e-2 },
  eval: { candidates: 20, topK: 5 },
};

function head(seed = 5): PointwiseHeadArgs {
  const rng = new RandomStream(seed);
  return { positions: 4, channels: 6, layers: [{ inDim: 6, outDim: 8, weight: rng.normal(48, 0, 0.4), bias: rng.uniform(8, 0.5, 1.5), relu6: true }] };
}

test('SCL image tower over a trainable top: gradients of the top match finite differences', () => {
  const config = sclConfig(small);
  const model = new SclModel(config.model, 24, new RandomStream(1), head());
  const [w, b] = [...model.namedParameters()].filter(([n]) => n.startsWith('image.head.')).map(([, p]) => p);
  assert.deepEqual([w.shape, b.shape], [[6, 8], [8]]);
  const x = new Tensor(new RandomStream(9).uniform(3 * 24, 0, 2), [3, 24]);
  // Inputs in [0, 2] and the weights above keep most pre-activations inside (0, 6), away from ReLU6's kinks.
  const r = gradCheck(() => model.encodeQueryImage(x), [w, b], { eps: 1e-3, samples: 48 });
  assert.ok(r.checked > 40 && r.maxError < 2e-2, JSON.stringify(r));
  assert.ok(w.grad!.some((g) => g !== 0) && b.grad!.some((g) => g !== 0));
});

test('SCL with a trainable top: raw reads the untrained top; training moves the top, beats raw, and the trained top is saved with the model', () => {
  const w = syntheticWorld({ searches: 800 });
  const config = sclConfig(small);
  const prep = prepare(config, w.items, w.searches, { ...w.table, head: head() });
  assert.ok(prep.inputs.imageHead);
  const frozen = frozenFeatures(prep.inputs);
  assert.equal(frozen.featureDim, 8);
  assert.equal(frozen.imageHead, null);
  const res = runExperiment(config, prep, ['raw', 'scl']);
  const [raw, scl] = res.rows;
  assert.ok(scl.all.top1 > raw.all.top1 + 0.2, formatTable(res.rows, 5));
  const model = res.trained.scl!.model;
  const trained = model.namedParameters().get('image.head.w0')!.data;
  const init = head().layers[0].weight;
  assert.ok(trained.some((v, i) => Math.abs(v - init[i]) > 1e-3), 'the top did not move');

  const file = path.join(tempDir('mmctr-scl-ft-'), 'model.safetensors');
  saveModel(file, model, { scl: config });
  const loaded = new SclModel(config.model, 24, new RandomStream(99), head());
  loadModel(file, loaded);
  loaded.eval();
  const table = { ...w.table, head: head() };
  assert.deepEqual(embedItems(loaded, w.items, table), embedItems(model, w.items, table));
  assert.notDeepEqual(encodeCatalogue(new SclModel(config.model, 24, new RandomStream(99), head()), prep.inputs), encodeCatalogue(model, prep.inputs));
  assert.throws(() => new SclModel(config.model, 24, new RandomStream(1)), /trainableLayers is 1/);
  assert.throws(() => new SclModel(sclConfig().model, 24, new RandomStream(1), head()), /trainableLayers is 0/);
});
