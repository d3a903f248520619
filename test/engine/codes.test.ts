/**
 * The op codes: native/codes.h is the one table of each family, the addon exports it and the TS
 * ops read it (src/engine/ops/codes.ts). These tests check that the built addon carries the
 * header's tables, that the ops' names match them, and that each code selects its function.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { noGrad } from '../../src/engine/autograd.js';
import { native } from '../../src/engine/native.js';
import { ACTIVATION_CODE, BINARY_CODE, BINARY_OPS, KERNEL_ACTIVATIONS, UNARY_CODE, UNARY_OPS } from '../../src/engine/ops/codes.js';
import { add, div, exp, linear, log, mul, neg, relu, sigmoid, sqrt, square, sub, tanh } from '../../src/engine/ops/index.js';
import { Tensor } from '../../src/engine/tensor.js';
import { repoRoot } from '../../src/util/paths.js';

/** The X(enumerator, "name", code) rows of one X-macro list in native/codes.h. */
function headerTable(macro: string): Record<string, number> {
  const text = readFileSync(path.join(repoRoot(), 'native', 'codes.h'), 'utf8');
  const start = text.indexOf(`#define ${macro}(X)`);
  assert.ok(start >= 0, `native/codes.h defines ${macro}`);
  // The macro runs while its lines end with a backslash.
  const body: string[] = [];
  for (const line of text.slice(start).split('\n')) {
    body.push(line);
    if (!line.trimEnd().endsWith('\\')) break;
  }
  const out: Record<string, number> = {};
  for (const m of body.join('\n').matchAll(/X\(\w+, "(\w+)", (\d+)\)/g)) out[m[1]] = Number(m[2]);
  return out;
}

test('the built addon exports exactly the code tables of native/codes.h (a stale build would differ)', () => {
  assert.deepEqual(native.codes.activation, headerTable('MM_ACTIVATIONS'));
  assert.deepEqual(native.codes.unary, headerTable('MM_UNARY_OPS'));
  assert.deepEqual(native.codes.binary, headerTable('MM_BINARY_OPS'));
});

test('the TS ops name every code of each table, each code once', () => {
  for (const [family, names, codes] of [
    ['activation', KERNEL_ACTIVATIONS, ACTIVATION_CODE],
    ['unary', UNARY_OPS, UNARY_CODE],
    ['binary', BINARY_OPS, BINARY_CODE],
  ] as const) {
    assert.deepEqual(Object.keys(native.codes[family]).sort(), [...names].sort(), family);
    const values = Object.values(codes as Record<string, number>);
    assert.equal(new Set(values).size, values.length, `${family}: distinct codes`);
    for (const n of names) assert.equal((codes as Record<string, number>)[n], native.codes[family][n]);
  }
});

test('each activation code selects its function in the dense kernel (linear) and the unary kernel', () => {
  const xs = [-2, -0.5, 0, 0.75, 3];
  const x = new Tensor(Float32Array.from(xs), [5, 1]);
  const eye = new Tensor(Float32Array.from([1]), [1, 1]);
  const want: Record<string, (v: number) => number> = { none: (v) => v, relu: (v) => Math.max(0, v), sigmoid: (v) => 1 / (1 + Math.exp(-v)), tanh: Math.tanh };
  for (const [name, f] of Object.entries(want)) {
    const y = noGrad(() => linear(x, eye, null, name as 'none'));
    y.data.forEach((v, i) => assert.ok(Math.abs(v - f(xs[i])) < 1e-6, `linear ${name}(${xs[i]}) = ${v}`));
  }
  const pos = new Tensor(Float32Array.from([0.5, 2, 4]), [3]);
  const unary: [(t: Tensor) => Tensor, (v: number) => number][] = [
    [sigmoid, want.sigmoid], [relu, want.relu], [tanh, Math.tanh], [exp, Math.exp], [log, Math.log], [neg, (v) => -v], [sqrt, Math.sqrt], [square, (v) => v * v],
  ];
  for (const [op, f] of unary) noGrad(() => op(pos)).data.forEach((v, i) => assert.ok(Math.abs(v - f(pos.data[i])) < 1e-5, `${op.name}: ${v} vs ${f(pos.data[i])}`));
  const b = new Tensor(Float32Array.from([2, 4, 8]), [3]);
  const binary: [(a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [[add, (p, q) => p + q], [sub, (p, q) => p - q], [mul, (p, q) => p * q], [div, (p, q) => p / q]];
  for (const [op, f] of binary) noGrad(() => op(pos, b)).data.forEach((v, i) => assert.ok(Math.abs(v - f(pos.data[i], b.data[i])) < 1e-6, `${op.name}`));
});

test('kernels refuse a code outside their table, naming the argument', () => {
  const f = (n: number) => new Float32Array(n);
  const range = (re: RegExp) => (e: unknown) => e instanceof RangeError && re.test(e.message);
  assert.throws(() => native.unary(UNARY_OPS.length, f(2), f(2)), range(/unary: op is 8, not one of the kernel's codes 0\.\.7/));
  assert.throws(() => native.binary(-1, f(2), f(2), f(2), Int32Array.from([2]), Int32Array.from([1]), Int32Array.from([1])), range(/binary: op is -1/));
  assert.throws(() => native.biasActivation(f(4), null, 2, 2, KERNEL_ACTIVATIONS.length), range(/biasActivation: activation is 5/));
  assert.throws(() => native.biasActivation(f(4), null, 2, 2, ACTIVATION_CODE.prelu), range(/biasActivation: activation is PReLU/));
  assert.throws(() => native.activationBackwardEx(null, f(4), f(4), 2, 2, 7, null, f(4), null, null), range(/activationBackwardEx: activation is 7/));
});

test('kernel arguments of the wrong kind throw TypeError naming the kernel, the position and the argument', () => {
  const f = (n: number) => new Float32Array(n);
  const type = (re: RegExp) => (e: unknown) => e instanceof TypeError && re.test(e.message);
  assert.throws(() => native.axpy('2' as unknown as number, f(2), f(2)), type(/^mmctr native: axpy: argument 0 'alpha' must be a number$/));
  assert.throws(() => native.columnSums(f(4), 2.5, 2, f(2)), type(/^mmctr native: columnSums: argument 1 'rows' must be an integer$/));
  assert.throws(() => native.sumAxis(f(4), 1, 4, 1, f(1), 1 as unknown as boolean), type(/sumAxis: argument 5 'accumulate' must be true or false/));
  assert.throws(() => native.softmax(f(4), 2, 2, [1] as unknown as Float32Array, f(4), false), type(/softmax: argument 3 'mask' must be a Float32Array or null/));
  assert.throws(() => native.setBlasBackend('mkl' as 'builtin'), type(/setBlasBackend: backend must be 'openblas' or 'builtin', got 'mkl'/));
  assert.throws(() => native.layerNorm(f(4), -2, 2, null, null, 1e-5, f(4), f(2), f(2)), (e: unknown) => e instanceof RangeError && /layerNorm: rows = -2 is a negative size/.test(e.message));
});
