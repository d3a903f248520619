/**
 * Streams batches of samples from a store split. Reads are by record range, so memory holds a
 * shuffle window, not the split. Shuffling permutes blocks of records and, within a window of
 * blocks, the records themselves: near-uniform mixing at sequential-read cost.
 */
import { RandomStream } from '../engine/random.js';
import type { ColumnReader } from './column-file.js';
import { SplitName } from './sample-config.js';

export interface Batch {
  size: number;
  /** Record numbers in the split (for predictions written back in order). */
  index: Int32Array;
  user: Int32Array;
  item: Int32Array;
  label: Float32Array;
  ts: Float64Array;
  /** [size, L] catalogue indices, 0 = padding; most recent last. */
  hist: Int32Array;
  histLen: Int32Array;
  freq: Int32Array;
  isNew: Uint8Array;
  /**
   * Item vectors for this batch, overriding the model's own vector table: rows of an
   * L2-normalised [rows, dim] table (row 0 = no vector) for the targets and the behaviours.
   * The ranking service sets it from the live index, which holds items the ID tables never saw.
   */
  vectors?: BatchVectors;
  /** Every sample has the same behaviours (a ranking request: one user, many candidates). */
  sharedHistory?: boolean;
}

export interface BatchVectors {
  table: Float32Array;
  dim: number;
  /** [size] row of each target. */
  target: Int32Array;
  /** [size, L] row of each behaviour (0 for padding or no vector). */
  hist: Int32Array;
}

/** The fields of a batch that a split stores (one column file each; store.ts names the files). */
export type StoredField = Exclude<keyof Batch, 'size' | 'index' | 'vectors' | 'sharedHistory'>;

export interface BatchOptions {
  batchSize: number;
  shuffle?: RandomStream | null;
  /** Records per shuffle block and blocks per shuffle window. */
  blockSize?: number;
  windowBlocks?: number;
}

/** One split's samples, read by record range from its open column files (`SampleStore.split` opens them). */
export class SplitReader {
  readonly count: number;

  constructor(
    readonly split: SplitName,
    readonly historyLength: number,
    private readonly cols: Record<StoredField, ColumnReader>,
  ) {
    this.count = this.cols.user.records;
  }

  /** Records [start, start + n) as one batch. */
  readRange(start: number, n: number): Batch {
    const index = new Int32Array(n);
    for (let i = 0; i < n; i++) index[i] = start + i;
    return {
      size: n,
      index,
      user: this.cols.user.read(start, n) as Int32Array,
      item: this.cols.item.read(start, n) as Int32Array,
      label: this.cols.label.read(start, n) as Float32Array,
      ts: this.cols.ts.read(start, n) as Float64Array,
      hist: this.cols.hist.read(start, n) as Int32Array,
      histLen: this.cols.histLen.read(start, n) as Int32Array,
      freq: this.cols.freq.read(start, n) as Int32Array,
      isNew: this.cols.isNew.read(start, n) as Uint8Array,
    };
  }

  /** Batches in file order, or shuffled with the given stream. */
  *batches({ batchSize, shuffle = null, blockSize = 4096, windowBlocks = 16 }: BatchOptions): Generator<Batch> {
    if (!shuffle) {
      for (let s = 0; s < this.count; s += batchSize) yield this.readRange(s, Math.min(batchSize, this.count - s));
      return;
    }
    const blocks = Math.ceil(this.count / blockSize);
    const order = shuffle.permutation(blocks);
    let carry: Batch | null = null;
    for (let w = 0; w < blocks; w += windowBlocks) {
      const parts = Array.from(order.subarray(w, Math.min(blocks, w + windowBlocks)), (b) =>
        this.readRange(b * blockSize, Math.min(blockSize, this.count - b * blockSize)),
      );
      let window = concatBatches(carry ? [carry, ...parts] : parts, this.historyLength);
      window = takeBatch(window, shuffle.permutation(window.size), this.historyLength);
      let s = 0;
      for (; s + batchSize <= window.size; s += batchSize) yield sliceBatch(window, s, s + batchSize, this.historyLength);
      carry = s < window.size ? sliceBatch(window, s, window.size, this.historyLength) : null;
    }
    if (carry) yield carry;
  }

  close(): void {
    for (const c of Object.values(this.cols)) c.close();
  }
}

// The stored columns (a batch's vectors come from the caller, never from the store).
type Field = StoredField | 'index';
const FIELDS: Field[] = ['index', 'user', 'item', 'label', 'ts', 'hist', 'histLen', 'freq', 'isNew'];

function widthOf(f: Field, L: number): number {
  return f === 'hist' ? L : 1;
}

/**
 * [B * L] 1 at each sample's real behaviours (positions [0, histLen[b]), histories stored most
 * recent last and left-aligned), 0 at padding; with `rows`, also 0 where rows[b * L + l] is 0
 * (a behaviour without a vector). One small function on purpose: V8 compiles a long loop on its
 * first run and reuses that code at every call; inside a larger forward pass, the code ended
 * where no feedback had been gathered yet and was thrown away at every ranking request.
 */
export function historyMask(batch: Pick<Batch, 'size' | 'histLen'>, L: number, rows: Int32Array | null = null): Float32Array {
  const B = batch.size;
  const mask = new Float32Array(B * L);
  for (let b = 0; b < B; b++) {
    const len = batch.histLen[b];
    for (let l = 0; l < len; l++) if (rows === null || rows[b * L + l] !== 0) mask[b * L + l] = 1;
  }
  return mask;
}

export function sliceBatch(b: Batch, start: number, end: number, L: number): Batch {
  const out = { size: end - start } as Batch;
  for (const f of FIELDS) {
    const w = widthOf(f, L);
    (out as unknown as Record<string, unknown>)[f] = (b[f] as Int32Array).slice(start * w, end * w);
  }
  return out;
}

export function concatBatches(parts: Batch[], L: number): Batch {
  const size = parts.reduce((s, p) => s + p.size, 0);
  const out = { size } as Batch;
  for (const f of FIELDS) {
    const w = widthOf(f, L);
    const arr = new (parts[0][f].constructor as Int32ArrayConstructor)(size * w);
    let at = 0;
    for (const p of parts) {
      arr.set(p[f] as Int32Array, at);
      at += p.size * w;
    }
    (out as unknown as Record<string, unknown>)[f] = arr;
  }
  return out;
}

/** The records of b at the given positions, in that order. */
export function takeBatch(b: Batch, positions: Int32Array, L: number): Batch {
  const out = { size: positions.length } as Batch;
  for (const f of FIELDS) {
    const w = widthOf(f, L);
    const src = b[f] as Int32Array;
    const arr = new (src.constructor as Int32ArrayConstructor)(positions.length * w);
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i] * w;
      for (let k = 0; k < w; k++) arr[i * w + k] = src[p + k];
    }
    (out as unknown as Record<string, unknown>)[f] = arr;
  }
  return out;
}
