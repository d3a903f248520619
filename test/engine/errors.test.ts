import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError, ShapeError } from '../../src/engine/errors.js';
import * as ops from '../../src/engine/ops/index.js';
import { Tensor } from '../../src/engine/tensor.js';
import { MmctrError } from '../../src/util/errors.js';

const z = (...shape: number[]) => Tensor.zeros(shape);

/** Asserts fn throws a ShapeError whose message contains every given fragment. */
function throwsShape(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ShapeError, `expected ShapeError, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" does not name ${f}`);
    return true;
  });
}

test('error classes: ShapeError is an EngineError is an MmctrError, with its own name', () => {
  const e = new ShapeError('x');
  assert.ok(e instanceof EngineError && e instanceof MmctrError && e instanceof Error);
  assert.equal(e.name, 'ShapeError');
});

test('shape mismatches throw ShapeError naming the shapes involved', () => {
  throwsShape(() => ops.add(z(2, 3), z(4)), 'add', '[2, 3]', '[4]');
  throwsShape(() => ops.mul(z(2, 3, 4), z(3, 1, 5)), 'mul', '[2, 3, 4]', '[3, 1, 5]');
  throwsShape(() => ops.div(z(3), z(2)), 'div', '[3]', '[2]');
  throwsShape(() => ops.matmul(z(2, 3), z(4, 5)), 'matmul', '[2, 3]', '[4, 5]');
  throwsShape(() => ops.matmul(z(2, 3), z(3, 2), { transA: true }), '[2, 3]', '[3, 2]');
  throwsShape(() => ops.matmul(z(2, 3, 1), z(3, 5)), 'matmul', 'rank 2', '[2, 3, 1]');
  throwsShape(() => ops.bmm(z(2, 3, 4), z(3, 4, 5)), 'bmm', '[2, 3, 4]', '[3, 4, 5]');
  throwsShape(() => ops.bmm(z(2, 3, 4), z(2, 5, 6)), 'bmm', '[2, 3, 4]', '[2, 5, 6]');
  throwsShape(() => ops.linear(z(5, 3), z(4, 2)), 'linear', '[5, 3]', '[4, 2]');
  throwsShape(() => ops.linear(z(5, 4), z(4, 2), z(3)), 'linear', 'bias', '[3]');
  throwsShape(() => ops.concat([z(2, 3), z(3, 3)], 1), 'concat', '[3, 3]', '[2, 3]');
  throwsShape(() => ops.concat([], 0), 'concat');
  throwsShape(() => ops.reshape(z(2, 3), [4, 2]), 'reshape', '[2, 3]', '[4, 2]');
  throwsShape(() => ops.slice(z(2, 3), 1, 1, 4), 'slice', '[2, 3]', '[1, 4)');
  throwsShape(() => ops.slice(z(2, 3), 2, 0, 1), 'slice', 'axis 2');
  throwsShape(() => ops.transpose(z(2, 3), [0, 2]), 'transpose', '[0,2]');
  throwsShape(() => ops.softmax(z(2, 3), z(3, 2)), 'softmax', '[2, 3]', '[3, 2]');
  throwsShape(() => ops.logSoftmax(z(2, 3), z(2)), 'logSoftmax', '[2, 3]', '[2]');
  throwsShape(() => ops.layerNorm(z(2, 3), null, z(4)), 'layerNorm', '3', '4');
  throwsShape(() => ops.prelu(z(2, 3), z(2)), 'prelu', '3', '2');
  throwsShape(() => ops.dice(z(2, 3), z(2), { runningMean: new Float32Array(3), runningVar: new Float32Array(3) }, { training: true }), 'dice', '3', '2');
  throwsShape(() => ops.embeddingLookup(z(6), Int32Array.from([0])), 'embeddingLookup', '[6]');
  throwsShape(() => ops.sum(z(2, 3), -3), 'sum', 'axis -3');
  throwsShape(() => ops.mean(z(2, 3), 2), 'mean', 'axis 2');
});
