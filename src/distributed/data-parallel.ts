/**
 * Data-parallel training over MPI (the trainer's `DataParallel`): every rank holds the whole
 * model, trains a contiguous share of each global batch, and before each update the ranks sum
 * their gradients, so every rank applies the update one process would apply to the global batch.
 * Dense gradients travel in one fused allreduce per step; embedding gradients as the touched
 * rows and their gradients, gathered from every rank (replicated tables: allgather of rows)
 * and coalesced again, so the row-sparse optimisers see one row per id touched anywhere.
 * Dice's batch statistics are summed over ranks through the engine's cross-rank sum.
 */
import { setCrossRankSum } from '../engine/cross-rank.js';
import type { Module } from '../engine/module.js';
import { native } from '../engine/native.js';
import type { Parameter } from '../engine/tensor.js';
import type { DataParallel } from '../ctr/trainer.js';
import { mpiWorld, type Communicator } from './mpi.js';

/** Bytes one rank sends per training step, by kind (the cost docs/distributed.md models). */
export interface StepBytes {
  dense: number;
  sparse: number;
  statistics: number;
}

export class MpiDataParallel implements DataParallel {
  readonly rank: number;
  readonly size: number;
  readonly writes: boolean;
  /** What the last step sent. */
  readonly lastStep: StepBytes = { dense: 0, sparse: 0, statistics: 0 };
  private denseBuffer: Float32Array | null = null;
  private statisticsBytes = 0;

  constructor(private readonly comm: Communicator) {
    this.rank = comm.rank;
    this.size = comm.size;
    this.writes = comm.rank === 0;
  }

  share(n: number): { start: number; end: number } {
    return { start: Math.floor((this.rank * n) / this.size), end: Math.floor(((this.rank + 1) * n) / this.size) };
  }

  broadcastModel(model: Module): void {
    for (const p of model.namedParameters().values()) this.comm.broadcast(p.data);
    for (const b of model.namedBuffers().values()) this.comm.broadcast(b);
    for (const t of model.namedTables().values()) this.comm.broadcast(t.weight);
  }

  sumGradients(model: Module): void {
    this.lastStep.statistics = this.statisticsBytes;
    this.statisticsBytes = 0;
    this.lastStep.dense = this.sumDense([...model.namedParameters().values()].filter((p) => p.requiresGrad));
    this.lastStep.sparse = this.sumSparse(model);
  }

  gatherShares(values: Float32Array): void {
    const counts = new Int32Array(this.size);
    for (let r = 0; r < this.size; r++) counts[r] = Math.floor(((r + 1) * values.length) / this.size) - Math.floor((r * values.length) / this.size);
    const { start, end } = this.share(values.length);
    values.set(this.comm.allgatherv(values.slice(start, end), counts));
  }

  sum(values: Float64Array): void {
    this.comm.allreduceSum(values);
  }

  synced<T>(fn: () => T): T {
    const before = setCrossRankSum((values) => {
      this.statisticsBytes += values.byteLength;
      this.comm.allreduceSum(values);
    });
    try {
      return fn();
    } finally {
      setCrossRankSum(before);
    }
  }

  /** One allreduce over every parameter's gradient, plus one flag each: a parameter no rank touched keeps no gradient (the optimiser skips it, as in one process). */
  private sumDense(params: Parameter[]): number {
    const total = params.reduce((s, p) => s + p.size + 1, 0);
    if (this.denseBuffer?.length !== total) this.denseBuffer = new Float32Array(total);
    const buffer = this.denseBuffer;
    let at = 0;
    for (const p of params) {
      if (p.grad) {
        buffer.set(p.grad, at);
        buffer[at + p.size] = 1;
      } else buffer.fill(0, at, at + p.size + 1);
      at += p.size + 1;
    }
    this.comm.allreduceSum(buffer);
    at = 0;
    for (const p of params) {
      if (buffer[at + p.size] > 0) {
        p.grad ??= new Float32Array(p.size);
        p.grad.set(buffer.subarray(at, at + p.size));
      }
      at += p.size + 1;
    }
    return buffer.byteLength;
  }

  /** Every table's touched rows and gradients from every rank, coalesced into one row per id. */
  private sumSparse(model: Module): number {
    const tables = [...model.namedTables().values()];
    const T = tables.length;
    if (T === 0) return 0;
    const local = tables.map((t) => t.gradient());
    const counts = this.comm.allgatherv(Int32Array.from(local, (g) => g?.rows.length ?? 0), new Int32Array(this.size).fill(T));
    const rowCounts = new Int32Array(this.size), gradCounts = new Int32Array(this.size);
    for (let r = 0; r < this.size; r++)
      for (let t = 0; t < T; t++) {
        rowCounts[r] += counts[r * T + t];
        gradCounts[r] += counts[r * T + t] * tables[t].dim;
      }
    const sendRows = new Int32Array(rowCounts[this.rank]), sendGrads = new Float32Array(gradCounts[this.rank]);
    let rowAt = 0, gradAt = 0;
    for (const g of local) {
      if (!g) continue;
      sendRows.set(g.rows, rowAt);
      sendGrads.set(g.grads, gradAt);
      rowAt += g.rows.length;
      gradAt += g.grads.length;
    }
    const rows = this.comm.allgatherv(sendRows, rowCounts), grads = this.comm.allgatherv(sendGrads, gradCounts);
    // Rank r's block starts after the blocks of ranks before it; table t's part after tables before t.
    const rankRow = new Int32Array(this.size), rankGrad = new Int32Array(this.size);
    for (let r = 1; r < this.size; r++) {
      rankRow[r] = rankRow[r - 1] + rowCounts[r - 1];
      rankGrad[r] = rankGrad[r - 1] + gradCounts[r - 1];
    }
    tables.forEach((table, t) => {
      const n = Array.from({ length: this.size }, (_, r) => counts[r * T + t]).reduce((s, c) => s + c, 0);
      if (n === 0) return table.replaceGradient(null);
      const ids = new Int32Array(n), unique = new Int32Array(n), inverse = new Int32Array(n);
      const parts: Float32Array[] = [];
      let at = 0;
      for (let r = 0; r < this.size; r++) {
        const c = counts[r * T + t];
        ids.set(rows.subarray(rankRow[r], rankRow[r] + c), at);
        parts.push(grads.subarray(rankGrad[r], rankGrad[r] + c * table.dim));
        rankRow[r] += c;
        rankGrad[r] += c * table.dim;
        at += c;
      }
      const m = native.uniqueInverse(ids, unique, inverse);
      const summed = new Float32Array(m * table.dim);
      at = 0;
      for (const part of parts) {
        const c = part.length / table.dim;
        native.scatterAddRows(part, table.dim, inverse.subarray(at, at + c), summed);
        at += c;
      }
      table.replaceGradient({ rows: unique.slice(0, m), grads: summed });
    });
    return counts.byteLength / this.size + sendRows.byteLength + sendGrads.byteLength;
  }
}

/** This process's place in the MPI job mpirun started, as the trainer's data-parallel partner. */
export function joinMpiJob(comm: Communicator = mpiWorld()): MpiDataParallel {
  return new MpiDataParallel(comm);
}
