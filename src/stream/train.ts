/**
 * One-pass training on streamed samples: a `SampleSink` that trains each sample once, in the order
 * labels became final, with the run's model and `ctr/trainer.ts`'s step, starting from a trained
 * run (`--from`: its model, its store's id maps and sample config). Ids the run's store never saw
 * read row 0 (the tables' shared row for ids without their own), counted; growing the tables
 * online is not built.
 *
 * Progressive validation: each batch's predictions are taken before the step that trains on it
 * (the training forward, so with dropout if the model has any), and AUC / GAUC / logloss are
 * reported per window of samples, overall and for new items (none in the run's training split).
 *
 * Its durable mark is a checkpoint (`engine/checkpoint.ts`: weights, optimiser moments, plus the
 * samples waiting for a full batch and the metric window) in <dir>/checkpoints; restoring the mark
 * loads it, so a killed stream resumes to the same parameters. Each mark also publishes the model
 * as a run folder (<dir>/model: the base run's config and the weights, written atomically) that
 * `mmctr serve` opens or reloads.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Batch } from '../data/batches.js';
import type { SampleStore } from '../data/store.js';
import { listCheckpoints, loadCheckpoint, saveCheckpoint, saveModel } from '../engine/checkpoint.js';
import type { ExperimentConfig } from '../ctr/config.js';
import { auc, gauc, logloss } from '../ctr/metrics.js';
import type { CtrModel } from '../ctr/models/index.js';
import { VECTOR_SPACE_FILE } from '../ctr/run.js';
import { trainOptimizers, trainStep } from '../ctr/trainer.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import type { StreamSample } from './builder.js';
import type { SampleSink } from './run.js';
import { StreamRunError } from './run.js';

export interface WindowMetrics {
  /** Samples trained when the window closed. */
  samples: number;
  count: number;
  auc: number;
  gauc: number;
  logloss: number;
  newCount: number;
  /** Null when the window held no new item. */
  newAuc: number | null;
  newGauc: number | null;
}

