import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward as backwardOf } from '../../../src/engine/autograd.js';
import * as ops from '../../../src/engine/ops/index.js';
import { RandomStream } from '../../../src/engine/random.js';
import { Shape, Tensor } from '../../../src/engine/tensor.js';
import { assertClose, assertGradients, jsStrides, randn, randnAwayFromZero, randu, unravel } from '../helpers.js';

type BinaryName = 'add' | 'sub' | 'mul' | 'div';
const BINARY: Record<BinaryName, { f: (a: Tensor, b: Tensor) => Tensor; js: (a: number, b: number) => number }> = {
  add: { f: ops.add, js: (a, b) => a + b },
  sub: { f: ops.sub, js: (a, b) => a - b },
  mul: { f: ops.mul, js: (a, b) => a * b },
  div: { f: ops.div, js: (a, b) => a / b },
};

/** NumPy broadcasting, written out independently of broadcastShapes. */
function jsBroadcast(a: Tensor, b: Tensor, f: (x: number, y: number) => number): { shape: number[]; data: Float64Array } {
  const rank = Math.max(a.rank, b.rank);
  const pa = [...new Array<number>(rank - a.rank).fill(1), ...a.shape];
  const pb = [...new Array<number>(rank - b.rank).fill(1), ...b.shape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const size = shape.reduce((s, d) => s * d, 1);
  const sa = jsStrides(pa), sb = jsStrides(pb);
  const data = new Float64Array(size);
  for (let flat = 0; flat < size; flat++) {
    const idx = unravel(flat, shape);
    let ia = 0, ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += (pa[d] === 1 ? 0 : idx[d]) * sa[d];
      ib += (pb[d] === 1 ? 0 : idx[d]) * sb[d];
    }
    data[flat] = f(a.data[ia], b.data[ib]);
  }
  return { shape, data };
}

const BROADCAST_CASES: [string, Shape, Shape][] = [
  ['same shape', [3, 4], [3, 4]],
  ['row vector (rank-extending)', [3, 4], [4]],
  ['row vector [1, n]', [3, 4], [1, 4]],
  ['column vector', [3, 4], [3, 1]],
  ['scalar right', [3, 4], []],
  ['scalar left', [], [3, 4]],
  ['one-element right', [3, 4], [1]],
  ['rank-extending 3-d', [2, 3, 4], [3, 4]],
  ['middle axis', [2, 3, 4], [2, 1, 4]],
  ['both sides broadcast 2-d', [3, 1], [1, 4]],
  ['both sides broadcast 3-d', [2, 1, 4], [3, 1]],
  ['left broadcast only', [1, 4], [3, 4]],
  ['scalar and scalar', [], []],
];

test('add/sub/mul/div: broadcasting forward matches a JS reference', () => {
  const rng = new RandomStream(21);
  for (const [name, op] of Object.entries(BINARY))
    for (const [what, sa, sb] of BROADCAST_CASES) {
      const a = randn(rng, sa, false);
      const b = randnAwayFromZero(rng, sb, 0.5, false);
      const y = op.f(a, b);
      const ref = jsBroadcast(a, b, op.js);
      assert.deepEqual(y.shape, sa.length === 0 && sb.length === 0 ? [] : ref.shape, `${name} ${what}: shape`);
      assertClose(y.data, ref.data, 1e-6, 1e-6, `${name} ${what}`);
    }
});

test('add/sub/mul/div: gradients through every broadcasting pattern', () => {
  const rng = new RandomStream(22);
  for (const [name, op] of Object.entries(BINARY))
    for (const [what, sa, sb] of BROADCAST_CASES) {
      const a = randn(rng, sa);
      // Denominators at least 0.5 away from 0 keep the quotient's curvature small.
      const b = randnAwayFromZero(rng, sb, 0.5);
      try {
        assertGradients(([x, y]) => op.f(x, y), [a, b]);
      } catch (e) {
        throw new Error(`${name} ${what}: ${(e as Error).message}`);
      }
    }
});

