/** An activation as a model part: stateless ones, PReLU (learned slope), Dice (learned slope + running statistics). */
import { Module } from '../../engine/module.js';
import { constant } from '../../engine/init.js';
import { dice, DiceStats, prelu, relu, sigmoid, tanh } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { Parameter, Tensor } from '../../engine/tensor.js';
import type { ActivationName } from '../config.js';

export class ActivationLayer extends Module {
  /** PReLU / Dice slope per feature (null for parameter-free activations). */
  readonly alpha: Parameter | null = null;
  /** Dice running statistics (null otherwise). */
  readonly stats: DiceStats | null = null;

  constructor(
    readonly kind: ActivationName,
    width: number,
    rng: RandomStream,
  ) {
    super();
    if (kind === 'prelu') this.alpha = this.param('alpha', [width], constant(0.25), rng);
    if (kind === 'dice') {
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
