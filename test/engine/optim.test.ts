import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../src/engine/autograd.js';
import { EngineError } from '../../src/engine/errors.js';
import { mul, sum } from '../../src/engine/ops/index.js';
import { Adam, clipGradNorm, SGD, SparseAdagrad, SparseAdam } from '../../src/engine/optim.js';
import { RandomStream } from '../../src/engine/random.js';
import { SparseEmbedding } from '../../src/engine/sparse-embedding.js';
import { Parameter, Tensor } from '../../src/engine/tensor.js';
import { assertClose } from './helpers.js';

const STEPS = 6;

/** Seeded parameter values and one gradient per step. */
function fixture(seed: number, n: number): { init: Float32Array; grads: Float32Array[] } {
  const rng = new RandomStream(seed);
  return { init: rng.normal(n), grads: Array.from({ length: STEPS }, () => rng.normal(n, 0, 0.5)) };
}

interface AdamRef {
  lr: number;
  b1: number;
  b2: number;
  eps: number;
  wd: number;
  decoupled: boolean;
}

/** Adam / AdamW in float64, textbook form (Kingma & Ba; Loshchilov & Hutter). */
function adamReference(init: Float32Array, grads: Float32Array[], o: AdamRef): Float64Array {
  const p = Float64Array.from(init), m = new Float64Array(p.length), v = new Float64Array(p.length);
  grads.forEach((g, step) => {
    const t = step + 1;
    for (let i = 0; i < p.length; i++) {
      const gi = o.decoupled ? g[i] : g[i] + o.wd * p[i];
      m[i] = o.b1 * m[i] + (1 - o.b1) * gi;
      v[i] = o.b2 * v[i] + (1 - o.b2) * gi * gi;
      const mh = m[i] / (1 - o.b1 ** t), vh = v[i] / (1 - o.b2 ** t);
      if (o.decoupled) p[i] -= o.lr * o.wd * p[i];
      p[i] -= (o.lr * mh) / (Math.sqrt(vh) + o.eps);
    }
  });
  return p;
}

function runAdam(init: Float32Array, grads: Float32Array[], o: AdamRef): { p: Parameter; opt: Adam } {
  const p = new Parameter('w', init.slice(), [init.length]);
  const opt = new Adam(new Map([['w', p]]), { lr: o.lr, beta1: o.b1, beta2: o.b2, eps: o.eps, weightDecay: o.wd, decoupled: o.decoupled });
  for (const g of grads) {
    p.grad = g.slice();
    opt.step();
    assert.ok(p.grad.every((x) => x === 0), 'step() clears the gradient');
  }
  return { p, opt };
}

test('Adam: matches the reference update with bias correction (first step moves each weight by ~lr)', () => {
  const { init, grads } = fixture(121, 8);
  const o: AdamRef = { lr: 0.05, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false };
  // Step 1 with bias correction: m̂ = g, v̂ = g², so every weight moves by lr * sign(g).
  const one = runAdam(init, grads.slice(0, 1), o).p;
  assertClose(one.data, Array.from(init, (w, i) => w - o.lr * Math.sign(grads[0][i])), 1e-6, 1e-6, 'first Adam step');
  const { p, opt } = runAdam(init, grads, o);
  assert.equal(opt.steps, STEPS);
  assertClose(p.data, adamReference(init, grads, o), 1e-6, 1e-5, 'Adam');
  const state = opt.stateBuffers();
  assert.deepEqual([...state.keys()], ['w.m', 'w.v']);
  assert.ok(state.get('w.v')!.every((x) => x > 0));
});

test('AdamW (decoupled) and Adam + L2 each match their reference, and differ from each other', () => {
  const { init, grads } = fixture(122, 8);
  const base = { lr: 0.02, b1: 0.8, b2: 0.95, eps: 1e-6, wd: 0.3 };
  const w = runAdam(init, grads, { ...base, decoupled: true }).p;
  const l2 = runAdam(init, grads, { ...base, decoupled: false }).p;
  assertClose(w.data, adamReference(init, grads, { ...base, decoupled: true }), 1e-6, 1e-5, 'AdamW');
  assertClose(l2.data, adamReference(init, grads, { ...base, decoupled: false }), 1e-6, 1e-5, 'Adam L2');
  let diff = 0;
  for (let i = 0; i < 8; i++) diff = Math.max(diff, Math.abs(w.data[i] - l2.data[i]));
  assert.ok(diff > 1e-3, `decoupled and L2 weight decay gave the same weights (${diff})`);
  const none = runAdam(init, grads, { ...base, wd: 0, decoupled: true }).p;
  for (let i = 0; i < 8; i++) diff = Math.max(diff, Math.abs(w.data[i] - none.data[i]));
  assert.ok(diff > 1e-3, 'weight decay had no effect');
});

