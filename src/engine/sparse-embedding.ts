/**
 * Sparse embedding tables for ID features: millions of rows, of which a batch touches a few
 * thousand. Backward never builds a dense table gradient: each lookup records its ids and its
 * output gradient, and takeGradient() coalesces them (unique ids + scatter-add) into one
 * gradient row per touched row, which the sparse optimisers apply.
 */
import { isGradEnabled, record } from './autograd.js';
import { EngineError } from './errors.js';
import { Initializer, normal } from './init.js';
import { native } from './native.js';
import { uninitialized } from './ops/common.js';
import { RandomStream } from './random.js';
import { Tensor } from './tensor.js';
import { FNV_OFFSET_BASIS, fnv1aCodeUnits } from '../util/hash.js';

export interface SparseEmbeddingOptions {
  rows: number;
  dim: number;
  /** Default normal(0, 0.01): CTR models start ID embeddings small (PyTorch nn.Embedding draws N(0, 1)). */
  init?: Initializer;
}

/** The rows a batch touched and their summed gradients ([rows.length, dim]). */
export interface SparseGradient {
  rows: Int32Array;
  grads: Float32Array;
}

export class SparseEmbedding {
  readonly rows: number;
  readonly dim: number;
  readonly weight: Float32Array;
  private pending: { ids: Int32Array; grad: Tensor }[] = [];
  private coalesced: SparseGradient | null = null;

  constructor(options: SparseEmbeddingOptions, rng: RandomStream) {
    const { rows, dim } = options;
    if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(dim) || dim < 1)
      throw new EngineError(`a sparse embedding needs positive integer rows and dim, got ${rows} x ${dim}`);
    this.rows = rows;
    this.dim = dim;
    this.weight = (options.init ?? normal(0.01))([rows, dim], rng);
  }

  /** Rows at ids -> [...idsShape, dim]; ids must be in [0, rows). */
  lookup(ids: Int32Array, idsShape: readonly number[] = [ids.length]): Tensor {
    const track = isGradEnabled();
    // gatherRows writes every value (or throws on a bad id), so the zero fill is skipped.
    const out = new Tensor(uninitialized(ids.length * this.dim), [...idsShape, this.dim], track);
    native.gatherRows(this.weight, this.dim, ids, out.data);
    if (track) record(() => {
      if (out.grad) this.pending.push({ ids, grad: out });
    });
    return out;
  }

  /**
   * This step's gradient, one row per touched row, kept until takeGradient() (gradient clipping
   * reads and scales it in place before the optimiser takes it). Lookups after a call join it.
   */
  gradient(): SparseGradient | null {
    if (this.pending.length === 0) return this.coalesced;
    const parts = this.pending.map((p) => ({ ids: p.ids, grads: p.grad.grad! }));
    if (this.coalesced) parts.push({ ids: this.coalesced.rows, grads: this.coalesced.grads });
    const total = parts.reduce((s, p) => s + p.ids.length, 0);
    const allIds = new Int32Array(total);
    let at = 0;
    for (const p of parts) {
      allIds.set(p.ids, at);
      at += p.ids.length;
    }
    const unique = new Int32Array(total), inverse = new Int32Array(total);
    const count = native.uniqueInverse(allIds, unique, inverse);
    const grads = new Float32Array(count * this.dim);
    at = 0;
    for (const p of parts) {
      native.scatterAddRows(p.grads, this.dim, inverse.subarray(at, at + p.ids.length), grads);
      at += p.ids.length;
    }
    this.pending = [];
    this.coalesced = { rows: unique.slice(0, count), grads };
    return this.coalesced;
  }

  /**
   * Makes `g` this step's gradient in place of the lookups' (a data-parallel run: the rows every
   * rank touched, their gradients summed over ranks); null leaves the table untouched this step.
   */
  replaceGradient(g: SparseGradient | null): void {
    this.pending = [];
    this.coalesced = g;
  }

  /** Coalesces this step's lookups into one gradient row per touched row; clears them. */
  takeGradient(): SparseGradient | null {
    const g = this.gradient();
    this.coalesced = null;
    return g;
  }

  zeroGrad(): void {
    this.pending = [];
    this.coalesced = null;
  }
}

/**
 * Maps unbounded keys (strings or large integers) into [1, buckets]; 0 is left for padding and
 * out-of-vocabulary. MurmurHash3's 32-bit finaliser over FNV-1a: cheap and well spread.
 */
export function hashKey(key: string | number, buckets: number, salt = 0): number {
  let h = fnv1aCodeUnits(typeof key === 'number' ? key.toString(36) : key, FNV_OFFSET_BASIS ^ salt);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return 1 + ((h >>> 0) % buckets);
}
