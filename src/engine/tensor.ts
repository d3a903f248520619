/**
 * Tensor: a dense float32 array with a shape (row-major, contiguous), an optional gradient, and
 * the flag that tells the tape to record ops on it. Data lives in a Float32Array that the native
 * kernels read and write in place.
 */
import { ShapeError } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`shape [${shape.join(', ')}] has a dimension that is not a non-negative integer`);
    n *= d;
  }
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function shapeString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  /** Gradient of the loss with respect to this tensor, allocated when backward first reaches it. */
  grad: Float32Array | null = null;

  constructor(
    readonly data: Float32Array,
    readonly shape: Shape,
    /** False for constants; a Parameter turns it off when its module is frozen (Module.freeze). */
    public requiresGrad = false,
  ) {
    const n = sizeOf(shape);
    if (data.length !== n) throw new ShapeError(`a tensor of shape ${shapeString(shape)} needs ${n} values, got ${data.length}`);
  }

  static zeros(shape: Shape, requiresGrad = false): Tensor {
    return new Tensor(new Float32Array(sizeOf(shape)), shape, requiresGrad);
  }

  static from(values: ArrayLike<number>, shape?: Shape, requiresGrad = false): Tensor {
    return new Tensor(Float32Array.from(values), shape ?? [values.length], requiresGrad);
  }

  static scalar(value: number): Tensor {
    return new Tensor(Float32Array.of(value), []);
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Size of axis i; negative i counts from the end. */
  dim(i: number): number {
    const axis = i < 0 ? this.shape.length + i : i;
    if (axis < 0 || axis >= this.shape.length) throw new ShapeError(`axis ${i} is out of range for shape ${shapeString(this.shape)}`);
    return this.shape[axis];
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.data.length !== 1) throw new ShapeError(`item() needs a one-element tensor, got shape ${shapeString(this.shape)}`);
    return this.data[0];
  }

  /** A tensor over the same data that the tape does not track. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false);
  }

  toString(): string {
    return `Tensor${shapeString(this.shape)}`;
  }
}

/** A trainable dense tensor with a stable name (the key in parameter files). */
export class Parameter extends Tensor {
  constructor(
    readonly name: string,
    data: Float32Array,
    shape: Shape,
  ) {
    super(data, shape, true);
  }

  zeroGrad(): void {
    this.grad?.fill(0);
  }
}
