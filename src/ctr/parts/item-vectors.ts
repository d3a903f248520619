/**
 * The multimodal side of a CTR model's input: a frozen table of item vectors (any source
 * encoders/vector-file.ts reads: an SCL export, the raw backbone features of the encoders' cache,
 * a user's own file) aligned to the store's catalogue, and the part that gives a batch its vector rows. Vectors are L2-normalised on load; an item without a vector
 * (absent from the file, or all zeros) maps to row 0, which every consumer treats as "no
 * vector" (SimTier does not count it, the Vector baseline sees zeros), and is counted.
 */
import { Module } from '../../engine/module.js';
import { native } from '../../engine/native.js';
import { RandomStream } from '../../engine/random.js';
import { Tensor } from '../../engine/tensor.js';
import type { Batch, BatchVectors } from '../../data/batches.js';
import { readVectorFile, type VectorSpace } from '../../encoders/vector-file.js';
import { MmctrError } from '../../util/errors.js';

export class VectorFileError extends MmctrError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`item vectors ${file}: ${detail}`);
  }
}

export interface ItemVectorTable {
  /** Where the vectors came from (for reports). */
  source: string;
  dim: number;
  /** [(items + 1), dim]: row i is catalogue item i, L2-normalised; row 0 and items without a vector are zeros. */
  table: Float32Array;
  /** Catalogue index -> table row (0 when the item has no vector). */
  rowOf: Int32Array;
  /** Catalogue items without a vector. */
  missing: number;
  /** Vectors in the file whose id is not in the catalogue. */
  unused: number;
  /** Set when the vectors were stripped of their signal (controlVectors): which control and seed. */
  control?: string;
  /** The file's vector space (read from a vector file; absent for vectors aligned from memory). */
  space?: VectorSpace;
}

/** Reads a vector file of any accepted source (encoders/vector-file.ts), in catalogue order. */
export function loadItemVectors(file: string, catalogIds: readonly string[]): ItemVectorTable {
  const { ids, dim, vectors, space } = readVectorFile(file);
  return { ...alignVectors(file, ids, vectors, dim, catalogIds), space };
}

/** Aligns vectors given by id to the catalogue (index i = catalogIds[i - 1]); checks every value. */
export function alignVectors(source: string, ids: readonly string[], vectors: Float32Array, dim: number, catalogIds: readonly string[]): ItemVectorTable {
  if (!(dim >= 1) || vectors.length !== ids.length * dim) throw new VectorFileError(source, `${vectors.length} values are not ${ids.length} ids x ${dim} dimensions`);
  const position = new Map<string, number>();
  ids.forEach((id, i) => position.set(id, i));
  const table = new Float32Array((catalogIds.length + 1) * dim);
  const rowOf = new Int32Array(catalogIds.length + 1);
  let missing = 0;
  for (let item = 1; item <= catalogIds.length; item++) {
    const at = position.get(catalogIds[item - 1]);
    if (at === undefined) {
      missing++;
      continue;
    }
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      const x = vectors[at * dim + d];
      if (!Number.isFinite(x)) throw new VectorFileError(source, `the vector of item "${ids[at]}" (row ${at + 1}) has a non-finite value at dimension ${d}: ${x}`);
      norm += x * x;
    }
    if (norm === 0) {
      missing++;
      continue;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let d = 0; d < dim; d++) table[item * dim + d] = vectors[at * dim + d] * inv;
    rowOf[item] = item;
  }
  const catalog = new Set(catalogIds);
  const unused = ids.filter((id) => !catalog.has(id)).length;
  if (missing === catalogIds.length && catalogIds.length > 0)
    throw new VectorFileError(source, `none of the ${catalogIds.length} catalogue items has a vector here (ids look like "${ids[0] ?? ''}", the catalogue's like "${catalogIds[0]}")`);
  return { source, dim, table, rowOf, missing, unused };
}

/** A batch's vector rows: the service's live ones when the batch carries them, else the model's table. */
export class ItemVectors extends Module {
  constructor(readonly vectors: ItemVectorTable) {
    super();
  }

  get dim(): number {
    return this.vectors.dim;
  }

  rowsOf(batch: Batch): BatchVectors {
    if (batch.vectors) {
      if (batch.vectors.dim !== this.dim) throw new MmctrError(`the batch carries ${batch.vectors.dim}-d item vectors, the model was trained on ${this.dim}-d`);
      return batch.vectors;
    }
    const { rowOf, table } = this.vectors;
    const target = new Int32Array(batch.size);
    for (let i = 0; i < batch.size; i++) target[i] = rowOf[batch.item[i]];
    const hist = new Int32Array(batch.hist.length);
    for (let i = 0; i < hist.length; i++) hist[i] = rowOf[batch.hist[i]];
    return { table, dim: this.dim, target, hist };
  }

  /**
   * The behaviours' vectors [B, L, dim]. A ranking batch (sharedHistory: every candidate has the
   * same behaviours, inference only) gathers them once and repeats them into a buffer this part
   * keeps, valid until its next ranking batch.
   */
  historyOf(rows: BatchVectors, batch: Batch): Tensor {
    const B = batch.size, L = rows.hist.length / Math.max(B, 1);
    if (!batch.sharedHistory) return this.gather(rows, rows.hist, [B, L]);
    return this.gather(rows, rows.hist.subarray(0, L), [1, L]);
  }

  /** The vectors at the given rows as a constant tensor [...shape, dim]. */
  gather(rows: BatchVectors, which: Int32Array, shape: readonly number[]): Tensor {
    const out = new Float32Array(which.length * rows.dim);
    native.gatherRows(rows.table, rows.dim, which, out);
    return new Tensor(out, [...shape, rows.dim]);
  }
}

/** Ways to strip the item vectors of their signal while keeping their shape and coverage (the paper experiment's control). */
export const VECTOR_CONTROLS = ['shuffle', 'random'] as const;
export type VectorControl = (typeof VECTOR_CONTROLS)[number];

/**
 * An uninformative copy of a table, seeded: 'shuffle' permutes the vectors across the items that
 * have one (each item gets another item's vector: the same vectors, no longer its own), 'random'
 * replaces each with a random unit vector. Items without a vector keep none. `control` names the
 * change, so caches keyed by the table (MAKE's) keep it apart from the real vectors.
 */
export function controlVectors(t: ItemVectorTable, control: VectorControl, seed: number): ItemVectorTable {
  const rng = new RandomStream(seed).fork(`vector-control-${control}`);
  const { dim } = t;
  const withVector: number[] = [];
  for (let item = 1; item < t.rowOf.length; item++) if (t.rowOf[item] !== 0) withVector.push(item);
  const table = new Float32Array(t.table.length);
  const order = rng.permutation(withVector.length);
  withVector.forEach((item, i) => {
    let v: Float32Array;
    if (control === 'shuffle') {
      const from = t.rowOf[withVector[order[i]]];
      v = t.table.subarray(from * dim, (from + 1) * dim);
    } else {
      v = rng.normal(dim);
      const inv = 1 / Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      for (let d = 0; d < dim; d++) v[d] *= inv;
    }
    table.set(v, item * dim);
  });
  const rowOf = new Int32Array(t.rowOf.length);
  for (const item of withVector) rowOf[item] = item;
  return { ...t, table, rowOf, control: `${control}:${seed}` };
}