interface Progress {
  trained: number;
  unknownUsers: number;
  unknownItems: number;
  waiting: StreamSample[];
  window: { p: number[]; y: number[]; u: number[]; fresh: number[] };
  curve: WindowMetrics[];
  lossSum: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export class StreamTrainer implements SampleSink {
  private readonly optimizers;
  private readonly users: Map<string, number>;
  private readonly items: Map<string, number>;
  private readonly trainCounts: Int32Array;
  private readonly L: number;
  private p: Progress = { trained: 0, unknownUsers: 0, unknownItems: 0, waiting: [], window: { p: [], y: [], u: [], fresh: [] }, curve: [], lossSum: 0 };
  /** Seconds inside the training steps (the trainer's own throughput, without event reading). */
  stepSeconds = 0;

  constructor(
    private readonly model: CtrModel,
    private readonly config: ExperimentConfig,
    store: SampleStore,
    private readonly baseRun: string,
    readonly dir: string,
    private readonly windowSize = 10_000,
  ) {
    this.optimizers = trainOptimizers(model, config.train);
    this.users = new Map(store.users.map((u, k) => [u, k + 1]));
    this.items = new Map(store.catalog.ids.map((id, k) => [id, k + 1]));
    this.trainCounts = store.trainingCounts().items;
    this.L = store.meta.config.historyLength;
    model.train();
  }

  get progress(): Readonly<Progress> {
    return this.p;
  }

  take(samples: StreamSample[]): void {
    this.p.waiting.push(...samples);
    const size = this.config.train.batchSize;
    while (this.p.waiting.length >= size) this.step(this.p.waiting.splice(0, size));
  }

  private step(samples: StreamSample[]): void {
    const n = samples.length, L = this.L;
    const b: Batch = {
      size: n,
      index: Int32Array.from({ length: n }, (_, i) => i),
      user: new Int32Array(n),
      item: new Int32Array(n),
      label: new Float32Array(n),
      ts: new Float64Array(n),
      hist: new Int32Array(n * L),
      histLen: new Int32Array(n),
      freq: new Int32Array(n),
      isNew: new Uint8Array(n),
    };
    samples.forEach((s, i) => {
      const u = this.users.get(s.user), it = this.items.get(s.item);
      if (u === undefined) this.p.unknownUsers++;
      if (it === undefined) this.p.unknownItems++;
      b.user[i] = u ?? 0;
      b.item[i] = it ?? 0;
      b.label[i] = s.label;
      b.ts[i] = s.ts;
      b.freq[i] = it === undefined ? 0 : this.trainCounts[it];
      b.isNew[i] = b.freq[i] === 0 ? 1 : 0;
      const hist = s.hist.slice(-L);
      b.histLen[i] = hist.length;
      hist.forEach((h, k) => (b.hist[i * L + k] = this.items.get(h) ?? 0));
    });
    const t = performance.now();
    const { loss, logits } = trainStep(this.model, b, this.optimizers, this.config.train);
    this.stepSeconds += (performance.now() - t) / 1000;
    this.p.trained += n;
    this.p.lossSum += loss * n;
    const w = this.p.window;
    for (let i = 0; i < n; i++) {
      w.p.push(sigmoid(logits[i]));
      w.y.push(b.label[i]);
      w.u.push(b.user[i]);
      w.fresh.push(b.isNew[i]);
    }
    if (w.p.length >= this.windowSize) this.closeWindow();
  }

  private closeWindow(): void {
    const w = this.p.window;
    const fresh = w.fresh.flatMap((f, i) => (f ? [i] : []));
    this.p.curve.push({
      samples: this.p.trained,
      count: w.p.length,
      auc: auc(w.p, w.y),
      gauc: gauc(w.p, w.y, w.u).gauc,
      logloss: logloss(w.p, w.y),
      newCount: fresh.length,
      newAuc: fresh.length ? auc(w.p, w.y, fresh) : null,
      newGauc: fresh.length ? gauc(w.p, w.y, w.u, fresh).gauc : null,
    });
    this.p.window = { p: [], y: [], u: [], fresh: [] };
  }

  private get checkpoints(): string {
    return path.join(this.dir, 'checkpoints');
  }

  durable(): { step: number } {
    const step = this.optimizers.dense.steps;
    saveCheckpoint(this.checkpoints, step, { model: this.model, optimizers: this.optimizers.all, progress: this.p as unknown as Record<string, unknown> });
    this.publish();
    return { step };
  }

  /** The model as a run folder `mmctr serve` opens: the base run's config, these weights, what they have seen. */
  private publish(): void {
    const out = path.join(this.dir, 'model');
    mkdirSync(out, { recursive: true });
    copyFileSync(path.join(this.baseRun, 'config.json'), path.join(out, 'config.json'));
    if (existsSync(path.join(this.baseRun, VECTOR_SPACE_FILE))) copyFileSync(path.join(this.baseRun, VECTOR_SPACE_FILE), path.join(out, VECTOR_SPACE_FILE));
    saveModel(path.join(out, 'model.safetensors'), this.model, this.config.model);
    writeTextAtomic(path.join(out, 'stream.json'), JSON.stringify({ from: path.resolve(this.baseRun), trained: this.p.trained, publishedAt: new Date().toISOString() }));
  }

  restore(mark: unknown | null): void {
    if (mark === null) return;
    const step = (mark as { step?: unknown }).step;
    const found = listCheckpoints(this.checkpoints).find((c) => c.step === step);
    if (!found) throw new StreamRunError(`${this.checkpoints}: holds no checkpoint of step ${JSON.stringify(step)}, which the stream's checkpoint names: the folder was changed; start in a new one`);
    const loaded = loadCheckpoint(found.file, { model: this.model, optimizers: this.optimizers.all });
    this.p = loaded.progress as unknown as Progress;
  }

  /** Trains the samples still short of a batch, and closes the metric window (the end of a finite stream). */
  end(): void {
    if (this.p.waiting.length) this.step(this.p.waiting.splice(0));
    if (this.p.window.p.length) this.closeWindow();
  }
}
