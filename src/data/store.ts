/**
 * The sample store: the one place that knows a store folder's layout and file names, and the
 * reader everything else opens a store through. A store folder holds:
 *
 *   meta.json      StoreMeta: the dataset, the sample config, counts per split, the training range
 *   catalog.json   Catalog: item ids, titles, images, and every categorical item field as indices
 *   users.json     user ids in index order (user index u is users[u - 1])
 *   user-fields.json  UserFields: every categorical user field of the users table as indices per user
 *   <split>/       per split (train, valid, test), one fixed-width column file per field
 *                  (SPLIT_COLUMNS: user item label ts hist (L per record, 0 = padding) hist_len
 *                  freq (the target's training impressions) new) and, when the events carry a
 *                  true click probability (a simulated world), p_true.f32 (NaN where unknown)
 *
 * p_true is the answer key, not a feature: batches never read it; only evaluation does, through
 * `truth()`, to report what the best possible model would score. Sample building (samples.ts)
 * writes this layout through `storeFile` and `splitFile`; a store is opened once (`SampleStore.open`:
 * meta read and checked there) and travels as that object.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SplitReader, type StoredField } from './batches.js';
import { ColumnReader, ColumnType } from './column-file.js';
import { DataError } from './errors.js';
import { SampleConfig, SplitName } from './sample-config.js';

/** The canonical categorical item fields; the spec's listed attributes are further fields, by name. */
export const ITEM_FIELDS = ['category', 'brand', 'shop'] as const;
/** A categorical item field: a canonical one or a listed attribute's name. */
export type ItemField = string;

export interface Catalog {
  /** Item ids; catalogue index i (1-based) is ids[i - 1]. Index 0 is padding. */
  ids: string[];
  titles: (string | null)[];
  images: (string | null)[];
  /**
   * Per field (category, brand, shop, then the listed attributes by name): vocabulary (value of
   * index v is vocab[v - 1], index 0 = unknown) and per-item index (length ids.length + 1).
   */
  fields: Record<ItemField, { vocab: string[]; index: number[] }>;
}

/**
 * Per user field (the dataset's users.attributes, by name): vocabulary (value of index v is
 * vocab[v - 1]) and per-user index (length users + 1); index 0 is the reserved 'missing' value:
 * padding, a user without a row in the users table, an empty value, a user the store never saw.
 */
export type UserFields = Record<string, { vocab: string[]; index: number[] }>;

export interface SplitMeta {
  count: number;
  clicks: number;
  users: number;
  tsMin: number | null;
  tsMax: number | null;
}

/**
 * How the samples were made: one per impression, or (a log with positives and no impressions) each
 * positive of `positiveType` followed by `perPositive` sampled negatives (sample config
 * `negatives`); `short` counts positives that got none, no other item being live.
 */
export type Sampling =
  | { kind: 'impressions' }
  | { kind: 'negatives'; positiveType: string; perPositive: number; sampler: 'uniform' | 'popularity'; seed: number; positives?: number; short?: number };

/**
 * What the metrics of a store's samples mean, when they are not those of real impressions: one
 * sentence for build output, run logs and metrics.json; null for impression logs.
 */
export function samplingNote(meta: StoreMeta): string | null {
  const s = meta.sampling;
  if (!s || s.kind !== 'negatives') return null;
  const how = s.sampler === 'uniform' ? 'uniformly' : 'in proportion to their positives so far';
  return (
    `evaluation on sampled candidates: each ${s.positiveType} is a positive scored against ${s.perPositive} negatives drawn ${how} from the items live at its time (seed ${s.seed}; no impressions in the log)` +
    `${s.short ? `; ${s.short} positives have no negative (no other item was live)` : ''}. AUC and GAUC measure ranking the positive's item above random ones, easier than above items actually shown, ` +
    `so they are higher than on impression logs and not comparable with them; logloss and calibration reflect the 1:${s.perPositive} sampling ratio, not a real click or ${s.positiveType} rate. Compare runs on the same store only`
  );
}

export interface StoreMeta {
  version: 1;
  dataset: string;
  config: SampleConfig;
  items: number;
  users: number;
  splits: Record<SplitName, SplitMeta>;
  /** Training impressions' time range: items with no training impression are "new". */
  trainEnd: number | null;
  /** Whether the splits carry p_true.f32 (true click probabilities, for oracle metrics only). */
  truth?: boolean;
  /** How the samples were made (absent in stores built before it was recorded: impressions). */
  sampling?: Sampling;
  builtAt: string;
}

/** The store's top-level files. */
export const STORE_FILES = { meta: 'meta.json', catalog: 'catalog.json', users: 'users.json', userFields: 'user-fields.json' } as const;

/** The column files of a split: file name, value type, and whether a record holds a whole history (L values). */
export const SPLIT_COLUMNS = {
  user: { file: 'user.i32', type: 'i32', history: false },
  item: { file: 'item.i32', type: 'i32', history: false },
  label: { file: 'label.f32', type: 'f32', history: false },
  ts: { file: 'ts.f64', type: 'f64', history: false },
  hist: { file: 'hist.i32', type: 'i32', history: true },
  histLen: { file: 'hist_len.i32', type: 'i32', history: false },
  freq: { file: 'freq.i32', type: 'i32', history: false },
  isNew: { file: 'new.u8', type: 'u8', history: false },
} as const satisfies Record<StoredField, { file: string; type: ColumnType; history: boolean }>;

/** The file of a split that holds the true click probabilities (f32, one per sample). */
export const TRUTH_FILE = 'p_true.f32';

