/**
 * Module: a named composition of parameters, buffers (non-trained state such as running
 * statistics), sparse embedding tables, random streams (dropout) and child modules. Names are
 * dotted paths ("interest.attention.w0"), which are the keys in parameter files, optimiser state
 * and checkpoints (a checkpoint saves every stream's position, so a resumed run draws the same
 * dropout masks as one that never stopped).
 */
import { EngineError } from './errors.js';
import { Initializer } from './init.js';
import { RandomStream } from './random.js';
import { Parameter, Shape } from './tensor.js';
import type { SparseEmbedding } from './sparse-embedding.js';

export abstract class Module {
  private readonly ownParams = new Map<string, Parameter>();
  private readonly ownBuffers = new Map<string, Float32Array>();
  private readonly ownTables = new Map<string, SparseEmbedding>();
  private readonly ownStreams = new Map<string, RandomStream>();
  private readonly children = new Map<string, Module>();
  /** Training mode (dropout, Dice batch statistics); switch with train() / eval(). */
  training = true;
  /** A frozen module keeps its weights: no gradients, and it stays in eval mode (see freeze()). */
  frozen = false;

  protected param(name: string, shape: Shape, init: Initializer, rng: RandomStream): Parameter {
    this.claim(name);
    const p = new Parameter(name, init(shape, rng.fork(name)), shape);
    this.ownParams.set(name, p);
    return p;
  }

  protected buffer(name: string, size: number, fill = 0): Float32Array {
    this.claim(name);
    const b = new Float32Array(size).fill(fill);
    this.ownBuffers.set(name, b);
    return b;
  }

  protected table(name: string, table: SparseEmbedding): SparseEmbedding {
    this.claim(name);
    this.ownTables.set(name, table);
    return table;
  }

  /** A random stream the module draws from while it runs (dropout); its position is training state. */
  protected stream(name: string, rng: RandomStream): RandomStream {
    this.claim(name);
    this.ownStreams.set(name, rng);
    return rng;
  }

  protected child<M extends Module>(name: string, module: M): M {
    this.claim(name);
    this.children.set(name, module);
    return module;
  }

  private claim(name: string): void {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new EngineError(`module part name '${name}' must be an identifier`);
    if (this.ownParams.has(name) || this.ownBuffers.has(name) || this.ownTables.has(name) || this.ownStreams.has(name) || this.children.has(name))
      throw new EngineError(`module part name '${name}' is used twice`);
  }

  /** This module's own parts of one kind, then its children's, by dotted name. */
  private collect<T>(own: (m: Module) => Map<string, T>, prefix: string): Map<string, T> {
    const out = new Map<string, T>();
    for (const [n, part] of own(this)) out.set(prefix + n, part);
    for (const [n, c] of this.children) for (const [k, part] of c.collect(own, `${prefix}${n}.`)) out.set(k, part);
    return out;
  }

  /** Dense parameters by dotted name. */
  namedParameters(prefix = ''): Map<string, Parameter> {
    return this.collect((m) => m.ownParams, prefix);
  }

  namedBuffers(prefix = ''): Map<string, Float32Array> {
    return this.collect((m) => m.ownBuffers, prefix);
  }

  namedTables(prefix = ''): Map<string, SparseEmbedding> {
    return this.collect((m) => m.ownTables, prefix);
  }

  namedStreams(prefix = ''): Map<string, RandomStream> {
    return this.collect((m) => m.ownStreams, prefix);
  }

  /** The parameters an optimiser should update: all but those of frozen modules. */
  namedTrainableParameters(): Map<string, Parameter> {
    return new Map([...this.namedParameters()].filter(([, p]) => p.requiresGrad));
  }

  /**
   * Freezes the module and its children: no gradient flows into their parameters and they run
   * in eval mode (running statistics, no dropout) even when a parent trains. Reusing a trained
   * part (MAKE inside the ID model) must not move it.
   */
  freeze(): this {
    this.eval();
    this.frozen = true;
    for (const p of this.ownParams.values()) p.requiresGrad = false;
    for (const c of this.children.values()) c.freeze();
    return this;
  }

  parameters(): Parameter[] {
    return [...this.namedParameters().values()];
  }

  /** Number of trainable scalars, dense and sparse. */
  parameterCount(): number {
    let n = 0;
    for (const p of this.namedParameters().values()) n += p.size;
    for (const t of this.namedTables().values()) n += t.rows * t.dim;
    return n;
  }

  train(on = true): this {
    this.training = on && !this.frozen;
    for (const c of this.children.values()) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.namedParameters().values()) p.zeroGrad();
    for (const t of this.namedTables().values()) t.zeroGrad();
  }
}
