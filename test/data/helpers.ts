/**
 * Shared helpers of the data tests (not a test file itself): temporary folders, small generated
 * datasets, a one-call ingest + build, and reading a whole split back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { Duck } from '../../src/data/duck.js';
import { ingest, IngestReport } from '../../src/data/ingest.js';
import { SampleConfig, SplitName, SPLITS } from '../../src/data/sample-config.js';
import { buildSamples } from '../../src/data/samples.js';
import { Catalog, SampleStore, StoreMeta } from '../../src/data/store.js';
import { parseDatasetSpec } from '../../src/data/spec.js';

/** A temporary folder removed when the test file ends. */
export function tempDir(prefix = 'mmctr-data-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function write(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Deterministic uniform numbers in [0, 1) (mulberry32), independent of the native engine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Ingests a spec object (paths relative to `dir`) in a fresh DuckDB. */
export async function ingestSpec(dir: string, rawSpec: unknown): Promise<{ duck: Duck; report: IngestReport }> {
  const spec = parseDatasetSpec(rawSpec, path.join(dir, 'dataset.json'), dir);
  const duck = await Duck.open();
  try {
    return { duck, report: await ingest(duck, spec) };
  } catch (err) {
    duck.close();
    throw err;
  }
}

export async function ingestOnly(dir: string, rawSpec: unknown): Promise<IngestReport> {
  const { duck, report } = await ingestSpec(dir, rawSpec);
  duck.close();
  return report;
}

/** Ingests and builds a store in `dir/<storeName>`. */
export async function buildStore(dir: string, rawSpec: unknown, config: unknown, storeName = 'store'): Promise<{ store: string; meta: StoreMeta; report: IngestReport }> {
  const { duck, report } = await ingestSpec(dir, rawSpec);
  try {
    const store = path.join(dir, storeName);
    const meta = await buildSamples(duck, 'test', SampleConfig.parse(config), store);
    return { store, meta, report };
  } finally {
    duck.close();
  }
}

export interface SampleRow {
  split: SplitName;
  user: string;
  item: string;
  label: number;
  ts: number;
  /** History item ids, oldest first. */
  hist: string[];
  freq: number;
  isNew: number;
}

/** Every sample of the store, splits in order, with ids instead of indices. */
export function readSamples(store: string): { rows: SampleRow[]; catalog: Catalog; users: string[] } {
  const { catalog, users } = SampleStore.open(store);
  const rows: SampleRow[] = [];
  for (const split of SPLITS) {
    const reader = SampleStore.open(store).split(split);
    const b = reader.readRange(0, reader.count);
    const L = reader.historyLength;
    for (let i = 0; i < b.size; i++) {
      const hist: string[] = [];
      for (let k = 0; k < b.histLen[i]; k++) hist.push(catalog.ids[b.hist[i * L + k] - 1]);
      for (let k = b.histLen[i]; k < L; k++) if (b.hist[i * L + k] !== 0) throw new Error(`padding is not 0 at ${split}[${i}]`);
      rows.push({ split, user: users[b.user[i] - 1], item: catalog.ids[b.item[i] - 1], label: b.label[i], ts: b.ts[i], hist, freq: b.freq[i], isNew: b.isNew[i] });
    }
    reader.close();
  }
  return { rows, catalog, users };
}

export function csv(rows: (string | number)[][]): string {
  return rows.map((r) => r.join(',')).join('\n') + '\n';
}
