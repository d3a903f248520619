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
  /** The run folder's name (what the service shows; never the path). */
  runName: string;
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

/** A turn of the event loop: a long load runs in steps, so the service keeps answering meanwhile. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** id -> 1-based index, built in slices with a loop turn between them. */
async function indexInSlices(ids: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let s = 0; s < ids.length; s += 50_000) {
    for (let i = s; i < Math.min(ids.length, s + 50_000); i++) out.set(ids[i], i + 1);
    await nextTurn();
  }
  return out;
}

/**
 * Loads a run for serving, in steps with a turn of the event loop between them (model and
 * weights; the catalogue's id map in slices; the users' id map in slices), so a hot reload does not
 * hold up requests for the whole load.
 */
export async function loadServingModel(runDir: string, version: number): Promise<ServingModel> {
  const dir = path.resolve(runDir);
  const { config, store, model } = openRun(dir);
  model.eval();
  await nextTurn();
  const itemIndex = await indexInSlices(store.catalog.ids);
  await nextTurn();
  const userIndex = await indexInSlices(store.users);
  return { version, runDir: dir, runName: path.basename(dir), loadedAt: new Date().toISOString(), config, model, historyLength: store.historyLength, itemIndex, userIndex };
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
      const loaded = await loadServingModel(dir, this.loads + 1);
      await prepare?.(loaded);
      this.loads++;
      this.model = loaded;
      return loaded;
    });
    this.pending = next;
    return next;
  }
}
