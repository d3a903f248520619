import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../src/engine/autograd.js';
import { gradCheck } from '../../src/engine/gradcheck.js';
import { l2Normalize, symmetricInfoNCE } from '../../src/engine/ops/index.js';
import { RandomStream } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { sclConfig } from '../../src/pretrain/config.js';
import { SclModel } from '../../src/pretrain/model.js';
import { KeyQueue, MomentumEncoder } from '../../src/pretrain/moco.js';
import { cosineTriplet, itemInputs } from '../../src/pretrain/train.js';

test('key queue: FIFO order, bounded size, overwrite of the oldest', () => {
  const q = new KeyQueue(4, 2);
  q.enqueue(Float32Array.of(1, 1, 2, 2, 3, 3), [1, 2, 3]);
  assert.equal(q.size, 3);
  assert.deepEqual(q.ownersInOrder(), [1, 2, 3]);
  q.enqueue(Float32Array.of(4, 4, 5, 5), [4, 5]);
  assert.equal(q.size, 4);
  assert.deepEqual(q.ownersInOrder(), [2, 3, 4, 5]);
  // A batch larger than the queue keeps its newest keys.
  q.enqueue(Float32Array.from({ length: 12 }, (_, i) => i), [10, 11, 12, 13, 14, 15]);
  assert.deepEqual(q.ownersInOrder(), [12, 13, 14, 15]);
  assert.throws(() => q.enqueue(new Float32Array(3), [1]), /not 1 keys of 2/);
  assert.throws(() => new KeyQueue(0, 2), /capacity/);
});

test('key queue: own keys of batch positives are masked during use, restored after; no gradient into keys', () => {
  const rng = new RandomStream(5);
  const q = new KeyQueue(8, 4);
  const keys = l2Normalize(new Tensor(rng.normal(6 * 4), [6, 4])).data;
  q.enqueue(keys, [0, 1, 2, 3, 4, 5]);
  const before = q.keys.slice();
  const z1 = new Tensor(l2Normalize(new Tensor(rng.normal(3 * 4), [3, 4])).data, [3, 4], true);
  const z2 = new Tensor(l2Normalize(new Tensor(rng.normal(3 * 4), [3, 4])).data, [3, 4], true);
  q.withNegatives(new Set([1, 4]), (negs) => {
    assert.ok(negs && !negs.requiresGrad);
    assert.deepEqual(negs.shape, [6, 4]);
    assert.ok(negs.data.subarray(4, 8).every((v) => v === 0) && negs.data.subarray(16, 20).every((v) => v === 0));
    backward(symmetricInfoNCE(z1, z2, 0.1, { queue: negs }));
    assert.equal(negs.grad, null);
  });
  assert.deepEqual(q.keys, before);
  assert.ok(z1.grad && z2.grad);
});

test('momentum encoder: starts as a copy, EMA moves keys toward the online encoder by (1 - m)', () => {
  const c = sclConfig({ model: { textBuckets: 50, tokenDim: 4, hidden: 8, outDim: 6, maxTokens: 3 } });
  const rng = new RandomStream(9);
  const online = new SclModel(c.model, 5, rng.fork('a'));
  const key = new SclModel(c.model, 5, rng.fork('b'));
  const moco = new MomentumEncoder(online, key, 0.9);
  const name = 'image.proj.w0';
  assert.deepEqual(key.namedParameters().get(name)!.data, online.namedParameters().get(name)!.data);
  // Move the online encoder; one update closes 10% of the gap, for dense and (lazily) table rows.
  const o = online.namedParameters().get(name)!.data, k = key.namedParameters().get(name)!.data;
  const k0 = k.slice();
  for (let i = 0; i < o.length; i++) o[i] += 1;
  online.text.tokens.weight[7 * 4] += 1;
  const t0 = key.text.tokens.weight[7 * 4];
  moco.update();
  for (let i = 0; i < o.length; i++) assert.ok(Math.abs(k[i] - (k0[i] + 0.1)) < 1e-5);
  moco.syncRows(Int32Array.of(7, 7));
  assert.ok(Math.abs(key.text.tokens.weight[7 * 4] - (t0 + 0.1)) < 1e-5);
  // The key encoder's vectors carry no gradient.
  const inputs = itemInputs(['a b', null], new Float32Array(10).fill(0.5), 5, Uint8Array.of(0, 0), 3, () => ({ ids: Int32Array.of(1, 2, 0, 0, 0, 0), lengths: [2, 0] }));
  const v = moco.encodeItems(inputs, [0, 1]);
  assert.equal(v.length, 12);
  assert.ok(key.parameters().every((p) => p.grad === null || p.grad.every((g) => g === 0)));
});

test('cosine triplet loss: value and gradient check', () => {
  const rng = new RandomStream(11);
  const unit = () => new Tensor(l2Normalize(new Tensor(rng.normal(5 * 6), [5, 6])).data, [5, 6], true);
  const q = unit(), p = unit(), n = unit();
  const value = cosineTriplet(q.detach(), p.detach(), n.detach(), 0.2).item();
  let want = 0;
  for (let r = 0; r < 5; r++) {
    let cp = 0, cn = 0;
    for (let j = 0; j < 6; j++) {
      cp += q.data[r * 6 + j] * p.data[r * 6 + j];
      cn += q.data[r * 6 + j] * n.data[r * 6 + j];
    }
    want += Math.max(0, 0.2 - cp + cn) / 5;
  }
  assert.ok(Math.abs(value - want) < 1e-5);
  const res = gradCheck(([a, b, c]) => cosineTriplet(a, b, c, 0.2), [q, p, n], { eps: 1e-3 });
  assert.ok(res.maxError < 2e-2, JSON.stringify(res));
});
