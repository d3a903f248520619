/**
 * The ops at sizes above the kernels' parallel threshold (2^15 scalar operations, see
 * native/common.h): the other op tests use small tensors, which run on one thread, so races or
 * partition mistakes in the OpenMP paths would go unnoticed there. The finite-difference check
 * stays exact at these sizes because outputs an entry does not influence are bitwise identical in
 * the +eps and -eps evaluations (static schedules are deterministic).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../../src/engine/native.js';
import * as ops from '../../../src/engine/ops/index.js';
import { RandomStream } from '../../../src/engine/random.js';
import { Tensor } from '../../../src/engine/tensor.js';
import { assertClose, assertGradients, randn, randnAwayFromZero } from '../helpers.js';

const ROWS = 400, COLS = 96; // 38,400 values per tensor
// Few sampled entries per input: every evaluation is a parallel region, and under CPU contention
// (other processes on the cores) each region can cost milliseconds of barrier waiting.
const FEW = { samples: 6 };

test('large inputs run with more than one thread', () => {
  // Otherwise this file would test nothing beyond the small-input tests (MMCTR_THREADS=1).
  if (native.blasInfo().threads < 2) return;
  assert.ok(ROWS * COLS >= 1 << 15);
});

test('parallel: binary ops (same shape, row and column broadcast) and unary ops', () => {
  const rng = new RandomStream(171);
  const a = randn(rng, [ROWS, COLS]);
  for (const b of [randnAwayFromZero(rng, [ROWS, COLS], 0.5), randnAwayFromZero(rng, [COLS], 0.5), randnAwayFromZero(rng, [ROWS, 1], 0.5)]) {
    assertGradients(([x, y]) => ops.div(x, y), [a, b], FEW);
    const s = ops.sub(a.detach(), b.detach());
    const bc = b.shape.length === 1 ? (i: number) => b.data[i % COLS] : b.shape[1] === 1 ? (i: number) => b.data[Math.floor(i / COLS)] : (i: number) => b.data[i];
    assertClose(s.data, Array.from(a.data, (v, i) => v - bc(i)), 1e-6, 1e-6, 'sub');
  }
  assertGradients(([x]) => ops.tanh(x), [a], FEW);
});

test('parallel: linear with bias and activation (column sums over many rows)', () => {
  const rng = new RandomStream(172);
  const x = randn(rng, [2048, 24]);
  const w = randn(rng, [24, 20], true, 0.3);
  const b = randn(rng, [20]);
  assertGradients(([xi, wi, bi]) => ops.linear(xi, wi, bi, 'tanh'), [x, w, b], FEW);
});

test('parallel: softmax with mask, layerNorm, l2Normalize', () => {
  const rng = new RandomStream(173);
  const x = randn(rng, [ROWS, COLS]);
  const mask = new Tensor(Float32Array.from(rng.uniform(ROWS * COLS), (u) => (u < 0.8 ? 1 : 0)), [ROWS, COLS]);
  assertGradients(([t]) => ops.softmax(t, mask), [x], FEW);
  const g = randn(rng, [COLS]), bta = randn(rng, [COLS]);
  assertGradients(([t, gi, bi]) => ops.layerNorm(t, gi, bi), [x, g, bta], FEW);
  assertGradients(([t]) => ops.l2Normalize(t), [x], FEW);
});

test('parallel: transpose, slice, concat, sum', () => {
  const rng = new RandomStream(174);
  const x = randn(rng, [20, ROWS, 8]);
  assertGradients(([t]) => ops.transpose(t, [2, 0, 1]), [x], FEW);
  assertGradients(([t]) => ops.slice(t, 1, 7, 390), [x], FEW);
  assertGradients((ts) => ops.concat(ts, 1), [x, randn(rng, [20, 5, 8])], FEW);
  for (const axis of [0, 2]) assertGradients(([t]) => ops.sum(t, axis), [x], FEW);
});

test('parallel: prelu, dice, losses', () => {
  const rng = new RandomStream(175);
  const x = randnAwayFromZero(rng, [ROWS, COLS], 0.1);
  assertGradients(([t, a]) => ops.prelu(t, a), [x, randn(rng, [COLS], true, 0.3)], FEW);
  const stats = { runningMean: new Float32Array(COLS), runningVar: new Float32Array(COLS).fill(1) };
  assertGradients(([t, a]) => ops.dice(t, a, stats, { training: true }), [randn(rng, [ROWS, COLS]), randn(rng, [COLS], true, 0.3)], FEW);
  // Mean losses over many rows have tiny per-entry gradients: scaled by 20 so that they clear
  // the helper's non-zero check, while the float32 loss keeps the difference quotient exact to ~1e-4.
  const z = randn(rng, [8192]);
  const labels = Float32Array.from(rng.uniform(8192), (u) => (u < 0.4 ? 1 : 0));
  const weights = rng.uniform(8192, 0.5, 1.5);
  assertGradients(([t]) => ops.scale(ops.bceWithLogits(t, labels, weights), 20), [z], FEW);
  const logits = randn(rng, [2048, 16]);
  const targets = rng.ints(2048, 16);
  assertGradients(([t]) => ops.scale(ops.softmaxCrossEntropy(t, targets), 20), [logits], FEW);
});
