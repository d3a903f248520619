import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError } from '../../src/engine/errors.js';
import { Parameter, shapeString, sizeOf, stridesOf, Tensor } from '../../src/engine/tensor.js';

test('Tensor: constructors, size, rank, dim, item, detach', () => {
  const t = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3], true);
  assert.equal(t.size, 6);
  assert.equal(t.rank, 2);
  assert.equal(t.dim(-1), 3);
  assert.equal(t.dim(0), 2);
  assert.equal(Tensor.scalar(2.5).item(), 2.5);
  assert.deepEqual(Tensor.scalar(1).shape, []);
  assert.deepEqual([...Tensor.zeros([2, 2]).data], [0, 0, 0, 0]);
  const d = t.detach();
  assert.equal(d.data, t.data);
  assert.equal(d.requiresGrad, false);
  assert.equal(new Parameter('w', new Float32Array(2), [2]).requiresGrad, true);
  assert.deepEqual(stridesOf([2, 3, 4]), [12, 4, 1]);
  assert.equal(sizeOf([]), 1);
  assert.equal(sizeOf([3, 0]), 0);
});

test('Tensor: shape errors name the shapes', () => {
  assert.throws(() => new Tensor(new Float32Array(5), [2, 3]), (e: unknown) => e instanceof ShapeError && e.message.includes('[2, 3]') && /needs 6 values, got 5/.test(e.message));
  assert.throws(() => sizeOf([2, -1]), (e: unknown) => e instanceof ShapeError && e.message.includes('[2, -1]'));
  assert.throws(() => sizeOf([1.5]), ShapeError);
  assert.throws(() => Tensor.zeros([2, 3]).dim(2), (e: unknown) => e instanceof ShapeError && e.message.includes('[2, 3]'));
  assert.throws(() => Tensor.zeros([2]).item(), (e: unknown) => e instanceof ShapeError && e.message.includes('[2]'));
  assert.equal(shapeString([]), '[]');
});
