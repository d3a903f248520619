import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mean, sum } from '../../../src/engine/ops/index.js';
import { ShapeError } from '../../../src/engine/errors.js';
import { RandomStream } from '../../../src/engine/random.js';
import { Tensor } from '../../../src/engine/tensor.js';
import { assertClose, assertGradients, jsStrides, randn, unravel } from '../helpers.js';

/** Sum (or mean) over one axis in float64. */
function jsReduce(x: Tensor, axis: number, isMean: boolean): Float64Array {
  const shape = x.shape.filter((_, i) => i !== axis);
  const xs = jsStrides(x.shape);
  const n = x.shape[axis];
  const out = new Float64Array(shape.reduce((s, d) => s * d, 1));
  for (let flat = 0; flat < out.length; flat++) {
    const idx = unravel(flat, shape);
    idx.splice(axis, 0, 0);
    let s = 0;
    for (let k = 0; k < n; k++) {
      idx[axis] = k;
      s += x.data[idx.reduce((acc, v, d) => acc + v * xs[d], 0)];
    }
    out[flat] = isMean ? s / n : s;
  }
  return out;
}

test('sum and mean over each axis (with and without keepDims) match JS, with gradients', () => {
  const rng = new RandomStream(41);
  const x = randn(rng, [2, 3, 4]);
  for (const [name, f] of [
    ['sum', sum],
    ['mean', mean],
  ] as const)
    for (const axis of [0, 1, 2, -1, -3])
      for (const keepDims of [false, true]) {
        const a = axis < 0 ? 3 + axis : axis;
        const y = f(x.detach(), axis, keepDims);
        const shape = keepDims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
        assert.deepEqual(y.shape, shape, `${name} axis ${axis} keepDims ${keepDims}`);
        assertClose(y.data, jsReduce(x, a, name === 'mean'), 1e-5, 1e-5, `${name} axis ${axis}`);
        assertGradients(([t]) => f(t, axis, keepDims), [x]);
      }
});

test('sum and mean of the whole tensor (scalar and keepDims), with gradients', () => {
  const rng = new RandomStream(42);
  const x = randn(rng, [3, 5]);
  let s = 0;
  for (const v of x.data) s += v;
  const total = sum(x.detach());
  assert.deepEqual(total.shape, []);
  assertClose(total.data, [s], 1e-5, 1e-6, 'sum');
  assertClose(mean(x.detach()).data, [s / 15], 1e-6, 1e-6, 'mean');
  assert.deepEqual(sum(x.detach(), undefined, true).shape, [1, 1]);
  assertGradients(([t]) => sum(t), [x]);
  assertGradients(([t]) => mean(t), [x]);
  assertGradients(([t]) => mean(t, undefined, true), [x]);
  // d mean / dx = 1/n exactly.
  x.grad = null;
  assertGradients(([t]) => mean(t), [x], { seed: 3 });
  const g0 = x.grad![0];
  assert.ok([...x.grad!].every((g) => g === g0));
});

test('sum over a long axis uses the row-split path and stays accurate', () => {
  // outer == 1 and inner > 1: the kernel splits rows over threads (large enough to run parallel).
  const rng = new RandomStream(43);
  const x = randn(rng, [4096, 16], false);
  const y = sum(x, 0);
  assertClose(y.data, jsReduce(x, 0, false), 1e-3, 1e-4, 'column sums');
  const z = sum(x, 1);
  assertClose(z.data, jsReduce(x, 1, false), 1e-4, 1e-5, 'row sums');
});

test('reduce: an out-of-range axis throws ShapeError', () => {
  assert.throws(() => sum(Tensor.zeros([2, 3]), 2), (e: unknown) => e instanceof ShapeError && /axis 2/.test(e.message));
});
