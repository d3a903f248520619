/**
 * DIN target attention: a small MLP scores each behaviour k against the target q from
 * [q, k, q - k, q * k]; the interest vector is the score-weighted sum of behaviours (raw scores,
 * as in the DIN paper, or a masked softmax). The first layer is computed in split form,
 * [q, k, q-k, q*k] W = q (Wq + Wd) + k (Wk - Wd) + (q * k) Wp, so the q term is per sample and
 * only the product term is per (sample, behaviour) pair; the result is identical.
 */
import { Module } from '../../engine/module.js';
import { glorotUniform, zeros } from '../../engine/init.js';
import { add, bmm, linear, matmul, mul, reshape, slice, softmax, sub } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { Parameter, Tensor } from '../../engine/tensor.js';
import type { ActivationName } from '../config.js';
import { ActivationLayer } from './activation.js';

export interface TargetAttentionArgs {
  dim: number;
  hidden: readonly number[];
  activation: ActivationName;
  softmax: boolean;
}

export class TargetAttention extends Module {
  private readonly w1: Parameter;
  private readonly b1: Parameter;
  private readonly act1: ActivationLayer;
  private readonly rest: { w: Parameter; b: Parameter; act: ActivationLayer }[] = [];
  private readonly wOut: Parameter;
  private readonly bOut: Parameter;

  constructor(
    readonly args: TargetAttentionArgs,
    rng: RandomStream,
  ) {
    super();
    const { dim, hidden, activation } = args;
    this.w1 = this.param('w0', [4 * dim, hidden[0]], glorotUniform, rng);
    this.b1 = this.param('b0', [hidden[0]], zeros, rng);
    this.act1 = this.child('act0', new ActivationLayer(activation, hidden[0], rng));
    for (let i = 1; i < hidden.length; i++) {
      this.rest.push({
        w: this.param(`w${i}`, [hidden[i - 1], hidden[i]], glorotUniform, rng),
        b: this.param(`b${i}`, [hidden[i]], zeros, rng),
        act: this.child(`act${i}`, new ActivationLayer(activation, hidden[i], rng)),
      });
    }
    this.wOut = this.param('w_out', [hidden[hidden.length - 1], 1], glorotUniform, rng);
    this.bOut = this.param('b_out', [1], zeros, rng);
  }

  private dense(x: Tensor, w: Parameter, b: Parameter, act: ActivationLayer): Tensor {
    const k = act.kind;
    return k === 'relu' || k === 'sigmoid' || k === 'tanh' ? linear(x, w, b, k) : act.forward(linear(x, w, b));
  }

  /** Attention scores [B, L] (masked) for target q [B, D] and behaviours keys [B, L, D]. */
  scores(q: Tensor, keys: Tensor, mask: Float32Array): Tensor {
    const [B, L, D] = keys.shape;
    const wq = slice(this.w1, 0, 0, D), wk = slice(this.w1, 0, D, 2 * D), wd = slice(this.w1, 0, 2 * D, 3 * D), wp = slice(this.w1, 0, 3 * D, 4 * D);
    const flatKeys = reshape(keys, [B * L, D]);
    const qTerm = reshape(matmul(q, add(wq, wd)), [B, 1, -1]);
    const kTerm = reshape(matmul(flatKeys, sub(wk, wd)), [B, L, -1]);
    const pTerm = reshape(matmul(reshape(mul(reshape(q, [B, 1, D]), keys), [B * L, D]), wp), [B, L, -1]);
    const pre = reshape(add(add(kTerm, pTerm), add(qTerm, this.b1)), [B * L, -1]);
    let h = this.act1.forward(pre);
    for (const layer of this.rest) h = this.dense(h, layer.w, layer.b, layer.act);
    const raw = reshape(linear(h, this.wOut, this.bOut), [B, L]);
    const m = new Tensor(mask, [B, L]);
    return this.args.softmax ? softmax(raw, m) : mul(raw, m);
  }

  /** The interest vector [B, D]: behaviours weighted by their scores. */
  forward(q: Tensor, keys: Tensor, mask: Float32Array): Tensor {
    const [B, L, D] = keys.shape;
    const w = reshape(this.scores(q, keys, mask), [B, 1, L]);
    return reshape(bmm(w, keys), [B, D]);
  }
}
