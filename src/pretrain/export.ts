/**
 * `mmctr embed`: every item's 128-d L2-normalised vector, as float32 and as int8
 * (trunc(127 * clip(v, -1, 1)), the public release's format), in one safetensors file:
 *   "embeddings" F32 [items, d], "embeddings_int8" I8 [items, d]
 * with the item ids in the metadata ("ids": JSON array, row order) and in a side file
 * <file>.ids.json, so the CTR models and the service can join on item id. encoders/vector-file.ts
 * reads it back (with every other vector source).
 */
import { writeFileSync } from 'node:fs';
import { writeSafetensors } from '../engine/safetensors.js';
import type { FeatureTable, ItemContent } from '../encoders/types.js';
import { EMBEDDING_FORMAT } from '../encoders/vector-file.js';
import { MmctrError } from '../util/errors.js';
import { encodeCatalogue } from './evaluate.js';
import type { SclModel } from './model.js';
import { alignFeatures } from './pipeline.js';
import { itemInputs } from './train.js';

export function quantizeInt8(v: Float32Array): Int8Array {
  const out = new Int8Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Math.trunc(127 * Math.min(1, Math.max(-1, v[i])));
  return out;
}

export function writeEmbeddings(file: string, ids: readonly string[], vectors: Float32Array, dim: number, meta: Record<string, string> = {}): void {
  if (vectors.length !== ids.length * dim) throw new MmctrError(`embeddings: ${vectors.length} values are not ${ids.length} items x ${dim}`);
  writeSafetensors(
    file,
    { embeddings: { data: vectors, shape: [ids.length, dim] }, embeddings_int8: { data: quantizeInt8(vectors), shape: [ids.length, dim] } },
    { ...meta, format: EMBEDDING_FORMAT, ids: JSON.stringify(ids), dim: String(dim) },
  );
  writeFileSync(`${file}.ids.json`, JSON.stringify(ids));
}

/** Every item's fused vector from a trained SCL model (eval mode), in `items` order. */
export function embedItems(model: SclModel, items: readonly ItemContent[], table: FeatureTable): Float32Array {
  if (model.training) model.eval();
  const { features, missing } = alignFeatures(items, table);
  return encodeCatalogue(model, itemInputs(items.map((it) => it.title), features, table.dim, missing, model.config.maxTokens), 'fused');
}
