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
 * loads it, so a killed stream resumes to the same parameters.
 *
 * Publishing: every `publish.seconds` (or `publish.samples`) of training, and at every mark, the
 * model is written as a run folder (<dir>/model: the base run's config, the weights, then the
 * manifest of `ctr/publication.ts` with its version, written atomically) that `mmctr serve
 * --watch` reloads. A publication is not a checkpoint (no optimiser state, nothing acknowledged),
 * so it can come every few seconds. Freshness is measured here: for each clicked sample, the time
 * from the trainer taking it (the batch of events that made its label final was just read) to the
 * end of the first publication whose weights have trained on it.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Batch } from '../data/batches.js';
import type { IdMap, SampleStore } from '../data/store.js';
import { noGrad } from '../engine/autograd.js';
import { listCheckpoints, loadCheckpoint, saveCheckpoint, saveModel } from '../engine/checkpoint.js';
import type { ExperimentConfig } from '../ctr/config.js';
import type { MetricSet } from '../ctr/experiment/result.js';
import { round } from '../ctr/experiment/summary.js';
import { auc, gauc, logloss } from '../ctr/metrics.js';
import type { CtrModel } from '../ctr/models/index.js';
import { readPublication, writePublication, writeTrainerProgress } from '../ctr/publication.js';
import { MODEL_FILE, openRun, VECTOR_SPACE_FILE } from '../ctr/run.js';
import { trainOptimizers, trainStep } from '../ctr/trainer.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { StreamSample } from './builder.js';
import type { SampleSink } from './run.js';
import { StreamRunError } from './run.js';

/** One model's progressive metrics over a window. */
export interface WindowScores {
  auc: number;
  gauc: number;
  logloss: number;
  /** Null when the window held no new item. */
  newAuc: number | null;
  newGauc: number | null;
}

export interface WindowMetrics extends WindowScores {
  /** Samples trained when the window closed. */
  samples: number;
  count: number;
  newCount: number;
  /** The starting model, held fixed, on the same samples (`compareFrozen`; else null). */
  frozen: WindowScores | null;
}

interface Progress {
  trained: number;
  /** Publications so far (the last one's version). */
  published: number;
  /** Event time of the newest sample trained. */
  newestEventTs: number | null;
  unknownUsers: number;
  unknownItems: number;
  waiting: StreamSample[];
  /** Samples not trained because the starting run had trained on them (at or before its training end). */
  skipped: number;
  window: Window;
  curve: WindowMetrics[];
  lossSum: number;
}

/** Predictions of the open window: the trained model's (p), the frozen one's (q, when compared), labels, users, new-item flags. */
interface Window {
  p: number[];
  q: number[];
  y: number[];
  u: number[];
  fresh: number[];
}
const emptyWindow = (): Window => ({ p: [], q: [], y: [], u: [], fresh: [] });

const copyFileAtomic = (from: string, to: string) => writeFileAtomic(to, [readFileSync(from)]);

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * One model's window metrics pooled over a stream: count-weighted means of the windows' AUC,
 * GAUC and logloss (the new-item slice weighted by its counts; it has no logloss of its own);
 * windows whose AUC or GAUC is undefined are left out. Null without any window to pool.
 */
export function pooledWindows(curve: readonly WindowMetrics[], scores: (w: WindowMetrics) => WindowScores | null, fresh: boolean): MetricSet | null {
  let n = 0, auc = 0, gauc = 0, logloss = 0;
  for (const w of curve) {
    const s = scores(w);
    const count = fresh ? w.newCount : w.count;
    const [a, g] = fresh ? [s?.newAuc, s?.newGauc] : [s?.auc, s?.gauc];
    if (!s || !count || a == null || g == null || !Number.isFinite(a) || !Number.isFinite(g)) continue;
    n += count;
    auc += a * count;
    gauc += g * count;
    logloss += (fresh ? Number.NaN : s.logloss) * count;
  }
  return n ? { auc: round(auc / n), gauc: round(gauc / n), logloss: fresh ? Number.NaN : round(logloss / n), count: n } : null;
}

/** Percentiles of freshness seconds (null without clicks). */
export function freshnessSummary(seconds: readonly number[]): { clicks: number; p50_s: number | null; p95_s: number | null; max_s: number | null } {
  if (seconds.length === 0) return { clicks: 0, p50_s: null, p95_s: null, max_s: null };
  const sorted = [...seconds].sort((a, b) => a - b);
  const at = (q: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(2));
  return { clicks: sorted.length, p50_s: at(0.5), p95_s: at(0.95), max_s: Number(sorted[sorted.length - 1].toFixed(2)) };
}

