/**
 * A run: one experiment config trained once, in its own folder under runs/ — the resolved
 * config, the log, per-epoch and test metrics (JSON), the trained model (safetensors) and, for a
 * model over item vectors, the vector space it was trained in (vector-space.json).
 * `mmctr evaluate` and `mmctr predict` reopen a run from its folder.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { latestCheckpoint, loadModel, saveModel } from '../engine/checkpoint.js';
import { engineSummary } from '../engine/info.js';
import { readVectorFile, type VectorSpace } from '../encoders/vector-file.js';
import { parseConfig, readJsonFile } from '../util/config-file.js';
import { ConfigError, MmctrError } from '../util/errors.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import { SampleStore, samplingNote } from '../data/store.js';
import { cacheKey } from '../util/cache-key.js';
import { ExperimentConfig, MakeConfig, TrainConfig } from './config.js';
import { featureSpaceOf } from './feature-space.js';
import { Evaluation } from './metrics.js';
import { boundedTables, createMake, createModel, CtrModel, Make } from './models/index.js';
import { MakeCrossFit } from './models/make.js';
import type { DinExtras } from './models/din.js';
import { ItemVectorTable, loadItemVectors } from './parts/item-vectors.js';
import { describeTableRows } from './parts/table-rows.js';
import { DataParallel, evaluateSplit, fit, FitOptions, FitResult } from './trainer.js';

/** Reads and validates an experiment config; its file paths (data.vectors, model.make.module) become absolute, relative to the file. */
export function readExperimentConfig(file: string): ExperimentConfig {
  return experimentConfigOf(readJsonFile(file), file);
}

/**
 * Validates a raw experiment config read from `file` (as readExperimentConfig does, so a config
 * changed before validation, as `mmctr sweep --set` does, passes the same checks); `source`
 * names it in errors.
 */
export function experimentConfigOf(raw: unknown, file: string, source = file): ExperimentConfig {
  const config = parseConfig(ExperimentConfig, raw, source);
  const dir = path.dirname(path.resolve(file));
  if (config.data.vectors) config.data.vectors = path.resolve(dir, config.data.vectors);
  if (config.model.model === 'din' && config.model.make?.module) config.model.make.module = path.resolve(dir, config.model.make.module);
  return config;
}

export interface RunResult {
  dir: string;
  seed: number;
  fit: FitResult;
  test: Evaluation;
  /** MAKE's own training, when the model uses one trained (or reused) for this run. */
  make?: MakeTraining;
}

export interface MakeTraining {
  file: string;
  /** True when a saved module was reused instead of trained. */
  reused: boolean;
  fit: FitResult;
}

export interface TrainRunOptions extends Omit<FitOptions, 'checkpointDir'> {
  /** Where trained MAKE modules are kept for reuse (default: <run folder's parent>/make-cache). */
  makeCacheDir?: string;
  /** The config's data.vectors, already loaded for this store (several runs over one file read it once). */
  vectors?: ItemVectorTable;
}

/** The item vectors a config names (data.vectors), aligned to the store's catalogue; null without. */
export function loadRunVectors(config: ExperimentConfig, store: SampleStore): ItemVectorTable | null {
  return config.data.vectors ? loadItemVectors(config.data.vectors, store.catalog.ids) : null;
}

/** The trained weights of a run folder. */
export const MODEL_FILE = 'model.safetensors';
/** The run folder's record of the vector space of its data.vectors: what `mmctr serve` checks the index's vectors against. */
export const VECTOR_SPACE_FILE = 'vector-space.json';

export interface RunVectorSpace extends VectorSpace {
  /** The vector file the model was trained with. */
  file: string;
  /** False for a run trained before runs recorded it: the space of its data.vectors file as it is now. */
  recorded: boolean;
}