/** Where a top-level file of the store in `dir` lives. */
export function storeFile(dir: string, name: keyof typeof STORE_FILES): string {
  return path.join(dir, STORE_FILES[name]);
}

/** The folder of a split's column files. */
export function splitDir(dir: string, split: SplitName): string {
  return path.join(dir, split);
}

/** Where a column of a split (or its truth file) lives. */
export function splitFile(dir: string, split: SplitName, column: StoredField | 'truth'): string {
  return path.join(splitDir(dir, split), column === 'truth' ? TRUTH_FILE : SPLIT_COLUMNS[column].file);
}

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new DataError({ file }, `${what} (${(err as Error).message}); rebuild the store with \`mmctr data build\``);
  }
}

/** A built sample store, opened once: its meta, catalogue, user ids and id maps, split readers and the answer key. */
export class SampleStore {
  private catalogRead: Catalog | null = null;
  private usersRead: string[] | null = null;
  private userFieldsRead: UserFields | null = null;
  private itemIndexBuilt: Map<string, number> | null = null;
  private userIndexBuilt: Map<string, number> | null = null;
  private countsBuilt: { items: Int32Array; users: Int32Array } | null = null;

  private constructor(
    /** The store folder (absolute). */
    readonly dir: string,
    readonly meta: StoreMeta,
  ) {}

  /** Whether `dir` holds a sample store (its meta.json). */
  static isStore(dir: string): boolean {
    return existsSync(storeFile(dir, 'meta'));
  }

  /** Opens the store in `dir`; a folder that is not one is a DataError naming it. */
  static open(dir: string): SampleStore {
    const abs = path.resolve(dir);
    const file = storeFile(abs, 'meta');
    let meta: StoreMeta;
    try {
      meta = JSON.parse(readFileSync(file, 'utf8')) as StoreMeta;
    } catch (err) {
      throw new DataError({ file }, `is not a sample store (${(err as Error).message}); build one with \`mmctr data build\``);
    }
    return new SampleStore(abs, meta);
  }

  /** Behaviours per sample (the sample config's history length). */
  get historyLength(): number {
    return this.meta.config.historyLength;
  }

  /** The catalogue (read on first use). */
  get catalog(): Catalog {
    return (this.catalogRead ??= readJson<Catalog>(storeFile(this.dir, 'catalog'), 'cannot be read'));
  }

  /** User ids in index order (read on first use): user index u is users[u - 1]. */
  get users(): string[] {
    const file = storeFile(this.dir, 'users');
    if (!this.usersRead && !existsSync(file)) throw new DataError({ file }, 'is missing: the sample store is incomplete; rebuild it with `mmctr data build`');
    return (this.usersRead ??= readJson<string[]>(file, 'cannot be read'));
  }

  /** The user fields (read on first use); none for a store built without a users table, or before stores had them. */
  get userFields(): UserFields {
    const file = storeFile(this.dir, 'userFields');
    return (this.userFieldsRead ??= existsSync(file) ? readJson<UserFields>(file, 'cannot be read') : {});
  }

  /** Item id -> 1-based catalogue index. */
  get itemIndex(): Map<string, number> {
    return (this.itemIndexBuilt ??= indexOf(this.catalog.ids));
  }

  /** User id -> 1-based user index. */
  get userIndex(): Map<string, number> {
    return (this.userIndexBuilt ??= indexOf(this.users));
  }

  /** A reader of one split's samples (close it when done). */
  split(name: SplitName): SplitReader {
    const L = this.historyLength;
    const opened: ColumnReader[] = [];
    try {
      const columns = Object.fromEntries(
        Object.entries(SPLIT_COLUMNS).map(([column, c]) => {
          const reader = new ColumnReader(splitFile(this.dir, name, column as StoredField), c.type, c.history ? L : 1);
          opened.push(reader);
          return [column, reader];
        }),
      ) as Record<StoredField, ColumnReader>;
      return new SplitReader(name, L, columns);
    } catch (err) {
      for (const r of opened) r.close();
      throw err;
    }
  }

  /**
   * Training samples per item and per user index (arrays of length items + 1 and users + 1),
   * counted once from the training split's item and user columns, read in blocks.
   */
  trainingCounts(): { items: Int32Array; users: Int32Array } {
    if (this.countsBuilt) return this.countsBuilt;
    const items = new Int32Array(this.meta.items + 1), users = new Int32Array(this.meta.users + 1);
    for (const [column, counts] of [['item', items], ['user', users]] as const) {
      const reader = new ColumnReader(splitFile(this.dir, 'train', column), 'i32');
      try {
        const block = new Int32Array(Math.min(reader.records, 1 << 20));
        for (let start = 0; start < reader.records; start += block.length) {
          const n = Math.min(block.length, reader.records - start);
          const ids = reader.read(start, n, block) as Int32Array;
          for (let i = 0; i < n; i++) counts[ids[i]]++;
        }
      } finally {
        reader.close();
      }
    }
    return (this.countsBuilt = { items, users });
  }

  /**
   * The true click probability of every sample of a split (NaN where unknown), or null when the
   * store has none. For oracle metrics only: a model must never be given it.
   */
  truth(split: SplitName): Float32Array | null {
    const file = splitFile(this.dir, split, 'truth');
    if (!existsSync(file)) return null;
    const reader = new ColumnReader(file, 'f32');
    try {
      return reader.readAll() as Float32Array;
    } finally {
      reader.close();
    }
  }
}

function indexOf(ids: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  ids.forEach((id, i) => index.set(id, i + 1));
  return index;
}
