/**
 * Bounded ID tables: the map from an id's index (0 = padding / missing / unseen, 1..vocab) to its
 * row of a table with fewer rows than the vocabulary (model.embeddingTables in ctr/config.ts).
 * The map is an Int32Array built once when the model is built, from the config and the store's
 * training split alone, so a run reopened or resumed on its store rebuilds the same map; a lookup
 * is one array read per id, and the ONNX export writes the array as one Gather.
 */
import { hashKey } from '../../engine/sparse-embedding.js';
import type { TableSize } from '../config.js';

/** What a bounded table holds, for the run log and metrics.json. */
export interface TableRows {
  /** The table's key in model.embeddingTables (item, user, an item field, user.<field>). */
  table: string;
  mode: 'minCount' | 'hashBuckets';
  /** The mode's n: the minimum training count, or the number of buckets. */
  n: number;
  /** Ids of the vocabulary (index 0 not counted). */
  ids: number;
  /** Rows of the table, row 0 included. */
  rows: number;
  /**
   * Ids without a row of their own: for minCount, those routed to row 0 (fewer than n training
   * samples, never seen in training included); for hashBuckets, those sharing a bucket with
   * another id (the collisions).
   */
  shared: number;
}

/**
 * The index -> row map of a table over `vocab` ids, or null for 'full' (index = row, vocab + 1
 * rows). `counts` (length vocab + 1, training samples per index) is read for minCount only.
 */
export function tableRows(table: string, size: TableSize, vocab: number, counts: () => Int32Array): { remap: Int32Array; summary: TableRows } | null {
  if (size === 'full') return null;
  const remap = new Int32Array(vocab + 1);
  if ('minCount' in size) {
    const c = counts();
    let next = 1;
    // Kept ids are renumbered in index order; rare ones read row 0 with unseen ids (the remap's zeros).
    for (let i = 1; i <= vocab; i++) if (c[i] >= size.minCount) remap[i] = next++;
    return { remap, summary: { table, mode: 'minCount', n: size.minCount, ids: vocab, rows: next, shared: vocab - (next - 1) } };
  }
  const perBucket = new Int32Array(size.hashBuckets + 1);
  for (let i = 1; i <= vocab; i++) perBucket[(remap[i] = hashKey(i, size.hashBuckets, size.seed))]++;
  let shared = 0;
  for (let b = 1; b <= size.hashBuckets; b++) if (perBucket[b] > 1) shared += perBucket[b];
  return { remap, summary: { table, mode: 'hashBuckets', n: size.hashBuckets, ids: vocab, rows: size.hashBuckets + 1, shared } };
}

/** Counts of a field's values from counts of its owners (items or users): value v's count sums its owners'. */
export function countsOfValues(ownerCounts: Int32Array, valueOf: Int32Array, vocab: number): Int32Array {
  const out = new Int32Array(vocab + 1);
  const n = Math.min(ownerCounts.length, valueOf.length);
  for (let i = 1; i < n; i++) out[valueOf[i]] += ownerCounts[i];
  return out;
}

/** One line of the run log for a bounded table. */
export function describeTableRows(t: TableRows): string {
  return t.mode === 'minCount'
    ? `embedding table ${t.table}: minCount ${t.n}, ${t.rows.toLocaleString('en')} rows for ${t.ids.toLocaleString('en')} ids; ${t.shared.toLocaleString('en')} ids with fewer than ${t.n} training samples share row 0 with unseen ids`
    : `embedding table ${t.table}: hashBuckets ${t.n.toLocaleString('en')} for ${t.ids.toLocaleString('en')} ids; ${t.shared.toLocaleString('en')} ids collide (share a bucket with another id)`;
}
