import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { matmul, linear, sum } from '../../src/engine/ops/index.js';
import { gradCheck } from '../../src/engine/gradcheck.js';
import { RandomStream } from '../../src/engine/random.js';

test('matmul and linear gradients', () => {
  const rng = new RandomStream(1);
  const a = new Tensor(rng.normal(12), [3, 4], true);
  const b = new Tensor(rng.normal(20), [4, 5], true);
  const r = gradCheck(([x, y]) => matmul(x, y), [a, b]);
  assert.ok(r.maxError < 1e-2, JSON.stringify(r));
  const bias = new Tensor(rng.normal(5), [5], true);
  const r2 = gradCheck(([x, w, c]) => sum(linear(x, w, c, 'sigmoid'), 1), [a, b, bias]);
  assert.ok(r2.maxError < 1e-2, JSON.stringify(r2));
});
