/** Helpers shared by the op families: output construction and shape checks. */
import { needsGrad } from '../autograd.js';
import { ShapeError } from '../errors.js';
import { Shape, shapeString, sizeOf, Tensor } from '../tensor.js';

/** A fresh output tensor that requires grad when any input does (and grad mode is on). */
export function output(shape: Shape, inputs: readonly (Tensor | null | undefined)[], data?: Float32Array): Tensor {
  return new Tensor(data ?? new Float32Array(sizeOf(shape)), shape, needsGrad(...inputs));
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