/** The vector space a run was trained in; null for a run without item vectors. */
export function readRunVectorSpace(runDir: string): RunVectorSpace | null {
  const file = path.join(runDir, VECTOR_SPACE_FILE);
  if (existsSync(file)) return { ...(JSON.parse(readFileSync(file, 'utf8')) as Omit<RunVectorSpace, 'recorded'>), recorded: true };
  const vectors = readExperimentConfig(path.join(runDir, 'config.json')).data.vectors;
  return vectors ? { file: vectors, ...readVectorFile(vectors).space, recorded: false } : null;
}

/** Bumped whenever MAKE's training gives a different module for the same recipe, so older cached modules are retrained. */
const MAKE_VERSION = 1;

/** Where a trained MAKE is cached: a folder keyed by everything that shapes it (store, vectors, MAKE config, seed). */
function makeCacheEntry(make: MakeConfig, vectors: ItemVectorTable, store: SampleStore, seed: number, cacheDir: string, fold?: { k: number; of: number }): { dir: string; file: string } {
  const { module: _unused, fineTuneLr: _ft, folds: _folds, join: _join, ...shape } = make;
  // A store is written once (a rebuild replaces it whole, with a new builtAt): its folder and meta identify it.
  const key = cacheKey({ stage: 'make', version: MAKE_VERSION, recipe: { store: store.dir, storeMeta: store.meta, shape, seed, control: vectors.control, fold }, files: [vectors.source] });
  const dir = path.join(cacheDir, key);
  return { dir, file: path.join(dir, 'make.safetensors') };
}

/**
 * MAKE for a run: the module named by model.make.module, else one trained on this store for
 * model.make.epochs (best epoch on validation) and cached under a key of everything that shapes
 * it (store, vectors, MAKE config, seed), so retraining the ID model reuses it.
 */
export function ensureMake(make: MakeConfig, vectors: ItemVectorTable, store: SampleStore, seed: number, cacheDir: string, options: Omit<FitOptions, 'checkpointDir'> = {}): { module: Make; training: MakeTraining } {
  const module = createMake(make, vectors, seed);
  if (make.module) {
    loadModel(make.module, module);
    return { module, training: { file: make.module, reused: true, fit: readMakeFit(make.module) } };
  }
  return trainMake(module, make, vectors, store, seed, makeCacheEntry(make, vectors, store, seed, cacheDir), options);
}

/**
 * The out-of-fold MAKEs of a run (make.folds >= 2): fold k trained on the training rows of users
 * outside fold k, each cached like the full MAKE (its key adds the fold).
 */
export function ensureMakeCrossFit(make: MakeConfig, vectors: ItemVectorTable, store: SampleStore, seed: number, cacheDir: string, options: Omit<FitOptions, 'checkpointDir'> = {}): MakeCrossFit {
  const models = Array.from({ length: make.folds }, () => createMake(make, vectors, seed));
  const crossFit = new MakeCrossFit(models, seed);
  models.forEach((module, k) => {
    options.log?.(`MAKE fold ${k + 1} of ${make.folds}: trained without the rows of fold ${k + 1}'s users, scores them while the ID model trains`);
    trainMake(module, make, vectors, store, seed, makeCacheEntry(make, vectors, store, seed, cacheDir, { k, of: make.folds }), { ...options, trainRows: (b) => crossFit.trainRows(b, k) });
  });
  return crossFit;
}

/** Loads the cached module at `entry`, or trains it there (best epoch on validation). */
function trainMake(module: Make, make: MakeConfig, vectors: ItemVectorTable, store: SampleStore, seed: number, { dir, file }: { dir: string; file: string }, options: Omit<FitOptions, 'checkpointDir'>): { module: Make; training: MakeTraining } {
  if (cachedOnEveryRank(file, options.parallel)) {
    loadModel(file, module);
    options.log?.(`MAKE reused: ${file}`);
    return { module, training: { file, reused: true, fit: readMakeFit(file) } };
  }
  const writes = options.parallel?.writes ?? true;
  if (writes) mkdirSync(dir, { recursive: true });
  const train = TrainConfig.parse({ batchSize: make.batchSize, lr: make.lr, epochs: make.epochs, earlyStoppingPatience: make.earlyStoppingPatience, monitor: make.monitor, seed });
  options.log?.(`MAKE: training up to ${make.epochs} epochs on item vectors (${vectors.dim}-d), best epoch on validation ${make.monitor}`);
  const result = fit(module, store, train, { ...options, checkpointDir: path.join(dir, 'checkpoints') });
  if (writes) {
    saveModel(file, module, { make, vectors: vectors.source, seed });
    writeTextAtomic(path.join(dir, 'fit.json'), JSON.stringify(result, null, 2));
    options.log?.(`MAKE: kept epoch ${result.keptEpoch} of ${result.epochs.length}; saved ${file}`);
  }
  return { module, training: { file, reused: false, fit: result } };
}

