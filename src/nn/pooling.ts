/** Pooling of a behaviour sequence without attention: the masked sum. */
import { bmm, reshape } from '../engine/ops/index.js';
import { Tensor } from '../engine/tensor.js';

/** [B, L, D] behaviours summed over the real positions (mask [B * L]) -> [B, D]. */
export function maskedSum(history: Tensor, mask: Float32Array): Tensor {
  const [B, L, D] = history.shape;
  return reshape(bmm(new Tensor(mask, [B, 1, L]), history), [B, D]);
}
