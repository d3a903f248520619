/** Pooling of a behaviour sequence without attention: the masked sum. */
import { bmm, matmul, reshape } from '../engine/ops/index.js';
import { Tensor } from '../engine/tensor.js';

/**
 * Behaviours [B, L, D] summed over the real positions (mask [B * L]; any weights per position
 * work the same) -> [B, D]; behaviours [1, L, D] are every row's (a ranking batch), each row
 * summing them under its own mask.
 */
export function maskedSum(history: Tensor, mask: Float32Array): Tensor {
  const [H, L, D] = history.shape;
  const B = mask.length / L;
  if (H === 1 && B > 1) return matmul(new Tensor(mask, [B, L]), reshape(history, [L, D]));
  return reshape(bmm(new Tensor(mask, [B, 1, L]), history), [B, D]);
}
