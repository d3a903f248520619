import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../../src/engine/autograd.js';
import { dice, DiceStats, dropout, linear, prelu, sum } from '../../../src/engine/ops/index.js';
import { ShapeError } from '../../../src/engine/errors.js';
import { RandomStream } from '../../../src/engine/random.js';
import { Tensor } from '../../../src/engine/tensor.js';
import { assertClose, assertGradients, randn, randnAwayFromZero } from '../helpers.js';

test('prelu: scalar and per-channel alpha, forward and gradients (x and alpha)', () => {
  const rng = new RandomStream(81);
  // Inputs 0.1 away from the kink at 0.
  const x = randnAwayFromZero(rng, [4, 3], 0.1);
  for (const alpha of [Tensor.from([0.2], [1], true), Tensor.from([0.1, -0.3, 0.5], [3], true)]) {
    const y = prelu(x.detach(), alpha.detach());
    // Exact in float32: the kernel computes one product per negative entry.
    assertClose(y.data, Array.from(x.data, (v, i) => (v > 0 ? v : Math.fround(alpha.data[alpha.size === 1 ? 0 : i % 3] * v))), 0, 0, `prelu alpha ${alpha.size}`);
    assertGradients(([t, a]) => prelu(t, a), [x, alpha]);
  }
  // Rank-3 input, alpha per feature of the last axis.
  assertGradients(([t, a]) => prelu(t, a), [randnAwayFromZero(rng, [2, 3, 4], 0.1), randn(rng, [4], true, 0.3)]);
  assert.throws(() => prelu(x, Tensor.zeros([2])), (e: unknown) => e instanceof ShapeError && /1 or 3 values, got 2/.test(e.message));
});

function freshStats(cols: number, mean = 0, variance = 1): DiceStats {
  return { runningMean: new Float32Array(cols).fill(mean), runningVar: new Float32Array(cols).fill(variance) };
}

/** Dice forward in float64: p = σ((x - μ) / sqrt(σ² + eps)), y = x (α + p (1 - α)). */
function jsDice(x: Tensor, alpha: Float32Array, mean: ArrayLike<number>, variance: ArrayLike<number>, eps: number): Float64Array {
  const cols = alpha.length;
  return Float64Array.from(x.data, (v, i) => {
    const c = i % cols;
    const p = 1 / (1 + Math.exp(-(v - mean[c]) / Math.sqrt(variance[c] + eps)));
    return v * (alpha[c] + p * (1 - alpha[c]));
  });
}

test('dice (training): forward uses batch statistics and updates the running ones', () => {
  const rng = new RandomStream(82);
  const x = randn(rng, [6, 3], false, 2);
  const alpha = Float32Array.from([0.25, -0.1, 0.6]);
  const stats = freshStats(3, 0.5, 2);
  const y = dice(x, new Tensor(alpha, [3]), stats, { training: true, eps: 1e-8, momentum: 0.1 });
  const mean = [0, 0, 0], variance = [0, 0, 0];
  for (let i = 0; i < 18; i++) mean[i % 3] += x.data[i] / 6;
  for (let i = 0; i < 18; i++) variance[i % 3] += (x.data[i] - mean[i % 3]) ** 2 / 6;
  assertClose(y.data, jsDice(x, alpha, mean, variance, 1e-8), 1e-5, 1e-5, 'dice training');
  assertClose(stats.runningMean, mean.map((m) => 0.9 * 0.5 + 0.1 * m), 1e-6, 1e-5, 'running mean');
  // The running variance takes the unbiased batch variance.
  assertClose(stats.runningVar, variance.map((v) => 0.9 * 2 + 0.1 * ((v * 6) / 5)), 1e-6, 1e-5, 'running var');
});

test('dice (training): gradients flow through the batch statistics, and to alpha', () => {
  const rng = new RandomStream(83);
  const x = randn(rng, [5, 3], true, 1.5);
  const alpha = randn(rng, [3], true, 0.3);
  const stats = freshStats(3);
  assertGradients(([t, a]) => dice(t, a, stats, { training: true }), [x, alpha]);
  // Through a layer below (as in DIN's MLP).
  const h = randn(rng, [6, 4]), w = randn(rng, [4, 3]);
  assertGradients(([hi, wi, a]) => dice(linear(hi, wi), a, stats, { training: true }), [h, w, alpha]);
});

