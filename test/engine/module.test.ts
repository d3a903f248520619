import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../src/engine/autograd.js';
import { EngineError } from '../../src/engine/errors.js';
import { glorotUniform, zeros } from '../../src/engine/init.js';
import { Module } from '../../src/engine/module.js';
import { add, sum } from '../../src/engine/ops/index.js';
import { RandomStream } from '../../src/engine/random.js';
import { SparseEmbedding } from '../../src/engine/sparse-embedding.js';
import { Parameter } from '../../src/engine/tensor.js';

class Inner extends Module {
  readonly w: Parameter;
  readonly stats: Float32Array;
  constructor(rng: RandomStream) {
    super();
    this.w = this.param('w', [3, 2], glorotUniform, rng);
    this.stats = this.buffer('stats', 2, 1);
  }
}

class Outer extends Module {
  readonly inner: Inner;
  readonly b: Parameter;
  readonly ids: SparseEmbedding;
  constructor(rng: RandomStream) {
    super();
    this.inner = this.child('inner', new Inner(rng.fork('inner')));
    this.b = this.param('b', [2], zeros, rng);
    this.ids = this.table('ids', new SparseEmbedding({ rows: 10, dim: 2 }, rng.fork('ids')));
  }
  tryClaim(name: string): void {
    this.buffer(name, 1);
  }
}

test('Module: dotted names, counts, train/eval propagation, zeroGrad', () => {
  const m = new Outer(new RandomStream(151));
  assert.deepEqual([...m.namedParameters().keys()], ['b', 'inner.w']);
  assert.deepEqual([...m.namedBuffers().keys()], ['inner.stats']);
  assert.deepEqual([...m.namedTables().keys()], ['ids']);
  assert.equal(m.parameterCount(), 2 + 6 + 20);
  assert.equal(m.parameters().length, 2);
  m.eval();
  assert.equal(m.inner.training, false);
  m.train();
  assert.equal(m.inner.training, true);
  // Same seed, same parameters; parameters of different names draw from different forks.
  const m2 = new Outer(new RandomStream(151));
  assert.deepEqual(m2.inner.w.data, m.inner.w.data);
  backward(add(sum(m.b), sum(m.ids.lookup(Int32Array.from([1, 2])))));
  assert.deepEqual([...m.b.grad!], [1, 1]);
  m.zeroGrad();
  assert.deepEqual([...m.b.grad!], [0, 0]);
  assert.equal(m.ids.takeGradient(), null, 'zeroGrad drops pending sparse gradients');
});

test('Module: names must be identifiers and unique', () => {
  const m = new Outer(new RandomStream(152));
  assert.throws(() => m.tryClaim('b'), (e: unknown) => e instanceof EngineError && /'b' is used twice/.test(e.message));
  assert.throws(() => m.tryClaim('a.b'), (e: unknown) => e instanceof EngineError && /identifier/.test(e.message));
  m.tryClaim('fresh');
  assert.ok(m.namedBuffers().has('fresh'));
});
