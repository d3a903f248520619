/**
 * The model the service ranks with, and hot reload. A ServingModel is immutable once loaded:
 * the trained CTR model plus the id -> index maps of its catalogue and users. Reload builds a
 * complete new ServingModel (weights read, maps built, one warm-up forward pass) and only then
 * swaps the holder's reference; a request captures the reference when it starts, so in-flight
 * requests finish on the model they began with and no request ever sees a half-loaded one.
 */
import path from 'node:path';
import type { ExperimentConfig } from '../ctr/config.js';
import type { CtrModel } from '../ctr/models/index.js';
import { openRun } from '../ctr/run.js';
import { MmctrError } from '../util/errors.js';

export interface ServingModel {
  /** Increments with every successful load (1 = the first). */
  version: number;
  runDir: string;
  loadedAt: string;
  config: ExperimentConfig;
  model: CtrModel;
  /** Behaviours the model attends over (the store's history length). */
  historyLength: number;
  /** Item id -> 1-based catalogue index (0 = unknown to the ID tables). */
  itemIndex: Map<string, number>;
  /** User id -> 1-based user index. */
  userIndex: Map<string, number>;
}

export function loadServingModel(runDir: string, version: number): ServingModel {
  const dir = path.resolve(runDir);
  const { config, store, model } = openRun(dir);
  model.eval();
  return { version, runDir: dir, loadedAt: new Date().toISOString(), config, model, historyLength: store.historyLength, itemIndex: store.itemIndex, userIndex: store.userIndex };
}

export class ModelHolder {
  private model: ServingModel | null = null;
  private loads = 0;
  private pending: Promise<ServingModel> = Promise.resolve(null as unknown as ServingModel);

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
      const loaded = loadServingModel(dir, this.loads + 1);
      await prepare?.(loaded);
      this.loads++;
      this.model = loaded;
      return loaded;
    });
    this.pending = next;
    return next;
  }
}
