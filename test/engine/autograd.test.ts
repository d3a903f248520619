import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, clearTape, isGradEnabled, noGrad, tapeLength } from '../../src/engine/autograd.js';
import { EngineError } from '../../src/engine/errors.js';
import { add, matmul, mul, sum, tanh } from '../../src/engine/ops/index.js';
import { RandomStream } from '../../src/engine/random.js';
import { Parameter, Tensor } from '../../src/engine/tensor.js';
import { assertClose, assertGradients, randn } from './helpers.js';

test('a tensor used twice accumulates both contributions', () => {
  const rng = new RandomStream(131);
  const x = randn(rng, [2, 3]);
  const w = randn(rng, [2, 3], false);
  // f = sum(x * w + x): df/dx = w + 1.
  backward(sum(add(mul(x, w), x)));
  assertClose(x.grad!, Array.from(w.data, (v) => v + 1), 1e-6, 1e-6, 'x used in two ops');
  // Diamond: a = tanh(x) feeds two branches: f = sum(a * a) + sum(a); df/dx = (2a + 1)(1 - a^2).
  x.grad = null;
  const a = tanh(x);
  backward(add(sum(mul(a, a)), sum(a)));
  assertClose(x.grad!, Array.from(x.data, (v) => (2 * Math.tanh(v) + 1) * (1 - Math.tanh(v) ** 2)), 1e-6, 1e-5, 'diamond');
  assertGradients(([t]) => {
    const h = tanh(t);
    // h appears four times: both sides of a product and both operands of h hᵀ.
    return add(mul(h, h), matmul(h, h, { transB: true }));
  }, [randn(rng, [3, 3])]);
});

test('gradients accumulate across backward calls until cleared', () => {
  const p = new Parameter('p', Float32Array.from([1, 2, 3]), [3]);
  const w = Tensor.from([0.5, -1, 2]);
  backward(sum(mul(p, w)));
  backward(sum(mul(p, w)));
  assert.deepEqual([...p.grad!], [1, -2, 4]);
  p.zeroGrad();
  assert.deepEqual([...p.grad!], [0, 0, 0]);
});

test('backward: non-scalar without a seed throws; with a seed it is the output gradient', () => {
  const x = new Tensor(Float32Array.from([1, 2, 3, 4]), [2, 2], true);
  const y = mul(x, x);
  assert.throws(() => backward(y), (e: unknown) => e instanceof EngineError && /scalar loss, got 4 values/.test(e.message));
  clearTape();
  const y2 = mul(x, x);
  backward(y2, Float32Array.from([1, 0, -1, 0.5]));
  assert.deepEqual([...x.grad!], [2, 0, -6, 4]);
  assert.throws(() => backward(Tensor.scalar(3)), (e: unknown) => e instanceof EngineError && /does not depend on any parameter/.test(e.message));
});

test('the tape records only under grad mode and is cleared by backward', () => {
  clearTape();
  const x = new Tensor(Float32Array.from([1, 2]), [2], true);
  const c = Tensor.from([3, 4]);
  add(c, c);
  assert.equal(tapeLength(), 0, 'ops on constants are not recorded');
  const y = noGrad(() => {
    assert.equal(isGradEnabled(), false);
    return mul(x, x);
  });
  assert.equal(isGradEnabled(), true);
  assert.equal(y.requiresGrad, false);
  assert.equal(tapeLength(), 0);
  const loss = sum(mul(x, x));
  assert.equal(tapeLength(), 2);
  backward(loss);
  assert.equal(tapeLength(), 0);
  // noGrad restores the mode when fn throws.
  assert.throws(() => noGrad(() => {
    throw new Error('boom');
  }));
  assert.equal(isGradEnabled(), true);
  // Nested noGrad.
  noGrad(() => noGrad(() => undefined));
  assert.equal(isGradEnabled(), true);
});

test('detach cuts the graph', () => {
  const x = new Tensor(Float32Array.from([1, 2]), [2], true);
  const y = add(mul(x.detach(), x.detach()), x);
  backward(sum(y));
  assert.deepEqual([...x.grad!], [1, 1]);
});
