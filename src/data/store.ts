/**
 * The sample store: the one place that knows a store folder's layout and file names, and the
 * reader everything else opens a store through. A store folder holds:
 *
 *   meta.json      StoreMeta: the dataset, the sample config, counts per split, the training range,
 *                  the names of the item and user fields
 *   catalog/       the catalogue: ids.strt (item ids in index order, with their hash index: the
 *                  id map), titles.strt, images.strt, and per item field k (meta.itemFields[k])
 *                  field-<k>.i32 (the field's index per item, items + 1 values) and field-<k>.strt
 *                  (its vocabulary)
 *   users/         ids.strt (user ids in index order, with their hash index) and per user field k
 *                  (meta.userFields[k]) field-<k>.i32 and field-<k>.strt
 *   <split>/       per split (train, valid, test), one fixed-width column file per field
 *                  (SPLIT_COLUMNS: user item label ts hist (L per record, 0 = padding) hist_len
 *                  freq (the target's training impressions) new) and, when the events carry a
 *                  true click probability (a simulated world), p_true.f32 (NaN where unknown)
 *
 * p_true is the answer key, not a feature: batches never read it; only evaluation does, through
 * `truth()`, to report what the best possible model would score. The `.strt` files are string
 * tables (string-table.ts): read on first use as one buffer each, looked up in O(1), so a store of
 * a million items or users opens without building a JS object per id. Sample building
 * (samples.ts) writes this layout through `storeFile`, `tableFile`, `fieldFiles` and `splitFile`;
 * a store is opened once (`SampleStore.open`: meta read and its version checked there) and
 * travels as that object.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SplitReader, type StoredField } from './batches.js';
import { ColumnReader, ColumnType } from './column-file.js';
import { DataError } from './errors.js';
import { SampleConfig, SplitName } from './sample-config.js';
import { StringTable } from './string-table.js';

/** The canonical categorical item fields; the spec's listed attributes are further fields, by name. */
export const ITEM_FIELDS = ['category', 'brand', 'shop'] as const;
/** A categorical item field: a canonical one or a listed attribute's name. */
export type ItemField = string;

/** A categorical field: vocabulary (value of index v is vocab[v - 1]) and the index per item or user (0 = missing). */
export interface CategoricalField {
  vocab: string[];
  index: Int32Array;
}

/**
 * The catalogue as arrays, each decoded from its file on first use (the id lookups do not need
 * them: `SampleStore.itemIndex`).
 */
export interface Catalog {
  /** Item ids; catalogue index i (1-based) is ids[i - 1]. Index 0 is padding. */
  readonly ids: string[];
  readonly titles: (string | null)[];
  readonly images: (string | null)[];
  /**
   * Per field (category, brand, shop, then the listed attributes by name): vocabulary (index 0 =
   * unknown) and per-item index (length ids.length + 1).
   */
  readonly fields: Record<ItemField, CategoricalField>;
}

/**
 * Per user field (the dataset's users.attributes, by name): per-user index of length users + 1;
 * index 0 is the reserved 'missing' value: padding, a user without a row in the users table, an
 * empty value, a user the store never saw.
 */
export type UserFields = Record<string, CategoricalField>;

/** An id map read from a string table: `indexOf` (1-based, 0 = unknown), `has`, `at`, `keys`, `size`. */
export type IdMap = Pick<StringTable, 'indexOf' | 'has' | 'at' | 'keys' | 'size' | 'file'>;

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

/** The store layout's version: 2 has the string tables; 1 (JSON id maps and catalogue) is refused with a rebuild hint. */
export const STORE_VERSION = 2;

export interface StoreMeta {
  version: typeof STORE_VERSION;
  dataset: string;
  config: SampleConfig;
  items: number;
  users: number;
  /** The catalogue's fields in file order (catalog/field-<k>): category, brand, shop, then the listed attributes. */
  itemFields: ItemField[];
  /** The user fields in file order (users/field-<k>). */
  userFields: string[];
  splits: Record<SplitName, SplitMeta>;
  /** Training impressions' time range: items with no training impression are "new". */
  trainEnd: number | null;
  /** Whether the splits carry p_true.f32 (true click probabilities, for oracle metrics only). */
  truth?: boolean;
  /** How the samples were made (absent in stores built before it was recorded: impressions). */
  sampling?: Sampling;
  builtAt: string;
}

/** The store's top-level files and folders. */
export const STORE_FILES = { meta: 'meta.json', catalog: 'catalog', users: 'users' } as const;

/** The string tables of the catalog and users folders (users have ids only). */
export const TABLE_FILES = { ids: 'ids.strt', titles: 'titles.strt', images: 'images.strt' } as const;

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

/** A string table of the catalogue or users folder. */
export function tableFile(dir: string, owner: 'catalog' | 'users', table: keyof typeof TABLE_FILES): string {
  return path.join(dir, STORE_FILES[owner], TABLE_FILES[table]);
}

/** The files of categorical field k of the catalogue or users folder: the index per id and the vocabulary. */
export function fieldFiles(dir: string, owner: 'catalog' | 'users', k: number): { index: string; vocab: string } {
  return { index: path.join(dir, STORE_FILES[owner], `field-${k}.i32`), vocab: path.join(dir, STORE_FILES[owner], `field-${k}.strt`) };
}

