import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sclConfig } from '../../src/pretrain/config.js';
import { formatTable } from '../../src/pretrain/evaluate.js';
import { prepare, runExperiment } from '../../src/pretrain/pipeline.js';
import { syntheticWorld } from './synthetic.js';

const small = {
  seed: 2,
  model: { tokenDim: 16, hidden: 32, outDim: 16, maxTokens: 16, textBuckets: 2 ** 18 + 1 },
  loss: { queueSize: 256, momentum: 0.99 },
  train: { epochs: 12, batchSize: 64, lr: 3e-3, sparseLr: 2e-2 },
  eval: { candidates: 20, topK: 5 },
};

test('SCL on a tiny synthetic world beats the raw baseline on top-1 (text and photo queries)', () => {
  const w = syntheticWorld();
  const config = sclConfig(small);
  const prep = prepare(config, w.items, w.searches, w.table);
  assert.equal(prep.mined.heldOut.length, 300);
  const progress: number[] = [];
  const res = runExperiment(config, prep, ['raw', 'scl'], { onProgress: (_m, p) => progress.push(p.loss) });
  const [raw, scl] = res.rows;
  const msg = formatTable(res.rows, 5);
  assert.ok(scl.all.top1 > raw.all.top1 + 0.2, msg);
  assert.ok(scl.text.top1 > raw.text.top1 && scl.image.top1 > raw.image.top1, msg);
  assert.ok(progress.length > 0 && progress.every(Number.isFinite));
  assert.ok(res.trained.scl!.pairsPerSec > 0);
  // Deterministic: the same seed gives the same numbers.
  const again = runExperiment(config, prep, ['scl']);
  assert.equal(again.rows[0].all.top1, scl.all.top1);
});

test('SCL variants train and evaluate (align, noqueue, nohard; linear fusion, modality keys)', () => {
  const w = syntheticWorld({ searches: 400 });
  const config = sclConfig({ ...small, model: { ...small.model, fusion: 'linear', keySide: 'modality' }, train: { ...small.train, epochs: 2 } });
  const prep = prepare(config, w.items, w.searches, w.table);
  const res = runExperiment(config, prep, ['align', 'noqueue', 'nohard']);
  assert.deepEqual(res.rows.map((r) => r.method), ['align', 'noqueue', 'nohard']);
  for (const r of res.rows) assert.ok(r.all.top1 >= 0 && r.all.top1 <= 1 && r.all.topK >= r.all.top1);
});

test('reference scorers are rated on the same candidates as the methods, with their note under the table', () => {
  const w = syntheticWorld({ searches: 400 });
  const config = sclConfig({ ...small, train: { ...small.train, epochs: 1 } });
  const prep = prepare(config, w.items, w.searches, w.table);
  const held = prep.mined.heldOut;
  // Knows the answer: the bought item above every other candidate, so top-1 is exactly 1.
  const perfect = { name: 'perfect', note: 'knows the bought item', score: (j: number, c: Int32Array) => Float32Array.from(c, (i) => +(i === held[j].pos)) };
  // Knows nothing: all tied, so top-1 is 1 / N in expectation, exactly.
  const blind = { name: 'blind', score: (_j: number, c: Int32Array) => new Float32Array(c.length) };
  const res = runExperiment(config, prep, ['raw'], { references: [perfect, blind] });
  assert.deepEqual(res.rows.map((r) => r.method), ['raw', 'perfect', 'blind']);
  assert.equal(res.rows[1].all.top1, 1);
  assert.ok(Math.abs(res.rows[2].all.top1 - 1 / config.eval.candidates) < 1e-9, String(res.rows[2].all.top1));
  assert.match(formatTable(res.rows, 5), /perfect: knows the bought item/);
});