/** Whether a cached file exists; data-parallel, every rank must see the same answer (one shared cache folder) or they would train different models. */
function cachedOnEveryRank(file: string, parallel: DataParallel | undefined): boolean {
  const here = existsSync(file);
  if (!parallel) return here;
  const count = Float64Array.of(here ? 1 : 0);
  parallel.sum(count);
  if (count[0] !== 0 && count[0] !== parallel.size)
    throw new MmctrError(`${file} exists on ${count[0]} of ${parallel.size} ranks: a distributed run needs the MAKE cache (--make-cache, default <runs>/make-cache) on a path every rank shares, or the same copy on every host`);
  return here;
}

function readMakeFit(file: string): FitResult {
  const fitFile = path.join(path.dirname(file), 'fit.json');
  return existsSync(fitFile) ? (JSON.parse(readFileSync(fitFile, 'utf8')) as FitResult) : { epochs: [], bestEpoch: 0, keptEpoch: 0, seconds: 0, samples: 0, samplesPerSecond: 0, loopSamplesPerSecond: 0 };
}

const defaultMakeCache = (runDir: string) => path.join(path.dirname(path.resolve(runDir)), 'make-cache');

/**
 * Continues a run that stopped (killed, crashed) from its newest checkpoint: MAKE's, when the run
 * stopped while its MAKE trained, else the ID model's. A run with neither is refused: continuing
 * it would silently start again from epoch 1.
 */
export function resumeRun(runDir: string, options: Omit<TrainRunOptions, 'resume'> = {}): RunResult {
  const configFile = path.join(runDir, 'config.json');
  if (!existsSync(configFile)) throw new ConfigError(configFile, ['not found: is this a run folder written by `mmctr train`?']);
  const config = readExperimentConfig(configFile);
  const store = SampleStore.open(config.data.store!);
  const vectors = options.vectors ?? loadRunVectors(config, store) ?? undefined;
  const make = config.model.model === 'din' && config.model.make && !config.model.make.module && vectors ? config.model.make : null;
  const makeEntry = make && vectors ? makeCacheEntry(make, vectors, store, config.train.seed, options.makeCacheDir ?? defaultMakeCache(runDir)) : null;
  const makeInProgress = makeEntry !== null && !existsSync(makeEntry.file) && latestCheckpoint(path.join(makeEntry.dir, 'checkpoints')) !== null;
  if (!makeInProgress && latestCheckpoint(path.join(runDir, 'checkpoints')) === null)
    throw new MmctrError(
      `${runDir} has no checkpoint to resume from: it stopped before the end of its first epoch (checkpoints are written at every epoch end, every train.checkpointMinutes of training, 5 by default, and every train.checkpointEvery steps when that is set). Train it again: mmctr train <config>`,
    );
  return trainRun(config, store, runDir, { ...options, vectors, resume: true });
}

/** The text of a run folder's config.json: the config with the store it was trained on (what a rerun of the same config compares against). */
export function runConfigText(config: ExperimentConfig, store: SampleStore): string {
  return JSON.stringify({ ...config, data: { ...config.data, store: store.dir } }, null, 2);
}

