/** The MLP (the over-MLPs of the CTR models, the SCL projection towers): linear -> activation -> dropout per hidden layer, then an optional linear output. */
import { concat, dropout, linear } from '../engine/ops/index.js';
import { RandomStream } from '../engine/random.js';
import { Tensor } from '../engine/tensor.js';
import { ActivationName, ACTIVATIONS, isStateless } from './activation.js';
import { checkInteger, checkOneOf, checkRate, checkWidths, LayerArgumentError } from './args.js';
import { Dense, DenseStack } from './dense.js';

export interface MLPArgs {
  /** Width of the input's last axis. */
  input: number;
  /** Widths of the hidden layers, each linear -> activation -> dropout. Default: none (the output layer alone). */
  hidden?: readonly number[];
  /** Activation of every hidden layer. Default 'relu'. */
  activation?: ActivationName;
  /** Width of a final linear layer without activation (e.g. 1 for a logit); 0 for none. Default 0. */
  output?: number;
  /** Dropout rate after every hidden layer's activation, in training only; in [0, 1). Default 0. */
  dropout?: number;
  /**
   * Widths of side inputs joined to each layer's input after the first: side[i] goes beside the
   * output of hidden layer i (the last entry beside the last hidden layer, into the output layer).
   * MAKE's hidden layers and logit enter the ID model's over-MLP this way. At most one entry per
   * hidden layer. Default: none.
   */
  side?: readonly number[];
  /**
   * Names of the output layer's parameters: 'out' gives w_out / b_out; 'next' continues the hidden
   * layers' numbering (w{n}, b{n} with n = hidden.length), as the SCL towers' files have them.
   * Default 'out'.
   */
  outputNames?: 'out' | 'next';
  /**
   * Weights of the last `zeroTail` input columns, and of every side input, start at zero: inputs
   * joined to a working recipe (content features beside ID features) leave the network as it was
   * at initialisation and grow only as far as the loss pulls them. Default 0 (all Glorot).
   */
  zeroTail?: number;
  /** Every side input's weights start at zero too (independently of zeroTail). Default false. */
  zeroSides?: boolean;
}

export const MLP_DEFAULTS = { hidden: [] as readonly number[], activation: 'relu' as ActivationName, output: 0, dropout: 0, side: [] as readonly number[], outputNames: 'out' as 'out' | 'next', zeroTail: 0, zeroSides: false };

export class MLP extends DenseStack {
  readonly args: Required<MLPArgs>;
  private readonly out: Dense | null = null;
  private readonly dropoutRng: RandomStream;

  constructor(args: MLPArgs, rng: RandomStream) {
    super();
    const d = MLP_DEFAULTS;
    const a = (this.args = {
      input: args.input,
      hidden: args.hidden ?? d.hidden,
      activation: args.activation ?? d.activation,
      output: args.output ?? d.output,
      dropout: args.dropout ?? d.dropout,
      side: args.side ?? d.side,
      outputNames: args.outputNames ?? d.outputNames,
      zeroTail: args.zeroTail ?? d.zeroTail,
      zeroSides: args.zeroSides ?? d.zeroSides,
    });
    checkInteger('MLP', 'input', a.input, 1);
    checkWidths('MLP', 'hidden', a.hidden);
    checkOneOf('MLP', 'activation', a.activation, ACTIVATIONS);
    checkInteger('MLP', 'output', a.output, 0);
    checkRate('MLP', 'dropout', a.dropout);
    checkOneOf('MLP', 'outputNames', a.outputNames, ['out', 'next']);
    checkInteger('MLP', 'zeroTail', a.zeroTail, 0);
    if (a.zeroTail > a.input) throw new LayerArgumentError('MLP', 'zeroTail', `at most the input width ${a.input}`, a.zeroTail);
    if (a.side.length > a.hidden.length || a.side.some((w) => !Number.isSafeInteger(w) || w < 0))
      throw new LayerArgumentError('MLP', 'side', `at most ${a.hidden.length} non-negative integers (one per hidden layer)`, a.side);
    if (a.hidden.length === 0 && a.output === 0) throw new LayerArgumentError('MLP', 'output', 'positive when there is no hidden layer', a.output);
    const side = (i: number) => (i > 0 ? (a.side[i - 1] ?? 0) : 0);
    const width = this.addHidden(a.input, a.hidden, a.activation, rng, side) + side(a.hidden.length);
    if (a.output > 0) this.out = this.addLinear(a.outputNames === 'out' ? 'out' : a.hidden.length, width, a.output, rng);
    this.zeroInputRows(side);
    this.dropoutRng = this.stream('dropout', rng.fork('dropout'));
  }

  /** Zeroes the weight rows of the tail inputs (first layer) and of the side inputs (later layers). */
  private zeroInputRows(side: (i: number) => number): void {
    const weights = [...this.layers.map((l) => l.w), ...(this.out ? [this.out.w] : [])];
    weights.forEach((w, i) => {
      const [rows, cols] = w.shape;
      const tail = i === 0 ? this.args.zeroTail : this.args.zeroSides ? side(i) : 0;
      w.data.fill(0, (rows - tail) * cols, rows * cols);
    });
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
      h = isStateless(k) ? linear(h, layer.w, layer.b, k) : layer.act.forward(linear(h, layer.w, layer.b));
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
