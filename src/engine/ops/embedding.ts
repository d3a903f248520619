/** Dense embedding lookup (a Parameter table); large tables use SparseEmbedding instead. */
import { gradOf, record } from '../autograd.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { expectRank, output } from './common.js';

/** table [rows, dim] gathered at ids -> [...idsShape, dim]. */
export function embeddingLookup(table: Tensor, ids: Int32Array, idsShape: readonly number[] = [ids.length]): Tensor {
  expectRank(table, 2, 'embeddingLookup', 'table');
  const dim = table.shape[1];
  const out = output([...idsShape, dim], [table]);
  native.gatherRows(table.data, dim, ids, out.data);
  if (out.requiresGrad) {
    record(() => {
      if (out.grad && table.requiresGrad) native.scatterAddRows(out.grad, dim, ids, gradOf(table));
    });
  }
  return out;
}
