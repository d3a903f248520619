import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constant, glorotUniform, lecunUniform, normal, uniform, zeros } from '../../src/engine/init.js';
import { RandomStream } from '../../src/engine/random.js';

test('initialisers: shapes, seeded values, and the documented limits', () => {
  assert.deepEqual([...zeros([2, 2], new RandomStream(1))], [0, 0, 0, 0]);
  assert.deepEqual([...constant(0.5)([3], new RandomStream(1))], [0.5, 0.5, 0.5]);
  const g = glorotUniform([30, 70], new RandomStream(2));
  const limit = Math.sqrt(6 / 100);
  assert.equal(g.length, 2100);
  assert.ok(g.every((v) => Math.abs(v) <= limit));
  assert.ok(Math.max(...g.map(Math.abs)) > 0.95 * limit, 'glorot fills its range');
  const l = lecunUniform([25, 4], new RandomStream(3));
  assert.ok(l.every((v) => Math.abs(v) <= 0.2) && Math.max(...l.map(Math.abs)) > 0.18);
  assert.ok(uniform(0.1)([1000], new RandomStream(4)).every((v) => Math.abs(v) <= 0.1));
  const n = normal(0.5, 3)([20_000], new RandomStream(5));
  const mean = n.reduce((s, v) => s + v, 0) / n.length;
  const sd = Math.sqrt(n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length);
  assert.ok(Math.abs(mean - 3) < 0.02 && Math.abs(sd - 0.5) < 0.02, `${mean} ${sd}`);
  assert.deepEqual(glorotUniform([4, 4], new RandomStream(9)), glorotUniform([4, 4], new RandomStream(9)));
});
