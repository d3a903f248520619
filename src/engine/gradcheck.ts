/**
 * Finite-difference gradient check: compares the tape's gradient of sum(f(inputs) * R), R a
 * fixed random projection (so every output value matters), with central differences. Sums run
 * in float64 to keep the float32 round-off out of the difference quotient.
 */
import { backward, noGrad } from './autograd.js';
import { RandomStream } from './random.js';
import { Tensor } from './tensor.js';

export interface GradCheckOptions {
  eps?: number;
  /** Checked entries per input, spread over the tensor (all when smaller). */
  samples?: number;
  seed?: number;
}

export interface GradCheckResult {
  /** Largest |analytic - numeric| / max(1, |analytic|, |numeric|) over checked entries. */
  maxError: number;
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
  checked: number;
}

export function gradCheck(f: (inputs: Tensor[]) => Tensor, inputs: Tensor[], { eps = 1e-2, samples = 24, seed = 7 }: GradCheckOptions = {}): GradCheckResult {
  const rng = new RandomStream(seed);
  for (const t of inputs) t.grad = null;
  const out = f(inputs);
  const projection = rng.uniform(out.size, -1, 1);
  backward(out, projection);
  const analytic = inputs.map((t) => (t.grad ? Float64Array.from(t.grad) : new Float64Array(t.size)));
  const objective = (): number =>
    noGrad(() => {
      const y = f(inputs).data;
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i] * projection[i];
      return s;
    });
  let maxError = 0;
  let worst: GradCheckResult['worst'] = null;
  let checked = 0;
  inputs.forEach((t, which) => {
    if (!t.requiresGrad) return;
    const step = Math.max(1, Math.floor(t.size / samples));
    for (let index = 0; index < t.size; index += step) {
      const saved = t.data[index];
      t.data[index] = saved + eps;
      const up = objective();
      t.data[index] = saved - eps;
      const down = objective();
      t.data[index] = saved;
      const numeric = (up - down) / (2 * eps);
      const a = analytic[which][index];
      const err = Math.abs(a - numeric) / Math.max(1, Math.abs(a), Math.abs(numeric));
      checked++;
      if (err > maxError) {
        maxError = err;
        worst = { input: which, index, analytic: a, numeric };
      }
    }
  });
  return { maxError, worst, checked };
}
