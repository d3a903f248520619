/**
 * MoCo machinery: a FIFO queue of earlier keys (with the item each key came from), and the
 * momentum (EMA) key encoder that fills it.
 *
 * The key encoder is a second SclModel whose weights follow the online one:
 * key <- m * key + (1 - m) * online after every step. Dense parameters are updated in full. The
 * token table is large and row-sparse (an online row moves only when a batch touches it), so
 * its EMA is lazy: a key row is brought up to date when the key encoder is about to read it,
 * as key = online + (key - online) * m^(steps since its last update), which is exact while the
 * online row did not move in between and a close approximation otherwise.
 */
import { noGrad } from '../engine/autograd.js';
import { Tensor } from '../engine/tensor.js';
import { MmctrError } from '../util/errors.js';
import type { ItemInputs, SclModel, Side } from './model.js';

export class KeyQueue {
  readonly keys: Float32Array;
  /** Item index of each slot (-1: empty). */
  readonly owner: Int32Array;
  private head = 0;
  private filled = 0;
  constructor(
    readonly capacity: number,
    readonly dim: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new MmctrError(`queue capacity must be a positive integer, got ${capacity}`);
    this.keys = new Float32Array(capacity * dim);
    this.owner = new Int32Array(capacity).fill(-1);
  }

  get size(): number {
    return this.filled;
  }

  /** Appends keys [n, dim] (oldest ones are overwritten once full). */
  enqueue(keys: Float32Array, owners: ArrayLike<number>): void {
    const n = owners.length;
    if (keys.length !== n * this.dim) throw new MmctrError(`enqueue: ${keys.length} values are not ${n} keys of ${this.dim}`);
    // More keys than slots: only the newest `capacity` count.
    const from = Math.max(0, n - this.capacity);
    for (let r = from; r < n; r++) {
      this.keys.set(keys.subarray(r * this.dim, (r + 1) * this.dim), this.head * this.dim);
      this.owner[this.head] = owners[r];
      this.head = (this.head + 1) % this.capacity;
      this.filled = Math.min(this.capacity, this.filled + 1);
    }
  }

  /** Slot order oldest first (for tests and inspection). */
  ownersInOrder(): number[] {
    const out: number[] = [];
    const start = this.filled < this.capacity ? 0 : this.head;
    for (let k = 0; k < this.filled; k++) out.push(this.owner[(start + k) % this.capacity]);
    return out;
  }

  /**
   * The filled part as a constant tensor (never requires grad) for the duration of `use`, with
   * the slots of `exclude` items (this batch's positives: their own earlier keys are not
   * negatives) zeroed meanwhile, then restored. A zero key scores 0 against every query, a
   * constant in the softmax that carries no gradient.
   */
  withNegatives<T>(exclude: ReadonlySet<number>, use: (queue: Tensor | null) => T): T {
    if (this.filled === 0) return use(null);
    const saved: [number, Float32Array][] = [];
    for (let s = 0; s < this.filled; s++) {
      if (exclude.has(this.owner[s])) {
        const row = this.keys.subarray(s * this.dim, (s + 1) * this.dim);
        saved.push([s, row.slice()]);
        row.fill(0);
      }
    }
    try {
      return use(new Tensor(this.keys.subarray(0, this.filled * this.dim), [this.filled, this.dim], false));
    } finally {
      for (const [s, row] of saved) this.keys.set(row, s * this.dim);
    }
  }
}

export class MomentumEncoder {
  private step = 0;
  private readonly lastSync: Int32Array;
  constructor(
    readonly online: SclModel,
    readonly key: SclModel,
    readonly momentum: number,
  ) {
    if (!(momentum >= 0 && momentum <= 1)) throw new MmctrError(`momentum must be in [0, 1], got ${momentum}`);
    // Start as an exact copy.
    const kp = key.namedParameters();
    for (const [name, p] of online.namedParameters()) kp.get(name)!.data.set(p.data);
    key.text.tokens.weight.set(online.text.tokens.weight);
    this.lastSync = new Int32Array(online.text.tokens.rows);
  }

  /** One EMA step of the dense parameters (call after each optimiser step). */
  update(): void {
    this.step++;
    const m = this.momentum;
    const kp = this.key.namedParameters();
    for (const [name, p] of this.online.namedParameters()) {
      const k = kp.get(name)!.data, o = p.data;
      for (let i = 0; i < o.length; i++) k[i] = m * k[i] + (1 - m) * o[i];
    }
  }

  /** Brings the key token rows that `ids` use up to date (lazy EMA). */
  syncRows(ids: Int32Array): void {
    const dim = this.online.text.tokens.dim, k = this.key.text.tokens.weight, o = this.online.text.tokens.weight;
    for (const id of ids) {
      const gap = this.step - this.lastSync[id];
      if (gap <= 0) continue;
      const f = this.momentum ** gap;
      for (let j = id * dim; j < (id + 1) * dim; j++) k[j] = o[j] + (k[j] - o[j]) * f;
      this.lastSync[id] = this.step;
    }
  }

  /** Keys of items (no gradient), L2-normalised. */
  encodeItems(inputs: ItemInputs, index: ArrayLike<number>, side: Side = 'fused'): Float32Array {
    const L = inputs.maxTokens;
    const ids = new Int32Array(index.length * L);
    for (let r = 0; r < index.length; r++) ids.set(inputs.titleIds.subarray(index[r] * L, (index[r] + 1) * L), r * L);
    this.syncRows(ids);
    return noGrad(() => this.key.encodeItems(inputs, index, side)).data;
  }
}
