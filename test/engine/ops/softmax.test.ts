import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logSoftmax, softmax } from '../../../src/engine/ops/index.js';
import { ShapeError } from '../../../src/engine/errors.js';
import { RandomStream } from '../../../src/engine/random.js';
import { Tensor } from '../../../src/engine/tensor.js';
import { assertClose, assertGradients, randn } from '../helpers.js';

/** Row-wise (log-)softmax over unmasked entries; masked entries and all-masked rows give 0. */
function jsSoftmax(x: Tensor, mask: Tensor | null, log: boolean): Float64Array {
  const cols = x.shape[x.rank - 1], rows = x.size / cols;
  const out = new Float64Array(x.size);
  for (let r = 0; r < rows; r++) {
    const on = (c: number): boolean => !mask || mask.data[r * cols + c] !== 0;
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) if (on(c)) mx = Math.max(mx, x.data[r * cols + c]);
    if (mx === -Infinity) continue;
    let s = 0;
    for (let c = 0; c < cols; c++) if (on(c)) s += Math.exp(x.data[r * cols + c] - mx);
    for (let c = 0; c < cols; c++) {
      if (!on(c)) continue;
      const z = x.data[r * cols + c] - mx;
      out[r * cols + c] = log ? z - Math.log(s) : Math.exp(z) / s;
    }
  }
  return out;
}

// Rows: a normal row, a row with one masked entry, a fully masked row, a row with one survivor.
const MASK = Tensor.from([1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], [4, 5]);

for (const log of [false, true]) {
  const name = log ? 'logSoftmax' : 'softmax';
  const f = log ? logSoftmax : softmax;

  test(`${name}: forward matches JS with and without a mask (fully masked row is 0)`, () => {
    const rng = new RandomStream(log ? 51 : 52);
    const x = randn(rng, [4, 5], false, 2);
    assertClose(f(x).data, jsSoftmax(x, null, log), 1e-6, 1e-5, name);
    const y = f(x, MASK);
    assertClose(y.data, jsSoftmax(x, MASK, log), 1e-6, 1e-5, `${name} masked`);
    assert.deepEqual([...y.data.subarray(10, 15)], [0, 0, 0, 0, 0], 'fully masked row');
    if (!log) {
      // Unmasked probabilities of a row sum to 1.
      for (const r of [0, 1, 3]) assertClose([y.data.subarray(r * 5, r * 5 + 5).reduce((s, v) => s + v, 0)], [1], 1e-6, 0, `row ${r} sum`);
      assert.equal(y.data[17], 1, 'the single survivor of row 3 has probability 1');
    }
    // Shift invariance: adding a constant per row changes nothing.
    const shifted = new Tensor(x.data.map((v) => v + 100), x.shape);
    assertClose(f(shifted, MASK).data, y.data, 1e-4, 1e-4, `${name} shift-invariant`);
  });

  test(`${name}: gradients with and without a mask (rank 3), masked entries get none`, () => {
    const rng = new RandomStream(log ? 53 : 54);
    const x = randn(rng, [2, 3, 4]);
    assertGradients(([t]) => f(t), [x]);
    const x2 = randn(rng, [4, 5]);
    assertGradients(([t]) => f(t, MASK), [x2]);
    for (let i = 0; i < 20; i++) if (MASK.data[i] === 0) assert.equal(x2.grad![i], 0, `masked entry ${i} got a gradient`);
  });
}

test('softmax: a mask of the wrong shape throws ShapeError naming both shapes', () => {
  assert.throws(
    () => softmax(Tensor.zeros([4, 5]), Tensor.zeros([4, 4])),
    (e: unknown) => e instanceof ShapeError && e.message.includes('[4, 5]') && e.message.includes('[4, 4]'),
  );
});
