import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, noGrad } from '../../src/engine/autograd.js';
import { gradCheck } from '../../src/engine/gradcheck.js';
import { native } from '../../src/engine/native.js';
import { RandomStream } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import {
  add, bmm, concat, dice, dinAttention, DinAttentionOptions, DinAttentionUnit, linear, matmul, mul, prelu,
  reshape, scale, slice, softmax, softmaxCrossEntropy, sub, symmetricInfoNCE, transpose,
} from '../../src/engine/ops/index.js';
import type { DiceStats } from '../../src/engine/ops/activation.js';

const B = 3, L = 5, D = 4;

function randn(rng: RandomStream, shape: number[], std = 1, requiresGrad = true): Tensor {
  return new Tensor(rng.normal(shape.reduce((a, b) => a * b, 1), 0, std), shape, requiresGrad);
}

/** Sample 0 has 3 valid behaviours (not a prefix), sample 1 none, sample 2 all. */
const MASK = Float32Array.from([1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);

function makeUnit(rng: RandomStream, widths: number[], withAlphas: boolean): DinAttentionUnit {
  const layers = widths.map((w, i) => ({ w: randn(rng, [i === 0 ? 4 * D : widths[i - 1], w], 0.5), b: randn(rng, [w], 0.5) }));
  const last = widths[widths.length - 1];
  return {
    w1: layers[0].w,
    b1: layers[0].b,
    hidden: layers.slice(1),
    wOut: randn(rng, [last, 1], 0.5),
    bOut: randn(rng, [1], 0.5),
    alphas: withAlphas ? widths.map((w) => new Tensor(rng.uniform(w, 0.1, 0.4), [w], true)) : undefined,
  };
}

function freshStats(widths: number[]): DiceStats[] {
  return widths.map((w) => ({ runningMean: new Float32Array(w), runningVar: new Float32Array(w).fill(1) }));
}

/** The same attention composed from unfused ops, as in the PyTorch reference. */
function composed(q: Tensor, keys: Tensor, mask: Float32Array, unit: DinAttentionUnit, opts: DinAttentionOptions, stats?: DiceStats[]) {
  const act = opts.activation ?? 'sigmoid';
  const qe = add(new Tensor(new Float32Array(B * L * D), [B, L, D]), reshape(q, [B, 1, D]));
  let h = concat([qe, keys, sub(qe, keys), mul(qe, keys)], 2);
  const layers = [{ w: unit.w1, b: unit.b1 }, ...unit.hidden];
  layers.forEach((layer, i) => {
    if (act === 'relu' || act === 'sigmoid' || act === 'tanh') h = linear(h, layer.w, layer.b, act);
    else if (act === 'prelu') h = prelu(linear(h, layer.w, layer.b), unit.alphas![i]);
    else {
      // Dice's batch statistics over the valid pairs only, as the fused op defines them.
      const z = linear(h, layer.w, layer.b);
      const width = layer.w.shape[1];
      const rows: number[] = [];
      mask.forEach((m, r) => { if (m) rows.push(r); });
      const zr = reshape(z, [B * L, width]);
      const picked = concat(rows.map((r) => slice(zr, 0, r, r + 1)), 0);
      const activated = dice(picked, unit.alphas![i], stats![i], { training: true });
      // Scatter back: masked rows get zeros (their value does not reach any output).
      const partsOut: Tensor[] = [];
      let k = 0;
      for (let r = 0; r < B * L; r++) partsOut.push(mask[r] ? slice(activated, 0, k, ++k) : new Tensor(new Float32Array(width), [1, width]));
      h = reshape(concat(partsOut, 0), [B, L, width]);
    }
  });
  const s = reshape(linear(h, unit.wOut, unit.bOut), [B, L]);
  const maskT = new Tensor(mask, [B, L]);
  const weights = opts.softmax ? softmax(s, maskT) : mul(s, maskT);
  const pooled = reshape(bmm(reshape(weights, [B, 1, L]), keys), [B, D]);
  return { weights, pooled };
}

function flat(r: { weights: Tensor; pooled: Tensor }): Tensor {
  return concat([reshape(r.weights, [B * L]), reshape(r.pooled, [B * D])], 0);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    assert.ok(err <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function allInputs(q: Tensor, keys: Tensor, unit: DinAttentionUnit): Tensor[] {
  return [q, keys, unit.w1, unit.b1, ...unit.hidden.flatMap((l) => [l.w, l.b]), unit.wOut, unit.bOut, ...(unit.alphas ?? [])];
}

function gradsOf(inputs: Tensor[]): Float32Array[] {
  return inputs.map((t) => Float32Array.from(t.grad ?? new Float32Array(t.size)));
}

const CASES: { name: string; opts: DinAttentionOptions; widths: number[] }[] = [
  { name: 'sigmoid', opts: { activation: 'sigmoid' }, widths: [6, 5] },
  { name: 'relu + softmax', opts: { activation: 'relu', softmax: true }, widths: [6, 5] },
  { name: 'tanh + softmax, three layers', opts: { activation: 'tanh', softmax: true }, widths: [6, 5, 3] },
  { name: 'prelu, one layer', opts: { activation: 'prelu' }, widths: [7] },
  { name: 'dice', opts: { activation: 'dice' }, widths: [6, 5] },
];

for (const { name, opts, widths } of CASES) {
  test(`dinAttention (${name}) matches the composed ops, forward and backward`, () => {
    const rng = new RandomStream(11);
    const q = randn(rng, [B, D]);
    const keys = randn(rng, [B, L, D]);
    const unit = makeUnit(rng, widths, opts.activation === 'prelu' || opts.activation === 'dice');
    const inputs = allInputs(q, keys, unit);
    const seed = rng.uniform(B * L + B * D, -1, 1);

    inputs.forEach((t) => (t.grad = null));
    const fused = dinAttention(q, keys, MASK, { ...unit, diceStats: freshStats(widths) }, opts);
    backward(flat(fused), seed);
    const gFused = gradsOf(inputs);

    inputs.forEach((t) => (t.grad = null));
    const ref = composed(q, keys, MASK, unit, opts, freshStats(widths));
    backward(flat(ref), seed);
    const gRef = gradsOf(inputs);

    assertClose(fused.weights.data, ref.weights.data, 1e-4, 'weights');
    assertClose(fused.pooled.data, ref.pooled.data, 1e-4, 'pooled');
    for (let i = 0; i < D; i++) assert.equal(fused.pooled.data[D + i], 0, 'a sample without behaviours pools to 0');
    gFused.forEach((g, i) => assertClose(g, gRef[i], 2e-4, `gradient of input ${i}`));
    gFused.forEach((g, i) => assert.ok(g.some((v) => v !== 0), `input ${i} received a zero gradient`));
  });

  test(`dinAttention (${name}) passes a finite-difference gradient check`, () => {
    const rng = new RandomStream(5);
    const q = randn(rng, [B, D]);
    const keys = randn(rng, [B, L, D]);
    const unit = makeUnit(rng, widths, opts.activation === 'prelu' || opts.activation === 'dice');
    const inputs = allInputs(q, keys, unit);
    const nHidden = unit.hidden.length;
    const rebuild = (xs: Tensor[]): DinAttentionUnit => {
      let k = 2;
      const w1 = xs[k++], b1 = xs[k++];
      const hidden = Array.from({ length: nHidden }, () => ({ w: xs[k++], b: xs[k++] }));
      const wOut = xs[k++], bOut = xs[k++];
      const alphas = unit.alphas ? unit.alphas.map(() => xs[k++]) : undefined;
      return { w1, b1, hidden, wOut, bOut, alphas, diceStats: freshStats(widths) };
    };
    const r = gradCheck((xs) => flat(dinAttention(xs[0], xs[1], MASK, rebuild(xs), opts)), inputs, { eps: 1e-2, samples: 40 });
    assert.ok(r.maxError < 2e-2, JSON.stringify(r));
  });
}

test('dinAttention without grad records nothing and agrees with the taped forward', () => {
  const rng = new RandomStream(2);
  const q = randn(rng, [B, D]);
  const keys = randn(rng, [B, L, D]);
  const unit = makeUnit(rng, [4], false);
  const a = noGrad(() => dinAttention(q, keys, MASK, unit));
  assert.equal(a.weights.requiresGrad, false);
  const b = dinAttention(q, keys, MASK, unit);
  assert.deepEqual(a.weights.data, b.weights.data);
  assert.deepEqual(a.pooled.data, b.pooled.data);
});

test('dinAttention: two ops on one tape and repeated steps keep their scratch buffers apart', () => {
  const rng = new RandomStream(8);
  const q1 = randn(rng, [B, D]), q2 = randn(rng, [B, D]);
  const k1 = randn(rng, [B, L, D]), k2 = randn(rng, [B, L, D]);
  const unit = makeUnit(rng, [6, 5], false);
  const inputs = [q1, q2, k1, k2, ...allInputs(q1, k1, unit).slice(2)];
  const seed = rng.uniform(B * L + B * D, -1, 1);
  const single = (q: Tensor, k: Tensor): Float32Array[] => {
    inputs.forEach((t) => (t.grad = null));
    backward(flat(dinAttention(q, k, MASK, unit)), seed);
    return gradsOf(inputs);
  };
  const g1 = single(q1, k1), g2 = single(q2, k2);
  for (let round = 0; round < 3; round++) {
    inputs.forEach((t) => (t.grad = null));
    const both = add(flat(dinAttention(q1, k1, MASK, unit)), flat(dinAttention(q2, k2, MASK, unit)));
    noGrad(() => dinAttention(q2, k1, MASK, unit)); // takes and returns scratch in between
    backward(both, seed);
    gradsOf(inputs).forEach((g, i) => assertClose(g, g1[i].map((v, j) => v + g2[i][j]), 1e-5, `round ${round}, input ${i}`));
  }
});

test('dinAttention and symmetricInfoNCE give bit-identical gradients run after run (parallel sizes)', () => {
  const rng = new RandomStream(12);
  const Bb = 256, Lb = 40, Db = 16;
  const q = randn(rng, [Bb, Db]), keys = randn(rng, [Bb, Lb, Db]);
  const mask = new Float32Array(Bb * Lb);
  const lengths = rng.ints(Bb, Lb);
  for (let b = 0; b < Bb; b++) mask.fill(1, b * Lb, b * Lb + 1 + lengths[b]);
  const unit: DinAttentionUnit = {
    w1: randn(rng, [4 * Db, 12], 0.3), b1: randn(rng, [12], 0.1), hidden: [{ w: randn(rng, [12, 6], 0.3), b: randn(rng, [6], 0.1) }],
    wOut: randn(rng, [6, 1], 0.3), bOut: randn(rng, [1], 0.1),
  };
  const z1 = randn(rng, [512, 32], 0.2), z2 = randn(rng, [512, 32], 0.2);
  const inputs = [q, keys, unit.w1, unit.b1, unit.hidden[0].w, unit.hidden[0].b, unit.wOut, unit.bOut, z1, z2];
  const seed = rng.uniform(Bb * Lb + Bb * Db, -1, 1);
  const run = (): Float32Array[] => {
    inputs.forEach((t) => (t.grad = null));
    const r = dinAttention(q, keys, mask, unit, { softmax: true });
    backward(concat([reshape(r.weights, [Bb * Lb]), reshape(r.pooled, [Bb * Db])], 0), seed);
    backward(symmetricInfoNCE(z1, z2, 0.1));
    return gradsOf(inputs);
  };
  const first = run();
  for (let i = 0; i < 4; i++) run().forEach((g, j) => assert.deepEqual(g, first[j], `input ${j} differs on run ${i + 2}`));
});

test('dinAttention with sharedKeys (one [1, L, D] copy of the behaviours) equals the general path for every activation, raw and softmax, serial and parallel', () => {
  for (const [Bs, Ls, Ds, widths] of [[37, 9, 4, [6, 3]], [64, 40, 16, [32, 16]]] as const) sharedKeysCase(Bs, Ls, Ds, widths);
});

function sharedKeysCase(Bs: number, Ls: number, Ds: number, widths: readonly number[]): void {
  const rng = new RandomStream(41);
  // Every sample: behaviour 1 masked, the rest valid (not a prefix), as a ranking request's shared mask.
  const mask = new Float32Array(Bs * Ls).fill(1);
  for (let b = 0; b < Bs; b++) mask[b * Ls + 1] = 0;
  const one = rng.normal(Ls * Ds);
  const repeated = new Float32Array(Bs * Ls * Ds);
  for (let b = 0; b < Bs; b++) repeated.set(one, b * Ls * Ds);
  const q = new Tensor(rng.normal(Bs * Ds), [Bs, Ds]);
  for (const activation of ['sigmoid', 'relu', 'prelu', 'dice'] as const)
    for (const softmax of [false, true]) {
      const layers = widths.map((w, i) => ({ w: new Tensor(rng.normal((i === 0 ? 4 * Ds : widths[i - 1]) * w, 0, 0.5), [i === 0 ? 4 * Ds : widths[i - 1], w]), b: new Tensor(rng.normal(w, 0, 0.5), [w]) }));
      const unit: DinAttentionUnit = {
        w1: layers[0].w, b1: layers[0].b, hidden: layers.slice(1),
        wOut: new Tensor(rng.normal(widths[widths.length - 1], 0, 0.5), [widths[widths.length - 1], 1]), bOut: new Tensor(rng.normal(1), [1]),
        alphas: widths.map((w) => new Tensor(rng.uniform(w, 0.1, 0.4), [w])),
        diceStats: widths.map((w) => ({ runningMean: rng.normal(w, 0, 0.3), runningVar: rng.uniform(w, 0.5, 2) })),
      };
      const opts = { activation, softmax, training: false };
      const general = noGrad(() => dinAttention(q, new Tensor(repeated, [Bs, Ls, Ds]), mask, unit, opts));
      const shared = noGrad(() => dinAttention(q, new Tensor(one, [1, Ls, Ds]), mask, unit, { ...opts, sharedKeys: true }));
      // Float rounding scales with the terms summed, not with the sum: pooled[b, d] is a sum of
      // weight x key terms that may cancel.
      const scale = (name: string, i: number) => {
        if (name === 'weights') return 1 + Math.abs(general.weights.data[i]);
        const b = Math.floor(i / Ds), d = i % Ds;
        let terms = 1;
        for (let l = 0; l < Ls; l++) terms += Math.abs(general.weights.data[b * Ls + l] * one[l * Ds + d]);
        return terms;
      };
      for (const [name, a, b] of [['weights', general.weights, shared.weights], ['pooled', general.pooled, shared.pooled]] as const) {
        assert.deepEqual(a.shape, b.shape);
        for (let i = 0; i < a.size; i++) assert.ok(Math.abs(a.data[i] - b.data[i]) < 1e-5 * scale(name, i), `${activation} softmax=${softmax} ${name}[${i}]: ${a.data[i]} vs ${b.data[i]}`);
      }
      assert.equal(shared.weights.data[1], 0, 'a masked behaviour has weight 0');
    }
  // One copy of the keys without sharedKeys, or with a gradient, is a shape error.
  assert.throws(() => noGrad(() => dinAttention(q, new Tensor(one, [1, Ls, Ds]), mask, makeSharedUnit(rng, Ds), { training: false })), /do not fit/);
  const ragged = mask.slice();
  ragged[0] = 0;
  assert.throws(() => noGrad(() => dinAttention(q, new Tensor(one, [1, Ls, Ds]), ragged, makeSharedUnit(rng, Ds), { training: false, sharedKeys: true })), /one sample's behaviours/);
}

function makeSharedUnit(rng: RandomStream, dim: number): DinAttentionUnit {
  return { w1: new Tensor(rng.normal(4 * dim * 5), [4 * dim, 5]), b1: new Tensor(rng.normal(5), [5]), hidden: [], wOut: new Tensor(rng.normal(5), [5, 1]), bOut: new Tensor(rng.normal(1), [1]) };
}

test('dinAttention rejects mismatched shapes and native misuse raises errors', () => {
  const rng = new RandomStream(3);
  const q = randn(rng, [B, D]);
  const keys = randn(rng, [B, L, D]);
  const unit = makeUnit(rng, [4], false);
  assert.throws(() => dinAttention(q, keys, new Float32Array(B * L - 1), unit), /mask/);
  assert.throws(() => dinAttention(q, randn(rng, [B, L, D + 1]), MASK, unit), /keys/);
  assert.throws(() => dinAttention(q, keys, MASK, unit, { activation: 'prelu' }), /alpha/);
  const offsets = Int32Array.from([0, 1, 1, 2]);
  const badPairs = Int32Array.from([0, 0]); // the second pair is not a behaviour of sample 2
  assert.throws(() => native.dinPairs(q.data, keys.data, B, L, D, offsets, badPairs, new Float32Array(4 * D)), /pairs/);
  assert.throws(() => native.dinPairs(q.data, keys.data, B, L, D, Int32Array.from([0, 1]), badPairs, new Float32Array(4 * D)), /offsets/);
  assert.throws(() => native.biasActivationEx(new Float32Array(4), 2, 2, null, null, null, 0, 9, null, new Float32Array(4)), /activation/);
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => native.activationBackwardEx(null, f(4), f(4), 2, -2, 2, null, f(4), null, f(4)), /negative size/);
  assert.throws(() => native.dinScoresBackward(f(4), -3, f(4), f(15), keys.data, B, L, D, offsets, badPairs, false, null, null, null, f(4), null, null), /negative size/);
  assert.throws(() => native.dinCompact(MASK, -1, L, new Int32Array(4), new Int32Array(15)), /negative size/);
  assert.throws(() => native.groupSums(f(4), 2, 2, Int32Array.from([0, 2]), -1, f(4)), /negative group count/);
  assert.throws(() => native.symmetricInfoNCE(f(4), f(4), 2, 2, f(4), -2, 1, f(4), f(4)), /Q >= 0/);
  assert.throws(() => native.symmetricInfoNCE(f(4), f(4), 2, 2, null, 0, 1, f(3), null), /g holds 3/);
});

/** Symmetric InfoNCE from unfused ops: two softmax cross-entropies over z1 [z2; queue]^T / tau. */
function composedInfoNCE(z1: Tensor, z2: Tensor, tau: number, queue: Tensor | null): Tensor {
  const n = z1.shape[0];
  const targets = Int32Array.from({ length: n }, (_, i) => i);
  if (!queue) {
    const logits = scale(matmul(z1, z2, { transB: true }), 1 / tau);
    return scale(add(softmaxCrossEntropy(logits, targets), softmaxCrossEntropy(transpose(logits), targets)), 0.5);
  }
  const rows = scale(matmul(z1, concat([z2, queue], 0), { transB: true }), 1 / tau);
  const cols = scale(matmul(z2, concat([z1, queue], 0), { transB: true }), 1 / tau);
  return scale(add(softmaxCrossEntropy(rows, targets), softmaxCrossEntropy(cols, targets)), 0.5);
}

for (const withQueue of [false, true]) {
  test(`symmetricInfoNCE${withQueue ? ' with a queue' : ''} matches the composed ops and passes a gradient check`, () => {
    const rng = new RandomStream(9);
    const N = 6, d = 5, tau = 0.5;
    const z1 = randn(rng, [N, d], 0.7), z2 = randn(rng, [N, d], 0.7);
    const queue = withQueue ? randn(rng, [4, d], 0.7, false) : null;
    z1.grad = z2.grad = null;
    const fused = symmetricInfoNCE(z1, z2, tau, { queue });
    backward(fused);
    const g = [Float32Array.from(z1.grad!), Float32Array.from(z2.grad!)];
    z1.grad = z2.grad = null;
    const ref = composedInfoNCE(z1, z2, tau, queue);
    backward(ref);
    assertClose(fused.data, ref.data, 1e-5, 'loss');
    assertClose(g[0], z1.grad!, 1e-4, 'grad z1');
    assertClose(g[1], z2.grad!, 1e-4, 'grad z2');
    if (queue) assert.equal(queue.grad, null, 'the queue receives no gradient');
    const r = gradCheck(([a, b]) => symmetricInfoNCE(a, b, tau, { queue }), [z1, z2], { eps: 1e-2 });
    assert.ok(r.maxError < 1e-2, JSON.stringify(r));
  });
}

test('symmetricInfoNCE stays exact when a column lies far below the largest logit', () => {
  // Row 0 reaches logit 100 while column 2 peaks at 0.5: the one-exp fast path would underflow.
  const z1 = new Tensor(Float32Array.from([10, 0, 0, 1, 0, 1]), [3, 2], true);
  const z2 = new Tensor(Float32Array.from([10, 0, 0, 1, -10, 0.5]), [3, 2], true);
  const fused = symmetricInfoNCE(z1, z2, 1);
  backward(fused);
  const g = [Float32Array.from(z1.grad!), Float32Array.from(z2.grad!)];
  z1.grad = z2.grad = null;
  const ref = composedInfoNCE(z1, z2, 1, null);
  backward(ref);
  assert.ok(Number.isFinite(fused.item()));
  assertClose(fused.data, ref.data, 1e-5, 'loss');
  assertClose(g[0], z1.grad!, 1e-4, 'grad z1');
  assertClose(g[1], z2.grad!, 1e-4, 'grad z2');
});

test('symmetricInfoNCE on a large batch agrees with the composed ops', () => {
  const rng = new RandomStream(4);
  const N = 300, d = 16, tau = 0.07;
  const normalise = (t: Tensor): Tensor => {
    for (let i = 0; i < N; i++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += t.data[i * d + c] ** 2;
      for (let c = 0; c < d; c++) t.data[i * d + c] /= Math.sqrt(s);
    }
    return t;
  };
  const z1 = normalise(randn(rng, [N, d])), z2 = normalise(randn(rng, [N, d]));
  const fused = symmetricInfoNCE(z1, z2, tau);
  backward(fused);
  const g = [Float32Array.from(z1.grad!), Float32Array.from(z2.grad!)];
  z1.grad = z2.grad = null;
  const ref = composedInfoNCE(z1, z2, tau, null);
  backward(ref);
  assertClose(fused.data, ref.data, 1e-5, 'loss');
  assertClose(g[0], z1.grad!, 1e-4, 'grad z1');
  assertClose(g[1], z2.grad!, 1e-4, 'grad z2');
});
