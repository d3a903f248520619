/** Activations with parameters or state: PReLU, Dice, and dropout. */
import { gradOf, record } from '../autograd.js';
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

/**
 * Dice (DIN, Zhou et al. 2018): y = x * (alpha + p (1 - alpha)), p = sigmoid of x standardised
 * by batch statistics in training and by running statistics otherwise.
 */
export function dice(x: Tensor, alpha: Tensor, stats: DiceStats, { training, eps = 1e-8, momentum = 0.01 }: DiceOptions): Tensor {
  const [rows, cols] = rowsCols(x.shape);
  if (alpha.size !== cols || stats.runningMean.length !== cols)
    throw new ShapeError(`dice: alpha and statistics need ${cols} values, got ${alpha.size} and ${stats.runningMean.length}`);
  const out = output(x.shape, [x, alpha]);
  const mean = new Float32Array(cols), rstd = new Float32Array(cols), p = new Float32Array(rows * cols);
  native.dice(x.data, rows, cols, alpha.data, eps, training, stats.runningMean, stats.runningVar, momentum, out.data, mean, rstd, p);
  if (out.requiresGrad) {
    record(() => {
      if (!out.grad) return;
      native.diceBackward(x.data, rows, cols, alpha.data, mean, rstd, p, out.grad, x.requiresGrad ? gradOf(x) : null, alpha.requiresGrad ? gradOf(alpha) : null, training);
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
