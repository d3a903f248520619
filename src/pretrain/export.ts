/**
 * `mmctr pretrain embed` / `mmctr encode --model`: every item's 128-d L2-normalised vector from a trained
 * SCL model's towers; encoders/vector-file.ts writes it (writeEmbeddings) and reads it back.
 */
import type { FeatureTable, ItemContent } from '../encoders/types.js';
import { encodeCatalogue } from './evaluate.js';
import type { SclModel } from './model.js';
import { alignFeatures } from './pipeline.js';
import { itemInputs } from './train.js';

/** Every item's fused vector from a trained SCL model (eval mode), in `items` order. */
export function embedItems(model: SclModel, items: readonly ItemContent[], table: FeatureTable): Float32Array {
  if (model.training) model.eval();
  const { features, missing } = alignFeatures(items, table);
  return encodeCatalogue(model, itemInputs(items.map((it) => it.title), features, table.dim, missing, model.config.maxTokens), 'fused');
}
