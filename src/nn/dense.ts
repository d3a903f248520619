/**
 * Stacks of dense layers as the MLP and the target attention unit build them: hidden layers
 * w{i} [in, out], b{i} [out], each with its activation act{i}, and linear layers without one.
 *
 * A parameter's name seeds its initialisation (Module.param forks the stream by name) and keys it
 * in model files, so names are part of a trained model's identity: they never change silently.
 */
import { Module } from '../engine/module.js';
import { glorotUniform, zeros } from '../engine/init.js';
import { RandomStream } from '../engine/random.js';
import { Parameter } from '../engine/tensor.js';
import { ActivationLayer, ActivationName } from './activation.js';

/** One dense layer: weight [in, out], bias [out]. */
export interface Dense {
  w: Parameter;
  b: Parameter;
}

export abstract class DenseStack extends Module {
  protected readonly layers: (Dense & { act: ActivationLayer })[] = [];

  /**
   * Adds hidden layers w{i}, b{i}, act{i} of the given widths on `input` features (layer i reads
   * `extraInput(i)` more, the side inputs of an MLP) and returns the last width.
   */
  protected addHidden(input: number, hidden: readonly number[], activation: ActivationName, rng: RandomStream, extraInput: (i: number) => number = () => 0): number {
    let width = input;
    hidden.forEach((h, i) => {
      width += extraInput(i);
      const w = this.param(`w${i}`, [width, h], glorotUniform, rng);
      const b = this.param(`b${i}`, [h], zeros, rng);
      const act = this.child(`act${i}`, new ActivationLayer({ activation, width: h }, rng));
      this.layers.push({ w, b, act });
      width = h;
    });
    return width;
  }

  /** A dense layer without activation, parameters w_<suffix> / b_<suffix> ('out') or w<suffix> / b<suffix> (a number). */
  protected addLinear(suffix: 'out' | number, input: number, output: number, rng: RandomStream): Dense {
    const tag = suffix === 'out' ? '_out' : String(suffix);
    return { w: this.param(`w${tag}`, [input, output], glorotUniform, rng), b: this.param(`b${tag}`, [output], zeros, rng) };
  }
}
