/** Normalisations over the last axis: layer norm and L2 normalisation. */
import { gradOf, record } from '../autograd.js';
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { output, rowsCols } from './common.js';

export function layerNorm(x: Tensor, gamma: Tensor | null = null, beta: Tensor | null = null, eps = 1e-5): Tensor {
  const [rows, cols] = rowsCols(x.shape);
  for (const p of [gamma, beta]) if (p && p.size !== cols) throw new ShapeError(`layerNorm: affine parameters need ${cols} values, got ${p.size}`);
  const out = output(x.shape, [x, gamma, beta]);
  const mean = new Float32Array(rows), rstd = new Float32Array(rows);
  native.layerNorm(x.data, rows, cols, gamma?.data ?? null, beta?.data ?? null, eps, out.data, mean, rstd);
  if (out.requiresGrad) {
    record(() => {
      if (!out.grad) return;
      native.layerNormBackward(
        x.data, rows, cols, gamma?.data ?? null, mean, rstd, out.grad,
        x.requiresGrad ? gradOf(x) : null,
        gamma?.requiresGrad ? gradOf(gamma) : null,
        beta?.requiresGrad ? gradOf(beta) : null,
      );
    });
  }
  return out;
}

/** x / max(||x||, eps) per row. */
export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  const [rows, cols] = rowsCols(x.shape);
  const out = output(x.shape, [x]);
  const norms = new Float32Array(rows);
  native.l2Normalize(x.data, rows, cols, eps, out.data, norms);
  if (out.requiresGrad) {
    record(() => {
      if (out.grad && x.requiresGrad) native.l2NormalizeBackward(out.data, norms, out.grad, rows, cols, eps, gradOf(x));
    });
  }
  return out;
}
