/** The over-MLP (and any stack of dense layers): linear -> activation -> dropout, then an optional linear output. */
import { Module } from '../../engine/module.js';
import { glorotUniform, zeros } from '../../engine/init.js';
import { concat, dropout, linear } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { Parameter, Tensor } from '../../engine/tensor.js';
import type { ActivationName } from '../config.js';
import { ActivationLayer } from './activation.js';

export interface MLPArgs {
  input: number;
  hidden: readonly number[];
  activation: ActivationName;
  /** Width of a final linear layer without activation (e.g. 1 for a logit); 0 for none. */
  output: number;
  dropout: number;
  /**
   * Widths of side inputs joined to each layer's input after the first: side[i] goes beside the
   * output of hidden layer i (the last entry beside the last hidden layer, into the output layer).
   * MAKE's hidden layers and logit enter the ID model's over-MLP this way.
   */
  side?: readonly number[];
}

export class MLP extends Module {
  private readonly layers: { w: Parameter; b: Parameter; act: ActivationLayer }[] = [];
  private readonly out: { w: Parameter; b: Parameter } | null = null;
  private readonly dropoutRng: RandomStream;

  constructor(
    readonly args: MLPArgs,
    rng: RandomStream,
  ) {
    super();
    const side = (i: number) => (i > 0 ? (args.side?.[i - 1] ?? 0) : 0);
    let width = args.input;
    args.hidden.forEach((h, i) => {
      width += side(i);
      const w = this.param(`w${i}`, [width, h], glorotUniform, rng);
      const b = this.param(`b${i}`, [h], zeros, rng);
      const act = this.child(`act${i}`, new ActivationLayer(args.activation, h, rng));
      this.layers.push({ w, b, act });
      width = h;
    });
    width += side(args.hidden.length);
    if (args.output > 0) this.out = { w: this.param('w_out', [width, args.output], glorotUniform, rng), b: this.param('b_out', [args.output], zeros, rng) };
    this.dropoutRng = this.stream('dropout', rng.fork('dropout'));
  }

  get outputWidth(): number {
    return this.args.output > 0 ? this.args.output : (this.args.hidden.at(-1) ?? this.args.input);
  }

  /** Returns the output and every hidden layer's activations (MAKE reuses them); `side` as in MLPArgs.side. */
  forwardWithHidden(x: Tensor, side: readonly (Tensor | null)[] = []): { out: Tensor; hidden: Tensor[] } {
    const hidden: Tensor[] = [];
    const join = (h: Tensor, i: number) => (i > 0 && side[i - 1] ? concat([h, side[i - 1]!], 1) : h);
    let h = x;
    for (const [i, layer] of this.layers.entries()) {
      h = join(h, i);
      // Fused bias + activation where the activation has no parameters.
      const k = layer.act.kind;
      h = k === 'relu' || k === 'sigmoid' || k === 'tanh' ? linear(h, layer.w, layer.b, k) : layer.act.forward(linear(h, layer.w, layer.b));
      h = dropout(h, this.args.dropout, this.dropoutRng, this.training);
      hidden.push(h);
    }
    h = join(h, this.layers.length);
    return { out: this.out ? linear(h, this.out.w, this.out.b) : h, hidden };
  }

  forward(x: Tensor, side: readonly (Tensor | null)[] = []): Tensor {
    return this.forwardWithHidden(x, side).out;
  }
}
