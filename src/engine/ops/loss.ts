/** Losses, fused with their gradients: BCE with logits and softmax cross-entropy (means). */
import { gradOf, record } from '../autograd.js';
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { expectRank, output } from './common.js';

/** Mean binary cross-entropy of sigmoid(logits) against labels in [0, 1], optional weights. */
export function bceWithLogits(logits: Tensor, labels: Float32Array, weights: Float32Array | null = null): Tensor {
  const n = logits.size;
  if (labels.length !== n) throw new ShapeError(`bceWithLogits: ${n} logits but ${labels.length} labels`);
  if (weights && weights.length !== n) throw new ShapeError(`bceWithLogits: ${n} logits but ${weights.length} weights`);
  const out = output([], [logits]);
  const grad = out.requiresGrad ? new Float32Array(n) : null;
  out.data[0] = native.bceWithLogits(logits.data, labels, n, weights, grad);
  if (grad) {
    record(() => {
      if (out.grad && logits.requiresGrad) native.axpy(out.grad[0], grad, gradOf(logits));
    });
  }
  return out;
}

/** Mean cross-entropy of row-softmax(logits [rows, classes]) against integer targets. */
export function softmaxCrossEntropy(logits: Tensor, targets: Int32Array): Tensor {
  expectRank(logits, 2, 'softmaxCrossEntropy', 'logits');
  const [rows, cols] = logits.shape;
  if (targets.length !== rows) throw new ShapeError(`softmaxCrossEntropy: ${rows} rows but ${targets.length} targets`);
  const out = output([], [logits]);
  const grad = out.requiresGrad ? new Float32Array(rows * cols) : null;
  out.data[0] = native.softmaxCrossEntropy(logits.data, rows, cols, targets, grad);
  if (grad) {
    record(() => {
      if (out.grad && logits.requiresGrad) native.axpy(out.grad[0], grad, gradOf(logits));
    });
  }
  return out;
}
