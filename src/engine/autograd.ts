/**
 * Reverse-mode autodiff on a tape. Ops append a backward closure when grad mode is on and an
 * input requires grad; `backward(loss)` runs the closures newest first, then clears the tape.
 * Gradients accumulate (+=), so a tensor used twice receives both contributions.
 */
import { EngineError } from './errors.js';
import { Tensor } from './tensor.js';

type Backward = () => void;

let tape: Backward[] = [];
let gradEnabled = true;

/** True when an op over these inputs must be recorded. */
export function needsGrad(...inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t?.requiresGrad) return true;
  return false;
}

/** True unless inside noGrad(). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Appends the backward closure of an op whose output is being built. */
export function record(backward: Backward): void {
  tape.push(backward);
}

/** The gradient buffer of t, allocated as zeros on first use. */
export function gradOf(t: Tensor): Float32Array {
  if (!t.grad) t.grad = new Float32Array(t.size);
  return t.grad;
}

/** Back-propagates from a scalar loss (or from `seed`, the loss's own gradient). */
export function backward(loss: Tensor, seed?: Float32Array): void {
  if (!loss.requiresGrad) throw new EngineError('backward() was called on a tensor that does not depend on any parameter');
  if (!seed && loss.size !== 1) throw new EngineError(`backward() without a seed needs a scalar loss, got ${loss.size} values`);
  const g = gradOf(loss);
  if (seed) g.set(seed);
  else g[0] += 1;
  const nodes = tape;
  tape = [];
  for (let i = nodes.length - 1; i >= 0; i--) nodes[i]();
}

/** Runs fn without recording (inference, evaluation, parameter updates). */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

/** Drops whatever the tape holds (a forward pass that will not be back-propagated). */
export function clearTape(): void {
  tape = [];
}

export function tapeLength(): number {
  return tape.length;
}
