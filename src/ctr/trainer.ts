/**
 * The one trainer all CTR models share (FuxiCTR style): fit over a sample store with Adam for
 * dense parameters and sparse Adam for embedding rows, evaluation on validation after each
 * epoch, early stopping and best-epoch selection, and throughput accounting.
 *
 * Checkpoints (with a checkpoint folder): at every epoch end, every `checkpointMinutes` of training (5 by default), and every `checkpointEvery` steps
 * when set. Each holds everything the next step depends on (weights, optimiser moments, the
 * shuffle position, the model's dropout streams, the epoch cursor and early-stopping state), so a
 * killed run resumed from it ends bit for bit where an uninterrupted run ends.
 */
import { backward, noGrad } from '../engine/autograd.js';
import { Adam, clipGradNorm, SparseAdam } from '../engine/optim.js';
import { affine, bceWithLogits } from '../engine/ops/index.js';
import type { Module } from '../engine/module.js';
import { RandomState, RandomStream } from '../engine/random.js';
import { resumeLatest, saveCheckpoint } from '../engine/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../engine/safetensors.js';
import { existsSync } from 'node:fs';
import { MmctrError } from '../util/errors.js';
import path from 'node:path';
import { Batch, SplitReader, takeBatch } from '../data/batches.js';
import { SplitName } from '../data/sample-config.js';
import type { SampleStore } from '../data/store.js';
import type { TrainConfig } from './config.js';
import { evaluatePredictions, Evaluation } from './metrics.js';
import { CtrModel, parameterGroups } from './models/index.js';

export interface Progress {
  phase: 'train' | 'evaluate';
  epoch: number;
  done: number;
  total: number;
  loss?: number;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valid: Evaluation | null;
}

export interface FitResult {
  epochs: EpochRecord[];
  /** The epoch best on validation by the monitor (the last one when there is no validation). */
  bestEpoch: number;
  /** The epoch whose model the fit returned: bestEpoch under keep 'best', the last trained under 'last'. */
  keptEpoch: number;
  seconds: number;
  samples: number;
  /** Samples per second over the whole fit (data reading included, evaluation excluded). */
  samplesPerSecond: number;
  /** Samples per second inside forward / backward / update only. */
  loopSamplesPerSecond: number;
}

/**
 * Data-parallel training (`distributed/` implements it over MPI): each rank holds the whole model
 * and trains a contiguous share of every global batch (train.batchSize x ranks samples, read in
 * the same shuffled order on every rank); the ranks sum their gradients before each update, so
 * the fit equals one process training the global batch. Only the writing rank writes files.
 */
export interface DataParallel {
  readonly rank: number;
  readonly size: number;
  /** This rank writes checkpoints and run files; the others write nothing. */
  readonly writes: boolean;
  /** The positions [start, end) of n this rank takes (a global batch, a split's records). */
  share(n: number): { start: number; end: number };
  /** Every rank's parameters, buffers and tables become the writing rank's. */
  broadcastModel(model: Module): void;
  /** After backward: every rank's gradients (dense, and the tables' touched rows) become their sum over ranks. */
  sumGradients(model: Module): void;
  /** `values` filled on each rank at its share of positions (share(values.length)) becomes whole on every rank. */
  gatherShares(values: Float32Array): void;
  /** In place: the sum over ranks. */
  sum(values: Float64Array): void;
  /** Runs fn with batch statistics (Dice's) summed over ranks (train.batchStatistics 'global'). */
  synced<T>(fn: () => T): T;
}

