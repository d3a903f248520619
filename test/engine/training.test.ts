/**
 * End-to-end: tiny models that must train to a known-good loss. Each bound is justified next to
 * it; all data and initialisations are seeded, so every run sees the same numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, noGrad } from '../../src/engine/autograd.js';
import { glorotUniform, zeros } from '../../src/engine/init.js';
import { Module } from '../../src/engine/module.js';
import { add, bceWithLogits, linear, reshape, scale, slice } from '../../src/engine/ops/index.js';
import { Adam, SparseAdam } from '../../src/engine/optim.js';
import { RandomStream } from '../../src/engine/random.js';
import { SparseEmbedding } from '../../src/engine/sparse-embedding.js';
import { Parameter, Tensor } from '../../src/engine/tensor.js';

/** Mean BCE of logits in float64. */
function bce(logits: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i];
    s += Math.max(z, 0) - z * labels[i] + Math.log1p(Math.exp(-Math.abs(z)));
  }
  return s / logits.length;
}

/** Solves A x = b (small dense system, partial pivoting), float64. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/**
 * The exact minimiser of mean BCE for logistic regression (Newton / IRLS in float64 until the
 * step is below 1e-12): the "long-run reference" a correct trainer must approach.
 */
function logisticOptimum(X: Float32Array, y: Float32Array, n: number, d: number): { w: number[]; loss: number } {
  const w = new Array<number>(d + 1).fill(0); // last entry: bias
  const logit = (i: number) => w[d] + Array.from({ length: d }, (_, j) => X[i * d + j] * w[j]).reduce((s, v) => s + v, 0);
  for (let iter = 0; iter < 100; iter++) {
    const g = new Array<number>(d + 1).fill(0);
    const H = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-logit(i)));
      const xi = [...Array.from({ length: d }, (_, j) => X[i * d + j]), 1];
      for (let a = 0; a <= d; a++) {
        g[a] += ((p - y[i]) * xi[a]) / n;
        for (let b = 0; b <= d; b++) H[a][b] += (p * (1 - p) * xi[a] * xi[b]) / n;
      }
    }
    const step = solve(H, g);
    for (let a = 0; a <= d; a++) w[a] -= step[a];
    if (Math.max(...step.map(Math.abs)) < 1e-12) break;
  }
  return { w, loss: bce(Array.from({ length: n }, (_, i) => logit(i)), y) };
}

class Logistic extends Module {
  readonly w: Parameter;
  readonly b: Parameter;
  constructor(d: number, rng: RandomStream) {
    super();
    this.w = this.param('w', [d, 1], zeros, rng);
    this.b = this.param('b', [1], zeros, rng);
  }
  forward(x: Tensor): Tensor {
    return reshape(linear(x, this.w, this.b), [-1]);
  }
}

test('logistic regression reaches the Newton optimum of its convex loss, accuracy > 0.95', (t) => {
  const rng = new RandomStream(161);
  const n = 400, d = 4;
  const wTrue = [2, -3, 1.5, 0.5], bTrue = 0.5;
  const X = rng.normal(n * d);
  const noise = rng.normal(n);
  // Separable-ish: the true hyperplane with a little label noise (so the optimum is finite).
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = bTrue + 0.6 * noise[i];
    for (let j = 0; j < d; j++) s += X[i * d + j] * wTrue[j];
    y[i] = s > 0 ? 1 : 0;
  }
  const ref = logisticOptimum(X, y, n, d);

  const model = new Logistic(d, rng.fork('model'));
  const opt = new Adam(model.namedParameters(), { lr: 0.2 });
  const x = new Tensor(X, [n, d]);
  let loss = Infinity;
  for (let step = 0; step < 600; step++) {
    const l = bceWithLogits(model.forward(x), y);
    loss = l.item();
    backward(l);
    opt.step();
  }
  const logits = noGrad(() => model.forward(x)).data;
  const final = bce(logits, y);
  const accuracy = Array.from(logits).filter((z, i) => (z > 0 ? 1 : 0) === y[i]).length / n;
  t.diagnostic(`optimum ${ref.loss.toFixed(6)}, trained ${final.toFixed(6)}, gap ${(final - ref.loss).toExponential(2)}, accuracy ${accuracy}`);
  // L* is the global minimum of a convex objective, so no trainer can go below it (beyond
  // float32 round-off, 1e-5); and Adam with correct gradients gets within 2e-3 of it in 600
  // full-batch steps (observed gap: see the message). A wrong gradient direction, or a loss that
  // is not BCE, stalls far above (the zero model scores ln 2 = 0.693; L* here is about 0.086).
  assert.ok(final >= ref.loss - 1e-5, `loss ${final} is below the optimum ${ref.loss}: the loss is computed wrong`);
  assert.ok(final - ref.loss < 2e-3, `loss ${final} vs optimum ${ref.loss} (gap ${final - ref.loss})`);
  assert.ok(Math.abs(loss - final) < 1e-2, 'the reported training loss is the loss of the model');
  assert.ok(accuracy > 0.95, `accuracy ${accuracy}`);
  // The weights point where the optimum's do (cosine > 0.999).
  let dot = 0, nw = 0, nr = 0;
  for (let j = 0; j < d; j++) {
    dot += model.w.data[j] * ref.w[j];
    nw += model.w.data[j] ** 2;
    nr += ref.w[j] ** 2;
  }
  assert.ok(dot / Math.sqrt(nw * nr) > 0.999, `cosine ${dot / Math.sqrt(nw * nr)}`);
});

