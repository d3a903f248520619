/** Elementwise ops: broadcasting arithmetic and pointwise functions, each with its gradient. */
import { gradOf, record } from '../autograd.js';
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import { Shape, shapeString, stridesOf, Tensor } from '../tensor.js';
import { BINARY_CODE, BinaryOp, UNARY_CODE, UnaryOp } from './codes.js';
import { output } from './common.js';

interface Broadcast {
  shape: number[];
  shapeI32: Int32Array;
  aStrides: Int32Array;
  bStrides: Int32Array;
}

/** NumPy broadcasting: align shapes on the right; sizes must match or be 1. */
export function broadcastShapes(a: Shape, b: Shape, op = 'broadcast'): Broadcast {
  const rank = Math.max(a.length, b.length, 1);
  const shape = new Array<number>(rank);
  const aStrides = new Int32Array(rank);
  const bStrides = new Int32Array(rank);
  const sa = stridesOf(a), sb = stridesOf(b);
  for (let i = 0; i < rank; i++) {
    const ia = a.length - rank + i, ib = b.length - rank + i;
    const da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da !== db && da !== 1 && db !== 1)
      throw new ShapeError(`${op}: shapes ${shapeString(a)} and ${shapeString(b)} cannot be broadcast together`);
    shape[i] = Math.max(da, db);
    aStrides[i] = ia >= 0 && da !== 1 ? sa[ia] : 0;
    bStrides[i] = ib >= 0 && db !== 1 ? sb[ib] : 0;
  }
  return { shape, shapeI32: Int32Array.from(shape), aStrides, bStrides };
}

function binary(name: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const code = BINARY_CODE[name];
  const bc = broadcastShapes(a.shape, b.shape, name);
  const outShape = a.shape.length === 0 && b.shape.length === 0 ? [] : bc.shape;
  const out = output(outShape, [a, b]);
  native.binary(code, a.data, b.data, out.data, bc.shapeI32, bc.aStrides, bc.bStrides);
  if (out.requiresGrad) {
    record(() => {
      if (!out.grad) return;
      native.binaryBackward(code, a.data, b.data, out.grad, a.requiresGrad ? gradOf(a) : null, b.requiresGrad ? gradOf(b) : null, bc.shapeI32, bc.aStrides, bc.bStrides);
    });
  }
  return out;
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);

/** alpha * x + beta. */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  const out = output(x.shape, [x]);
  native.scaleShift(x.data, alpha, beta, out.data);
  if (out.requiresGrad) {
    record(() => {
      if (out.grad && x.requiresGrad) native.axpy(alpha, out.grad, gradOf(x));
    });
  }
  return out;
}

export const scale = (x: Tensor, alpha: number): Tensor => affine(x, alpha, 0);

/** min(max(x, lo), hi) (ReLU6 is clip(x, 0, 6)); the gradient passes where lo < x < hi. */
export function clip(x: Tensor, lo: number, hi: number): Tensor {
  if (!(lo < hi)) throw new ShapeError(`clip: lo must be below hi, got [${lo}, ${hi}]`);
  const out = output(x.shape, [x]);
  const xd = x.data, od = out.data;
  for (let i = 0; i < xd.length; i++) od[i] = xd[i] < lo ? lo : xd[i] > hi ? hi : xd[i];
  if (out.requiresGrad) {
    record(() => {
      const g = out.grad;
      if (!g || !x.requiresGrad) return;
      const gx = gradOf(x);
      for (let i = 0; i < xd.length; i++) if (xd[i] > lo && xd[i] < hi) gx[i] += g[i];
    });
  }
  return out;
}

function unary(name: UnaryOp, x: Tensor): Tensor {
  const code = UNARY_CODE[name];
  const out = output(x.shape, [x]);
  native.unary(code, x.data, out.data);
  if (out.requiresGrad) {
    record(() => {
      if (out.grad && x.requiresGrad) native.unaryBackward(code, x.data, out.data, out.grad, gradOf(x));
    });
  }
  return out;
}

export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const neg = (x: Tensor): Tensor => unary('neg', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const square = (x: Tensor): Tensor => unary('square', x);
