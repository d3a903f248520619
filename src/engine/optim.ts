/**
 * Optimisers. Dense ones (Adam / AdamW, SGD) update Parameters from their .grad; sparse ones
 * (row-sparse lazy Adam, Adagrad) update only the rows of SparseEmbedding tables that the step
 * touched. State buffers are named "<param>.<slot>" so checkpoints can save and restore them.
 */
import { EngineError } from './errors.js';
import { native } from './native.js';
import { SparseEmbedding } from './sparse-embedding.js';
import { Parameter } from './tensor.js';

export interface Optimizer {
  readonly kind: string;
  /** Applies one update from the current gradients, then clears them. */
  step(): void;
  /** Number of updates applied so far. */
  readonly steps: number;
  /** Named state buffers (moments, accumulators), live views to save or overwrite. */
  stateBuffers(): Map<string, Float32Array>;
  /** Restores the update count after loading state buffers. */
  setSteps(steps: number): void;
  /** Changes the learning rate (schedules). */
  lr: number;
}

function positive(value: number, what: string): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new EngineError(`${what} must be a finite non-negative number, got ${value}`);
  return value;
}

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 penalty (added to the gradient), or decoupled decay with `decoupled` (AdamW). */
  weightDecay?: number;
  decoupled?: boolean;
}

export class Adam implements Optimizer {
  readonly kind = 'adam';
  lr: number;
  steps = 0;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private readonly o: Required<Omit<AdamOptions, 'lr'>>;

  constructor(
    private readonly params: Map<string, Parameter>,
    { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, decoupled = false }: AdamOptions = {},
  ) {
    this.lr = positive(lr, 'Adam lr');
    this.o = { beta1, beta2, eps, weightDecay: positive(weightDecay, 'Adam weightDecay'), decoupled };
    for (const [name, p] of params) {
      this.m.set(name, new Float32Array(p.size));
      this.v.set(name, new Float32Array(p.size));
    }
  }

  step(): void {
    this.steps++;
    const { beta1, beta2, eps, weightDecay, decoupled } = this.o;
    for (const [name, p] of this.params) {
      if (!p.grad) continue;
      native.adam(p.data, p.grad, this.m.get(name)!, this.v.get(name)!, this.lr, beta1, beta2, eps, weightDecay, decoupled, this.steps);
      p.grad.fill(0);
    }
  }

  stateBuffers(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const name of this.params.keys()) {
      out.set(`${name}.m`, this.m.get(name)!);
      out.set(`${name}.v`, this.v.get(name)!);
    }
    return out;
  }

  setSteps(steps: number): void {
    this.steps = steps;
  }
}

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
}

export class SGD implements Optimizer {
  readonly kind = 'sgd';
  lr: number;
  steps = 0;
  private readonly momentumBuf = new Map<string, Float32Array>();
  private readonly momentum: number;
  private readonly weightDecay: number;

  constructor(
    private readonly params: Map<string, Parameter>,
    { lr = 0.01, momentum = 0, weightDecay = 0 }: SGDOptions = {},
  ) {
    this.lr = positive(lr, 'SGD lr');
    this.momentum = positive(momentum, 'SGD momentum');
    this.weightDecay = positive(weightDecay, 'SGD weightDecay');
    if (momentum > 0) for (const [name, p] of params) this.momentumBuf.set(name, new Float32Array(p.size));
  }

  step(): void {
    this.steps++;
    for (const [name, p] of this.params) {
      if (!p.grad) continue;
      native.sgd(p.data, p.grad, this.momentumBuf.get(name) ?? null, this.lr, this.momentum, this.weightDecay);
      p.grad.fill(0);
    }
  }

  stateBuffers(): Map<string, Float32Array> {
    return new Map([...this.momentumBuf].map(([name, b]) => [`${name}.momentum`, b]));
  }

  setSteps(steps: number): void {
    this.steps = steps;
  }
}

export interface SparseAdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 on the touched rows only. */
  l2?: number;
}

/** Lazy Adam: moments of a row move only when a batch touches it (as torch.optim.SparseAdam). */
export class SparseAdam implements Optimizer {
  readonly kind = 'sparse-adam';
  lr: number;
  steps = 0;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private readonly o: Required<Omit<SparseAdamOptions, 'lr'>>;

  constructor(
    private readonly tables: Map<string, SparseEmbedding>,
    { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, l2 = 0 }: SparseAdamOptions = {},
  ) {
    this.lr = positive(lr, 'SparseAdam lr');
    this.o = { beta1, beta2, eps, l2: positive(l2, 'SparseAdam l2') };
    for (const [name, t] of tables) {
      // fill(0) commits the pages now: a fresh buffer is mapped lazily, and the first touch of
      // each page at a random row would otherwise fault inside the training steps (measured:
      // 10-100x the cost of the update itself over the first dozen steps on a 1M-row table).
      this.m.set(name, new Float32Array(t.weight.length).fill(0));
      this.v.set(name, new Float32Array(t.weight.length).fill(0));
    }
  }

  step(): void {
    this.steps++;
    const { beta1, beta2, eps, l2 } = this.o;
    for (const [name, t] of this.tables) {
      const g = t.takeGradient();
      if (g) native.sparseAdam(t.weight, this.m.get(name)!, this.v.get(name)!, t.dim, g.rows, g.grads, this.lr, beta1, beta2, eps, l2, this.steps);
    }
  }

  stateBuffers(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const name of this.tables.keys()) {
      out.set(`${name}.m`, this.m.get(name)!);
      out.set(`${name}.v`, this.v.get(name)!);
    }
    return out;
  }

  setSteps(steps: number): void {
    this.steps = steps;
  }
}

export interface SparseAdagradOptions {
  lr?: number;
  eps?: number;
  l2?: number;
  initialAccumulator?: number;
}

export class SparseAdagrad implements Optimizer {
  readonly kind = 'sparse-adagrad';
  lr: number;
  steps = 0;
  private readonly acc = new Map<string, Float32Array>();
  private readonly eps: number;
  private readonly l2: number;

  constructor(
    private readonly tables: Map<string, SparseEmbedding>,
    { lr = 0.01, eps = 1e-10, l2 = 0, initialAccumulator = 0 }: SparseAdagradOptions = {},
  ) {
    this.lr = positive(lr, 'SparseAdagrad lr');
    this.eps = eps;
    this.l2 = positive(l2, 'SparseAdagrad l2');
    for (const [name, t] of tables) this.acc.set(name, new Float32Array(t.weight.length).fill(initialAccumulator));
  }

  step(): void {
    this.steps++;
    for (const [name, t] of this.tables) {
      const g = t.takeGradient();
      if (g) native.sparseAdagrad(t.weight, this.acc.get(name)!, t.dim, g.rows, g.grads, this.lr, this.eps, this.l2);
    }
  }

  stateBuffers(): Map<string, Float32Array> {
    return new Map([...this.acc].map(([name, b]) => [`${name}.acc`, b]));
  }

  setSteps(steps: number): void {
    this.steps = steps;
  }
}
