import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concat, mul, reshape, slice, transpose } from '../../../src/engine/ops/index.js';
import { ShapeError } from '../../../src/engine/errors.js';
import { RandomStream } from '../../../src/engine/random.js';
import { Tensor } from '../../../src/engine/tensor.js';
import { assertGradients, jsStrides, randn, unravel } from '../helpers.js';

/** out[idx] = x[idx permuted back], in plain JS. */
function jsTranspose(x: Tensor, perm: number[]): number[] {
  const shape = perm.map((p) => x.shape[p]);
  const xs = jsStrides(x.shape);
  const size = x.size;
  const out = new Array<number>(size);
  for (let flat = 0; flat < size; flat++) {
    const idx = unravel(flat, shape);
    let src = 0;
    for (let d = 0; d < perm.length; d++) src += idx[d] * xs[perm[d]];
    out[flat] = x.data[src];
  }
  return out;
}

const PERMS_3D = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

test('reshape: shares data, infers -1, gradient passes through', () => {
  const rng = new RandomStream(31);
  const x = randn(rng, [2, 3, 4]);
  const y = reshape(x, [4, -1]);
  assert.deepEqual(y.shape, [4, 6]);
  assert.equal(y.data, x.data, 'reshape must be a view');
  // Multiplying by a fixed tensor makes the reshape gradient position-dependent.
  const w = randn(rng, [6, 4], false);
  assertGradients(([t]) => mul(reshape(t, [6, 4]), w), [x]);
  assert.throws(() => reshape(x, [5, -1]), ShapeError);
  assert.throws(() => reshape(x, [-1, -1]), ShapeError);
});

test('transpose: 2-d default and every 3-d permutation, forward and gradient', () => {
  const rng = new RandomStream(32);
  const m = randn(rng, [3, 5]);
  const mt = transpose(m.detach());
  assert.deepEqual(mt.shape, [5, 3]);
  assert.deepEqual([...mt.data], jsTranspose(m, [1, 0]));
  assertGradients(([t]) => transpose(t), [m]);
  const x = randn(rng, [2, 3, 4]);
  for (const perm of PERMS_3D) {
    const y = transpose(x.detach(), perm);
    assert.deepEqual(y.shape, perm.map((p) => x.shape[p]));
    assert.deepEqual([...y.data], jsTranspose(x, perm), `perm ${perm}`);
    assertGradients(([t]) => transpose(t, perm), [x]);
  }
  // A 4-d permutation through the generic N-d strided copy.
  const x4 = randn(rng, [2, 3, 2, 2]);
  assert.deepEqual([...transpose(x4.detach(), [3, 1, 0, 2]).data], jsTranspose(x4, [3, 1, 0, 2]));
  assertGradients(([t]) => transpose(t, [3, 1, 0, 2]), [x4]);
  assert.throws(() => transpose(x, [0, 0, 1]), ShapeError);
});

test('slice: several axes, negative axis, forward and gradient', () => {
  const rng = new RandomStream(33);
  const x = randn(rng, [3, 4, 5]);
  const cases: [number, number, number][] = [
    [0, 1, 3],
    [1, 0, 2],
    [2, 2, 5],
    [-1, 1, 4],
    [1, 3, 4],
  ];
  for (const [axis, start, end] of cases) {
    const y = slice(x.detach(), axis, start, end);
    const a = axis < 0 ? 3 + axis : axis;
    const shape = x.shape.map((d, i) => (i === a ? end - start : d));
    assert.deepEqual(y.shape, shape);
    const xs = jsStrides(x.shape);
    for (let flat = 0; flat < y.size; flat++) {
      const idx = unravel(flat, shape);
      idx[a] += start;
      assert.equal(y.data[flat], x.data[idx.reduce((s, v, d) => s + v * xs[d], 0)], `slice ${axis} ${start}:${end} at ${flat}`);
    }
    assertGradients(([t]) => slice(t, axis, start, end), [x]);
  }
  // Entries outside the slice get exactly zero gradient.
  x.grad = null;
  assertGradients(([t]) => slice(t, 1, 1, 2), [x]);
  const xs = jsStrides(x.shape);
  for (let flat = 0; flat < x.size; flat++) {
    const j = Math.floor(flat / xs[1]) % 4;
    if (j !== 1) assert.equal(x.grad![flat], 0);
  }
  assert.throws(() => slice(x, 0, 2, 4), ShapeError);
});

test('concat: axes 0, 1, 2 and -1 with different part sizes, forward and gradient', () => {
  const rng = new RandomStream(34);
  for (const axis of [0, 1, 2, -1]) {
    const a = axis < 0 ? 2 : axis;
    const sizes = [1, 3, 2];
    const parts = sizes.map((s) => randn(rng, [2, 3, 4].map((d, i) => (i === a ? s : d))));
    const y = concat(parts.map((p) => p.detach()), axis);
    const shape = [2, 3, 4].map((d, i) => (i === a ? 6 : d));
    assert.deepEqual(y.shape, shape);
    for (let flat = 0; flat < y.size; flat++) {
      const idx = unravel(flat, shape);
      let k = idx[a], which = 0;
      while (k >= sizes[which]) k -= sizes[which++];
      idx[a] = k;
      const ps = jsStrides(parts[which].shape);
      assert.equal(y.data[flat], parts[which].data[idx.reduce((s, v, d) => s + v * ps[d], 0)], `concat axis ${axis} at ${flat}`);
    }
    assertGradients((ts) => concat(ts, axis), parts);
  }
  // A constant part in the middle: gradients still reach the others.
  const x = randn(rng, [2, 2]), c = randn(rng, [2, 3], false), z = randn(rng, [2, 1]);
  assertGradients((ts) => concat(ts, 1), [x, c, z]);
  assert.equal(c.grad, null);
  assert.throws(() => concat([x, randn(rng, [3, 2])], 1), ShapeError);
});
