import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../../src/engine/autograd.js';
import { bceWithLogits, linear, softmaxCrossEntropy } from '../../../src/engine/ops/index.js';
import { ShapeError } from '../../../src/engine/errors.js';
import { RandomStream } from '../../../src/engine/random.js';
import { Tensor } from '../../../src/engine/tensor.js';
import { assertClose, assertGradients, randn } from '../helpers.js';

/** Mean of w * (-(y log σ(z) + (1 - y) log(1 - σ(z)))), computed naively in float64. */
function jsBce(z: ArrayLike<number>, y: ArrayLike<number>, w: ArrayLike<number> | null): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) {
    const p = 1 / (1 + Math.exp(-z[i]));
    s += (w ? w[i] : 1) * -(y[i] * Math.log(p) + (1 - y[i]) * Math.log(1 - p));
  }
  return s / z.length;
}

test('bceWithLogits: value matches the naive formula, with and without weights, soft labels too', () => {
  const rng = new RandomStream(71);
  const z = randn(rng, [6], false, 2);
  const labels = Float32Array.from([1, 0, 1, 0, 0.3, 0.9]);
  const weights = Float32Array.from([1, 2, 0.5, 0, 3, 1]);
  assertClose(bceWithLogits(z, labels).data, [jsBce(z.data, labels, null)], 1e-6, 1e-6, 'bce');
  assertClose(bceWithLogits(z, labels, weights).data, [jsBce(z.data, labels, weights)], 1e-6, 1e-6, 'weighted bce');
});

test('bceWithLogits: stable at large |logit| (no Infinity/NaN, exact limits)', () => {
  const z = Tensor.from([100, -100, 100, -100]);
  const loss = bceWithLogits(z, Float32Array.from([1, 0, 0, 1])).item();
  // Two perfect predictions (loss 0) and two wrong ones by 100 nats each: mean 50.
  assertClose([loss], [50], 1e-4, 0, 'saturated bce');
});

test('bceWithLogits: gradients with and without weights', () => {
  const rng = new RandomStream(72);
  const z = randn(rng, [3, 4], true, 1.5);
  const labels = Float32Array.from(rng.uniform(12), (u) => (u < 0.5 ? 0 : 1));
  const weights = rng.uniform(12, 0.5, 2);
  assertGradients(([t]) => bceWithLogits(t, labels), [z]);
  assertGradients(([t]) => bceWithLogits(t, labels, weights), [z]);
  // The gradient is w (σ(z) - y) / n per entry.
  z.grad = null;
  const loss = bceWithLogits(z, labels, weights);
  backward(loss);
  assertClose(z.grad!, Array.from(z.data, (v, i) => (weights[i] * (1 / (1 + Math.exp(-v)) - labels[i])) / 12), 1e-6, 1e-5, 'closed-form grad');
  // Through a linear layer, as in a model.
  const x = randn(rng, [12, 3], false), w = randn(rng, [3, 1]), b = randn(rng, [1]);
  assertGradients(([xi, wi, bi]) => bceWithLogits(linear(xi, wi, bi), labels, weights), [x, w, b]);
});

test('softmaxCrossEntropy: value matches JS, gradients match finite differences', () => {
  const rng = new RandomStream(73);
  const logits = randn(rng, [5, 4], true, 2);
  const targets = Int32Array.from([0, 3, 1, 1, 2]);
  let ref = 0;
  for (let r = 0; r < 5; r++) {
    let s = 0;
    for (let c = 0; c < 4; c++) s += Math.exp(logits.data[r * 4 + c]);
    ref += Math.log(s) - logits.data[r * 4 + targets[r]];
  }
  assertClose(softmaxCrossEntropy(logits.detach(), targets).data, [ref / 5], 1e-6, 1e-6, 'cross-entropy');
  assertGradients(([t]) => softmaxCrossEntropy(t, targets), [logits]);
  // Large logits: no overflow.
  const big = Tensor.from([1000, 0, -1000, 0], [2, 2]);
  assertClose(softmaxCrossEntropy(big, Int32Array.from([0, 1])).data, [0], 1e-6, 0, 'stable');
});

test('losses: size mismatches throw ShapeError naming the counts', () => {
  assert.throws(() => bceWithLogits(Tensor.zeros([4]), new Float32Array(3)), (e: unknown) => e instanceof ShapeError && /4 logits but 3 labels/.test(e.message));
  assert.throws(() => bceWithLogits(Tensor.zeros([4]), new Float32Array(4), new Float32Array(2)), (e: unknown) => e instanceof ShapeError && /4 logits but 2 weights/.test(e.message));
  assert.throws(() => softmaxCrossEntropy(Tensor.zeros([3, 2]), new Int32Array(2)), (e: unknown) => e instanceof ShapeError && /3 rows but 2 targets/.test(e.message));
  assert.throws(() => softmaxCrossEntropy(Tensor.zeros([6]), new Int32Array(6)), ShapeError);
});

test('softmaxCrossEntropy: a target outside [0, classes) throws RangeError naming the row', () => {
  assert.throws(
    () => softmaxCrossEntropy(Tensor.zeros([3, 4]), Int32Array.from([0, 4, 1])),
    (e: unknown) => e instanceof RangeError && /target 4 at row 1/.test(e.message),
  );
  assert.throws(() => softmaxCrossEntropy(Tensor.zeros([2, 4]), Int32Array.from([-1, 0])), (e: unknown) => e instanceof RangeError && /row 0/.test(e.message));
});
