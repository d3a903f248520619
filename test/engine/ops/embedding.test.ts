import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../../src/engine/autograd.js';
import { embeddingLookup, mul, sum } from '../../../src/engine/ops/index.js';
import { ShapeError } from '../../../src/engine/errors.js';
import { RandomStream } from '../../../src/engine/random.js';
import { Tensor } from '../../../src/engine/tensor.js';
import { assertClose, assertGradients, randn } from '../helpers.js';

test('embeddingLookup: gathers rows into [...idsShape, dim]', () => {
  const rng = new RandomStream(91);
  const table = randn(rng, [5, 3], false);
  const ids = Int32Array.from([4, 0, 4, 2, 2, 2]);
  const y = embeddingLookup(table, ids, [2, 3]);
  assert.deepEqual(y.shape, [2, 3, 3]);
  for (let i = 0; i < 6; i++) assert.deepEqual([...y.data.subarray(i * 3, i * 3 + 3)], [...table.data.subarray(ids[i] * 3, ids[i] * 3 + 3)]);
});

test('embeddingLookup: repeated ids sum their gradients; untouched rows get zero', () => {
  const rng = new RandomStream(92);
  const table = randn(rng, [6, 4]);
  const ids = Int32Array.from([1, 3, 1, 1, 5]);
  assertGradients(([t]) => embeddingLookup(t, ids), [table]);
  table.grad = null;
  const seed = randn(rng, [5, 4], false).data;
  backward(embeddingLookup(table, ids), seed);
  const expected = new Float64Array(24);
  ids.forEach((id, i) => {
    for (let c = 0; c < 4; c++) expected[id * 4 + c] += seed[i * 4 + c];
  });
  assertClose(table.grad!, expected, 1e-6, 1e-6, 'scatter-add');
  for (const row of [0, 2, 4]) assert.deepEqual([...table.grad!.subarray(row * 4, row * 4 + 4)], [0, 0, 0, 0]);
});

test('embeddingLookup: many ids (parallel scatter-add path) still sum exactly per row', () => {
  const rng = new RandomStream(93);
  const table = new Tensor(new Float32Array(7 * 16), [7, 16], true);
  const ids = rng.ints(5000, 7);
  const w = randn(rng, [5000, 16], false);
  backward(sum(mul(embeddingLookup(table, ids), w)));
  const expected = new Float64Array(7 * 16);
  ids.forEach((id, i) => {
    for (let c = 0; c < 16; c++) expected[id * 16 + c] += w.data[i * 16 + c];
  });
  assertClose(table.grad!, expected, 1e-3, 1e-4, 'coalesced rows');
});

test('embeddingLookup: out-of-range ids throw RangeError naming the position; non-table throws ShapeError', () => {
  const table = Tensor.zeros([5, 2]);
  assert.throws(() => embeddingLookup(table, Int32Array.from([0, 1, 5])), (e: unknown) => e instanceof RangeError && /ids\[2\] = 5/.test(e.message) && /5 rows/.test(e.message));
  assert.throws(() => embeddingLookup(table, Int32Array.from([-1])), (e: unknown) => e instanceof RangeError && /ids\[0\] = -1/.test(e.message));
  assert.throws(() => embeddingLookup(Tensor.zeros([10]), Int32Array.from([0])), (e: unknown) => e instanceof ShapeError && /rank 2/.test(e.message) && /\[10\]/.test(e.message));
  // A [rows, 0] table used to crash the process (integer division by zero in the kernel).
  assert.throws(() => embeddingLookup(Tensor.zeros([5, 0]), Int32Array.from([1])), (e: unknown) => e instanceof RangeError && /dim must be positive, got 0/.test(e.message));
  assert.throws(() => embeddingLookup(table, Float32Array.from([0]) as unknown as Int32Array), (e: unknown) => e instanceof TypeError && /'ids'.*Int32Array/.test(e.message));
});