test('Adam: a parameter without a gradient is left alone (moments too)', () => {
  const a = new Parameter('a', Float32Array.from([1, 2]), [2]);
  const b = new Parameter('b', Float32Array.from([3, 4]), [2]);
  const opt = new Adam(new Map([['a', a], ['b', b]]), { lr: 0.1, weightDecay: 0.5 });
  a.grad = Float32Array.from([1, -1]);
  opt.step();
  assert.deepEqual([...b.data], [3, 4]);
  assert.deepEqual([...opt.stateBuffers().get('b.m')!], [0, 0]);
  assert.notDeepEqual([...a.data], [1, 2]);
});

/** SGD (PyTorch convention): g += wd p; buf = mu buf + g; p -= lr buf. */
function sgdReference(init: Float32Array, grads: Float32Array[], lr: number, mu: number, wd: number): Float64Array {
  const p = Float64Array.from(init), buf = new Float64Array(p.length);
  for (const g of grads)
    for (let i = 0; i < p.length; i++) {
      let gi = g[i] + wd * p[i];
      if (mu > 0) {
        buf[i] = mu * buf[i] + gi;
        gi = buf[i];
      }
      p[i] -= lr * gi;
    }
  return p;
}

test('SGD: plain, with momentum, with weight decay, and both, against the reference', () => {
  const { init, grads } = fixture(123, 7);
  for (const [mu, wd] of [
    [0, 0],
    [0.9, 0],
    [0, 0.1],
    [0.9, 0.1],
  ]) {
    const p = new Parameter('w', init.slice(), [7]);
    const opt = new SGD(new Map([['w', p]]), { lr: 0.1, momentum: mu, weightDecay: wd });
    for (const g of grads) {
      p.grad = g.slice();
      opt.step();
    }
    assertClose(p.data, sgdReference(init, grads, 0.1, mu, wd), 1e-6, 1e-5, `SGD mu=${mu} wd=${wd}`);
    assert.equal(opt.stateBuffers().size, mu > 0 ? 1 : 0);
  }
  // Plain SGD, one step: exactly p - lr g.
  const p = new Parameter('w', Float32Array.from([1, -2]), [2]);
  p.grad = Float32Array.from([0.5, 0.25]);
  new SGD(new Map([['w', p]]), { lr: 0.2 }).step();
  assertClose(p.data, [0.9, -2.05], 1e-7, 0, 'one step');
});

/** Drives a table's gradient through real lookups: loss = sum(lookup(ids) * w). */
function touch(table: SparseEmbedding, ids: number[], w: Float32Array): void {
  const y = table.lookup(Int32Array.from(ids));
  backward(sum(mul(y, new Tensor(w, y.shape))));
}

