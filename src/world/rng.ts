/**
 * The world's own random numbers: a small pure-JS generator (sfc32 seeded through splitmix32),
 * so a world is the same for a seed on every machine and needs no native addon, plus stateless
 * hashes for draws that must not depend on the order of the simulation (a user's fixed
 * affinity to an item).
 */
import { fnv1aCodeUnits } from '../util/hash.js';

function splitmix32(state: number): [number, number] {
  let z = (state + 0x9e3779b9) >>> 0;
  const next = z;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [next, (z ^ (z >>> 16)) >>> 0];
}


/** A 32-bit hash of a few integers (murmur3 finaliser over a running mix). */
export function hashInts(...xs: number[]): number {
  let h = 0x2545f491;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x9e3779b1) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A standard normal number that is a pure function of the integers given. */
export function hashNormal(...xs: number[]): number {
  const u1 = (hashInts(...xs, 1) + 0.5) / 4294967296;
  const u2 = (hashInts(...xs, 2) + 0.5) / 4294967296;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    let s = seed >>> 0;
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [n, v] = splitmix32(s);
      s = n;
      out.push(v);
    }
    [this.a, this.b, this.c, this.d] = out;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** An independent stream for a named purpose. */
  fork(name: string): Rng {
    return new Rng(hashInts(this.seed, fnv1aCodeUnits(name)));
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.next() * n));
  }

  normal(mean = 0, std = 1): number {
    const u1 = this.next() || 1e-12;
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Poisson count (Knuth for small means, a rounded normal for large ones). */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 30) return Math.max(0, Math.round(this.normal(mean, Math.sqrt(mean))));
    const l = Math.exp(-mean);
    let k = 0, p = 1;
    for (;;) {
      p *= this.next();
      if (p <= l) return k;
      k++;
    }
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** An index drawn with the given non-negative weights (-1 if they sum to 0). */
  weighted(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i];
    if (!(total > 0)) return -1;
    let x = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i];
      if (x < 0) return i;
    }
    return weights.length - 1;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }
}

/** Draws from fixed weights in O(log n): cumulative sums and a binary search. */
export class Cumulative {
  private readonly cum: Float64Array;
  readonly total: number;

  constructor(weights: ArrayLike<number>) {
    this.cum = new Float64Array(weights.length);
    let acc = 0;
    for (let i = 0; i < weights.length; i++) this.cum[i] = acc += weights[i];
    this.total = acc;
  }

  get length(): number {
    return this.cum.length;
  }

  /** An index, or -1 when every weight is 0. */
  draw(rng: Rng): number {
    if (!(this.total > 0)) return -1;
    const x = rng.next() * this.total;
    let lo = 0, hi = this.cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cum[mid] <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
