/**
 * The layers of src/nn on tiny models: parameter names and shapes, a few values computed by hand,
 * defaults, and argument checks that name the layer and the argument.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noGrad } from '../../src/engine/autograd.js';
import { RandomStream } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { ActivationLayer } from '../../src/nn/activation.js';
import { LayerArgumentError } from '../../src/nn/args.js';
import { TargetAttention } from '../../src/nn/attention.js';
import { MLP } from '../../src/nn/mlp.js';
import { maskedSum } from '../../src/nn/pooling.js';

const rng = () => new RandomStream(3);
const shapes = (m: { namedParameters(): Map<string, { shape: readonly number[] }> }) => Object.fromEntries([...m.namedParameters()].map(([n, p]) => [n, [...p.shape]]));
const close = (got: ArrayLike<number>, want: readonly number[], tol = 1e-5) => {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `[${i}] ${got[i]} vs ${want[i]}`);
};

/** x [B, I] (row-major) times w [I, O] plus b [O], in plain JS. */
function dense(x: readonly number[], B: number, w: ArrayLike<number>, b: ArrayLike<number>, I: number, O: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < B; r++)
    for (let o = 0; o < O; o++) {
      let s = b[o];
      for (let i = 0; i < I; i++) s += x[r * I + i] * w[i * O + o];
      out.push(s);
    }
  return out;
}

test('MLP: parameters w0/b0/act0 ... w_out/b_out with the documented defaults; forward = relu(x W0 + b0) W_out + b_out', () => {
  const mlp = new MLP({ input: 3, hidden: [4], output: 2 }, rng());
  assert.deepEqual(shapes(mlp), { w0: [3, 4], b0: [4], w_out: [4, 2], b_out: [2] });
  assert.equal(mlp.args.activation, 'relu');
  assert.equal(mlp.args.dropout, 0);
  assert.equal(mlp.outputWidth, 2);
  const x = [0.5, -1, 2, 1, 0.25, -0.5];
  const p = mlp.namedParameters();
  const h = dense(x, 2, p.get('w0')!.data, p.get('b0')!.data, 3, 4).map((v) => Math.max(0, v));
  const want = dense(h, 2, p.get('w_out')!.data, p.get('b_out')!.data, 4, 2);
  const out = noGrad(() => mlp.forward(new Tensor(Float32Array.from(x), [2, 3])));
  assert.deepEqual(out.shape, [2, 2]);
  close(out.data, want);
});

test("MLP: outputNames 'next' numbers the output layer after the hidden ones, with the same initial values (names seed them)", () => {
  const next = new MLP({ input: 3, hidden: [4], output: 2, outputNames: 'next' }, rng());
  assert.deepEqual(shapes(next), { w0: [3, 4], b0: [4], w1: [4, 2], b1: [2] });
  const out = new MLP({ input: 3, hidden: [4], output: 2 }, rng());
  assert.deepEqual(next.namedParameters().get('w0')!.data, out.namedParameters().get('w0')!.data);
  assert.notDeepEqual(next.namedParameters().get('w1')!.data, out.namedParameters().get('w_out')!.data, 'another name, another draw');
  assert.deepEqual(shapes(new MLP({ input: 3, output: 2, outputNames: 'next' }, rng())), { w0: [3, 2], b0: [2] }, 'no hidden layer: the output is layer 0');
});

test('MLP: side inputs widen the next layer and join its input; forwardWithHidden returns every hidden layer', () => {
  const mlp = new MLP({ input: 2, hidden: [3, 2], activation: 'tanh', output: 1, side: [1, 2] }, rng());
  assert.deepEqual(shapes(mlp), { w0: [2, 3], b0: [3], w1: [4, 2], b1: [2], w_out: [4, 1], b_out: [1] });
  const x = new Tensor(Float32Array.from([1, -1, 0.5, 2]), [2, 2]);
  const s1 = new Tensor(Float32Array.from([0.3, -0.3]), [2, 1]), s2 = new Tensor(Float32Array.from([1, 0, 0, 1]), [2, 2]);
  const { out, hidden } = noGrad(() => mlp.forwardWithHidden(x, [s1, s2]));
  assert.deepEqual(out.shape, [2, 1]);
  assert.deepEqual(hidden.map((h) => h.shape), [[2, 3], [2, 2]]);
  const p = mlp.namedParameters();
  const h1 = hidden[0].data, h2 = hidden[1].data;
  const in2 = [h1[0], h1[1], h1[2], 0.3, h1[3], h1[4], h1[5], -0.3];
  close(h2, dense(in2, 2, p.get('w1')!.data, p.get('b1')!.data, 4, 2).map(Math.tanh));
  const in3 = [h2[0], h2[1], 1, 0, h2[2], h2[3], 0, 1];
  close(out.data, dense(in3, 2, p.get('w_out')!.data, p.get('b_out')!.data, 4, 1));
});