class Mlp extends Module {
  readonly w1: Parameter;
  readonly b1: Parameter;
  readonly w2: Parameter;
  readonly b2: Parameter;
  constructor(inDim: number, hidden: number, rng: RandomStream) {
    super();
    this.w1 = this.param('w1', [inDim, hidden], glorotUniform, rng);
    this.b1 = this.param('b1', [hidden], zeros, rng);
    this.w2 = this.param('w2', [hidden, 1], glorotUniform, rng);
    this.b2 = this.param('b2', [1], zeros, rng);
  }
  forward(x: Tensor): Tensor {
    return reshape(linear(linear(x, this.w1, this.b1, 'tanh'), this.w2, this.b2), [-1]);
  }
}

/** XOR-like data: four Gaussian clusters at (±1, ±1), label 1 where both coordinates agree. */
function xorData(rng: RandomStream, perCluster: number): { x: Tensor; y: Float32Array } {
  const n = 4 * perCluster;
  const X = new Float32Array(n * 2), y = new Float32Array(n);
  const noise = rng.normal(n * 2, 0, 0.2);
  for (let i = 0; i < n; i++) {
    const cx = i % 2 === 0 ? 1 : -1, cy = (i >> 1) % 2 === 0 ? 1 : -1;
    X[2 * i] = cx + noise[2 * i];
    X[2 * i + 1] = cy + noise[2 * i + 1];
    y[i] = cx === cy ? 1 : 0;
  }
  return { x: new Tensor(X, [n, 2]), y };
}

test('a 2-layer MLP learns XOR-like clusters to loss < 0.05; a linear model cannot', (t) => {
  const rng = new RandomStream(162);
  const { x, y } = xorData(rng, 50);
  const train = (model: { forward(x: Tensor): Tensor } & Module): number => {
    const opt = new Adam(model.namedParameters(), { lr: 0.05 });
    for (let step = 0; step < 300; step++) {
      backward(bceWithLogits(model.forward(x), y));
      opt.step();
    }
    return bce(noGrad(() => model.forward(x)).data, y);
  };
  const mlp = train(new Mlp(2, 8, rng.fork('mlp')));
  // The clusters sit 1 / 0.2 = 5 standard deviations from the axes, so the classes are separable
  // with a wide margin and the loss infimum is 0; < 0.05 means a mean correct-class probability
  // above ~0.95 on every cluster. The best linear model on XOR is stuck near ln 2 = 0.693
  // (checked below with the same budget), so the bound is only reachable through the hidden layer.
  const lin = train(new Logistic(2, rng.fork('linear')));
  t.diagnostic(`MLP loss ${mlp.toExponential(3)}, linear loss ${lin.toFixed(4)}`);
  assert.ok(mlp < 0.05, `MLP loss ${mlp}`);
  assert.ok(lin > 0.6, `a linear model fit XOR (loss ${lin}): the data are not XOR-like`);
});

class IdBias extends Module {
  readonly bias: SparseEmbedding;
  readonly w: Parameter;
  constructor(ids: number, d: number, rng: RandomStream) {
    super();
    this.bias = this.table('bias', new SparseEmbedding({ rows: ids, dim: 1 }, rng));
    this.w = this.param('w', [d, 1], zeros, rng);
  }
  forward(ids: Int32Array, x: Tensor): Tensor {
    return add(reshape(this.bias.lookup(ids), [-1]), reshape(linear(x, this.w), [-1]));
  }
}

