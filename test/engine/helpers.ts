/**
 * Shared helpers of the engine tests (not a test file itself): seeded tensors, a gradient-check
 * assertion that refuses vacuous passes, and element-wise comparisons with a useful message.
 */
import assert from 'node:assert/strict';
import { gradCheck, GradCheckOptions } from '../../src/engine/gradcheck.js';
import { RandomStream } from '../../src/engine/random.js';
import { Shape, sizeOf, Tensor } from '../../src/engine/tensor.js';

/** N(0, std) values, seeded. */
export function randn(rng: RandomStream, shape: Shape, requiresGrad = true, std = 1): Tensor {
  return new Tensor(rng.normal(sizeOf(shape), 0, std), shape, requiresGrad);
}

/** Uniform values in [lo, hi), seeded (domain-restricted ops: log, sqrt). */
export function randu(rng: RandomStream, shape: Shape, lo: number, hi: number, requiresGrad = true): Tensor {
  return new Tensor(rng.uniform(sizeOf(shape), lo, hi), shape, requiresGrad);
}

/**
 * Normal values pushed at least `gap` away from 0, for ops with a kink there (relu, prelu): the
 * finite difference (step 1e-2) then never straddles the kink.
 */
export function randnAwayFromZero(rng: RandomStream, shape: Shape, gap = 0.1, requiresGrad = true): Tensor {
  const v = rng.normal(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = Math.sign(v[i] || 1) * (gap + Math.abs(v[i]));
  return new Tensor(v, shape, requiresGrad);
}

export interface GradAssertOptions extends GradCheckOptions {
  /** Largest accepted gradCheck error (relative, absolute below 1). */
  tol?: number;
  /** Inputs (by position) whose analytic gradient may legitimately be all zero. */
  allowZero?: number[];
}

/**
 * Asserts that the tape's gradient of f agrees with central differences, and that the check is
 * not vacuous: every input that requires grad received a gradient with a non-zero entry (a
 * disconnected op would otherwise "pass" with 0 == 0).
 */
export function assertGradients(f: (inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradAssertOptions = {}): void {
  const { tol = 2e-3, allowZero = [], ...check } = opts;
  const r = gradCheck(f, inputs, { samples: 64, ...check });
  assert.ok(r.checked > 0, 'gradCheck checked nothing');
  assert.ok(r.maxError < tol, `gradient mismatch: maxError ${r.maxError} >= ${tol}, worst ${JSON.stringify(r.worst)}`);
  inputs.forEach((t, i) => {
    if (!t.requiresGrad || allowZero.includes(i)) return;
    assert.ok(t.grad, `input ${i} received no gradient`);
    let mx = 0;
    for (const g of t.grad) mx = Math.max(mx, Math.abs(g));
    assert.ok(mx > 1e-4, `input ${i} has an all-zero gradient (the check would be vacuous)`);
  });
}

/** |actual - expected| <= atol + rtol * |expected| element-wise. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-5, what = 'value'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    assert.ok(Math.abs(a - e) <= atol + rtol * Math.abs(e), `${what}[${i}]: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Row-major strides in plain JS (reference implementations). */
export function jsStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Multi-index of flat position `flat` in `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}
