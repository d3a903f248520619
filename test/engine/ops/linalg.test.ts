import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Activation, bmm, linear, matmul } from '../../../src/engine/ops/index.js';
import { RandomStream } from '../../../src/engine/random.js';
import { Tensor } from '../../../src/engine/tensor.js';
import { assertClose, assertGradients, randn } from '../helpers.js';

/** op(A)[m,k] x op(B)[k,n] in float64, A and B stored row-major as given. */
function jsMatmul(a: Tensor, b: Tensor, ta: boolean, tb: boolean): Float64Array {
  const [m, k] = ta ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const n = tb ? b.shape[0] : b.shape[1];
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a.data[p * m + i] : a.data[i * k + p]) * (tb ? b.data[j * k + p] : b.data[p * n + j]);
      out[i * n + j] = s;
    }
  return out;
}

const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

test('matmul: forward matches a JS triple loop and gradients match finite differences, all transposes', () => {
  const rng = new RandomStream(11);
  const [m, k, n] = [3, 4, 5];
  for (const [ta, tb] of TRANSPOSES) {
    const a = randn(rng, ta ? [k, m] : [m, k]);
    const b = randn(rng, tb ? [n, k] : [k, n]);
    const y = matmul(a.detach(), b.detach(), { transA: ta, transB: tb });
    assert.deepEqual(y.shape, [m, n]);
    assertClose(y.data, jsMatmul(a, b, ta, tb), 1e-5, 1e-5, `matmul ta=${ta} tb=${tb}`);
    assertGradients(([x, w]) => matmul(x, w, { transA: ta, transB: tb }), [a, b]);
  }
});

test('matmul: gradient flows to one operand only when the other is constant', () => {
  const rng = new RandomStream(12);
  const a = randn(rng, [2, 3]);
  const b = randn(rng, [3, 4], false);
  assertGradients(([x, w]) => matmul(x, w), [a, b]);
  assert.equal(b.grad, null);
});

test('bmm: forward per batch matches matmul and gradients match, all transposes', () => {
  const rng = new RandomStream(13);
  const [batch, m, k, n] = [3, 2, 4, 3];
  for (const [ta, tb] of TRANSPOSES) {
    const a = randn(rng, ta ? [batch, k, m] : [batch, m, k]);
    const b = randn(rng, tb ? [batch, n, k] : [batch, k, n]);
    const y = bmm(a.detach(), b.detach(), { transA: ta, transB: tb });
    assert.deepEqual(y.shape, [batch, m, n]);
    for (let i = 0; i < batch; i++) {
      const ai = new Tensor(a.data.slice(i * m * k, (i + 1) * m * k), ta ? [k, m] : [m, k]);
      const bi = new Tensor(b.data.slice(i * k * n, (i + 1) * k * n), tb ? [n, k] : [k, n]);
      assertClose(y.data.subarray(i * m * n, (i + 1) * m * n), jsMatmul(ai, bi, ta, tb), 1e-5, 1e-5, `bmm[${i}] ta=${ta} tb=${tb}`);
    }
    assertGradients(([x, w]) => bmm(x, w, { transA: ta, transB: tb }), [a, b]);
  }
});

test('bmm: large enough batch to take the parallel path still matches per-batch products', () => {
  const rng = new RandomStream(14);
  const [batch, m, k, n] = [16, 12, 20, 24];
  const a = randn(rng, [batch, m, k], false);
  const b = randn(rng, [batch, n, k], false);
  const y = bmm(a, b, { transB: true });
  for (let i = 0; i < batch; i++) {
    const ai = new Tensor(a.data.slice(i * m * k, (i + 1) * m * k), [m, k]);
    const bi = new Tensor(b.data.slice(i * k * n, (i + 1) * k * n), [n, k]);
    assertClose(y.data.subarray(i * m * n, (i + 1) * m * n), jsMatmul(ai, bi, false, true), 1e-4, 1e-4, `bmm[${i}]`);
  }
});

function jsAct(act: Activation, z: number): number {
  switch (act) {
    case 'relu':
      return Math.max(z, 0);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-z));
    case 'tanh':
      return Math.tanh(z);
    default:
      return z;
  }
}

test('linear: every activation, with and without bias: forward vs JS and gradients', () => {
  const rng = new RandomStream(15);
  const activations: Activation[] = ['none', 'relu', 'sigmoid', 'tanh'];
  for (const act of activations)
    for (const withBias of [true, false]) {
      // Rank-3 input: linear flattens the leading axes into rows. For relu, redraw (seeded, so
      // always the same draws) until no pre-activation lies within 0.05 of the kink at 0: the
      // finite difference (step 1e-2 on inputs) must not straddle it.
      let x: Tensor, w: Tensor, b: Tensor | null, ref: Float64Array, minAbsZ: number;
      let tries = 0;
      do {
        x = randn(rng, [2, 3, 4]);
        w = randn(rng, [4, 5], true, 0.5);
        b = withBias ? randn(rng, [5]) : null;
        ref = new Float64Array(2 * 3 * 5);
        minAbsZ = Infinity;
        for (let r = 0; r < 6; r++)
          for (let j = 0; j < 5; j++) {
            let z = b ? b.data[j] : 0;
            for (let p = 0; p < 4; p++) z += x.data[r * 4 + p] * w.data[p * 5 + j];
            minAbsZ = Math.min(minAbsZ, Math.abs(z));
            ref[r * 5 + j] = jsAct(act, z);
          }
      } while (act === 'relu' && minAbsZ < 0.05 && ++tries < 50);
      assert.ok(act !== 'relu' || minAbsZ >= 0.05);
      const y = linear(x.detach(), w.detach(), b?.detach() ?? null, act);
      assert.deepEqual(y.shape, [2, 3, 5]);
      assertClose(y.data, ref, 1e-5, 1e-5, `linear ${act} bias=${withBias}`);
      const inputs = b ? [x, w, b] : [x, w];
      assertGradients(([xi, wi, bi]) => linear(xi, wi, bi ?? null, act), inputs);
    }
});

test('linear: bias-only gradient (input and weight constant), identity and sigmoid', () => {
  const rng = new RandomStream(16);
  for (const act of ['none', 'sigmoid'] as const) {
    const x = randn(rng, [4, 3], false);
    const w = randn(rng, [3, 2], false);
    const b = randn(rng, [2]);
    assertGradients(([xi, wi, bi]) => linear(xi, wi, bi, act), [x, w, b]);
  }
});
