/**
 * The sample store an experiment's data section names: a built store as it is; a dataset spec
 * or a built-in adapter built once into <runs>/stores/<spec folder>-<key>, keyed
 * (util/cache-key.ts) by the sample config and the contents of the spec and of every file it
 * names, so changed data, a changed config or newer sample-building code never reuses a stale store.
 */
import path from 'node:path';
import { ADAPTERS, type PreparedDataset } from '../data/adapters/index.js';
import type { DataSectionConfig } from '../ctr/config.js';
import { DataError } from '../data/errors.js';
import { SampleConfig } from '../data/sample-config.js';
import { buildStoreFromSpec } from '../data/samples.js';
import { readDatasetSpec } from '../data/spec.js';
import { SampleStore } from '../data/store.js';
import { cacheKey } from '../util/cache-key.js';
import { PipelineOptions, withBar } from './options.js';

/** Where an experiment config's `data` section takes its samples from: a built store, or a dataset spec or adapter to build one from. */
export type StoreSource = Pick<DataSectionConfig, 'store' | 'dataset' | 'adapter' | 'samples'>;

/**
 * Bumped whenever sample building changes what a store holds for the same input (2: the catalogue
 * keeps the spec's extra item attributes; 3: label rules, event roles and sampled negatives, meta.sampling; 4: id maps and catalogue as string tables, meta version 2), so caches built by older code are rebuilt.
 */
export const STORE_FORMAT = 4;

/** A dataset's spec file and the data files it names: what a cache of anything built from it is keyed by. */
export function datasetFiles(specFile: string): string[] {
  const spec = readDatasetSpec(specFile);
  return [specFile, ...[spec.items, spec.events, spec.searches, spec.users].flatMap((table) => (table ? [table.path] : []))];
}

export interface StoreOptions extends PipelineOptions {
  /** Adapters by name, for data.adapter (default: the built-in ones). */
  adapters?: Record<string, (outDir: string) => Promise<Pick<PreparedDataset, 'specFile' | 'samples'>>>;
}

/** The store of a data section (paths relative to `baseDir`), built into `<runsDir>/stores` when needed. */
export async function resolveStore(data: StoreSource, baseDir: string, runsDir: string, options: StoreOptions = {}): Promise<SampleStore> {
  if (data.store) {
    const dir = path.resolve(baseDir, data.store);
    if (!SampleStore.isStore(dir)) throw new DataError({ file: dir }, 'is not a sample store (no meta.json); build one with `mmctr data build`');
    return SampleStore.open(dir);
  }
  let specFile: string;
  let samples = SampleConfig.parse(data.samples ?? {});
  if (data.adapter) {
    const adapters = options.adapters ?? ADAPTERS;
    const prepare = adapters[data.adapter];
    if (!prepare) throw new DataError({ file: data.adapter }, `is not a known adapter: expected one of ${Object.keys(adapters).join(', ')}`);
    const prepared = await prepare(path.join(runsDir, 'datasets', data.adapter));
    specFile = prepared.specFile;
    if (!data.samples) samples = prepared.samples;
  } else {
    specFile = path.resolve(baseDir, data.dataset!);
  }
  // A missing data file is left to the build, which reports it with the spec's field.
  const key = cacheKey({ stage: 'store', version: STORE_FORMAT, recipe: samples, files: datasetFiles(specFile) }, 12);
  const storeDir = path.join(runsDir, 'stores', `${path.basename(path.dirname(specFile))}-${key}`);
  if (SampleStore.isStore(storeDir)) return SampleStore.open(storeDir);
  return withBar(options, 'samples', async (update) => (await buildStoreFromSpec(specFile, samples, storeDir, update)).store);
}