test('MLP: zeroTail and zeroSides start the tail input rows and the side rows at zero, every other weight as without them', () => {
  const args = { input: 4, hidden: [3, 2], activation: 'tanh' as const, output: 1, side: [1, 2] };
  const plain = new MLP(args, rng()).namedParameters();
  const quiet = new MLP({ ...args, zeroTail: 2, zeroSides: true }, rng()).namedParameters();
  // Rows (inputs) that start at zero: w0's last 2 of 4, w1's last 1 of 4 (3 hidden + 1 side), w_out's last 2 of 4.
  const zeroRows: Record<string, number[]> = { w0: [2, 3], w1: [3], w_out: [2, 3] };
  for (const [name, p] of plain) {
    const q = quiet.get(name)!, cols = p.shape.length === 2 ? p.shape[1] : p.size;
    for (let i = 0; i < p.size; i++) {
      const zero = p.shape.length === 2 && (zeroRows[name] ?? []).includes(Math.floor(i / cols));
      assert.equal(q.data[i], zero ? 0 : p.data[i], `${name}[${i}]`);
    }
  }
  assert.ok([...plain.get('w0')!.data.subarray(6)].some((v) => v !== 0), 'Glorot rows are not zero');
  // Without zeroSides only the tail rows of the first layer start at zero.
  const tailOnly = new MLP({ ...args, zeroTail: 1 }, rng()).namedParameters();
  assert.deepEqual([...tailOnly.get('w0')!.data.subarray(9)], [0, 0, 0]);
  assert.deepEqual([...tailOnly.get('w1')!.data], [...plain.get('w1')!.data]);
});

test('MLP: dropout acts in training only (eval returns the same as rate 0)', () => {
  const x = new Tensor(new RandomStream(5).normal(8 * 6), [8, 6]);
  const noDrop = new MLP({ input: 6, hidden: [16], output: 0 }, rng()).eval();
  const drop = new MLP({ input: 6, hidden: [16], output: 0, dropout: 0.5 }, rng());
  drop.eval();
  assert.deepEqual(noGrad(() => drop.forward(x)).data, noGrad(() => noDrop.forward(x)).data);
  drop.train();
  const trained = noGrad(() => drop.forward(x)).data, kept = noGrad(() => noDrop.forward(x)).data;
  let zeroed = 0;
  trained.forEach((v, i) => {
    if (v === 0 && kept[i] !== 0) zeroed++;
    else assert.ok(Math.abs(v - 2 * kept[i]) < 1e-5, 'kept units are scaled by 1 / (1 - rate)');
  });
  assert.ok(zeroed > 10, `${zeroed} units dropped`);
});

test('MLP and ActivationLayer: bad arguments throw LayerArgumentError naming the layer and the argument', () => {
  const bad = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof LayerArgumentError && re.test(e.message));
  bad(() => new MLP({ input: 0, output: 1 }, rng()), /^MLP: input must be a positive integer, got 0$/);
  bad(() => new MLP({ input: 2, hidden: [3, 0], output: 1 }, rng()), /^MLP: hidden must be a list of positive integers, got \[3, 0\]$/);
  bad(() => new MLP({ input: 2, hidden: [3], dropout: 1 }, rng()), /^MLP: dropout must be in \[0, 1\), got 1$/);
  bad(() => new MLP({ input: 2, hidden: [3], activation: 'gelu' as never }, rng()), /^MLP: activation must be one of relu, sigmoid, tanh, prelu, dice, got 'gelu'$/);
  bad(() => new MLP({ input: 2, hidden: [3], output: 1, side: [1, 1] }, rng()), /^MLP: side must be at most 1 non-negative integers/);
  bad(() => new MLP({ input: 2, hidden: [3], output: 1, zeroTail: 3 }, rng()), /^MLP: zeroTail must be at most the input width 2/);
  bad(() => new MLP({ input: 2 }, rng()), /^MLP: output must be positive when there is no hidden layer/);
  bad(() => new ActivationLayer({ activation: 'prelu', width: 0 }, rng()), /^ActivationLayer: width must be a positive integer, got 0$/);
  bad(() => new TargetAttention({ dim: 2, hidden: [], activation: 'sigmoid', softmax: false }, rng()), /^TargetAttention: hidden must be at least one width/);
  bad(() => new TargetAttention({ dim: 2, hidden: [4], activation: 'tanh' as never, softmax: false }, rng()), /^TargetAttention: activation must be one of sigmoid, relu, prelu, dice, got 'tanh'$/);
});

