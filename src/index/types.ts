/**
 * index/: the multimodal index table of the paper's serving design — item id -> frozen item
 * vector — behind one interface with two backends (embedded: in-process, persisted to a file;
 * redis: shared across servers), nearest-neighbour lookup, and the real-time ingestion queue.
 * This file owns the interface and the vector helpers both backends share.
 *
 * Vectors are stored L2-normalised, so cosine similarity (SimTier, SimScore, "similar items") is
 * a dot product. `int8` storage keeps trunc(127 * v) per value (the `mmctr pretrain embed` format, 4x
 * smaller); reads dequantise and renormalise.
 */
import { quantizeInt8 } from '../encoders/vector-file.js';
import { MmctrError } from '../util/errors.js';

export type VectorPrecision = 'float32' | 'int8';

export class IndexError extends MmctrError {}

export interface SimilarItem {
  id: string;
  /** Cosine similarity to the query. */
  score: number;
}

/** The item id -> vector table. Every read returns L2-normalised float32 vectors. */
export interface VectorIndex {
  readonly backend: 'embedded' | 'redis';
  readonly dim: number;
  readonly precision: VectorPrecision;
  /** Vectors of `ids`, null where an item has none (not encoded yet, or unknown). */
  getMany(ids: readonly string[]): Promise<(Float32Array | null)[]>;
  /** Inserts or replaces vectors (normalised here; a zero vector is an error). */
  putMany(items: readonly { id: string; vector: Float32Array }[]): Promise<void>;
  size(): Promise<number>;
  /** Every (id, vector), in batches: to build the ANN graph or copy an index. */
  scan(batch?: number): AsyncIterable<{ id: string; vector: Float32Array }[]>;
  /**
   * Writes of every process sharing the index, for in-process copies (the ANN graph) to follow.
   * The feed starts where the index stands at the call: open it, scan, then follow, and no write
   * is missed. Absent where one process is the only writer (embedded).
   */
  changes?(): Promise<ChangeFeed>;
  /** Throws when the index cannot be read now (redis: a PING; embedded: closed). For readiness. */
  ping(): Promise<void>;
  /** Makes writes durable (embedded: snapshot file; redis: nothing to do). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface ChangeFeed {
  /** Calls `onItems` with each batch written after the feed was opened, until stop(); errors are reported and retried. */
  follow(onItems: (items: { id: string; vector: Float32Array }[]) => void, onError?: (err: Error) => void): void;
  stop(): Promise<void>;
}

/**
 * A copy of `v` scaled to unit length; throws on a wrongly sized vector, a non-finite value, and
 * a length that is zero or does not fit in a double when squared (1e200 would otherwise
 * normalise to all zeros, silently).
 */
export function normalized(v: ArrayLike<number>, dim: number, what = 'vector'): Float32Array {
  if (v.length !== dim) throw new IndexError(`${what}: has ${v.length} values, the index holds ${dim}-d vectors`);
  let ss = 0;
  for (let i = 0; i < dim; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new IndexError(`${what}: value ${i} is not a finite number`);
    ss += x * x;
  }
  if (ss === 0) throw new IndexError(maxAbs(v, dim) === 0 ? `${what}: is all zeros (no direction to compare)` : `${what}: its length underflows (values no larger than ${maxAbs(v, dim).toExponential(2)}): send it scaled up, e.g. unit length`);
  if (!Number.isFinite(ss)) throw new IndexError(`${what}: its length overflows (values as large as ${maxAbs(v, dim).toExponential(2)}): send it scaled down, e.g. already unit length`);
  const out = new Float32Array(dim), s = 1 / Math.sqrt(ss);
  for (let i = 0; i < dim; i++) out[i] = v[i] * s;
  return out;
}

function maxAbs(v: ArrayLike<number>, dim: number): number {
  let m = 0;
  for (let i = 0; i < dim; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
}

/** Dequantises an int8 row (trunc(127 v)) and renormalises it. */
export function fromInt8(q: Int8Array, dim: number): Float32Array {
  const out = new Float32Array(dim);
  let ss = 0;
  for (let i = 0; i < dim; i++) {
    out[i] = q[i];
    ss += q[i] * q[i];
  }
  const s = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  for (let i = 0; i < dim; i++) out[i] *= s;
  return out;
}

export { quantizeInt8 };
