/**
 * The pool of ranking threads (rank-worker.ts). One forward pass uses one core well; a second
 * engine thread inside it mostly waits (measured: 10.3 vs 6.9 ms of CPU per request), so the
 * service scales across cores by scoring different requests on different threads instead.
 * Each request goes to the thread with the fewest outstanding requests.
 *
 * Reload: every thread loads the new version beside the old one; only when all have it does
 * the main thread switch new requests to it. Requests already sent carry their version and
 * finish on it; older versions are dropped after the next switch, once no request that began on
 * them is still waiting (requests can wait in the admission queue across several reloads).
 */
import { Worker } from 'node:worker_threads';
import { MmctrError } from '../util/errors.js';
import type { ServingBackend } from './model-state.js';
import type { RankInput, RankOutput } from './ranker.js';

interface Pending {
  resolve: (r: unknown) => void;
  reject: (e: Error) => void;
}

class RankThread {
  readonly pending = new Map<number, Pending>();
  private next = 0;
  private dead: Error | null = null;

  constructor(readonly worker: Worker) {
    worker.on('message', (m: { type: 'done' | 'error'; id: number; result?: unknown; message?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'done') p.resolve(m.result);
      else p.reject(new MmctrError(m.message ?? 'ranking thread failed'));
    });
    const die = (err: Error) => {
      this.dead = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', die);
    worker.on('exit', (code) => die(new MmctrError(`ranking thread exited (code ${code})`)));
  }

  call<T>(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  post(message: Record<string, unknown>): void {
    if (!this.dead) this.worker.postMessage(message);
  }
}

export class RankPool {
  /** Requests begun on each version and not yet finished. */
  private readonly held = new Map<number, number>();
  /** Versions below this may go once nothing holds them. */
  private dropBelow = 0;

  private constructor(private readonly threads: RankThread[]) {}

  static start(size: number): RankPool {
    if (!Number.isInteger(size) || size < 1) throw new MmctrError(`ranking threads must be a positive integer, got ${size}`);
    const url = new URL('./rank-worker.js', import.meta.url);
    return new RankPool(Array.from({ length: size }, () => new RankThread(new Worker(url))));
  }

  get size(): number {
    return this.threads.length;
  }

  /** Loads `run` as `version` on every thread (resolves when all have it). */
  async load(run: string, version: number, dim: number, backend: ServingBackend): Promise<void> {
    await Promise.all(this.threads.map((t) => t.call({ type: 'load', run, version, dim, backend })));
  }

  /** Tells every thread it may forget versions older than `below`. */
  drop(below: number): void {
    this.dropBelow = Math.max(this.dropBelow, below);
    this.release();
  }

  /** Keeps `version` loaded in the threads until the returned function is called (a request's lifetime). */
  hold(version: number): () => void {
    this.held.set(version, (this.held.get(version) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = this.held.get(version)! - 1;
      if (n > 0) this.held.set(version, n);
      else this.held.delete(version);
      this.release();
    };
  }

  /** Tells the threads to forget what nothing holds any more. */
  private release(): void {
    const below = Math.min(this.dropBelow, ...this.held.keys());
    for (const t of this.threads) t.post({ type: 'drop', below });
  }

  rank(version: number, input: RankInput, unique: readonly string[], vectors: readonly (Float32Array | null)[], dim: number): Promise<RankOutput> {
    // One packed table (transferred, not copied) instead of hundreds of small arrays.
    const packed = new Float32Array(unique.length * dim), present = new Uint8Array(unique.length);
    vectors.forEach((v, k) => {
      if (!v) return;
      packed.set(v, k * dim);
      present[k] = 1;
    });
    let best = this.threads[0];
    for (const t of this.threads) if (t.pending.size < best.pending.size) best = t;
    const plainInput = { behaviours: [...input.behaviours], candidates: [...input.candidates], userId: input.userId };
    return best.call<RankOutput>({ type: 'rank', version, input: plainInput, unique, packed, present, dim }, [packed.buffer as ArrayBuffer, present.buffer as ArrayBuffer]);
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}
