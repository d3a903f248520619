/** Sums and means, over one axis or over everything. */
import { gradOf, record } from '../autograd.js';
import { native } from '../native.js';
import { sizeOf, Tensor } from '../tensor.js';
import { normAxis, output } from './common.js';

function reduce(x: Tensor, axis: number | undefined, keepDims: boolean, mean: boolean): Tensor {
  let outer: number, n: number, inner: number, shape: number[];
  if (axis === undefined) {
    [outer, n, inner] = [1, x.size, 1];
    shape = keepDims ? x.shape.map(() => 1) : [];
  } else {
    const a = normAxis(axis, x.rank, mean ? 'mean' : 'sum');
    outer = sizeOf(x.shape.slice(0, a));
    n = x.shape[a];
    inner = sizeOf(x.shape.slice(a + 1));
    shape = keepDims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
  }
  const out = output(shape, [x]);
  native.sumAxis(x.data, outer, n, inner, out.data, false);
  const factor = mean ? 1 / Math.max(n, 1) : 1;
  if (mean) native.scaleShift(out.data, factor, 0, out.data);
  if (out.requiresGrad) {
    record(() => {
      if (out.grad && x.requiresGrad) native.expandAxis(out.grad, outer, n, inner, gradOf(x), factor);
    });
  }
  return out;
}

export const sum = (x: Tensor, axis?: number, keepDims = false): Tensor => reduce(x, axis, keepDims, false);
export const mean = (x: Tensor, axis?: number, keepDims = false): Tensor => reduce(x, axis, keepDims, true);
