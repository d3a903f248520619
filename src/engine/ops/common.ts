/** Helpers shared by the op families: output construction and shape checks. */
import { needsGrad } from '../autograd.js';
import { ShapeError } from '../errors.js';
import { Shape, shapeString, sizeOf, Tensor } from '../tensor.js';

/** A fresh output tensor that requires grad when any input does (and grad mode is on). */
export function output(shape: Shape, inputs: readonly (Tensor | null | undefined)[], data?: Float32Array): Tensor {
  return new Tensor(data ?? new Float32Array(sizeOf(shape)), shape, needsGrad(...inputs));
}

/**
 * A buffer that the caller's kernel overwrites completely (a GEMM with beta = 0, a kernel that
 * writes every element): malloc without the zero fill, which for the multi-megabyte outputs of
 * training steps costs as much as a small GEMM. Never use it for a buffer that is accumulated
 * into or read before written.
 */
export function uninitialized(n: number): Float32Array {
  return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
}

/**
 * Reusable scratch memory for buffers that never leave an op (a fused op's intermediates, a
 * backward pass's temporaries): taken when needed, given back when the op (or its backward
 * closure) is done with them. Steps allocate the same sizes again and again, so reusing them
 * keeps the memory mapped and in cache and out of the garbage collector's way: without it a DIN
 * step spent 12 ms of 70 in GC. Contents are undefined when taken.
 */
class ScratchPool {
  private free: Float32Array[] = [];
  private freeValues = 0;
  /** Free memory beyond this many values is dropped instead of kept. */
  private readonly keepValues = 256 * 1024 * 1024;

  take(n: number): Float32Array {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i].length;
      if (len >= n && len <= 2 * n + 4096 && (best < 0 || len < this.free[best].length)) best = i;
    }
    if (best < 0) return uninitialized(ScratchPool.capacity(n)).subarray(0, n);
    const buf = this.free[best];
    this.free[best] = this.free[this.free.length - 1];
    this.free.pop();
    this.freeValues -= buf.length;
    return buf.subarray(0, n);
  }

  /** Returns buffers obtained from take(); none of them may be used afterwards. */
  give(...views: (Float32Array | null | undefined)[]): void {
    for (const v of views) {
      if (!v) continue;
      const base = new Float32Array(v.buffer);
      if (this.freeValues + base.length > this.keepValues) continue;
      this.free.push(base);
      this.freeValues += base.length;
    }
  }

  /** Rounds up to 1/8 of the power of two below n, so sizes that vary a little between steps share buffers. */
  private static capacity(n: number): number {
    if (n < 4096) return 4096;
    const step = 2 ** Math.floor(Math.log2(n)) / 8;
    return Math.ceil(n / step) * step;
  }
}

export const scratch = new ScratchPool();

/**
 * Where a kernel that covers all of t should put t's gradient: into a fresh buffer it overwrites
 * (beta 0) when t has no gradient yet, else added to the existing one (beta 1). Spares zero-
 * filling a multi-megabyte buffer only to add into it.
 */
export function gradTarget(t: Tensor): [Float32Array, number] {
  if (t.grad) return [t.grad, 1];
  t.grad = uninitialized(t.size);
  return [t.grad, 0];
}

export function expectRank(t: Tensor, rank: number, op: string, what = 'input'): void {
  if (t.rank !== rank) throw new ShapeError(`${op}: ${what} must have rank ${rank}, got shape ${shapeString(t.shape)}`);
}

export function expectSameShape(a: Tensor, b: Tensor, op: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
    throw new ShapeError(`${op}: shapes ${shapeString(a.shape)} and ${shapeString(b.shape)} must be equal`);
}

/** Splits a shape into [rows, cols] = [product of all but the last axis, last axis]. */
export function rowsCols(shape: Shape): [number, number] {
  if (shape.length === 0) return [1, 1];
  const cols = shape[shape.length - 1];
  return [cols === 0 ? 0 : sizeOf(shape) / cols, cols];
}

export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? rank + axis : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}
