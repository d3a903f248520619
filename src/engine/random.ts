/**
 * Seeded random numbers for everything that draws: initialisation, dropout, shuffling, sampling.
 * A stream is (seed, counter); draws are a hash of both (native/random.cc), so saving the two
 * integers in a checkpoint restores the exact sequence, and the numbers do not depend on the
 * thread count.
 */
import { EngineError } from './errors.js';
import { native } from './native.js';
import { fnv1aCodeUnits } from '../util/hash.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export interface RandomState {
  seed: number;
  counter: number;
}


export class RandomStream {
  private counter: number;

  constructor(
    readonly seed: number,
    counter = 0,
  ) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new EngineError(`random seed must be a non-negative integer, got ${seed}`);
    this.counter = counter;
  }

  static restore(state: RandomState): RandomStream {
    return new RandomStream(state.seed, state.counter);
  }

  state(): RandomState {
    return { seed: this.seed, counter: this.counter };
  }

  /** Moves this stream to a saved position of the same stream (same seed), in place. */
  seek(state: RandomState): void {
    if (state.seed !== this.seed) throw new EngineError(`random stream: a saved position of seed ${state.seed} cannot be applied to the stream of seed ${this.seed}`);
    if (!Number.isSafeInteger(state.counter) || state.counter < 0) throw new EngineError(`random stream: counter must be a non-negative integer, got ${state.counter}`);
    this.counter = state.counter;
  }

  /** An independent stream for a named purpose ("init", "dropout", "shuffle"). */
  fork(name: string): RandomStream {
    return new RandomStream((this.seed * 0x100000001 + fnv1aCodeUnits(name)) % MAX_SAFE);
  }

  private take(n: number): number {
    const start = this.counter;
    this.counter += n;
    return start;
  }

  uniform(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    native.fillUniform(out, this.seed, this.take(n), lo, hi);
    return out;
  }

  normal(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    native.fillNormal(out, this.seed, this.take(2 * n), mean, std);
    return out;
  }

  dropoutMask(n: number, keep: number): Float32Array {
    const out = new Float32Array(n);
    native.fillDropoutMask(out, this.seed, this.take(n), keep);
    return out;
  }

  /** One uniform number in [0, 1). */
  next(): number {
    return this.uniform(1)[0];
  }

  /** Integers in [0, max). */
  ints(n: number, max: number): Int32Array {
    const u = this.uniform(n);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.min(max - 1, Math.floor(u[i] * max));
    return out;
  }

  /** A permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    const u = this.uniform(n);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(u[i] * (i + 1)));
      const t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
  }
}
