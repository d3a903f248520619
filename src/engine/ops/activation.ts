/** Activations with parameters or state: PReLU, Dice, and dropout. */
import { gradOf, record } from '../autograd.js';
import { crossRankSum } from '../cross-rank.js';
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import { RandomStream } from '../random.js';
import { Tensor } from '../tensor.js';
import { output, rowsCols } from './common.js';
import { mul } from './elementwise.js';

/** max(x, 0) + alpha * min(x, 0); alpha has one value or one per feature (last axis). */
export function prelu(x: Tensor, alpha: Tensor): Tensor {
  const [rows, cols] = rowsCols(x.shape);
  if (alpha.size !== 1 && alpha.size !== cols) throw new ShapeError(`prelu: alpha needs 1 or ${cols} values, got ${alpha.size}`);
  const out = output(x.shape, [x, alpha]);
  native.prelu(x.data, alpha.data, rows, cols, out.data);
  if (out.requiresGrad) {
    record(() => {
      if (!out.grad) return;
      native.preluBackward(x.data, alpha.data, out.grad, rows, cols, x.requiresGrad ? gradOf(x) : null, alpha.requiresGrad ? gradOf(alpha) : null);
    });
  }
  return out;
}

/** Running statistics of a Dice activation (used at inference, updated in training). */
export interface DiceStats {
  runningMean: Float32Array;
  runningVar: Float32Array;
}

export interface DiceOptions {
  training: boolean;
  eps?: number;
  momentum?: number;
}

/** What Dice's forward pass keeps for its backward pass. */
export interface DiceSaved {
  mean: Float32Array;
  rstd: Float32Array;
  /** [rows, cols] sigmoid of the standardised input. */
  p: Float32Array;
  /** Rows the batch statistics cover: this batch's, or the global batch's in a data-parallel run. */
  count: number;
}

/**
 * Dice's kernels over x [rows, cols], the one place both the Dice op and the fused attention
 * call. Training in a data-parallel run (engine/cross-rank.ts), the batch statistics and the
 * backward pass's reductions are summed over ranks first, so each rank standardises by the
 * global batch's statistics, as one process training the whole batch does (SyncBatchNorm's rule).
 */
export function diceForward(x: Float32Array, rows: number, cols: number, alpha: Float32Array, stats: DiceStats, training: boolean, eps: number, momentum: number, y: Float32Array, p: Float32Array): DiceSaved {
  const mean = new Float32Array(cols), rstd = new Float32Array(cols);
  const sum = training ? crossRankSum() : null;
  let moments: Float64Array | null = null;
  if (sum) {
    moments = new Float64Array(2 * cols + 1);
    native.diceMoments(x, rows, cols, moments);
    sum(moments);
  }
  native.dice(x, rows, cols, alpha, eps, training, stats.runningMean, stats.runningVar, momentum, y, mean, rstd, p, moments);
  return { mean, rstd, p, count: moments ? moments[2 * cols] : rows };
}

/** Accumulates Dice's input gradient into gx and alpha's into galpha (see diceForward). */
export function diceBackward(x: Float32Array, rows: number, cols: number, alpha: Float32Array, saved: DiceSaved, training: boolean, gy: Float32Array, gx: Float32Array | null, galpha: Float32Array | null): void {
  const sum = training && gx ? crossRankSum() : null;
  let sums: Float64Array | null = null;
  if (sum) {
    sums = new Float64Array(2 * cols);
    native.diceBackwardSums(x, rows, cols, alpha, saved.mean, saved.rstd, saved.p, gy, sums);
    sum(sums);
  }
  native.diceBackward(x, rows, cols, alpha, saved.mean, saved.rstd, saved.p, gy, gx, galpha, training, sums, saved.count);
}

/**
 * Dice (DIN, Zhou et al. 2018): y = x * (alpha + p (1 - alpha)), p = sigmoid of x standardised
 * by batch statistics in training and by running statistics otherwise.
 */
export function dice(x: Tensor, alpha: Tensor, stats: DiceStats, { training, eps = 1e-8, momentum = 0.01 }: DiceOptions): Tensor {
  const [rows, cols] = rowsCols(x.shape);
  if (alpha.size !== cols || stats.runningMean.length !== cols)
    throw new ShapeError(`dice: alpha and statistics need ${cols} values, got ${alpha.size} and ${stats.runningMean.length}`);
  const out = output(x.shape, [x, alpha]);
  const saved = diceForward(x.data, rows, cols, alpha.data, stats, training, eps, momentum, out.data, new Float32Array(rows * cols));
  if (out.requiresGrad) {
    record(() => {
      if (!out.grad) return;
      diceBackward(x.data, rows, cols, alpha.data, saved, training, out.grad, x.requiresGrad ? gradOf(x) : null, alpha.requiresGrad ? gradOf(alpha) : null);
    });
  }
  return out;
}

/** Inverted dropout: zeroes each value with probability `rate` and scales the rest by 1/(1-rate). */
export function dropout(x: Tensor, rate: number, rng: RandomStream, training: boolean): Tensor {
  if (!training || rate === 0) return x;
  if (!(rate > 0 && rate < 1)) throw new ShapeError(`dropout: rate must be in [0, 1), got ${rate}`);
  return mul(x, new Tensor(rng.dropoutMask(x.size, 1 - rate), x.shape));
}