export interface FitOptions {
  onProgress?: (p: Progress) => void;
  log?: (line: string) => void;
  /** Folder for checkpoints (every epoch end, and every `checkpointEvery` steps) and the best epoch's weights. */
  checkpointDir?: string;
  /** Continue from the newest checkpoint in checkpointDir, if there is one. */
  resume?: boolean;
  /** Trains on these positions of each training batch only (MAKE's cross-fitting folds); validation is whole. */
  trainRows?: (batch: Batch) => Int32Array;
  /** Train data-parallel over several ranks (see DataParallel). */
  parallel?: DataParallel;
  /** Stops after this many steps, without validating: a throughput measurement over a fixed amount of work (bench:scale). */
  maxSteps?: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Predicted click probabilities for every sample of a split, in store order. Data-parallel, each
 * rank predicts a contiguous share of the records and the shares are gathered on every rank.
 */
export function predictSplit(model: CtrModel, store: SampleStore, split: SplitName, batchSize = 4096, onProgress?: (done: number, total: number) => void, parallel?: DataParallel): { probs: Float32Array; reader: SplitReader } {
  const reader = store.split(split);
  const probs = new Float32Array(reader.count);
  const { start, end } = parallel ? parallel.share(reader.count) : { start: 0, end: reader.count };
  const wasTraining = model.training;
  model.eval();
  noGrad(() => {
    for (let at = start; at < end; at += batchSize) {
      const batch = reader.readRange(at, Math.min(batchSize, end - at));
      const logits = model.forward(batch).data;
      for (let i = 0; i < batch.size; i++) probs[batch.index[i]] = sigmoid(logits[i]);
      onProgress?.(at + batch.size - start, end - start);
    }
  });
  parallel?.gatherShares(probs);
  model.train(wasTraining);
  return { probs, reader };
}

/** AUC, GAUC, logloss overall and per frequency bucket for one split (data-parallel: over the whole split, on every rank). */
export function evaluateSplit(model: CtrModel, store: SampleStore, split: SplitName, onProgress?: (done: number, total: number) => void, parallel?: DataParallel): Evaluation {
  const { probs, reader } = predictSplit(model, store, split, 4096, onProgress, parallel);
  const all = reader.readRange(0, reader.count);
  reader.close();
  // The true click probabilities (simulated data only) give the oracle's metrics beside the model's.
  return evaluatePredictions(probs, all.label, all.user, all.freq, store.meta.config.buckets, store.truth(split));
}

function monitorValue(e: Evaluation, monitor: TrainConfig['monitor']): number {
  return monitor === 'logloss' ? -e.overall.logloss : e.overall[monitor];
}

/** Where the trainer is, saved in each checkpoint (plain JSON). */
interface FitProgress {
  epoch: number;
  /** Batches of this epoch already trained. */
  batch: number;
  /** The shuffle stream at the start of this epoch: replaying it reproduces the epoch's order. */
  epochShuffle: RandomState;
  lossSum: number;
  seen: number;
  epochs: EpochRecord[];
  best: number | null;
  bestEpoch: number;
  bad: number;
  /** Early stopping ended the fit at this checkpoint: a resume trains no further. */
  stopped?: boolean;
  /** Samples per step over all ranks (batchSize x ranks); absent in checkpoints of one process before data-parallel runs. */
  globalBatch?: number;
}

/** A fit's optimisers: Adam per dense parameter group (per-part learning rates), sparse Adam over the tables; `all` by the names checkpoints save. */
export function trainOptimizers(model: CtrModel, config: TrainConfig) {
  const denseGroups = parameterGroups(model, config.lr).map((g) => ({ name: g.name, optimizer: new Adam(g.params, { lr: g.lr }) }));
  const sparse = new SparseAdam(model.namedTables(), { lr: config.embeddingLr ?? config.lr, l2: model.config.embeddingL2, dense: config.embeddingAdam === 'dense' });
  const all = { ...Object.fromEntries(denseGroups.map((g) => [g.name, g.optimizer])), sparse };
  return { denseGroups, dense: denseGroups[0].optimizer, sparse, all };
}

/** How often (in steps) the ranks of a data-parallel run agree on whether a checkpoint is due by the clock. */
const CLOCK_MEETING_STEPS = 64;

/** One training step on a batch; returns its loss and its logits from before the update (progressive validation reads them). */
export function trainStep(model: CtrModel, batch: Batch, optimizers: ReturnType<typeof trainOptimizers>, config: TrainConfig, parallel?: { group: DataParallel; globalSize: number }): { loss: number; logits: Float32Array } {
  const logits = model.forward(batch);
  const before = Float32Array.from(logits.data);
  const mean = bceWithLogits(logits, batch.label);
  // Data-parallel, the local mean weighted by the rank's share: summed over ranks, the global batch's mean.
  backward(parallel ? affine(mean, batch.size / parallel.globalSize) : mean);
  parallel?.group.sumGradients(model);
  if (config.clipGradNorm > 0) clipGradNorm(model.namedParameters().values(), model.namedTables().values(), config.clipGradNorm);
  for (const g of optimizers.denseGroups) g.optimizer.step();
  optimizers.sparse.step();
  return { loss: mean.item(), logits: before };
}

export function fit(model: CtrModel, store: SampleStore, config: TrainConfig, options: FitOptions = {}): FitResult {
  const { parallel } = options;
  const run = () => fitLoop(model, store, config, options);
  return parallel && config.batchStatistics === 'global' ? parallel.synced(run) : run();
}

function fitLoop(model: CtrModel, store: SampleStore, config: TrainConfig, { onProgress, log = () => {}, checkpointDir, resume = false, trainRows, parallel, maxSteps = Infinity }: FitOptions): FitResult {
  // Every rank reads the checkpoints (resume); only the writing rank writes them.
  const writes = parallel?.writes ?? true;
  const ranks = parallel?.size ?? 1;
  const opt = trainOptimizers(model, config);
  const { dense, all: optimizers } = opt;
  let shuffleRng = new RandomStream(config.seed).fork('shuffle');
  const reader = store.split('train');
  let epochs: EpochRecord[] = [];
  let best = -Infinity, bestEpoch = 0, bad = 0;
  let bestState: Map<string, Float32Array> | null = null;
  let samples = 0, steps = 0, loopMs = 0, evalSecondsTotal = 0;
  let startEpoch = 1, skipBatches = 0, lossSum = 0, seen = 0;
  let lastCheckpointMs = performance.now();
  const globalBatch = config.batchSize * ranks;
  // Data-parallel, every rank calls this at the same steps: the epoch's loss so far is summed over them.
  const checkpoint = (progress: FitProgress) => {
    const totals = Float64Array.of(progress.lossSum, progress.seen);
    parallel?.sum(totals);
    if (!writes) return;
    saveCheckpoint(checkpointDir!, dense.steps, { model, optimizers, progress: { ...progress, lossSum: totals[0], seen: totals[1], globalBatch } as unknown as Record<string, unknown> });
    lastCheckpointMs = performance.now();
  };
  // Checkpoints by the clock are the writing rank's decision, which every rank follows. The ranks
  // meet for it only every CLOCK_MEETING_STEPS steps (all know the step count), not at each step.
  const checkpointDue = () => {
    if (config.checkpointEvery > 0 && dense.steps % config.checkpointEvery === 0) return true;
    if (!(config.checkpointMinutes > 0)) return false;
    const late = performance.now() - lastCheckpointMs >= config.checkpointMinutes * 60_000;
    if (!parallel) return late;
    if (dense.steps % CLOCK_MEETING_STEPS !== 0) return false;
    const decision = Float64Array.of(writes && late ? 1 : 0);
    parallel.sum(decision);
    return decision[0] > 0;
  };
  if (resume && checkpointDir) {
    // The model's own streams (dropout) are restored in place with its weights.
    const loaded = resumeLatest(checkpointDir, { model, optimizers });
    if (loaded) {
      const p = loaded.progress as unknown as FitProgress;
      if (p.globalBatch !== undefined && p.globalBatch !== globalBatch)
        throw new MmctrError(
          `${loaded.file} was written by a run with a global batch of ${p.globalBatch} samples; this resume has ${ranks} rank(s) x ${config.batchSize} = ${globalBatch}. Resume on ${p.globalBatch / config.batchSize} rank(s) (\`mpirun -np ${p.globalBatch / config.batchSize} mmctr resume <run> --distributed\`${p.globalBatch === config.batchSize ? ', or without mpirun' : ''}): the replayed batches and the optimiser's steps depend on it`,
        );
      ({ epochs, bestEpoch, bad } = p);
      best = p.best ?? -Infinity;
      // The checkpoint holds the epoch's loss summed over ranks: one rank carries it on.
      [startEpoch, skipBatches, lossSum, seen] = [p.stopped ? config.epochs + 1 : p.epoch, p.batch, writes ? p.lossSum : 0, writes ? p.seen : 0];
      shuffleRng = RandomStream.restore(p.epochShuffle);
      if (existsSync(bestFile(checkpointDir))) bestState = readSnapshot(bestFile(checkpointDir));
      log(`resumed from ${loaded.file}: ${p.stopped || p.epoch > config.epochs ? 'training had finished' : `epoch ${p.epoch}, batch ${p.batch}`}`);
    }
  }
  parallel?.broadcastModel(model);
  let skippedSamples = 0;
  const t0 = performance.now();
  model.train();
  for (let epoch = startEpoch; epoch <= config.epochs; epoch++) {
    const epochShuffle = shuffleRng.state();
    let batchIndex = 0;
    for (const whole of reader.batches({ batchSize: config.batchSize * ranks, shuffle: config.shuffle ? shuffleRng : null })) {
      // After a resume, the replayed shuffle yields the batches already trained first.
      if (batchIndex++ < skipBatches) continue;
      const rows = trainRows ? trainRows(whole) : null;
      const globalSize = rows ? rows.length : whole.size;
      if (globalSize === 0) continue;
      // Data-parallel, a global batch smaller than the rank count would leave a rank without samples.
      if (globalSize < ranks) {
        skippedSamples += globalSize;
        continue;
      }
      const batch = parallel ? takeBatch(whole, shareOf(rows, globalSize, parallel), reader.historyLength) : rows ? takeBatch(whole, rows, reader.historyLength) : whole;
      const s = performance.now();
      const { loss } = trainStep(model, batch, opt, config, parallel ? { group: parallel, globalSize } : undefined);
      loopMs += performance.now() - s;
      lossSum += loss * batch.size;
      seen += batch.size;
      samples += batch.size;
      onProgress?.({ phase: 'train', epoch, done: seen, total: reader.count, loss: lossSum / seen });
      if (checkpointDir && checkpointDue())
        checkpoint({ epoch, batch: batchIndex, epochShuffle, lossSum, seen, epochs, best: Number.isFinite(best) ? best : null, bestEpoch, bad });
      if (++steps >= maxSteps) break;
    }
    if (steps >= maxSteps) break;
    skipBatches = 0;
    // With each rank's own Dice statistics, their running averages differ: rank 0's hold for all.
    if (parallel && config.batchStatistics === 'local') parallel.broadcastModel(model);
    if (parallel) {
      const totals = Float64Array.of(lossSum, seen);
      parallel.sum(totals);
      [lossSum, seen] = [totals[0], totals[1]];
    }
    const evalStart = performance.now();
    const valid = store.meta.splits.valid.count > 0
      ? evaluateSplit(model, store, 'valid', (done, total) => onProgress?.({ phase: 'evaluate', epoch, done, total }), parallel)
      : null;
    const evalMs = performance.now() - evalStart;
    evalSecondsTotal += evalMs / 1000;
    const trainLoss = lossSum / Math.max(seen, 1);
    lossSum = 0;
    seen = 0;
    epochs.push({ epoch, trainLoss, valid });
    log(`epoch ${epoch}: train loss ${trainLoss.toFixed(5)}${valid ? `, valid AUC ${valid.overall.auc.toFixed(4)} GAUC ${valid.overall.gauc.toFixed(4)} logloss ${valid.overall.logloss.toFixed(4)}` : ''} (${(evalMs / 1000).toFixed(1)} s evaluating)`);
    let stopped = false;
    if (config.epochs === 1 || !valid) bestEpoch = epoch;
    else {
      const value = monitorValue(valid, config.monitor);
      if (value > best) {
        best = value;
        bestEpoch = epoch;
        bad = 0;
        if (config.keep === 'best') {
          bestState = snapshot(model);
          if (checkpointDir && writes) writeSnapshot(bestFile(checkpointDir), bestState);
        }
      } else if (++bad > config.earlyStoppingPatience && config.keep === 'best') {
        log(`early stopping: no ${config.monitor} gain for ${bad} epochs; keeping epoch ${bestEpoch}`);
        stopped = true;
      }
    }
    // Every epoch end: a run killed in the next epoch loses at most that epoch.
    if (checkpointDir) checkpoint({ epoch: epoch + 1, batch: 0, epochShuffle: shuffleRng.state(), lossSum: 0, seen: 0, epochs, best: Number.isFinite(best) ? best : null, bestEpoch, bad, stopped });
    if (stopped) break;
  }
  reader.close();
  if (skippedSamples > 0) log(`data-parallel: ${skippedSamples} samples not trained, in epoch-end batches smaller than the ${ranks} ranks`);
  if (parallel) {
    const total = Float64Array.of(samples, loopMs);
    parallel.sum(total);
    // Every rank computes at once: the job's loop time is one rank's (their mean).
    [samples, loopMs] = [total[0], total[1] / ranks];
  }
  const lastEpoch = epochs.length > 0 ? epochs[epochs.length - 1].epoch : 0;
  const keptEpoch = config.keep === 'best' ? bestEpoch : lastEpoch;
  if (keptEpoch !== lastEpoch && bestState) restore(model, bestState);
  else if (keptEpoch !== lastEpoch) throw new Error(`fit: the weights of epoch ${keptEpoch} were not kept`);
  const seconds = (performance.now() - t0) / 1000;
  return {
    epochs,
    bestEpoch,
    keptEpoch,
    seconds,
    samples,
    samplesPerSecond: samples / Math.max(seconds - evalSecondsTotal, 1e-9),
    loopSamplesPerSecond: samples / Math.max(loopMs / 1000, 1e-9),
  };
}

/** This rank's positions of a global batch: its share of the batch, or of the rows `trainRows` kept. */
function shareOf(rows: Int32Array | null, globalSize: number, parallel: DataParallel): Int32Array {
  const { start, end } = parallel.share(globalSize);
  if (rows) return rows.slice(start, end);
  const out = new Int32Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}

function bestFile(checkpointDir: string): string {
  return path.join(checkpointDir, 'best-epoch.safetensors');
}

function writeSnapshot(file: string, state: Map<string, Float32Array>): void {
  writeSafetensors(file, new Map([...state].map(([k, v]) => [k, { data: v }])));
}

function readSnapshot(file: string): Map<string, Float32Array> {
  return new Map([...readSafetensors(file).tensors].map(([k, t]) => [k, t.data as Float32Array]));
}

/** Copies of every parameter, buffer and table of a model (best-epoch selection). */
function snapshot(model: CtrModel): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, p] of model.namedParameters()) out.set(`p:${k}`, p.data.slice());
  for (const [k, b] of model.namedBuffers()) out.set(`b:${k}`, b.slice());
  for (const [k, t] of model.namedTables()) out.set(`t:${k}`, t.weight.slice());
  return out;
}

function restore(model: CtrModel, state: Map<string, Float32Array>): void {
  for (const [k, p] of model.namedParameters()) p.data.set(state.get(`p:${k}`)!);
  for (const [k, b] of model.namedBuffers()) b.set(state.get(`b:${k}`)!);
  for (const [k, t] of model.namedTables()) t.weight.set(state.get(`t:${k}`)!);
}