test('SparseAdam: only touched rows (and their moments) change; summed repeated ids; L2 on touched rows; global-step bias correction', () => {
  const rows = 6, dim = 2, lr = 0.05, b1 = 0.9, b2 = 0.99, eps = 1e-8, l2 = 0.1;
  const table = new SparseEmbedding({ rows, dim }, new RandomStream(124));
  const opt = new SparseAdam(new Map([['t', table]]), { lr, beta1: b1, beta2: b2, eps, l2 });
  const rng = new RandomStream(125);
  const schedule = [
    [1, 4, 1],
    [2],
    [4, 4, 0, 1],
  ];
  const p = Float64Array.from(table.weight), m = new Float64Array(rows * dim), v = new Float64Array(rows * dim);
  schedule.forEach((ids, step) => {
    const w = rng.normal(ids.length * dim);
    const before = table.weight.slice();
    const { m: m0, v: v0 } = { m: opt.stateBuffers().get('t.m')!.slice(), v: opt.stateBuffers().get('t.v')!.slice() };
    touch(table, ids, w);
    opt.step();
    // Reference: summed gradient per distinct row, lazy Adam with the global step t.
    const g = new Map<number, number[]>();
    ids.forEach((id, i) => {
      const acc = g.get(id) ?? new Array<number>(dim).fill(0);
      for (let c = 0; c < dim; c++) acc[c] += w[i * dim + c];
      g.set(id, acc);
    });
    const t = step + 1;
    for (const [row, gr] of g)
      for (let c = 0; c < dim; c++) {
        const i = row * dim + c;
        const gi = gr[c] + l2 * p[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        p[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
      }
    const mNow = opt.stateBuffers().get('t.m')!, vNow = opt.stateBuffers().get('t.v')!;
    for (let row = 0; row < rows; row++) {
      const range = [row * dim, row * dim + dim] as const;
      if (g.has(row)) {
        assert.notDeepEqual([...table.weight.subarray(...range)], [...before.subarray(...range)], `step ${t}: touched row ${row} did not move`);
      } else {
        assert.deepEqual([...table.weight.subarray(...range)], [...before.subarray(...range)], `step ${t}: untouched row ${row} moved (L2 must not reach it)`);
        assert.deepEqual([...mNow.subarray(...range)], [...m0.subarray(...range)], `step ${t}: untouched row ${row} m changed`);
        assert.deepEqual([...vNow.subarray(...range)], [...v0.subarray(...range)], `step ${t}: untouched row ${row} v changed`);
      }
    }
    assertClose(table.weight, p, 1e-6, 1e-5, `SparseAdam step ${t}`);
    assertClose(mNow, m, 1e-7, 1e-5, `m step ${t}`);
  });
  // Row 3 and 5 were never touched: still their initial values, zero moments.
  assert.equal(opt.steps, 3);
  assert.deepEqual([...opt.stateBuffers().get('t.v')!.subarray(6, 8)], [0, 0]);
  // A step without lookups changes nothing.
  const snapshot = table.weight.slice();
  opt.step();
  assert.deepEqual(table.weight, snapshot);
});

test('SparseAdagrad: reference update with initial accumulator and L2, touched rows only', () => {
  const rows = 5, dim = 3, lr = 0.1, eps = 1e-10, l2 = 0.05, init = 0.1;
  const table = new SparseEmbedding({ rows, dim }, new RandomStream(126));
  const opt = new SparseAdagrad(new Map([['t', table]]), { lr, eps, l2, initialAccumulator: init });
  const rng = new RandomStream(127);
  const p = Float64Array.from(table.weight), acc = new Float64Array(rows * dim).fill(init);
  for (const ids of [[0, 3, 3], [3], [1, 0]]) {
    const w = rng.normal(ids.length * dim);
    const before = table.weight.slice();
    touch(table, ids, w);
    opt.step();
    const g = new Map<number, number[]>();
    ids.forEach((id, i) => {
      const a = g.get(id) ?? new Array<number>(dim).fill(0);
      for (let c = 0; c < dim; c++) a[c] += w[i * dim + c];
      g.set(id, a);
    });
    for (const [row, gr] of g)
      for (let c = 0; c < dim; c++) {
        const i = row * dim + c;
        const gi = gr[c] + l2 * p[i];
        acc[i] += gi * gi;
        p[i] -= (lr * gi) / (Math.sqrt(acc[i]) + eps);
      }
    for (let row = 0; row < rows; row++)
      if (!g.has(row)) assert.deepEqual([...table.weight.subarray(row * dim, row * dim + dim)], [...before.subarray(row * dim, row * dim + dim)]);
    assertClose(table.weight, p, 1e-6, 1e-5, 'SparseAdagrad');
    assertClose(opt.stateBuffers().get('t.acc')!, acc, 1e-6, 1e-5, 'accumulator');
  }
  // Row 2 and 4 were never touched: accumulator still at its initial value.
  assertClose(opt.stateBuffers().get('t.acc')!.subarray(6, 9), [init, init, init], 0, 1e-7, 'untouched accumulator');
});

test('optimisers: invalid hyper-parameters throw EngineError', () => {
  const params = new Map([['w', new Parameter('w', new Float32Array(1), [1])]]);
  assert.throws(() => new Adam(params, { lr: -1 }), (e: unknown) => e instanceof EngineError && /Adam lr/.test(e.message));
  assert.throws(() => new Adam(params, { weightDecay: NaN }), EngineError);
  assert.throws(() => new SGD(params, { momentum: -0.5 }), EngineError);
  assert.throws(() => new SparseAdam(new Map(), { lr: Infinity }), EngineError);
  assert.throws(() => new SparseAdagrad(new Map(), { l2: -1 }), EngineError);
});

test('clipGradNorm: one norm over dense gradients and the coalesced sparse rows, scaled by max / (norm + 1e-6) as torch, untouched below the max', () => {
  const p = new Parameter('w', Float32Array.from([0, 0]), [2]);
  const table = new SparseEmbedding({ rows: 4, dim: 2 }, new RandomStream(127));
  const opt = new SparseAdam(new Map([['t', table]]), { lr: 0.1 });
  // Row 1 looked up twice: its gradient rows sum to [2, 4] before the norm is taken.
  touch(table, [1, 1], Float32Array.from([1, 2, 1, 2]));
  p.grad = Float32Array.from([3, 0]);
  // norm = sqrt(3^2 + 2^2 + 4^2) = sqrt(29)
  const norm = clipGradNorm([p], [table], 1);
  assertClose([norm], [Math.sqrt(29)], 1e-6, 0, 'norm before clipping');
  const scale = 1 / (Math.sqrt(29) + 1e-6);
  assertClose(p.grad, [3 * scale, 0], 1e-6, 0, 'dense gradient scaled');
  const g = table.gradient()!;
  assert.deepEqual([...g.rows], [1]);
  assertClose(g.grads, [2 * scale, 4 * scale], 1e-6, 0, 'sparse rows scaled in place, kept for the optimiser');
  // The optimiser takes the clipped rows: Adam's first step moves the row by lr * sign(g).
  const before = table.weight.slice(2, 4);
  opt.step();
  assertClose(table.weight.slice(2, 4), [before[0] - 0.1, before[1] - 0.1], 1e-6, 0, 'row 1 after the step');
  assert.equal(table.gradient(), null, 'taken by the step');
  // Below the maximum nothing changes.
  p.grad = Float32Array.from([0.3, 0.4]);
  assertClose([clipGradNorm([p], [], 10)], [0.5], 1e-6, 0, 'small norm');
  assert.deepEqual([...p.grad], [...Float32Array.from([0.3, 0.4])], 'unchanged');
  assert.throws(() => clipGradNorm([p], [], -1), EngineError);
});

test('SparseEmbedding.gradient: lookups after a peek join the kept rows', () => {
  const table = new SparseEmbedding({ rows: 3, dim: 1 }, new RandomStream(128));
  touch(table, [2], Float32Array.from([1]));
  assert.deepEqual([...table.gradient()!.grads], [1]);
  touch(table, [2, 0], Float32Array.from([2, 5]));
  const g = table.takeGradient()!;
  const byRow = new Map([...g.rows].map((r, i) => [r, g.grads[i]]));
  assert.deepEqual([...byRow].sort(), [[0, 5], [2, 3]]);
  assert.equal(table.takeGradient(), null);
});

test('SparseAdam dense: every row moves every step, untouched rows by their decaying moments, as Adam on a dense table', () => {
  const rows = 3, dim = 2, lr = 0.05;
  const table = new SparseEmbedding({ rows, dim }, new RandomStream(129));
  const init = table.weight.slice();
  const opt = new SparseAdam(new Map([['t', table]]), { lr, dense: true });
  const rng = new RandomStream(130);
  const schedule = [[0, 2], [2], [], [1, 1]];
  const dense: Float32Array[] = [];
  for (const ids of schedule) {
    const w = rng.normal(ids.length * dim);
    const full = new Float32Array(rows * dim);
    ids.forEach((id, i) => { for (let d = 0; d < dim; d++) full[id * dim + d] += w[i * dim + d]; });
    dense.push(full);
    if (ids.length) touch(table, ids, w);
    opt.step();
  }
  const ref = adamReference(init, dense, { lr, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false });
  assertClose(table.weight, ref, 1e-5, 1e-5, 'dense Adam on the table');
  // Row 0 was touched in step 1 only and still moved in steps 2-4.
  assert.notEqual(table.weight[0], init[0]);
});
