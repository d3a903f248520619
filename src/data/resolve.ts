/**
 * Finds or builds the sample store an experiment's `data` section names: a built store as is;
 * a dataset spec or a built-in adapter built once into a cache folder keyed by a hash of the
 * spec, the contents of the files it names, the sample config and the store format (so changed
 * data, a changed config or newer sample-building code never reuses a stale store).
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';
import { Duck } from './duck.js';
import { DataError } from './errors.js';
import { ingest, IngestReport } from './ingest.js';
import { SampleConfig } from './sample-config.js';
import { buildSamples, StoreMeta } from './samples.js';
import { readDatasetSpec } from './spec.js';

export interface DataSection {
  store?: string;
  dataset?: string;
  adapter?: string;
  samples?: SampleConfig;
}

export interface BuildProgress {
  (done: number, total: number): void;
}

/** Ingests a dataset spec and builds its sample store in `storeDir`. */
export async function buildStoreFromSpec(specFile: string, samples: SampleConfig, storeDir: string, onProgress?: BuildProgress): Promise<{ meta: StoreMeta; report: IngestReport }> {
  const spec = readDatasetSpec(specFile);
  const duck = await Duck.open();
  try {
    const report = await ingest(duck, spec);
    const meta = await buildSamples(duck, spec.name, samples, storeDir, onProgress);
    return { meta, report };
  } finally {
    duck.close();
  }
}

/**
 * Bumped whenever sample building changes what a store holds for the same input (2: the catalogue
 * keeps the spec's extra item attributes), so caches built by older code are rebuilt.
 */
export const STORE_FORMAT = 2;

/** Hash of what a store is built from: spec, the bytes of its data files, sample config, format. */
function storeKey(specFile: string, samples: SampleConfig): string {
  const hash = createHash('sha256').update(`store-format ${STORE_FORMAT}\n`).update(readFileSync(specFile)).update(JSON.stringify(samples));
  const spec = readDatasetSpec(specFile);
  // A missing file is left to the build, which reports it with the spec's field.
  for (const table of [spec.items, spec.events, spec.searches]) if (table && existsSync(table.path)) hashFile(hash, table.path);
  return hash.digest('hex').slice(0, 12);
}

/** Feeds a file to a hash in 1 MB chunks: event logs can be larger than one Buffer may hold. */
function hashFile(hash: Hash, file: string): void {
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; ) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

export type AdapterPreparer = (outDir: string) => Promise<{ specFile: string; samples: SampleConfig }>;

/** The store folder for a data section, built into `cacheDir` when needed. */
export async function resolveStore(data: DataSection, baseDir: string, cacheDir: string, adapters: Record<string, AdapterPreparer>, onProgress?: BuildProgress): Promise<string> {
  if (data.store) {
    const dir = path.resolve(baseDir, data.store);
    if (!existsSync(path.join(dir, 'meta.json'))) throw new DataError({ file: dir }, 'is not a sample store (no meta.json); build one with `mmctr data build`');
    return dir;
  }
  let specFile: string;
  let samples = SampleConfig.parse(data.samples ?? {});
  if (data.adapter) {
    const prepare = adapters[data.adapter];
    if (!prepare) throw new DataError({ file: data.adapter }, `is not a known adapter: expected one of ${Object.keys(adapters).join(', ')}`);
    const prepared = await prepare(path.join(cacheDir, 'datasets', data.adapter));
    specFile = prepared.specFile;
    if (!data.samples) samples = prepared.samples;
  } else {
    specFile = path.resolve(baseDir, data.dataset!);
  }
  const key = storeKey(specFile, samples);
  const storeDir = path.join(cacheDir, 'stores', `${path.basename(path.dirname(specFile))}-${key}`);
  if (!existsSync(path.join(storeDir, 'meta.json'))) await buildStoreFromSpec(specFile, samples, storeDir, onProgress);
  return storeDir;
}