/** Trains the experiment on a built store and writes the run folder. */
export function trainRun(config: ExperimentConfig, store: SampleStore, runDir: string, options: TrainRunOptions = {}): RunResult {
  // Data-parallel, the writing rank writes the run folder and speaks; the others only train.
  const writes = options.parallel?.writes ?? true;
  const write = (file: string, text: string) => writes && writeTextAtomic(path.join(runDir, file), text);
  if (writes) mkdirSync(runDir, { recursive: true });
  const logFile = path.join(runDir, 'log.txt');
  const log = (line: string) => {
    if (!writes) return;
    appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
    options.log?.(line);
  };
  write('config.json', runConfigText(config, store));
  log(engineSummary());
  const vectors = options.vectors ?? loadRunVectors(config, store);
  if (vectors) log(`item vectors: ${vectors.source} (${vectors.dim}-d)${vectors.control ? `, made uninformative (control ${vectors.control})` : ''}; ${vectors.missing} catalogue items without one, ${vectors.unused} vectors of unknown items`);
  if (vectors?.space) write(VECTOR_SPACE_FILE, JSON.stringify({ file: path.resolve(vectors.source), ...vectors.space }, null, 2));
  const extras: DinExtras = { vectors: vectors ?? undefined };
  let make: MakeTraining | undefined;
  if (config.model.model === 'din' && config.model.make && vectors) {
    const cacheDir = options.makeCacheDir ?? defaultMakeCache(runDir);
    const made = ensureMake(config.model.make, vectors, store, config.train.seed, cacheDir, { ...options, log });
    extras.make = made.module;
    make = made.training;
    if (config.model.make.folds >= 2) extras.makeCrossFit = ensureMakeCrossFit(config.model.make, vectors, store, config.train.seed, cacheDir, { ...options, log });
  }
  const model = createModel(config.model, featureSpaceOf(store), config.train.seed, extras);
  log(`${config.model.model}: ${model.parameterCount().toLocaleString('en')} parameters; training ${config.train.epochs} epoch(s)`);
  const tables = boundedTables(model);
  for (const t of tables) log(describeTableRows(t));
  const result = fit(model, store, config.train, { ...options, log, checkpointDir: path.join(runDir, 'checkpoints') });
  log(`kept epoch ${result.keptEpoch} of ${result.epochs.length} (train.keep ${config.train.keep}; best on validation ${config.train.monitor}: epoch ${result.bestEpoch})`);
  const test = evaluateSplit(model, store, 'test', undefined, options.parallel);
  log(`test: AUC ${test.overall.auc.toFixed(4)} GAUC ${test.overall.gauc.toFixed(4)} logloss ${test.overall.logloss.toFixed(4)}; ${Math.round(result.samplesPerSecond)} samples/s end to end, ${Math.round(result.loopSamplesPerSecond)} in the training loop`);
  // Metrics on sampled negatives are not those of impressions: the run says so where its metrics are.
  const notes = [samplingNote(store.meta)].filter((n): n is string => n !== null);
  for (const n of notes) log(`note: ${n}`);
  if (writes) saveModel(path.join(runDir, MODEL_FILE), model, config);
  write('metrics.json', JSON.stringify({ fit: result, test, make, notes, ...(tables.length > 0 ? { tables } : {}) }, null, 2));
  return { dir: runDir, seed: config.train.seed, fit: result, test, make };
}

/** Reopens a run folder: its config, store and trained model. */
export function openRun(runDir: string): { config: ExperimentConfig; store: SampleStore; model: CtrModel } {
  const configFile = path.join(runDir, 'config.json');
  if (!existsSync(configFile)) throw new ConfigError(configFile, ['not found: is this a run folder written by `mmctr train`?']);
  const config = readExperimentConfig(configFile);
  const store = SampleStore.open(config.data.store!);
  const vectors = loadRunVectors(config, store) ?? undefined;
  // MAKE's weights are part of the model file; the module only needs building first.
  const make = config.model.model === 'din' && config.model.make && vectors ? createMake({ ...config.model.make, module: undefined }, vectors, config.train.seed) : undefined;
  const model = createModel(config.model, featureSpaceOf(store), config.train.seed, { vectors, make });
  loadModel(path.join(runDir, MODEL_FILE), model);
  return { config, store, model };
}