test('ActivationLayer: PReLU starts at slope 0.25, Dice at 0 with running mean 0 and variance 1; values', () => {
  const x = new Tensor(Float32Array.from([-2, 1, 0.5, -0.5]), [2, 2]);
  const prelu = new ActivationLayer({ activation: 'prelu', width: 2 }, rng());
  assert.deepEqual([...prelu.alpha!.data], [0.25, 0.25]);
  close(noGrad(() => prelu.forward(x)).data, [-0.5, 1, 0.5, -0.125]);
  const dice = new ActivationLayer({ activation: 'dice', width: 2 }, rng()).eval();
  assert.deepEqual([...dice.alpha!.data], [0, 0]);
  assert.deepEqual([...dice.stats!.runningMean], [0, 0]);
  assert.deepEqual([...dice.stats!.runningVar], [1, 1]);
  // alpha = 0, running statistics (0, 1): y = x * sigmoid(x).
  close(noGrad(() => dice.forward(x)).data, [-2, 1, 0.5, -0.5].map((v) => v / (1 + Math.exp(-v))), 1e-4);
  const relu = new ActivationLayer({ activation: 'relu', width: 2 }, rng());
  assert.equal(relu.alpha, null);
  assert.deepEqual([...noGrad(() => relu.forward(x)).data], [0, 1, 0.5, 0]);
});

test('TargetAttention: unit parameters over [q, k, q - k, q * k]; pooled = sum of raw scores x behaviours over the mask', () => {
  const D = 2, L = 3;
  const att = new TargetAttention({ dim: D, hidden: [3], activation: 'sigmoid', softmax: false }, rng()).eval();
  assert.deepEqual(shapes(att), { w0: [4 * D, 3], b0: [3], w_out: [3, 1], b_out: [1] });
  const q = [0.5, -1];
  const keys = [1, 0, -0.5, 2, 0.25, 0.25];
  const mask = Float32Array.from([1, 1, 0]);
  const r = noGrad(() => att.attend(new Tensor(Float32Array.from(q), [1, D]), new Tensor(Float32Array.from(keys), [1, L, D]), mask));
  assert.deepEqual(r.pooled.shape, [1, D]);
  const p = att.namedParameters();
  const score = (k: number[]) => {
    const feats = [...q, ...k, q[0] - k[0], q[1] - k[1], q[0] * k[0], q[1] * k[1]];
    const h = dense(feats, 1, p.get('w0')!.data, p.get('b0')!.data, 4 * D, 3).map((v) => 1 / (1 + Math.exp(-v)));
    return dense(h, 1, p.get('w_out')!.data, p.get('b_out')!.data, 3, 1)[0];
  };
  const s0 = score([1, 0]), s1 = score([-0.5, 2]);
  close(r.weights.data, [s0, s1, 0], 1e-4);
  close(r.pooled.data, [s0 * 1 + s1 * -0.5, s0 * 0 + s1 * 2], 1e-4);
});

test('maskedSum: sums the behaviours whose mask is 1', () => {
  const h = new Tensor(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [2, 2, 2]);
  const out = maskedSum(h, Float32Array.from([1, 0, 1, 1]));
  assert.deepEqual(out.shape, [2, 2]);
  assert.deepEqual([...out.data], [1, 2, 12, 14]);
});

test("TargetAttention padding 'score' (FuxiCTR's): the same interest as 'skip' without batch statistics and at inference; with Dice in training the statistics include the padding, so the interest moves; softmax refused", () => {
  const B = 3, L = 4, D = 2;
  const q = new Tensor(Float32Array.from({ length: B * D }, (_, i) => Math.sin(i + 1)), [B, D]);
  // Padding keys hold a row that is not zero (the OOV row): 'score' must zero them itself.
  const keys = new Tensor(Float32Array.from({ length: B * L * D }, (_, i) => Math.cos(i * 0.7)), [B, L, D]);
  const mask = Float32Array.from([1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0]);
  const pooled = (activation: 'relu' | 'dice', padding: 'skip' | 'score', training: boolean) => {
    const att = new TargetAttention({ dim: D, hidden: [5, 3], activation, softmax: false, padding }, rng());
    att.train(training);
    return [...noGrad(() => att.attend(q, keys, mask).pooled).data];
  };
  close(pooled('relu', 'score', true), pooled('relu', 'skip', true));
  close(pooled('dice', 'score', false), pooled('dice', 'skip', false));
  const moved = pooled('dice', 'score', true).some((v, i) => Math.abs(v - pooled('dice', 'skip', true)[i]) > 1e-4);
  assert.ok(moved, "Dice's training statistics over padding change the interest");
  assert.throws(() => new TargetAttention({ dim: D, hidden: [3], activation: 'dice', softmax: true, padding: 'score' }, rng()), /TargetAttention: padding must be 'skip' with softmax weights/);
});
