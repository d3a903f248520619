/** Matrix products on OpenBLAS (or the built-in GEMM): matmul, batched matmul, fused linear. */
import { gradOf, record } from '../autograd.js';
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import { shapeString, Tensor } from '../tensor.js';
import { ACTIVATION_CODE, KernelActivation } from './codes.js';
import { expectRank, gradTarget, output, rowsCols, scratch, uninitialized } from './common.js';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/** op(a)[m,k] x op(b)[k,n] for 2-d a and b, op = transpose where asked. */
export function matmul(a: Tensor, b: Tensor, { transA = false, transB = false }: MatmulOptions = {}): Tensor {
  expectRank(a, 2, 'matmul', 'a');
  expectRank(b, 2, 'matmul', 'b');
  const [m, k] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (k !== kb) throw new ShapeError(`matmul: inner sizes differ: ${shapeString(a.shape)}${transA ? 'ᵀ' : ''} x ${shapeString(b.shape)}${transB ? 'ᵀ' : ''}`);
  const out = output([m, n], [a, b], uninitialized(m * n));
  const lda = a.shape[1], ldb = b.shape[1];
  native.gemm(transA, transB, m, n, k, 1, a.data, lda, b.data, ldb, 0, out.data, n);
  if (out.requiresGrad) {
    record(() => {
      const g = out.grad;
      if (!g) return;
      if (a.requiresGrad) {
        const [ga, beta] = gradTarget(a);
        if (!transA) native.gemm(false, !transB, m, k, n, 1, g, n, b.data, ldb, beta, ga, k);
        else native.gemm(transB, true, k, m, n, 1, b.data, ldb, g, n, beta, ga, m);
      }
      if (b.requiresGrad) {
        const [gb, beta] = gradTarget(b);
        if (!transB) native.gemm(!transA, false, k, n, m, 1, a.data, lda, g, n, beta, gb, n);
        else native.gemm(true, transA, n, k, m, 1, g, n, a.data, lda, beta, gb, k);
      }
    });
  }
  return out;
}

/** Batched matmul over 3-d tensors: out[i] = op(a[i]) x op(b[i]). */
export function bmm(a: Tensor, b: Tensor, { transA = false, transB = false }: MatmulOptions = {}): Tensor {
  expectRank(a, 3, 'bmm', 'a');
  expectRank(b, 3, 'bmm', 'b');
  const batch = a.shape[0];
  if (b.shape[0] !== batch) throw new ShapeError(`bmm: batch sizes differ: ${shapeString(a.shape)} and ${shapeString(b.shape)}`);
  const [m, k] = transA ? [a.shape[2], a.shape[1]] : [a.shape[1], a.shape[2]];
  const [kb, n] = transB ? [b.shape[2], b.shape[1]] : [b.shape[1], b.shape[2]];
  if (k !== kb) throw new ShapeError(`bmm: inner sizes differ: ${shapeString(a.shape)} x ${shapeString(b.shape)}`);
  const out = output([batch, m, n], [a, b], uninitialized(batch * m * n));
  const sa = m * k, sb = k * n, sc = m * n;
  native.gemmBatched(transA, transB, batch, m, n, k, 1, a.data, sa, b.data, sb, 0, out.data, sc);
  if (out.requiresGrad) {
    record(() => {
      const g = out.grad;
      if (!g) return;
      if (a.requiresGrad) {
        const [ga, beta] = gradTarget(a);
        if (!transA) native.gemmBatched(false, !transB, batch, m, k, n, 1, g, sc, b.data, sb, beta, ga, sa);
        else native.gemmBatched(transB, true, batch, k, m, n, 1, b.data, sb, g, sc, beta, ga, sa);
      }
      if (b.requiresGrad) {
        const [gb, beta] = gradTarget(b);
        if (!transB) native.gemmBatched(!transA, false, batch, k, n, m, 1, a.data, sa, g, sc, beta, gb, sb);
        else native.gemmBatched(true, transA, batch, n, k, m, 1, g, sc, a.data, sa, beta, gb, sb);
      }
    });
  }
  return out;
}

export type Activation = Exclude<KernelActivation, 'prelu'>;

/**
 * act(x W + b) for x [..., in], W [in, out], b [out]: one GEMM plus one fused pass for bias and
 * activation, and in backward one fused pass for the activation gradient and the bias gradient.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null, activation: Activation = 'none'): Tensor {
  expectRank(weight, 2, 'linear', 'weight');
  const [rows, inDim] = rowsCols(x.shape);
  const outDim = weight.shape[1];
  if (inDim !== weight.shape[0]) throw new ShapeError(`linear: input ${shapeString(x.shape)} does not fit weight ${shapeString(weight.shape)}`);
  if (bias && bias.size !== outDim) throw new ShapeError(`linear: bias ${shapeString(bias.shape)} does not fit ${outDim} outputs`);
  const out = output([...x.shape.slice(0, -1), outDim], [x, weight, bias], uninitialized(rows * outDim));
  const act = ACTIVATION_CODE[activation];
  native.gemm(false, false, rows, outDim, inDim, 1, x.data, inDim, weight.data, outDim, 0, out.data, outDim);
  if (bias || act !== ACTIVATION_CODE.none) native.biasActivation(out.data, bias ? bias.data : null, rows, outDim, act);
  if (out.requiresGrad) {
    record(() => {
      const g = out.grad;
      if (!g) return;
      let gz = g;
      if (act !== ACTIVATION_CODE.none) {
        gz = scratch.take(g.length);
        native.activationBackward(out.data, g, gz, rows, outDim, act, bias?.requiresGrad ? gradOf(bias) : null);
      } else if (bias?.requiresGrad) native.columnSums(g, rows, outDim, gradOf(bias));
      if (x.requiresGrad) {
        const [gx, beta] = gradTarget(x);
        native.gemm(false, true, rows, inDim, outDim, 1, gz, outDim, weight.data, outDim, beta, gx, inDim);
      }
      if (weight.requiresGrad) native.gemm(true, false, inDim, outDim, rows, 1, x.data, inDim, gz, outDim, 1, gradOf(weight), outDim);
      if (gz !== g) scratch.give(gz);
    });
  }
  return out;
}