export interface StreamTrainerOptions {
  /** Samples per progressive-validation window (default 10,000). */
  windowSize?: number;
  /** Publish after this many seconds of training since the last publication (default 10; 0: only at checkpoints). */
  publishSeconds?: number;
  /** ...or after this many samples (default 0: by time only). */
  publishSamples?: number;
  /** Wall clock in ms (tests). */
  now?: () => number;
  /**
   * Also score every batch with the starting model held fixed (a second copy, never trained), so
   * each window says what the stream gained over not training at all.
   */
  compareFrozen?: boolean;
  /**
   * Train again on samples the starting run already trained on (at or before its store's training
   * end: a replay of the log the run was trained on). Default false: those only build state.
   */
  retrainSeen?: boolean;
}

/** How often the trainer says how far it is (the service's samples-behind gauge reads it). */
const PROGRESS_EVERY_MS = 1000;

export class StreamTrainer implements SampleSink {
  private readonly optimizers;
  /** The store's id maps (1-based; 0: an id it never saw). */
  private readonly users: IdMap;
  private readonly items: IdMap;
  private readonly trainCounts: Int32Array;
  private readonly L: number;
  private p: Progress = { trained: 0, published: 0, newestEventTs: null, skipped: 0, unknownUsers: 0, unknownItems: 0, waiting: [], window: emptyWindow(), curve: [], lossSum: 0 };
  /** Seconds inside the training steps (the trainer's own throughput, without event reading). */
  stepSeconds = 0;
  /** When each waiting sample was taken (ms), parallel to `p.waiting`; not checkpointed (a restart takes them again). */
  private waitingSince: number[] = [];
  /** When each clicked sample trained since the last publication was taken. */
  private unpublishedClicks: number[] = [];
  /** Seconds from taking a clicked sample to a publication that trained on it, one per clicked sample. */
  readonly freshnessSeconds: number[] = [];
  private lastPublish: { at: number; trained: number };
  private lastProgressAt = 0;
  private readonly windowSize: number;
  private readonly publishEvery: { ms: number; samples: number };
  private readonly now: () => number;
  private readonly frozen: CtrModel | null;
  /** Samples at or before this time are the starting run's own (null: train every sample). */
  private readonly seenThrough: number | null;

  constructor(
    private readonly model: CtrModel,
    private readonly config: ExperimentConfig,
    store: SampleStore,
    private readonly baseRun: string,
    readonly dir: string,
    options: StreamTrainerOptions = {},
  ) {
    this.windowSize = options.windowSize ?? 10_000;
    this.publishEvery = { ms: (options.publishSeconds ?? 10) * 1000, samples: options.publishSamples ?? 0 };
    this.now = options.now ?? Date.now;
    this.lastPublish = { at: this.now(), trained: 0 };
    this.frozen = options.compareFrozen ? openRun(baseRun).model : null;
    this.frozen?.eval();
    this.seenThrough = options.retrainSeen ? null : store.meta.trainEnd;
    this.optimizers = trainOptimizers(model, config.train);
    this.users = store.userIndex;
    this.items = store.itemIndex;
    this.trainCounts = store.trainingCounts().items;
    this.L = store.meta.config.historyLength;
    model.train();
  }

  get progress(): Readonly<Progress> {
    return this.p;
  }

  take(samples: StreamSample[]): void {
    const at = this.now();
    for (const s of samples) {
      if (this.seenThrough !== null && s.ts <= this.seenThrough) {
        this.p.skipped++;
        continue;
      }
      this.p.waiting.push(s);
      this.waitingSince.push(at);
    }
    const size = this.config.train.batchSize;
    while (this.p.waiting.length >= size) this.trainWaiting(size);
    this.publishIfDue();
  }

  /** Trains the first `n` waiting samples as one batch. */
  private trainWaiting(n: number): void {
    const batch = this.p.waiting.splice(0, n);
    const since = this.waitingSince.splice(0, n);
    this.step(batch);
    batch.forEach((s, i) => {
      if (s.label > 0) this.unpublishedClicks.push(since[i] ?? this.now());
      if (this.p.newestEventTs === null || s.ts > this.p.newestEventTs) this.p.newestEventTs = s.ts;
    });
    const now = this.now();
    if (now - this.lastProgressAt >= PROGRESS_EVERY_MS) {
      this.lastProgressAt = now;
      mkdirSync(this.modelDir, { recursive: true });
      writeTrainerProgress(this.modelDir, { trained: this.p.trained, at: new Date(now).toISOString() });
    }
  }