test('dice (training): the batch-statistics term matters (eval-mode gradient would be wrong)', () => {
  // Guards against a backward that ignores d(mean, var)/dx: with training statistics the gradient
  // of sum(dice(x)) differs from the one obtained by freezing the statistics.
  const rng = new RandomStream(84);
  const x = randn(rng, [4, 2], true, 1.5);
  const alpha = Tensor.from([0.2, 0.4], [2]);
  const stats = freshStats(2);
  backward(sum(dice(x, alpha, stats, { training: true })));
  const trainGrad = Float64Array.from(x.grad!);
  // Freeze: running stats = this batch's (population) statistics, eval mode.
  const mean = [0, 0], variance = [0, 0];
  for (let i = 0; i < 8; i++) mean[i % 2] += x.data[i] / 4;
  for (let i = 0; i < 8; i++) variance[i % 2] += (x.data[i] - mean[i % 2]) ** 2 / 4;
  const frozen: DiceStats = { runningMean: Float32Array.from(mean), runningVar: Float32Array.from(variance) };
  x.grad = null;
  const yEval = dice(x, alpha, frozen, { training: false });
  const yTrain = dice(x.detach(), alpha, freshStats(2), { training: true });
  assertClose(yEval.data, yTrain.data, 1e-5, 1e-5, 'same forward');
  backward(sum(yEval));
  let diff = 0;
  for (let i = 0; i < 8; i++) diff = Math.max(diff, Math.abs(trainGrad[i] - x.grad![i]));
  assert.ok(diff > 1e-3, `training and frozen-statistics gradients coincide (${diff})`);
});

test('dice (eval): uses the running statistics, leaves them unchanged, gradients match', () => {
  const rng = new RandomStream(85);
  const x = randn(rng, [4, 3], true, 1.5);
  const alpha = randn(rng, [3], true, 0.3);
  const stats: DiceStats = { runningMean: Float32Array.from([0.3, -0.2, 1]), runningVar: Float32Array.from([0.5, 2, 1.5]) };
  const before = { m: stats.runningMean.slice(), v: stats.runningVar.slice() };
  const y = dice(x.detach(), alpha.detach(), stats, { training: false, eps: 1e-5 });
  assertClose(y.data, jsDice(x, alpha.data, before.m, before.v, 1e-5), 1e-5, 1e-5, 'dice eval');
  assert.deepEqual(stats.runningMean, before.m);
  assert.deepEqual(stats.runningVar, before.v);
  assertGradients(([t, a]) => dice(t, a, stats, { training: false, eps: 1e-5 }), [x, alpha]);
  // A one-row batch in training mode falls back to the running statistics too.
  const one = randn(rng, [1, 3], false);
  assertClose(dice(one, alpha.detach(), stats, { training: true, eps: 1e-5 }).data, jsDice(one, alpha.data, before.m, before.v, 1e-5), 1e-5, 1e-5, 'dice one row');
});

test('dropout (training): y = x * mask, the gradient is exactly the mask, the rate is respected', () => {
  const rng = new RandomStream(86);
  const x = randn(rng, [50, 40]);
  const stream = new RandomStream(9, 123);
  const y = dropout(x, 0.3, stream, true);
  const mask = new RandomStream(9, 123).dropoutMask(2000, 0.7);
  assertClose(y.data, Array.from(x.data, (v, i) => v * mask[i]), 0, 1e-7, 'dropout forward');
  backward(sum(y));
  assertClose(x.grad!, mask, 0, 0, 'dropout gradient');
  const scale = mask.find((v) => v !== 0)!;
  assertClose([scale], [1 / 0.7], 0, 1e-6, 'kept values are scaled by 1/keep');
  const dropped = mask.filter((v) => v === 0).length / mask.length;
  // 2000 Bernoulli(0.3) draws: std of the fraction is 0.01; 5 sigma.
  assert.ok(Math.abs(dropped - 0.3) < 0.05, `dropped fraction ${dropped}`);
  // Masks differ from call to call (the stream advances).
  const y2 = dropout(x.detach(), 0.3, stream, true);
  assert.notDeepEqual([...y2.data], [...y.data]);
  // And the gradcheck agrees (the mask is fixed by re-seeding inside f).
  assertGradients(([t]) => dropout(t, 0.5, new RandomStream(4), true), [randn(rng, [3, 4])]);
});

test('dropout (eval, or rate 0): identity, gradient passes unchanged; bad rate throws', () => {
  const rng = new RandomStream(87);
  const x = randn(rng, [3, 4]);
  const stream = new RandomStream(1);
  assert.equal(dropout(x, 0.5, stream, false), x);
  assert.equal(dropout(x, 0, stream, true), x);
  assert.deepEqual(stream.state(), { seed: 1, counter: 0 }, 'eval dropout draws nothing');
  backward(sum(dropout(x, 0.5, stream, false)));
  assert.deepEqual([...x.grad!], new Array(12).fill(1));
  assert.throws(() => dropout(x, 1, stream, true), ShapeError);
  assert.throws(() => dropout(x, -0.1, stream, true), ShapeError);
});
