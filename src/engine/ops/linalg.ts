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

/**
 * One operand of a GEMM: its data, its leading dimension (the 2-d product) and its matrix stride
 * (the batched one); a call takes the one it needs.
 */
interface GemmOperand {
  data: Float32Array;
  ld: number;
  stride: number;
}
type GemmCall = (transA: boolean, transB: boolean, m: number, n: number, k: number, a: GemmOperand, b: GemmOperand, beta: number, c: GemmOperand) => void;

/**
 * The gradients of out = op(a) x op(b) [m,n], by two more products through the same GEMM; a
 * gradient has its tensor's layout, so it shares the tensor's leading dimension and stride.
 */
function recordProductBackward(out: Tensor, a: Tensor, b: Tensor, m: number, n: number, k: number, transA: boolean, transB: boolean, gemm: GemmCall): void {
  record(() => {
    const g = out.grad;
    if (!g) return;
    const A = { data: a.data, ld: a.shape[a.shape.length - 1], stride: m * k };
    const B = { data: b.data, ld: b.shape[b.shape.length - 1], stride: k * n };
    const G = { data: g, ld: n, stride: m * n };
    if (a.requiresGrad) {
      const [ga, beta] = gradTarget(a);
      if (!transA) gemm(false, !transB, m, k, n, G, B, beta, { ...A, data: ga });
      else gemm(transB, true, k, m, n, B, G, beta, { ...A, data: ga });
    }
    if (b.requiresGrad) {
      const [gb, beta] = gradTarget(b);
      if (!transB) gemm(!transA, false, k, n, m, A, G, beta, { ...B, data: gb });
      else gemm(true, transA, n, k, m, G, A, beta, { ...B, data: gb });
    }
  });
}

/** op(a)[m,k] x op(b)[k,n] for 2-d a and b, op = transpose where asked. */
export function matmul(a: Tensor, b: Tensor, { transA = false, transB = false }: MatmulOptions = {}): Tensor {
  expectRank(a, 2, 'matmul', 'a');
  expectRank(b, 2, 'matmul', 'b');
  const [m, k] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (k !== kb) throw new ShapeError(`matmul: inner sizes differ: ${shapeString(a.shape)}${transA ? 'ᵀ' : ''} x ${shapeString(b.shape)}${transB ? 'ᵀ' : ''}`);
  const out = output([m, n], [a, b], uninitialized(m * n));
  native.gemm(transA, transB, m, n, k, 1, a.data, a.shape[1], b.data, b.shape[1], 0, out.data, n);
  if (out.requiresGrad)
    recordProductBackward(out, a, b, m, n, k, transA, transB, (tA, tB, M, N, K, A, B, beta, C) =>
      native.gemm(tA, tB, M, N, K, 1, A.data, A.ld, B.data, B.ld, beta, C.data, C.ld));
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
  native.gemmBatched(transA, transB, batch, m, n, k, 1, a.data, m * k, b.data, k * n, 0, out.data, m * n);
  if (out.requiresGrad)
    recordProductBackward(out, a, b, m, n, k, transA, transB, (tA, tB, M, N, K, A, B, beta, C) =>
      native.gemmBatched(tA, tB, batch, M, N, K, 1, A.data, A.stride, B.data, B.stride, beta, C.data, C.stride));
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