  private publishIfDue(): void {
    const { ms, samples } = this.publishEvery;
    const dueByTime = ms > 0 && this.now() - this.lastPublish.at >= ms;
    const dueByCount = samples > 0 && this.p.trained - this.lastPublish.trained >= samples;
    if ((dueByTime || dueByCount) && this.p.trained > this.lastPublish.trained) this.publish();
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
      const u = this.users.indexOf(s.user), it = this.items.indexOf(s.item);
      if (u === 0) this.p.unknownUsers++;
      if (it === 0) this.p.unknownItems++;
      b.user[i] = u;
      b.item[i] = it;
      b.label[i] = s.label;
      b.ts[i] = s.ts;
      b.freq[i] = it === 0 ? 0 : this.trainCounts[it];
      b.isNew[i] = b.freq[i] === 0 ? 1 : 0;
      const hist = s.hist.slice(-L);
      b.histLen[i] = hist.length;
      hist.forEach((h, k) => (b.hist[i * L + k] = this.items.indexOf(h)));
    });
    const frozen = this.frozen ? noGrad(() => this.frozen!.forward(b).data) : null;
    const t = performance.now();
    const { loss, logits } = trainStep(this.model, b, this.optimizers, this.config.train);
    this.stepSeconds += (performance.now() - t) / 1000;
    this.p.trained += n;
    this.p.lossSum += loss * n;
    const w = this.p.window;
    for (let i = 0; i < n; i++) {
      w.p.push(sigmoid(logits[i]));
      if (frozen) w.q.push(sigmoid(frozen[i]));
      w.y.push(b.label[i]);
      w.u.push(b.user[i]);
      w.fresh.push(b.isNew[i]);
    }
    if (w.p.length >= this.windowSize) this.closeWindow();
  }

  private closeWindow(): void {
    const w = this.p.window;
    const fresh = w.fresh.flatMap((f, i) => (f ? [i] : []));
    const scores = (p: number[]): WindowScores => ({
      auc: auc(p, w.y),
      gauc: gauc(p, w.y, w.u).gauc,
      logloss: logloss(p, w.y),
      newAuc: fresh.length ? auc(p, w.y, fresh) : null,
      newGauc: fresh.length ? gauc(p, w.y, w.u, fresh).gauc : null,
    });
    this.p.curve.push({ samples: this.p.trained, count: w.p.length, newCount: fresh.length, ...scores(w.p), frozen: w.q.length ? scores(w.q) : null });
    this.p.window = emptyWindow();
  }

  private get checkpoints(): string {
    return path.join(this.dir, 'checkpoints');
  }

  durable(): { step: number } {
    const step = this.optimizers.dense.steps;
    // Published with the mark unless nothing was trained since the last publication, first, so the
    // mark saves its version (a run killed between the two numbers on from the one on disk).
    if (this.p.published === 0 || this.p.trained > this.lastPublish.trained) this.publish();
    saveCheckpoint(this.checkpoints, step, { model: this.model, optimizers: this.optimizers.all, progress: this.p as unknown as Record<string, unknown> });
    return { step };
  }

  private get modelDir(): string {
    return path.join(this.dir, 'model');
  }

  /** The model as a run folder `mmctr serve` opens: the base run's config, these weights, then the manifest. */
  private publish(): void {
    const version = ++this.p.published;
    const out = this.modelDir;
    mkdirSync(out, { recursive: true });
    for (const file of ['config.json', VECTOR_SPACE_FILE])
      if (existsSync(path.join(this.baseRun, file))) copyFileAtomic(path.join(this.baseRun, file), path.join(out, file));
    saveModel(path.join(out, MODEL_FILE), this.model, this.config.model);
    const now = this.now();
    writePublication(out, { version, from: path.resolve(this.baseRun), trained: this.p.trained, newestEventTs: this.p.newestEventTs, publishedAt: new Date(now).toISOString() });
    writeTrainerProgress(out, { trained: this.p.trained, at: new Date(now).toISOString() });
    for (const t of this.unpublishedClicks) this.freshnessSeconds.push((now - t) / 1000);
    this.unpublishedClicks = [];
    this.lastPublish = { at: now, trained: this.p.trained };
  }

  restore(mark: unknown | null): void {
    if (mark === null) return;
    const step = (mark as { step?: unknown }).step;
    const found = listCheckpoints(this.checkpoints).find((c) => c.step === step);
    if (!found) throw new StreamRunError(`${this.checkpoints}: holds no checkpoint of step ${JSON.stringify(step)}, which the stream's checkpoint names: the folder was changed; start in a new one`);
    const loaded = loadCheckpoint(found.file, { model: this.model, optimizers: this.optimizers.all });
    // Versions go on from the newest publication on disk (later than the mark when the run was killed after publishing).
    const onDisk = readPublication(this.modelDir)?.version ?? 0;
    const progress = loaded.progress as unknown as Partial<Progress>;
    this.p = { ...(progress as Progress), newestEventTs: progress.newestEventTs ?? null, skipped: progress.skipped ?? 0, published: Math.max(progress.published ?? 0, onDisk) };
    this.p.window = { ...emptyWindow(), ...this.p.window };
    this.waitingSince = this.p.waiting.map(() => this.now());
    this.lastPublish = { at: this.now(), trained: this.p.trained };
  }

  /** Trains the samples still short of a batch, and closes the metric window (the end of a finite stream). */
  end(): void {
    if (this.p.waiting.length) this.trainWaiting(this.p.waiting.length);
    if (this.p.window.p.length) this.closeWindow();
  }
}
