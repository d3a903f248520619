/**
 * The top of a CNN as a trainable layer: pointwise (1x1) convolutions over the positions of a
 * feature map, an optional ReLU6 after each, then the global average pool. A pointwise
 * convolution over P positions is one matmul of [B * P, C] rows.
 *
 * Batch norm is in inference form, folded into each convolution: with frozen statistics the norm
 * is a per-channel affine map, and its trainable scale and shift are absorbed by the trainable
 * W and b (the same functions, one pass fewer). Batch statistics are not used: the item vector
 * would depend on which items share its batch, differ between the online and the momentum key
 * encoder, and drift from the statistics the pretrained weights were fitted to.
 */
import { Module } from '../engine/module.js';
import { clip, linear, mean, reshape } from '../engine/ops/index.js';
import { RandomStream } from '../engine/random.js';
import { Parameter, Tensor } from '../engine/tensor.js';
import { checkInteger, LayerArgumentError } from './args.js';

export interface PointwiseLayerArgs {
  inDim: number;
  outDim: number;
  /** Initial weight [inDim, outDim], row-major (the pretrained kernel with its batch norm folded in). Required. */
  weight: Float32Array;
  /** Initial bias [outDim]. Required. */
  bias: Float32Array;
  /** A ReLU6 (clip to [0, 6]) after the layer. Required. */
  relu6: boolean;
}

export interface PointwiseHeadArgs {
  /** Spatial positions of the input map (7 x 7 = 49). Required. */
  positions: number;
  /** Channels of the input map; a row is [positions * channels], position-major. Required. */
  channels: number;
  /** The layers, bottom first; each reads the previous one's channels. At least one. */
  layers: readonly PointwiseLayerArgs[];
}

const NAME = 'PointwiseHead';

export class PointwiseHead extends Module {
  readonly positions: number;
  readonly channels: number;
  /** Width of an input row (positions x channels) and of the pooled output. */
  readonly inDim: number;
  readonly outDim: number;
  private readonly layers: { w: Parameter; b: Parameter; relu6: boolean }[] = [];

  constructor(args: PointwiseHeadArgs) {
    super();
    this.positions = checkInteger(NAME, 'positions', args.positions, 1);
    this.channels = checkInteger(NAME, 'channels', args.channels, 1);
    if (!args.layers.length) throw new LayerArgumentError(NAME, 'layers', 'at least one layer', args.layers.length);
    let width = this.channels;
    const rng = new RandomStream(0); // the initialisers copy the given weights and draw nothing
    args.layers.forEach((l, i) => {
      if (l.inDim !== width) throw new LayerArgumentError(NAME, `layers[${i}].inDim`, `${width} (the channels it reads)`, l.inDim);
      checkInteger(NAME, `layers[${i}].outDim`, l.outDim, 1);
      if (l.weight.length !== l.inDim * l.outDim) throw new LayerArgumentError(NAME, `layers[${i}].weight`, `${l.inDim} x ${l.outDim} values`, l.weight.length);
      if (l.bias.length !== l.outDim) throw new LayerArgumentError(NAME, `layers[${i}].bias`, `${l.outDim} values`, l.bias.length);
      const w = this.param(`w${i}`, [l.inDim, l.outDim], () => Float32Array.from(l.weight), rng);
      const b = this.param(`b${i}`, [l.outDim], () => Float32Array.from(l.bias), rng);
      this.layers.push({ w, b, relu6: l.relu6 });
      width = l.outDim;
    });
    this.inDim = this.positions * this.channels;
    this.outDim = width;
  }

  /** x [B, positions * channels] -> [B, outDim], the average over positions of the last layer. */
  forward(x: Tensor): Tensor {
    const B = x.shape[0];
    if (x.rank !== 2 || x.shape[1] !== this.inDim) throw new LayerArgumentError(NAME, 'input', `[B, ${this.inDim}] (${this.positions} positions x ${this.channels} channels)`, `[${x.shape.join(', ')}]`);
    let h = reshape(x, [B * this.positions, this.channels]);
    for (const l of this.layers) {
      h = linear(h, l.w, l.b);
      if (l.relu6) h = clip(h, 0, 6);
    }
    return mean(reshape(h, [B, this.positions, this.outDim]), 1);
  }
}
