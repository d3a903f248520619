/** The over-MLP (and any stack of dense layers): linear -> activation -> dropout, then an optional linear output. */
import { Module } from '../../engine/module.js';
import { glorotUniform, zeros } from '../../engine/init.js';
import { dropout, linear } from '../../engine/ops/index.js';
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
    let width = args.input;
    args.hidden.forEach((h, i) => {
      const w = this.param(`w${i}`, [width, h], glorotUniform, rng);
      const b = this.param(`b${i}`, [h], zeros, rng);
      const act = this.child(`act${i}`, new ActivationLayer(args.activation, h, rng));
      this.layers.push({ w, b, act });
      width = h;
    });
    if (args.output > 0) this.out = { w: this.param('w_out', [width, args.output], glorotUniform, rng), b: this.param('b_out', [args.output], zeros, rng) };
    this.dropoutRng = rng.fork('dropout');
  }

  get outputWidth(): number {
    return this.args.output > 0 ? this.args.output : (this.args.hidden.at(-1) ?? this.args.input);
  }

  /** Returns the output and every hidden layer's activations (MAKE reuses them). */
  forwardWithHidden(x: Tensor): { out: Tensor; hidden: Tensor[] } {
    const hidden: Tensor[] = [];
    let h = x;
    for (const layer of this.layers) {
      // Fused bias + activation where the activation has no parameters.
      const k = layer.act.kind;
      h = k === 'relu' || k === 'sigmoid' || k === 'tanh' ? linear(h, layer.w, layer.b, k) : layer.act.forward(linear(h, layer.w, layer.b));
      h = dropout(h, this.args.dropout, this.dropoutRng, this.training);
      hidden.push(h);
    }
    return { out: this.out ? linear(h, this.out.w, this.out.b) : h, hidden };
  }

  forward(x: Tensor): Tensor {
    return this.forwardWithHidden(x).out;
  }
}