/** The folder of a split's column files. */
export function splitDir(dir: string, split: SplitName): string {
  return path.join(dir, split);
}

/** Where a column of a split (or its truth file) lives. */
export function splitFile(dir: string, split: SplitName, column: StoredField | 'truth'): string {
  return path.join(splitDir(dir, split), column === 'truth' ? TRUTH_FILE : SPLIT_COLUMNS[column].file);
}

/** Reads a categorical field's index and vocabulary; both must cover `ids` ids. */
function readField(files: { index: string; vocab: string }, ids: number): CategoricalField {
  const reader = new ColumnReader(files.index, 'i32');
  try {
    if (reader.records !== ids + 1) throw new DataError({ file: files.index }, `holds ${reader.records} values, not ${ids + 1} (one per id and padding): the sample store is damaged; rebuild it with \`mmctr data build\``);
    return { vocab: StringTable.open(files.vocab).toArray() as string[], index: reader.readAll() as Int32Array };
  } finally {
    reader.close();
  }
}

/** The catalogue of the store in `dir`, each part read on first use. */
class LazyCatalog implements Catalog {
  private idsRead: string[] | null = null;
  private titlesRead: (string | null)[] | null = null;
  private imagesRead: (string | null)[] | null = null;
  private fieldsRead: Record<ItemField, CategoricalField> | null = null;

  constructor(
    private readonly dir: string,
    private readonly meta: StoreMeta,
    private readonly idMap: () => StringTable,
  ) {}

  get ids(): string[] {
    return (this.idsRead ??= this.idMap().toArray() as string[]);
  }

  get titles(): (string | null)[] {
    return (this.titlesRead ??= StringTable.open(tableFile(this.dir, 'catalog', 'titles')).toArray());
  }

  get images(): (string | null)[] {
    return (this.imagesRead ??= StringTable.open(tableFile(this.dir, 'catalog', 'images')).toArray());
  }

  get fields(): Record<ItemField, CategoricalField> {
    return (this.fieldsRead ??= Object.fromEntries(this.meta.itemFields.map((f, k) => [f, readField(fieldFiles(this.dir, 'catalog', k), this.meta.items)])));
  }
}

/** A built sample store, opened once: its meta, catalogue, user ids and id maps, split readers and the answer key. */
export class SampleStore {
  private catalogRead: Catalog | null = null;
  private usersRead: string[] | null = null;
  private userFieldsRead: UserFields | null = null;
  private itemIds: StringTable | null = null;
  private userIds: StringTable | null = null;
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

  /** Opens the store in `dir`; a folder that is not one, or a store of another layout version, is a DataError naming it. */
  static open(dir: string): SampleStore {
    const abs = path.resolve(dir);
    const file = storeFile(abs, 'meta');
    let meta: StoreMeta;
    try {
      meta = JSON.parse(readFileSync(file, 'utf8')) as StoreMeta;
    } catch (err) {
      throw new DataError({ file }, `is not a sample store (${(err as Error).message}); build one with \`mmctr data build\``);
    }
    if (meta.version !== STORE_VERSION)
      throw new DataError(
        { file },
        `is a sample store of layout version ${JSON.stringify(meta.version)}; this mmctr reads version ${STORE_VERSION} (id maps and catalogue as string tables, not catalog.json / users.json): rebuild the store with \`mmctr data build\``,
      );
    return new SampleStore(abs, meta);
  }

  /** Behaviours per sample (the sample config's history length). */
  get historyLength(): number {
    return this.meta.config.historyLength;
  }

  /** The catalogue (its parts read on first use). */
  get catalog(): Catalog {
    return (this.catalogRead ??= new LazyCatalog(this.dir, this.meta, () => this.itemTable()));
  }

  /** User ids in index order (decoded on first use): user index u is users[u - 1]. */
  get users(): string[] {
    return (this.usersRead ??= this.userTable().toArray() as string[]);
  }

  /** The user fields (read on first use); none for a store built without a users table. */
  get userFields(): UserFields {
    return (this.userFieldsRead ??= Object.fromEntries(this.meta.userFields.map((f, k) => [f, readField(fieldFiles(this.dir, 'users', k), this.meta.users)])));
  }

  /** Item id -> 1-based catalogue index (0 = unknown), read on first use without a JS object per id. */
  get itemIndex(): IdMap {
    return this.itemTable();
  }

  /** User id -> 1-based user index (0 = unknown), read on first use. */
  get userIndex(): IdMap {
    return this.userTable();
  }

  private itemTable(): StringTable {
    return (this.itemIds ??= openIdMap(tableFile(this.dir, 'catalog', 'ids'), this.meta.items));
  }

  private userTable(): StringTable {
    return (this.userIds ??= openIdMap(tableFile(this.dir, 'users', 'ids'), this.meta.users));
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

/** An id table that must hold `count` ids (meta's count) and its hash index. */
function openIdMap(file: string, count: number): StringTable {
  const table = StringTable.open(file);
  if (table.size !== count || !table.indexed)
    throw new DataError({ file }, `holds ${table.size} ids${table.indexed ? '' : ' without an index'} where meta.json counts ${count}: the sample store is damaged; rebuild it with \`mmctr data build\``);
  return table;
}
