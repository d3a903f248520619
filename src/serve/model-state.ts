/**
 * The model the service ranks with, and hot reload. A ServingModel is immutable once loaded:
 * the trained CTR model plus the id -> index maps of its catalogue and users (the store's string
 * tables, read as one buffer each: a million ids open in milliseconds). Reload builds a
 * complete new ServingModel (weights read, maps opened, one warm-up forward pass) and only then
 * swaps the holder's reference; a request captures the reference when it starts, so in-flight
 * requests finish on the model they began with and no request ever sees a half-loaded one.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { ExperimentConfig } from '../ctr/config.js';
import { Publication, readPublication, readTrainerProgress, weightsSignature } from '../ctr/publication.js';
import type { IdMap } from '../data/store.js';
import type { CtrModel } from '../ctr/models/index.js';
import { MODEL_FILE, openRun } from '../ctr/run.js';
import { exportOnnx } from '../export/onnx.js';
import { OnnxScorer } from '../export/onnx-scorer.js';
import { MmctrError } from '../util/errors.js';

/**
 * What scores a ranking batch: mmctr's own engine, or onnxruntime-node over the graph
 * `mmctr export onnx` writes (exported in memory at load, so a reload needs no file; the same
 * inputs, the same scores within float rounding: test/export).
 */
export type ServingBackend = { kind: 'native' } | { kind: 'onnx'; threads: number };
export const NATIVE_BACKEND: ServingBackend = { kind: 'native' };

export interface ServingModel {
  /** Increments with every successful load (1 = the first). */
  version: number;
  runDir: string;
  /** The run folder's name (what the service shows; never the path). */
  runName: string;
  loadedAt: string;
  /** What identified the folder's weights when they were read (`ctr/publication.ts`; `--watch` reloads when it changes). */
  signature: string;
  /** The stream trainer's manifest when the folder is a published model (null: a run trained once). */
  publication: Publication | null;
  /** When the weights were written (ms since the epoch): the publication's time, else the file's. */
  writtenAt: number;
  config: ExperimentConfig;
  model: CtrModel;
  /** The ONNX backend's session when it scores (null: the native forward pass). */
  onnx: OnnxScorer | null;
  /** Behaviours the model attends over (the store's history length). */
  historyLength: number;
  /** Item id -> 1-based catalogue index (`indexOf`; 0 = unknown to the ID tables). */
  itemIndex: IdMap;
  /** User id -> 1-based user index (0 = unknown). */
  userIndex: IdMap;
}

/** A turn of the event loop: a long load runs in steps, so the service keeps answering meanwhile. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Loads a run for serving, in steps with a turn of the event loop between them (model and
 * weights; the catalogue's id map; the users' id map), so a hot reload does not hold up requests
 * for the whole load.
 */
export async function loadServingModel(runDir: string, version: number, backend: ServingBackend = NATIVE_BACKEND): Promise<ServingModel> {
  const dir = path.resolve(runDir);
  // Read before the weights: the manifest is written after them, so these weights are at least this version.
  const publication = readPublication(dir);
  const signature = weightsSignature(dir, publication);
  const writtenAt = publication ? Date.parse(publication.publishedAt) : statSync(path.join(dir, MODEL_FILE)).mtimeMs;
  const { config, store, model } = openRun(dir);
  model.eval();
  await nextTurn();
  const itemIndex = store.itemIndex;
  await nextTurn();
  const userIndex = store.userIndex;
  const runName = path.basename(dir);
  const onnx = backend.kind === 'onnx' ? await OnnxScorer.fromGraph(exportOnnx(model, store.historyLength, runName), { threads: backend.threads }) : null;
  return { version, runDir: dir, runName, loadedAt: new Date().toISOString(), signature, publication, writtenAt, config, model, onnx, historyLength: store.historyLength, itemIndex, userIndex };
}

/** Seconds since the serving weights were written. */
export const modelAgeSeconds = (m: ServingModel, now = Date.now()): number => Math.max(0, (now - m.writtenAt) / 1000);

/**
 * Samples the stream trainer has trained since it published the serving weights (its progress
 * file beside them); null for a run no stream publishes, or when the trainer reports nothing.
 */
export function samplesBehind(m: ServingModel): number | null {
  if (!m.publication) return null;
  try {
    const progress = readTrainerProgress(m.runDir);
    return progress ? Math.max(0, progress.trained - m.publication.trained) : null;
  } catch {
    // a progress file being replaced or foreign: no figure this time
    return null;
  }
}

/** How long a replaced model's ONNX session stays open for the requests that captured it. */
const RETIRED_SESSION_MS = 60_000;

export class ModelHolder {
  private model: ServingModel | null = null;
  private loads = 0;
  private pending: Promise<ServingModel> = Promise.resolve(null as unknown as ServingModel);

  constructor(readonly backend: ServingBackend = NATIVE_BACKEND) {}

  /** The model to rank with now (null before the first load). */
  get current(): ServingModel | null {
    return this.model;
  }

  /**
   * Loads `runDir` (default: the current run again, e.g. after retraining in place) and swaps it
   * in. Reloads run one at a time; `prepare` runs on the new model before the swap (warm-up, and
   * loading it into the ranking threads).
   */
  reload(runDir?: string, prepare?: (m: ServingModel) => void | Promise<void>): Promise<ServingModel> {
    const next = this.pending.catch(() => null).then(async () => {
      const dir = runDir ?? this.model?.runDir;
      if (!dir) throw new MmctrError('no model to reload: give a run folder');
      const loaded = await loadServingModel(dir, this.loads + 1, this.backend);
      try {
        await prepare?.(loaded);
      } catch (err) {
        await loaded.onnx?.close();
        throw err;
      }
      this.loads++;
      const retired = this.model;
      this.model = loaded;
      if (retired?.onnx) setTimeout(() => void retired.onnx!.close(), RETIRED_SESSION_MS).unref();
      return loaded;
    });
    this.pending = next;
    return next;
  }
}
