/**
 * Precomputed item vectors (a user's own CLIP or other embeddings, in any file vector-file.ts
 * reads) as the feature table of a catalogue, read instead of running a backbone. Items without
 * a vector are not an error: they become missing rows (zero, missing = 1), counted in the report;
 * vectors for ids that are not in the catalogue are counted as unused.
 */
import path from 'node:path';
import { EncoderError } from './errors.js';
import type { FeatureTable, ItemContent } from './types.js';
import { readVectorFile } from './vector-file.js';

/**
 * The feature table of `items` from a vector file: rows in item order; items without a vector are
 * zero rows with missing = 1 (reason "no precomputed vector"). `report.unused` counts vectors for
 * ids not among the items.
 */
export function precomputedFeatures(file: string, items: readonly ItemContent[], expectDim?: number): FeatureTable & { report: { unused: number } } {
  const vf = readVectorFile(file, expectDim);
  const index = new Map<string, number>();
  vf.ids.forEach((id, i) => index.set(id, i));
  const n = items.length;
  const features = new Float32Array(n * vf.dim);
  const missing = new Uint8Array(n);
  const problems: { id: string; reason: string }[] = [];
  const used = new Set<number>();
  const seen = new Set<string>();
  items.forEach((it, i) => {
    if (seen.has(it.id)) throw new EncoderError(`precomputedFeatures: item id "${it.id}" is listed twice`);
    seen.add(it.id);
    const k = index.get(it.id);
    if (k === undefined) {
      missing[i] = 1;
      problems.push({ id: it.id, reason: `no precomputed vector in ${path.basename(file)}` });
      return;
    }
    used.add(k);
    features.set(vf.vectors.subarray(k * vf.dim, (k + 1) * vf.dim), i * vf.dim);
  });
  return {
    backbone: vf.id,
    dim: vf.dim,
    ids: items.map((it) => it.id),
    features,
    missing,
    report: { computed: 0, cached: n - problems.length, missing: problems.length, corrupt: 0, problems, unused: vf.ids.length - used.size },
  };
}
