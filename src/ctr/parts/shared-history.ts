/**
 * Ranking batches (`Batch.sharedHistory`): every candidate of a request has the same behaviours,
 * so a part builds one sample's [L, width] block and repeats it B times, instead of looking up
 * and concatenating B identical blocks. The repeats go to a buffer the part keeps, valid until its
 * next ranking batch (a ranking thread scores one request at a time). Inference only: the
 * repeats carry no gradient.
 */
import { Tensor } from '../../engine/tensor.js';

export class RepeatedRows {
  private buffer = new Float32Array(0);

  /** `one` = one sample's values (L x width), as a [B, L, width] tensor of B copies. */
  repeat(one: Float32Array, B: number, L: number, width: number): Tensor {
    const size = L * width;
    if (this.buffer.length < B * size) this.buffer = new Float32Array(B * size);
    const out = this.buffer.subarray(0, B * size);
    out.set(one.subarray(0, size));
    for (let b = 1; b < B; b++) out.copyWithin(b * size, 0, size);
    return new Tensor(out, [B, L, width]);
  }
}
