/**
 * DIN target attention as a model part: it owns the attention unit's parameters (an MLP over
 * [q, k, q - k, q * k] -> hidden -> 1) and runs the fused engine op, which scores each
 * behaviour against the target and returns the score-weighted sum of behaviours (raw scores,
 * as in the DIN paper, or a masked softmax).
 */
import { Module } from '../../engine/module.js';
import { glorotUniform, zeros } from '../../engine/init.js';
import { dinAttention, DinAttentionResult } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { Parameter, Tensor } from '../../engine/tensor.js';
import type { ActivationName } from '../config.js';
import { ActivationLayer } from './activation.js';

export interface TargetAttentionArgs {
  dim: number;
  hidden: readonly number[];
  activation: Exclude<ActivationName, 'tanh'>;
  softmax: boolean;
}

export class TargetAttention extends Module {
  private readonly layers: { w: Parameter; b: Parameter; act: ActivationLayer }[] = [];
  private readonly wOut: Parameter;
  private readonly bOut: Parameter;

  constructor(
    readonly args: TargetAttentionArgs,
    rng: RandomStream,
  ) {
    super();
    let width = 4 * args.dim;
    args.hidden.forEach((h, i) => {
      this.layers.push({
        w: this.param(`w${i}`, [width, h], glorotUniform, rng),
        b: this.param(`b${i}`, [h], zeros, rng),
        act: this.child(`act${i}`, new ActivationLayer(args.activation, h, rng)),
      });
      width = h;
    });
    this.wOut = this.param('w_out', [width, 1], glorotUniform, rng);
    this.bOut = this.param('b_out', [1], zeros, rng);
  }

  /**
   * Weights [B, L] and interest vector [B, D] for target q [B, D] and behaviours keys [B, L, D];
   * `sharedKeys`: every sample has the same behaviours (a ranking request), which inference
   * computes faster.
   */
  attend(q: Tensor, keys: Tensor, mask: Float32Array, sharedKeys = false): DinAttentionResult {
    const [first, ...rest] = this.layers;
    const withAlpha = this.args.activation === 'prelu' || this.args.activation === 'dice';
    return dinAttention(
      q,
      keys,
      mask,
      {
        w1: first.w,
        b1: first.b,
        hidden: rest.map((l) => ({ w: l.w, b: l.b })),
        wOut: this.wOut,
        bOut: this.bOut,
        alphas: withAlpha ? this.layers.map((l) => l.act.alpha!) : undefined,
        diceStats: this.args.activation === 'dice' ? this.layers.map((l) => l.act.stats!) : undefined,
      },
      { activation: this.args.activation, softmax: this.args.softmax, training: this.training, sharedKeys },
    );
  }

  forward(q: Tensor, keys: Tensor, mask: Float32Array, sharedKeys = false): Tensor {
    return this.attend(q, keys, mask, sharedKeys).pooled;
  }
}