test('binary ops: the same tensor on both sides gets both contributions (x*x, x/x, x-x)', () => {
  const rng = new RandomStream(23);
  const x = randnAwayFromZero(rng, [2, 3], 0.5);
  assertGradients(([t]) => ops.mul(t, t), [x]);
  const expected = Float64Array.from(x.data, (v) => 2 * v);
  x.grad = null;
  const y = ops.mul(x, x);
  const loss = ops.sum(y);
  // d/dx sum(x^2) = 2x.
  backwardOf(loss);
  assertClose(x.grad!, expected, 1e-6, 1e-6, 'd sum(x*x)');
  x.grad = null;
  backwardOf(ops.sum(ops.sub(x, x)));
  assertClose(x.grad!, new Float64Array(6), 0, 0, 'd sum(x-x)');
  x.grad = null;
  backwardOf(ops.sum(ops.div(x, x)));
  assertClose(x.grad!, new Float64Array(6), 1e-6, 0, 'd sum(x/x)');
});

test('affine and scale: forward and gradient', () => {
  const rng = new RandomStream(24);
  const x = randn(rng, [3, 4]);
  const y = ops.affine(x.detach(), -2.5, 0.75);
  assertClose(y.data, Float64Array.from(x.data, (v) => -2.5 * v + 0.75), 1e-6, 1e-6, 'affine');
  assertClose(ops.scale(x.detach(), 3).data, Float64Array.from(x.data, (v) => 3 * v), 1e-6, 1e-6, 'scale');
  assertGradients(([t]) => ops.affine(t, -2.5, 0.75), [x]);
  assertGradients(([t]) => ops.scale(t, 0.3), [x]);
});

type UnaryName = 'sigmoid' | 'relu' | 'tanh' | 'exp' | 'log' | 'neg' | 'sqrt' | 'square';
const UNARY: { name: UnaryName; js: (x: number) => number; input: (rng: RandomStream) => Tensor }[] = [
  { name: 'sigmoid', js: (x) => 1 / (1 + Math.exp(-x)), input: (rng) => randn(rng, [3, 5], true, 2) },
  // relu and its kink at 0: inputs stay >= 0.1 away from it.
  { name: 'relu', js: (x) => Math.max(x, 0), input: (rng) => randnAwayFromZero(rng, [3, 5], 0.1) },
  { name: 'tanh', js: Math.tanh, input: (rng) => randn(rng, [3, 5]) },
  { name: 'exp', js: Math.exp, input: (rng) => randn(rng, [3, 5], true, 0.7) },
  // log and sqrt: inputs in [0.5, 3), away from the domain edge at 0.
  { name: 'log', js: Math.log, input: (rng) => randu(rng, [3, 5], 0.5, 3) },
  { name: 'neg', js: (x) => -x, input: (rng) => randn(rng, [3, 5]) },
  { name: 'sqrt', js: Math.sqrt, input: (rng) => randu(rng, [3, 5], 0.5, 3) },
  { name: 'square', js: (x) => x * x, input: (rng) => randn(rng, [3, 5]) },
];

test('unary ops: forward matches Math.* and gradients match finite differences', () => {
  const rng = new RandomStream(25);
  for (const { name, js, input } of UNARY) {
    const x = input(rng);
    const f = ops[name] as (t: Tensor) => Tensor;
    const y = f(x.detach());
    assert.deepEqual(y.shape, x.shape);
    assertClose(y.data, Float64Array.from(x.data, js), 1e-6, 2e-6, name);
    try {
      assertGradients(([t]) => f(t), [x]);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
  }
});

test('relu: gradient is exactly the indicator of x > 0', () => {
  const x = Tensor.from([-2, -0.5, 0.25, 3, -1, 1], [2, 3], true);
  backwardOf(ops.sum(ops.relu(x)));
  assert.deepEqual([...x.grad!], [0, 0, 1, 1, 0, 1]);
});

test('clip: values held to [lo, hi], the gradient only strictly inside', () => {
  const x = Tensor.from([-2, 0, 0.5, 5.9, 6, 7], [2, 3], true);
  const y = ops.clip(x, 0, 6);
  assert.deepEqual([...y.data], [0, 0, 0.5, 5.9, 6, 6].map(Math.fround));
  backwardOf(ops.sum(y));
  assert.deepEqual([...x.grad!], [0, 0, 1, 1, 0, 0]);
  assert.throws(() => ops.clip(x, 1, 1), /lo must be below hi/);
});

test('sigmoid saturates without NaN and tanh/exp stay exact at large |x|', () => {
  const x = Tensor.from([-100, -30, 0, 30, 100]);
  const s = ops.sigmoid(x).data;
  assert.ok([...s].every((v) => Number.isFinite(v) && v >= 0 && v <= 1), `sigmoid ${[...s]}`);
  assert.equal(s[2], 0.5);
  assert.deepEqual([...ops.tanh(Tensor.from([-50, 50])).data], [-1, 1]);
});
