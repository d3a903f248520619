import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradOf, record } from '../../src/engine/autograd.js';
import { gradCheck } from '../../src/engine/gradcheck.js';
import { tanh } from '../../src/engine/ops/index.js';
import { output } from '../../src/engine/ops/common.js';
import { RandomStream } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { randn } from './helpers.js';

/** y = x^3 with a backward scaled by `factor` (1 is correct). */
function cube(x: Tensor, factor: number): Tensor {
  const out = output(x.shape, [x], Float32Array.from(x.data, (v) => v * v * v));
  if (out.requiresGrad)
    record(() => {
      const gx = gradOf(x);
      for (let i = 0; i < x.size; i++) gx[i] += factor * 3 * x.data[i] * x.data[i] * out.grad![i];
    });
  return out;
}

test('gradCheck accepts a correct gradient and catches wrong ones', () => {
  const rng = new RandomStream(141);
  const x = randn(rng, [4, 5]);
  const good = gradCheck(([t]) => cube(t, 1), [x]);
  assert.ok(good.maxError < 1e-3, JSON.stringify(good));
  assert.equal(good.checked, 20);
  const bad = gradCheck(([t]) => cube(t, 1.1), [x]);
  assert.ok(bad.maxError > 0.05, `a 10% gradient error went unnoticed: ${JSON.stringify(bad)}`);
  assert.ok(bad.worst && bad.worst.input === 0);
  // A missing contribution (backward does nothing) is caught too.
  const none = gradCheck(([t]) => cube(t, 0), [x]);
  assert.ok(none.maxError > 0.5, JSON.stringify(none));
});

test('gradCheck samples spread entries of large inputs and skips constants', () => {
  const rng = new RandomStream(142);
  const x = randn(rng, [100]);
  const c = randn(rng, [100], false);
  const r = gradCheck(([t]) => tanh(t), [x, c], { samples: 10 });
  assert.equal(r.checked, 10);
  assert.ok(r.maxError < 1e-3);
});
