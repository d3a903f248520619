import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, noGrad } from '../../src/engine/autograd.js';
import { EngineError } from '../../src/engine/errors.js';
import { add, embeddingLookup, mul, sum, tanh } from '../../src/engine/ops/index.js';
import { RandomStream } from '../../src/engine/random.js';
import { hashKey, SparseEmbedding } from '../../src/engine/sparse-embedding.js';
import { Tensor } from '../../src/engine/tensor.js';
import { assertClose, randn } from './helpers.js';

/** A loss that weights every output entry differently (so row mix-ups show). */
function lossOf(a: Tensor, b: Tensor, wa: Tensor, wb: Tensor): Tensor {
  return add(sum(tanh(mul(a, wa))), sum(mul(b, wb)));
}

test('SparseEmbedding: lookup gathers rows; takeGradient coalesces repeated ids across lookups like a dense table', () => {
  const rng = new RandomStream(101);
  const emb = new SparseEmbedding({ rows: 10, dim: 3 }, rng.fork('emb'));
  const dense = new Tensor(emb.weight.slice(), [10, 3], true);
  const idsA = Int32Array.from([7, 2, 7, 7, 0]);
  const idsB = Int32Array.from([[2, 9], [7, 7]].flat());
  const wa = randn(rng, [5, 3], false), wb = randn(rng, [2, 2, 3], false);

  const a = emb.lookup(idsA);
  const b = emb.lookup(idsB, [2, 2]);
  assert.deepEqual(b.shape, [2, 2, 3]);
  for (let i = 0; i < 5; i++) assert.deepEqual([...a.data.subarray(i * 3, i * 3 + 3)], [...emb.weight.subarray(idsA[i] * 3, idsA[i] * 3 + 3)]);
  backward(lossOf(a, b, wa, wb));
  const g = emb.takeGradient();
  assert.ok(g);
  // Each distinct row exactly once (in no promised order).
  assert.deepEqual([...g.rows].sort((x, y) => x - y), [0, 2, 7, 9]);
  assert.equal(g.grads.length, 4 * 3);

  backward(lossOf(embeddingLookup(dense, idsA), embeddingLookup(dense, idsB, [2, 2]), wa, wb));
  const ref = dense.grad!;
  g.rows.forEach((row, k) => assertClose(g.grads.subarray(k * 3, k * 3 + 3), ref.subarray(row * 3, row * 3 + 3), 1e-6, 1e-6, `row ${row}`));
  // Every row the dense reference touched is in the sparse gradient.
  for (let row = 0; row < 10; row++) {
    const touched = ref.subarray(row * 3, row * 3 + 3).some((v) => v !== 0);
    assert.equal(touched, g.rows.includes(row), `row ${row}`);
  }
  // Taken once: the next call has nothing.
  assert.equal(emb.takeGradient(), null);
});

test('SparseEmbedding: the coalesced gradient matches finite differences of the table', () => {
  const rng = new RandomStream(102);
  const emb = new SparseEmbedding({ rows: 6, dim: 2 }, rng.fork('emb'));
  const ids = Int32Array.from([3, 1, 3, 5, 3]);
  const w = randn(rng, [5, 2], false);
  const objective = (): number => noGrad(() => sum(tanh(mul(emb.lookup(ids), w))).item());
  backward(sum(tanh(mul(emb.lookup(ids), w))));
  const g = emb.takeGradient()!;
  const h = 1e-2;
  let checked = 0;
  for (let row = 0; row < 6; row++)
    for (let c = 0; c < 2; c++) {
      const i = row * 2 + c;
      const saved = emb.weight[i];
      emb.weight[i] = saved + h;
      const up = objective();
      emb.weight[i] = saved - h;
      const down = objective();
      emb.weight[i] = saved;
      const numeric = (up - down) / (2 * h);
      const k = g.rows.indexOf(row);
      const analytic = k < 0 ? 0 : g.grads[k * 2 + c];
      assert.ok(Math.abs(analytic - numeric) < 2e-3, `row ${row} col ${c}: analytic ${analytic}, numeric ${numeric}`);
      if (numeric !== 0) checked++;
    }
  assert.equal(checked, 3 * 2, 'rows 1, 3, 5 have non-zero gradients');
});

test('SparseEmbedding: noGrad lookups and zeroGrad leave nothing to take', () => {
  const rng = new RandomStream(103);
  const emb = new SparseEmbedding({ rows: 4, dim: 2 }, rng);
  const y = noGrad(() => emb.lookup(Int32Array.from([1, 2])));
  assert.equal(y.requiresGrad, false);
  assert.equal(emb.takeGradient(), null);
  backward(sum(emb.lookup(Int32Array.from([1]))));
  emb.zeroGrad();
  assert.equal(emb.takeGradient(), null);
});

test('SparseEmbedding: default init is N(0, 0.01), seeded; bad sizes and ids throw', () => {
  const a = new SparseEmbedding({ rows: 500, dim: 8 }, new RandomStream(5));
  const b = new SparseEmbedding({ rows: 500, dim: 8 }, new RandomStream(5));
  assert.deepEqual(a.weight, b.weight);
  let s2 = 0;
  for (const v of a.weight) s2 += v * v;
  const std = Math.sqrt(s2 / a.weight.length);
  assert.ok(Math.abs(std - 0.01) < 0.001, `std ${std}`);
  assert.throws(() => new SparseEmbedding({ rows: 0, dim: 2 }, new RandomStream(1)), EngineError);
  assert.throws(() => new SparseEmbedding({ rows: 3, dim: 1.5 }, new RandomStream(1)), EngineError);
  assert.throws(() => a.lookup(Int32Array.from([0, 500])), (e: unknown) => e instanceof RangeError && /ids\[1\] = 500/.test(e.message));
});

test('hashKey: deterministic, in [1, buckets], salt changes the mapping, spread is even', () => {
  assert.equal(hashKey('item:42', 1000), hashKey('item:42', 1000));
  const counts = new Array<number>(17).fill(0);
  let differ = 0;
  for (let i = 0; i < 3400; i++) {
    const h = hashKey(`k${i}`, 16);
    assert.ok(h >= 1 && h <= 16, `${h}`);
    counts[h]++;
    if (hashKey(i, 1 << 20) !== hashKey(i, 1 << 20, 99)) differ++;
  }
  assert.equal(counts[0], 0, '0 is reserved for padding');
  // 3400 keys over 16 buckets: mean 212.5, std ~14; every bucket within 5 std.
  for (let b = 1; b <= 16; b++) assert.ok(Math.abs(counts[b] - 212.5) < 70, `bucket ${b}: ${counts[b]}`);
  assert.ok(differ > 3390, `salt changed only ${differ} of 3400`);
});
