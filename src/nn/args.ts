/**
 * Argument checks of the layers in nn/: each failure names the layer and the argument and says
 * what was expected, before any parameter is made (as tfjs-layers' ValueError does).
 */
import { EngineError } from '../engine/errors.js';

/** A layer was built with an argument outside its contract. */
export class LayerArgumentError extends EngineError {
  constructor(
    readonly layer: string,
    readonly argument: string,
    expected: string,
    got: unknown,
  ) {
    super(`${layer}: ${argument} must be ${expected}, got ${describe(got)}`);
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(describe).join(', ')}]`;
  return String(v);
}

/** An integer >= `min`. */
export function checkInteger(layer: string, argument: string, v: number, min: number): number {
  if (!Number.isSafeInteger(v) || v < min) throw new LayerArgumentError(layer, argument, min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`, v);
  return v;
}

/** A list of positive integers (layer widths). */
export function checkWidths(layer: string, argument: string, v: readonly number[]): readonly number[] {
  if (!Array.isArray(v) || v.some((w) => !Number.isSafeInteger(w) || w < 1)) throw new LayerArgumentError(layer, argument, 'a list of positive integers', v);
  return v;
}

/** A probability in [0, 1). */
export function checkRate(layer: string, argument: string, v: number): number {
  if (!(v >= 0 && v < 1)) throw new LayerArgumentError(layer, argument, 'in [0, 1)', v);
  return v;
}

/** One of the listed values. */
export function checkOneOf<T extends string>(layer: string, argument: string, v: T, allowed: readonly T[]): T {
  if (!allowed.includes(v)) throw new LayerArgumentError(layer, argument, `one of ${allowed.join(', ')}`, v);
  return v;
}
