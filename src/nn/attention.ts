/**
 * DIN target attention as a layer: it owns the attention unit's parameters (an MLP over
 * [q, k, q - k, q * k] -> hidden -> 1) and runs the fused engine op, which scores each
 * behaviour against the target and returns the score-weighted sum of behaviours (raw scores,
 * as in the DIN paper, or a masked softmax).
 */
import { dinAttention, DinAttentionResult, mul } from '../engine/ops/index.js';
import { RandomStream } from '../engine/random.js';
import { Parameter, Tensor } from '../engine/tensor.js';
import type { ActivationName } from './activation.js';
import { checkInteger, checkOneOf, checkWidths, LayerArgumentError } from './args.js';
import { DenseStack } from './dense.js';

export type AttentionActivationName = Exclude<ActivationName, 'tanh'>;
const ATTENTION_ACTIVATIONS: readonly AttentionActivationName[] = ['sigmoid', 'relu', 'prelu', 'dice'];

export interface TargetAttentionArgs {
  /** Width of the target and of each behaviour (the unit reads 4 x dim features per pair). */
  dim: number;
  /** Hidden widths of the attention unit, at least one layer (the CTR configs default to [64, 32] / [80, 40]). */
  hidden: readonly number[];
  /** Activation of the unit's hidden layers (DIN's reference unit: sigmoid; the CTR configs: dice). */
  activation: AttentionActivationName;
  /** Weights are the raw scores (false, DIN) or their softmax over each sample's behaviours (true). */
  softmax: boolean;
  /**
   * Padding in training: 'skip' (default: only real behaviours are scored, and Dice's batch
   * statistics cover them alone) or 'score' (FuxiCTR's DIN: every position is scored with a zero
   * key, which adds nothing to the pooled interest but enters Dice's statistics). Needs raw
   * weights (softmax false). Inference is the same either way.
   */
  padding?: 'skip' | 'score';
}

export class TargetAttention extends DenseStack {
  private readonly wOut: Parameter;
  private readonly bOut: Parameter;

  constructor(
    readonly args: TargetAttentionArgs,
    rng: RandomStream,
  ) {
    super();
    checkInteger('TargetAttention', 'dim', args.dim, 1);
    checkWidths('TargetAttention', 'hidden', args.hidden);
    if (args.hidden.length === 0) throw new LayerArgumentError('TargetAttention', 'hidden', 'at least one width (the fused kernel needs a hidden layer)', args.hidden);
    checkOneOf('TargetAttention', 'activation', args.activation, ATTENTION_ACTIVATIONS);
    if (typeof args.softmax !== 'boolean') throw new LayerArgumentError('TargetAttention', 'softmax', 'true or false', args.softmax);
    checkOneOf('TargetAttention', 'padding', args.padding ?? 'skip', ['skip', 'score']);
    if (args.padding === 'score' && args.softmax) throw new LayerArgumentError('TargetAttention', 'padding', "'skip' with softmax weights (a softmax over padding would give it weight)", args.padding);
    const width = this.addHidden(4 * args.dim, args.hidden, args.activation, rng);
    ({ w: this.wOut, b: this.bOut } = this.addLinear('out', width, 1, rng));
  }

  /**
   * Weights [B, L] and interest vector [B, D] for target q [B, D] and behaviours keys [B, L, D];
   * `sharedKeys`: every sample has the same behaviours (a ranking request), which inference
   * computes faster.
   */
  attend(q: Tensor, keys: Tensor, mask: Float32Array, sharedKeys = false): DinAttentionResult {
    if (this.args.padding === 'score' && this.training && !sharedKeys) {
      // Every position a pair: padding keys zeroed (their weight then multiplies nothing).
      const [B, L] = keys.shape;
      keys = mul(keys, new Tensor(mask.map((m) => (m ? 1 : 0)), [B, L, 1]));
      mask = new Float32Array(mask.length).fill(1);
    }
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
