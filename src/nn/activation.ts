/**
 * Activations as a layer: the stateless ones (ReLU, sigmoid, tanh), PReLU (a learned slope per
 * feature) and Dice (DIN's: a learned slope and running statistics per feature). The names here
 * are the ones configs use; the kernels' codes for them are in native/codes.h.
 */
import { Module } from '../engine/module.js';
import { constant } from '../engine/init.js';
import { dice, DiceStats, prelu, relu, sigmoid, tanh } from '../engine/ops/index.js';
import { RandomStream } from '../engine/random.js';
import { Parameter, Tensor } from '../engine/tensor.js';
import { checkInteger, checkOneOf } from './args.js';

export const ACTIVATIONS = ['relu', 'sigmoid', 'tanh', 'prelu', 'dice'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

/** Activations without parameters, which the dense kernels fuse with the bias (linear op). */
export function isStateless(kind: ActivationName): kind is 'relu' | 'sigmoid' | 'tanh' {
  return kind === 'relu' || kind === 'sigmoid' || kind === 'tanh';
}

export interface ActivationArgs {
  /** Which activation (no default: every model names its own). */
  activation: ActivationName;
  /** Features of the input's last axis: one PReLU / Dice slope (and Dice statistics) each. */
  width: number;
}

export class ActivationLayer extends Module {
  readonly kind: ActivationName;
  /** PReLU / Dice slope per feature (null for parameter-free activations); PReLU starts at 0.25, Dice at 0. */
  readonly alpha: Parameter | null = null;
  /** Dice running statistics, mean 0 and variance 1 at the start (null otherwise). */
  readonly stats: DiceStats | null = null;

  constructor(args: ActivationArgs, rng: RandomStream) {
    super();
    this.kind = checkOneOf('ActivationLayer', 'activation', args.activation, ACTIVATIONS);
    const width = checkInteger('ActivationLayer', 'width', args.width, 1);
    if (this.kind === 'prelu') this.alpha = this.param('alpha', [width], constant(0.25), rng);
    if (this.kind === 'dice') {
      this.alpha = this.param('alpha', [width], constant(0), rng);
      this.stats = { runningMean: this.buffer('running_mean', width, 0), runningVar: this.buffer('running_var', width, 1) };
    }
  }

  forward(x: Tensor): Tensor {
    switch (this.kind) {
      case 'relu': return relu(x);
      case 'sigmoid': return sigmoid(x);
      case 'tanh': return tanh(x);
      case 'prelu': return prelu(x, this.alpha!);
      case 'dice': return dice(x, this.alpha!, this.stats!, { training: this.training });
    }
  }
}