test('a SparseEmbedding of per-id biases + dense weights reaches the exact optimum (Adam + SparseAdam with L2)', (t) => {
  const rng = new RandomStream(163);
  // 50 table rows, of which the data use 40: rows 40..49 must never move.
  const rows = 50, used = 40, d = 3, n = 2000, l2 = 1e-3;
  const biasTrue = rng.normal(used);
  const wTrue = [1, -0.5, 0.8];
  const ids = rng.ints(n, used);
  const X = rng.normal(n * d);
  const coin = rng.uniform(n);
  // Hard labels drawn from the true model, so the optimum is not an interpolating one (where
  // any gradient weighting would still have the truth as a fixed point).
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let z = biasTrue[ids[i]];
    for (let j = 0; j < d; j++) z += X[i * d + j] * wTrue[j];
    y[i] = coin[i] < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  // Reference: Newton in float64 on J = mean BCE + (l2 / 2) ||bias||^2 (the objective whose
  // gradient SparseAdam's L2 adds on touched rows; full batches touch every used row).
  const P = used + d;
  const theta = new Array<number>(P).fill(0);
  const logitOf = (i: number) => theta[ids[i]] + X[i * d] * theta[used] + X[i * d + 1] * theta[used + 1] + X[i * d + 2] * theta[used + 2];
  const objective = (logits: ArrayLike<number>, bias: ArrayLike<number>) => {
    let r = 0;
    for (let k = 0; k < used; k++) r += bias[k] ** 2;
    return bce(logits, y) + (l2 / 2) * r;
  };
  for (let iter = 0; iter < 50; iter++) {
    const g = new Array<number>(P).fill(0);
    const H = Array.from({ length: P }, () => new Array<number>(P).fill(0));
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-logitOf(i)));
      const idx = [ids[i], used, used + 1, used + 2], val = [1, X[i * d], X[i * d + 1], X[i * d + 2]];
      for (let a = 0; a < 4; a++) {
        g[idx[a]] += ((p - y[i]) * val[a]) / n;
        for (let b = 0; b < 4; b++) H[idx[a]][idx[b]] += (p * (1 - p) * val[a] * val[b]) / n;
      }
    }
    for (let k = 0; k < used; k++) {
      g[k] += l2 * theta[k];
      H[k][k] += l2;
    }
    const step = solve(H, g);
    for (let a = 0; a < P; a++) theta[a] -= step[a];
    if (Math.max(...step.map(Math.abs)) < 1e-12) break;
  }
  const best = objective(Array.from({ length: n }, (_, i) => logitOf(i)), theta);

  const model = new IdBias(rows, d, rng.fork('model'));
  const initial = model.bias.weight.slice();
  const dense = new Adam(model.namedParameters(), { lr: 0.05 });
  const sparse = new SparseAdam(model.namedTables(), { lr: 0.05, l2 });
  const x = new Tensor(X, [n, d]);
  for (let step = 0; step < 500; step++) {
    // Two lookups per step (the halves of the batch, mean of the two half-losses = full mean):
    // the table's gradient coalesces both.
    const h = n / 2;
    const first = bceWithLogits(model.forward(ids.subarray(0, h), slice(x, 0, 0, h)), y.subarray(0, h));
    const second = bceWithLogits(model.forward(ids.subarray(h), slice(x, 0, h, n)), y.subarray(h));
    backward(scale(add(first, second), 0.5));
    dense.step();
    sparse.step();
  }
  const logits = noGrad(() => model.forward(ids, x)).data;
  const final = objective(logits, model.bias.weight);
  let worst = 0;
  for (let k = 0; k < used; k++) worst = Math.max(worst, Math.abs(model.bias.weight[k] - theta[k]));
  t.diagnostic(`optimum ${best.toFixed(6)}, trained ${final.toFixed(6)}, gap ${(final - best).toExponential(2)}, worst bias error ${worst.toExponential(2)}`);
  // J* is the exact minimum of a strictly convex objective: the model cannot go below it, and
  // with correct sparse gradients (summed over ~50 occurrences of each id per batch, across two
  // lookups) and a correct SparseAdam, 500 full-batch steps converge (observed: gap ~1e-10,
  // parameters within ~1e-6 of Newton's). The bounds leave a wide margin for float32 and BLAS
  // rounding, yet a gradient that dropped or mis-summed repeated ids, or an L2 that differed
  // from the one in J, moves the optimum by far more than 5e-3.
  assert.ok(final >= best - 1e-5, `objective ${final} below the optimum ${best}`);
  assert.ok(final - best < 1e-4, `objective ${final} vs optimum ${best}`);
  assert.ok(worst < 5e-3, `largest per-id bias error against the optimum ${worst}`);
  for (let j = 0; j < d; j++) assert.ok(Math.abs(model.w.data[j] - theta[used + j]) < 5e-3, `w[${j}] = ${model.w.data[j]}, optimum ${theta[used + j]}`);
  assert.deepEqual(model.bias.weight.subarray(used), initial.subarray(used), 'rows absent from the data moved (lazy updates / L2 leaked)');
});
