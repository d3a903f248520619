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

/**
 * What every optimiser shares: the update count, the learning rate, and its state buffers, one
 * per parameter and slot, named "<param>.<slot>" so a checkpoint saves and restores them by name.
 */
abstract class SlottedOptimizer implements Optimizer {
  abstract readonly kind: string;
  lr: number;
  steps = 0;
  private readonly buffers = new Map<string, Float32Array>();

  protected constructor(lr: number, what: string) {
    this.lr = positive(lr, `${what} lr`);
  }

  abstract step(): void;

  /**
   * fill() commits the pages now: a fresh buffer is mapped lazily, and the first touch of each
   * page at a random row would otherwise fault inside the training steps (measured: 10-100x the
   * cost of the update itself over the first dozen steps on a 1M-row table).
   */
  protected addSlot(param: string, slot: string, size: number, initial = 0): void {
    this.buffers.set(`${param}.${slot}`, new Float32Array(size).fill(initial));
  }

  protected slot(param: string, slot: string): Float32Array {
    return this.buffers.get(`${param}.${slot}`)!;
  }

  protected hasSlot(param: string, slot: string): boolean {
    return this.buffers.has(`${param}.${slot}`);
  }

  stateBuffers(): Map<string, Float32Array> {
    return new Map(this.buffers);
  }

  setSteps(steps: number): void {
    this.steps = steps;
  }
}

/** The hyper-parameters both Adams share (torch's defaults). */
interface AdamMomentOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export interface AdamOptions extends AdamMomentOptions {
  /** L2 penalty (added to the gradient), or decoupled decay with `decoupled` (AdamW). */
  weightDecay?: number;
  decoupled?: boolean;
}

export class Adam extends SlottedOptimizer {
  readonly kind = 'adam';
  private readonly o: Required<Omit<AdamOptions, 'lr'>>;

  constructor(
    private readonly params: Map<string, Parameter>,
    { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, decoupled = false }: AdamOptions = {},
  ) {
    super(lr, 'Adam');
    this.o = { beta1, beta2, eps, weightDecay: positive(weightDecay, 'Adam weightDecay'), decoupled };
    for (const [name, p] of params) {
      this.addSlot(name, 'm', p.size);
      this.addSlot(name, 'v', p.size);
    }
  }

  step(): void {
    this.steps++;
    const { beta1, beta2, eps, weightDecay, decoupled } = this.o;
    for (const [name, p] of this.params) {
      if (!p.grad) continue;
      native.adam(p.data, p.grad, this.slot(name, 'm'), this.slot(name, 'v'), this.lr, beta1, beta2, eps, weightDecay, decoupled, this.steps);
      p.grad.fill(0);
    }
  }
}

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
}

export class SGD extends SlottedOptimizer {
  readonly kind = 'sgd';
  private readonly momentum: number;
  private readonly weightDecay: number;

  constructor(
    private readonly params: Map<string, Parameter>,
    { lr = 0.01, momentum = 0, weightDecay = 0 }: SGDOptions = {},
  ) {
    super(lr, 'SGD');
    this.momentum = positive(momentum, 'SGD momentum');
    this.weightDecay = positive(weightDecay, 'SGD weightDecay');
    if (momentum > 0) for (const [name, p] of params) this.addSlot(name, 'momentum', p.size);
  }

  step(): void {
    this.steps++;
    for (const [name, p] of this.params) {
      if (!p.grad) continue;
      const momentum = this.hasSlot(name, 'momentum') ? this.slot(name, 'momentum') : null;
      native.sgd(p.data, p.grad, momentum, this.lr, this.momentum, this.weightDecay);
      p.grad.fill(0);
    }
  }
}

export interface SparseAdamOptions extends AdamMomentOptions {
  /** L2 on the touched rows only (every row when `dense`). */
  l2?: number;
  /**
   * Every row's moments decay and the row moves every step, touched or not, as torch's Adam on a
   * dense nn.Embedding (FuxiCTR's); the default (false) is lazy, as torch.optim.SparseAdam.
   */
  dense?: boolean;
}

/** Lazy Adam: moments of a row move only when a batch touches it (as torch.optim.SparseAdam). */
export class SparseAdam extends SlottedOptimizer {
  readonly kind = 'sparse-adam';
  private readonly o: Required<Omit<SparseAdamOptions, 'lr'>>;

  constructor(
    private readonly tables: Map<string, SparseEmbedding>,
    { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, l2 = 0, dense = false }: SparseAdamOptions = {},
  ) {
    super(lr, 'SparseAdam');
    this.o = { beta1, beta2, eps, l2: positive(l2, 'SparseAdam l2'), dense };
    for (const [name, t] of tables) {
      this.addSlot(name, 'm', t.weight.length);
      this.addSlot(name, 'v', t.weight.length);
    }
  }

  step(): void {
    this.steps++;
    const { beta1, beta2, eps, l2, dense } = this.o;
    for (const [name, t] of this.tables) {
      const g = t.takeGradient();
      if (dense) {
        const full = new Float32Array(t.weight.length);
        if (g) for (let i = 0; i < g.rows.length; i++) full.set(g.grads.subarray(i * t.dim, (i + 1) * t.dim), g.rows[i] * t.dim);
        native.adam(t.weight, full, this.slot(name, 'm'), this.slot(name, 'v'), this.lr, beta1, beta2, eps, l2, false, this.steps);
      } else if (g) native.sparseAdam(t.weight, this.slot(name, 'm'), this.slot(name, 'v'), t.dim, g.rows, g.grads, this.lr, beta1, beta2, eps, l2, this.steps);
    }
  }
}

export interface SparseAdagradOptions {
  lr?: number;
  eps?: number;
  l2?: number;
  initialAccumulator?: number;
}

export class SparseAdagrad extends SlottedOptimizer {
  readonly kind = 'sparse-adagrad';
  private readonly eps: number;
  private readonly l2: number;

  constructor(
    private readonly tables: Map<string, SparseEmbedding>,
    { lr = 0.01, eps = 1e-10, l2 = 0, initialAccumulator = 0 }: SparseAdagradOptions = {},
  ) {
    super(lr, 'SparseAdagrad');
    this.eps = eps;
    this.l2 = positive(l2, 'SparseAdagrad l2');
    for (const [name, t] of tables) this.addSlot(name, 'acc', t.weight.length, initialAccumulator);
  }

  step(): void {
    this.steps++;
    for (const [name, t] of this.tables) {
      const g = t.takeGradient();
      if (g) native.sparseAdagrad(t.weight, this.slot(name, 'acc'), t.dim, g.rows, g.grads, this.lr, this.eps, this.l2);
    }
  }
}

/**
 * Scales every gradient (dense parameters' and the sparse tables' rows of this step) by
 * maxNorm / (norm + 1e-6) when their joint L2 norm exceeds maxNorm, as torch's clip_grad_norm_
 * does (FuxiCTR clips at 10 every step). Returns the norm before clipping. Call it between
 * backward and the optimisers' step.
 */
export function clipGradNorm(params: Iterable<Parameter>, tables: Iterable<SparseEmbedding>, maxNorm: number): number {
  positive(maxNorm, 'clipGradNorm maxNorm');
  const grads: Float32Array[] = [];
  for (const p of params) if (p.grad) grads.push(p.grad);
  for (const t of tables) {
    const g = t.gradient();
    if (g) grads.push(g.grads);
  }
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  const norm = Math.sqrt(sum);
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= scale;
  return norm;
}
