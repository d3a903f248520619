import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../../src/engine/autograd.js';
import { l2Normalize, layerNorm } from '../../../src/engine/ops/index.js';
import { ShapeError } from '../../../src/engine/errors.js';
import { RandomStream } from '../../../src/engine/random.js';
import { Tensor } from '../../../src/engine/tensor.js';
import { assertClose, assertGradients, randn } from '../helpers.js';

function jsLayerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps: number): Float64Array {
  const cols = x.shape[x.rank - 1], rows = x.size / cols;
  const out = new Float64Array(x.size);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < cols; c++) m += x.data[r * cols + c];
    m /= cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x.data[r * cols + c] - m) ** 2;
    v /= cols;
    for (let c = 0; c < cols; c++)
      out[r * cols + c] = ((x.data[r * cols + c] - m) / Math.sqrt(v + eps)) * (gamma ? gamma.data[c] : 1) + (beta ? beta.data[c] : 0);
  }
  return out;
}

test('layerNorm: forward matches JS with and without gamma/beta', () => {
  const rng = new RandomStream(61);
  const x = randn(rng, [2, 3, 6], false, 3);
  const gamma = randn(rng, [6], false), beta = randn(rng, [6], false);
  for (const [g, b] of [
    [null, null],
    [gamma, null],
    [null, beta],
    [gamma, beta],
  ] as const)
    assertClose(layerNorm(x, g, b).data, jsLayerNorm(x, g, b, 1e-5), 1e-5, 1e-5, `layerNorm gamma=${!!g} beta=${!!b}`);
});

test('layerNorm: gradients for x, gamma and beta (each combination)', () => {
  const rng = new RandomStream(62);
  const x = randn(rng, [4, 5]);
  const gamma = randn(rng, [5]), beta = randn(rng, [5]);
  assertGradients(([t]) => layerNorm(t), [x]);
  assertGradients(([t, g]) => layerNorm(t, g), [x, gamma]);
  assertGradients(([t, b]) => layerNorm(t, null, b), [x, beta]);
  assertGradients(([t, g, b]) => layerNorm(t, g, b), [x, gamma, beta]);
  // Only the affine parameters train (x constant).
  const xc = randn(rng, [4, 5], false);
  assertGradients(([t, g, b]) => layerNorm(t, g, b), [xc, gamma, beta]);
});

test('layerNorm: wrong gamma size throws ShapeError', () => {
  assert.throws(() => layerNorm(Tensor.zeros([2, 4]), Tensor.zeros([3])), (e: unknown) => e instanceof ShapeError && /need 4 values, got 3/.test(e.message));
});

test('l2Normalize: unit rows, gradient, and the clamped zero row', () => {
  const rng = new RandomStream(63);
  const x = randn(rng, [3, 4]);
  const y = l2Normalize(x.detach());
  for (let r = 0; r < 3; r++) {
    let n = 0;
    for (let c = 0; c < 4; c++) n += x.data[r * 4 + c] ** 2;
    n = Math.sqrt(n);
    assertClose(y.data.subarray(r * 4, r * 4 + 4), Array.from(x.data.subarray(r * 4, r * 4 + 4), (v) => v / n), 1e-6, 1e-5, `row ${r}`);
  }
  assertGradients(([t]) => l2Normalize(t), [x]);
  assertGradients(([t]) => l2Normalize(t), [randn(rng, [2, 3, 5])]);
  // A row below eps is divided by eps (no NaN) and its gradient is gy / eps.
  const z = new Tensor(Float32Array.from([0, 0, 0, 3, 4, 0]), [2, 3], true);
  const yz = l2Normalize(z, 1e-3);
  assertClose(yz.data, [0, 0, 0, 0.6, 0.8, 0], 1e-7, 1e-6, 'clamped and normal rows');
  const tiny = new Tensor(Float32Array.from([1e-5, -2e-5, 0, 2e-5, 1e-5, 3e-5]), [2, 3], true);
  assertGradients(([t]) => l2Normalize(t, 1e-3), [tiny], { eps: 1e-6 });
  tiny.grad = null;
  const seed = Float32Array.from([1, -2, 0.5, 0.25, 3, -1]);
  backward(l2Normalize(tiny, 1e-3), seed);
  assertClose(tiny.grad!, Array.from(seed, (g) => g / 1e-3), 1e-3, 1e-5, 'clamped gradient = gy / eps');
});
