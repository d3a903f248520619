/**
 * encoders/: the untrained text encoder: a fixed random projection of hashed word and character
 * n-grams. The "ngram" baseline of text pre-training, and the service's encoder of new items'
 * titles when no trained model is configured. Each token's projection row is drawn from the
 * token id and the seed alone, so a new item's vector never depends on the rest of the catalogue.
 */
import { RandomStream } from '../engine/random.js';
import { tokenize } from './tokenizer.js';

/**
 * Untrained text vectors: per item, sum over its hashed n-gram tokens (all of them, duplicates
 * counted) of a fixed N(0, 1) row per token id, L2-normalised; a random projection of the
 * bag-of-n-gram count vector, which preserves its cosines in expectation. An item without text
 * gets a zero vector (it has nothing to say).
 */
export function ngramVectors(texts: readonly string[], dim: number, seed: number): Float32Array {
  const root = new RandomStream(seed).fork('ngram-projection');
  const rows = new Map<number, Float32Array>();
  const out = new Float32Array(texts.length * dim);
  texts.forEach((t, i) => {
    const v = out.subarray(i * dim, (i + 1) * dim);
    for (const id of tokenize(t)) {
      let r = rows.get(id);
      if (!r) rows.set(id, (r = root.fork(`t${id}`).normal(dim)));
      for (let j = 0; j < dim; j++) v[j] += r[j];
    }
    normalizeRow(v);
  });
  return out;
}

function normalizeRow(v: Float32Array): void {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  if (s > 0) {
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < v.length; j++) v[j] *= inv;
  }
}
