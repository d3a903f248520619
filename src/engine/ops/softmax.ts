/** Softmax and log-softmax over the last axis, with an optional 0/1 mask of the same shape. */
import { gradOf, record } from '../autograd.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { expectSameShape, output, rowsCols } from './common.js';

function softmaxImpl(x: Tensor, mask: Tensor | null, log: boolean): Tensor {
  if (mask) expectSameShape(x, mask, log ? 'logSoftmax' : 'softmax');
  const [rows, cols] = rowsCols(x.shape);
  const out = output(x.shape, [x]);
  const m = mask ? mask.data : null;
  native.softmax(x.data, rows, cols, m, out.data, log);
  if (out.requiresGrad) {
    record(() => {
      if (out.grad && x.requiresGrad) native.softmaxBackward(out.data, out.grad, rows, cols, m, gradOf(x), log);
    });
  }
  return out;
}

/** Masked entries (mask 0) get probability 0; a fully masked row is all zeros. */
export const softmax = (x: Tensor, mask: Tensor | null = null): Tensor => softmaxImpl(x, mask, false);
/** Masked entries are 0 in the output and receive no gradient. */
export const logSoftmax = (x: Tensor, mask: Tensor | null = null): Tensor => softmaxImpl(x, mask, true);
