/** Parameter initialisers (all draw from a RandomStream, so models are reproducible by seed). */
import { RandomStream } from './random.js';
import { Shape, sizeOf } from './tensor.js';

export type Initializer = (shape: Shape, rng: RandomStream) => Float32Array;

export const zeros: Initializer = (shape) => new Float32Array(sizeOf(shape));

export const constant =
  (value: number): Initializer =>
  (shape) =>
    new Float32Array(sizeOf(shape)).fill(value);

export const normal =
  (std: number, mean = 0): Initializer =>
  (shape, rng) =>
    rng.normal(sizeOf(shape), mean, std);

export const uniform =
  (limit: number): Initializer =>
  (shape, rng) =>
    rng.uniform(sizeOf(shape), -limit, limit);

/** Glorot / Xavier uniform for a [fanIn, fanOut] weight: limit sqrt(6 / (fanIn + fanOut)). */
export const glorotUniform: Initializer = (shape, rng) => {
  const fanIn = shape.length > 1 ? sizeOf(shape.slice(0, -1)) : shape[0];
  const fanOut = shape[shape.length - 1];
  return rng.uniform(sizeOf(shape), -Math.sqrt(6 / (fanIn + fanOut)), Math.sqrt(6 / (fanIn + fanOut)));
};

/** PyTorch's nn.Linear default (Kaiming uniform with a = sqrt(5)): limit 1 / sqrt(fanIn). */
export const lecunUniform: Initializer = (shape, rng) => {
  const fanIn = shape.length > 1 ? sizeOf(shape.slice(0, -1)) : shape[0];
  return rng.uniform(sizeOf(shape), -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
};
