/** Shape ops: reshape (shares data), transpose, slice, concat, all through strided copies. */
import { gradOf, record } from '../autograd.js';
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import { Shape, shapeString, sizeOf, stridesOf, Tensor } from '../tensor.js';
import { normAxis, output, uninitialized } from './common.js';

/** Same data, new shape; one axis may be -1 (inferred). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const known = shape.filter((d) => d !== -1);
  const inferred = shape.length - known.length;
  if (inferred > 1) throw new ShapeError(`reshape: at most one axis may be -1, got ${shapeString(shape)}`);
  const rest = sizeOf(known);
  const resolved = shape.map((d) => (d === -1 ? (rest === 0 ? 0 : x.size / rest) : d));
  if (sizeOf(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d)))
    throw new ShapeError(`reshape: cannot view ${shapeString(x.shape)} (${x.size} values) as ${shapeString(shape)}`);
  const out = output(resolved, [x], x.data);
  if (out.requiresGrad) {
    record(() => {
      if (!out.grad || !x.requiresGrad) return;
      if (x.grad) native.axpy(1, out.grad, x.grad);
      // A view may hand its gradient buffer to its base: no closure reads out.grad after this one.
      else x.grad = out.grad;
    });
  }
  return out;
}

/** Permutes axes (default: reverse them). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i))
    throw new ShapeError(`transpose: ${JSON.stringify(p)} is not a permutation of ${x.rank} axes`);
  const inStrides = stridesOf(x.shape);
  const shape = p.map((i) => x.shape[i]);
  const srcStrides = Int32Array.from(p.map((i) => inStrides[i]));
  const dstStrides = Int32Array.from(stridesOf(shape));
  const shapeI32 = Int32Array.from(shape);
  const out = output(shape, [x]);
  native.stridedCopy(x.data, 0, srcStrides, out.data, 0, dstStrides, shapeI32, false);
  if (out.requiresGrad) {
    record(() => {
      if (out.grad && x.requiresGrad) native.stridedCopy(out.grad, 0, dstStrides, gradOf(x), 0, srcStrides, shapeI32, true);
    });
  }
  return out;
}

/** x[..., start:end, ...] along one axis. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis(axis, x.rank, 'slice');
  if (!(0 <= start && start <= end && end <= x.shape[a]))
    throw new ShapeError(`slice: range [${start}, ${end}) does not fit axis ${a} of ${shapeString(x.shape)}`);
  const shape = x.shape.map((d, i) => (i === a ? end - start : d));
  const strides = Int32Array.from(stridesOf(x.shape));
  const offset = start * strides[a];
  const dstStrides = Int32Array.from(stridesOf(shape));
  const shapeI32 = Int32Array.from(shape);
  const out = output(shape, [x]);
  native.stridedCopy(x.data, offset, strides, out.data, 0, dstStrides, shapeI32, false);
  if (out.requiresGrad) {
    record(() => {
      if (out.grad && x.requiresGrad) native.stridedCopy(out.grad, 0, dstStrides, gradOf(x), offset, strides, shapeI32, true);
    });
  }
  return out;
}

/** Joins tensors along an axis; all other axes must agree. */
export function concat(parts: readonly Tensor[], axis: number): Tensor {
  if (parts.length === 0) throw new ShapeError('concat: needs at least one tensor');
  const first = parts[0];
  const a = normAxis(axis, first.rank, 'concat');
  for (const t of parts)
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i]))
      throw new ShapeError(`concat: ${shapeString(t.shape)} does not fit ${shapeString(first.shape)} along axis ${a}`);
  const shape = first.shape.map((d, i) => (i === a ? parts.reduce((s, t) => s + t.shape[a], 0) : d));
  const outStrides = Int32Array.from(stridesOf(shape));
  // The parts tile the output, so every value is written.
  const out = output(shape, parts, uninitialized(sizeOf(shape)));
  const views = parts.map((t, i) => {
    const offset = parts.slice(0, i).reduce((s, u) => s + u.shape[a], 0) * outStrides[a];
    return { t, offset, srcStrides: Int32Array.from(stridesOf(t.shape)), shapeI32: Int32Array.from(t.shape) };
  });
  for (const v of views) native.stridedCopy(v.t.data, 0, v.srcStrides, out.data, v.offset, outStrides, v.shapeI32, false);
  if (out.requiresGrad) {
    record(() => {
      if (!out.grad) return;
      for (const v of views) {
        if (!v.t.requiresGrad) continue;
        // A part's slice covers all of it: the first gradient it receives is a copy, which
        // spares zero-filling a fresh buffer only to add into it.
        const fresh = !v.t.grad;
        if (fresh) v.t.grad = uninitialized(v.t.size);
        native.stridedCopy(out.grad, v.offset, outStrides, v.t.grad!, 0, v.srcStrides, v.shapeI32, !fresh);
      }
    });
  }
  return out;
}
