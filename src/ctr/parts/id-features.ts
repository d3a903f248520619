/**
 * The sparse part of a CTR model (TorchRec's SparseArch): ID embedding tables for the item,
 * its attributes, the user and the user's fields, and the lookups that turn a batch into the
 * target item vector, the behaviour sequence and its mask, and the user vector.
 */
import { isGradEnabled } from '../../engine/autograd.js';
import { Module } from '../../engine/module.js';
import { normal } from '../../engine/init.js';
import { concat } from '../../engine/ops/index.js';
import { RandomStream } from '../../engine/random.js';
import { SparseEmbedding } from '../../engine/sparse-embedding.js';
import { Tensor } from '../../engine/tensor.js';
import { historyMask, type Batch } from '../../data/batches.js';
import { ITEM_FIELDS, type ItemField } from '../../data/store.js';
import { ConfigError } from '../../util/errors.js';
import type { TableSize } from '../config.js';
import { countsOfValues, tableRows, type TableRows } from './table-rows.js';

/** What a model needs to know about the data: vocabulary sizes and each item's attributes. */
export interface FeatureSpace {
  items: number;
  users: number;
  /** Per attribute field: vocabulary size and the attribute index of every catalogue item (index 0 = padding). */
  itemFields: Record<ItemField, { vocab: number; ofItem: Int32Array }>;
  /** Per user field: vocabulary size and the value index of every user (index 0 = 'missing'); absent: none. */
  userFields?: Record<string, { vocab: number; ofUser: Int32Array }>;
  historyLength: number;
  /** Training samples per item and per user index (read only for a minCount table); absent: no store behind it. */
  trainingCounts?: () => { items: Int32Array; users: Int32Array };
}

export interface IdFeaturesArgs {
  embeddingDim: number;
  embeddingInitStd: number;
  itemFields: readonly ItemField[];
  userEmbedding: boolean;
  /** User fields embedded beside the user (default none). */
  userFields?: readonly string[];
  /** Rows per table (item, user, an item field, user.<field>); absent tables are 'full' (ctr/config.ts). */
  embeddingTables?: Readonly<Record<string, TableSize>>;
}

export interface EmbeddedBatch {
  /** [B, itemDim] target item vector (id and attribute embeddings concatenated). */
  target: Tensor;
  /**
   * [B, L, itemDim] behaviour vectors; [1, L, itemDim] for a ranking batch (`Batch.sharedHistory`,
   * inference): every candidate has the same behaviours, so they are looked up once, never copied B times.
   */
  history: Tensor;
  /** [B * L] 1 for real behaviours, 0 for padding. */
  mask: Float32Array;
  /** [B, userDim] user embedding and user-field embeddings concatenated, or null. */
  user: Tensor | null;
}

export class IdFeatures extends Module {
  // Read (never changed) by the ONNX export (export/onnx.ts), which looks rows up the same way.
  readonly itemTable: SparseEmbedding;
  readonly fieldTables: { field: ItemField; table: SparseEmbedding; ofItem: Int32Array }[] = [];
  readonly userTable: SparseEmbedding | null = null;
  readonly userFieldTables: { table: SparseEmbedding; ofUser: Int32Array }[] = [];
  readonly itemDim: number;
  readonly userDim: number;
  /** Item / user index -> row of a bounded table (null: 'full', the index is the row); field maps are folded into ofItem / ofUser. */
  readonly itemRows: Int32Array | null = null;
  readonly userRows: Int32Array | null = null;
  /** The bounded tables, for the run log; empty when every table is full. */
  readonly tableRows: TableRows[] = [];

  constructor(
    readonly space: FeatureSpace,
    args: IdFeaturesArgs,
    rng: RandomStream,
  ) {
    super();
    const init = normal(args.embeddingInitStd);
    const d = args.embeddingDim;
    const sizes = args.embeddingTables ?? {};
    checkTableKeys(sizes, args);
    const counts = () => {
      if (!space.trainingCounts) throw new ConfigError('model.embeddingTables', ['minCount needs the training split of a sample store to count ids in; this model was built without one']);
      return space.trainingCounts();
    };
    // Index -> row for a table; the rows it needs (vocab + 1 when full).
    const bound = (key: string, vocab: number, ofOwners: () => Int32Array): { remap: Int32Array | null; rows: number } => {
      const b = tableRows(key, sizes[key] ?? 'full', vocab, ofOwners);
      if (!b) return { remap: null, rows: vocab + 1 };
      this.tableRows.push(b.summary);
      return { remap: b.remap, rows: b.summary.rows };
    };
    const item = bound('item', space.items, () => counts().items);
    this.itemRows = item.remap;
    this.itemTable = this.table('item', new SparseEmbedding({ rows: item.rows, dim: d, init }, rng.fork('item')));
    for (const field of args.itemFields) {
      const f = Object.hasOwn(space.itemFields, field) ? space.itemFields[field] : undefined;
      if (!f) {
        // The canonical fields are optional (a catalogue may lack them); a named attribute is not.
        if ((ITEM_FIELDS as readonly string[]).includes(field)) continue;
        throw new ConfigError('model.itemFields', [
          `'${field}' is not an item field of this data; it has: ${Object.keys(space.itemFields).join(', ') || 'none'} (list attributes under items.attributes in the dataset spec)`,
        ]);
      }
      // Canonical fields keep their own table name; attributes are attr_<name> (an identifier).
      const tableName = (ITEM_FIELDS as readonly string[]).includes(field) ? field : `attr_${field.replace(/[^A-Za-z0-9_]/g, '_')}`;
      const rows = bound(field, f.vocab, () => countsOfValues(counts().items, f.ofItem, f.vocab));
      const ofItem = rows.remap ? f.ofItem.map((v) => rows.remap![v]) : f.ofItem;
      this.fieldTables.push({ field, ofItem, table: this.table(tableName, new SparseEmbedding({ rows: rows.rows, dim: d, init }, rng.fork(field))) });
    }
    if (args.userEmbedding) {
      const user = bound('user', space.users, () => counts().users);
      this.userRows = user.remap;
      this.userTable = this.table('user', new SparseEmbedding({ rows: user.rows, dim: d, init }, rng.fork('user')));
    }
    for (const field of args.userFields ?? []) {
      const f = space.userFields && Object.hasOwn(space.userFields, field) ? space.userFields[field] : undefined;
      if (!f)
        throw new ConfigError('model.userFields', [
          `'${field}' is not a user field of this data; it has: ${Object.keys(space.userFields ?? {}).join(', ') || 'none'} (list attributes under users.attributes in the dataset spec)`,
        ]);
      const tableName = `user_${field.replace(/[^A-Za-z0-9_]/g, '_')}`;
      const rows = bound(`user.${field}`, f.vocab, () => countsOfValues(counts().users, f.ofUser, f.vocab));
      const ofUser = rows.remap ? f.ofUser.map((v) => rows.remap![v]) : f.ofUser;
      this.userFieldTables.push({ ofUser, table: this.table(tableName, new SparseEmbedding({ rows: rows.rows, dim: d, init }, rng.fork(tableName))) });
    }
    this.itemDim = d * (1 + this.fieldTables.length);
    this.userDim = d * ((this.userTable ? 1 : 0) + this.userFieldTables.length);
  }

  /** Item vectors for catalogue indices (any shape), [...shape, itemDim]. */
  embedItems(items: Int32Array, shape: readonly number[]): Tensor {
    const parts = [this.itemTable.lookup(this.itemRows ? rowsOf(items, this.itemRows) : items, shape)];
    for (const f of this.fieldTables) {
      const attr = new Int32Array(items.length);
      for (let i = 0; i < items.length; i++) attr[i] = f.ofItem[items[i]];
      parts.push(f.table.lookup(attr, shape));
    }
    return parts.length === 1 ? parts[0] : concat(parts, -1);
  }

  forward(batch: Batch): EmbeddedBatch {
    const B = batch.size, L = this.space.historyLength;
    const mask = historyMask(batch, L);
    const shared = batch.sharedHistory && !isGradEnabled();
    return {
      target: this.embedItems(batch.item, [B]),
      history: shared ? this.embedItems(batch.hist.subarray(0, L), [1, L]) : this.embedItems(batch.hist, [B, L]),
      mask,
      user: this.embedUser(batch.user, B),
    };
  }

  /** [B, userDim]: the user id's row and each user field's row (users the store never saw: index 0, 'missing'), or null. */
  private embedUser(users: Int32Array, B: number): Tensor | null {
    const parts = this.userTable ? [this.userTable.lookup(this.userRows ? rowsOf(users, this.userRows) : users, [B])] : [];
    for (const f of this.userFieldTables) parts.push(f.table.lookup(rowsOf(users, f.ofUser), [B]));
    return parts.length === 0 ? null : parts.length === 1 ? parts[0] : concat(parts, 1);
  }
}

/** Indices through a map (a bounded table's rows, a field's values); an index past it (an id the store never saw) reads 0. */
function rowsOf(ids: Int32Array, remap: Int32Array): Int32Array {
  const out = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = ids[i] < remap.length ? remap[ids[i]] : 0;
  return out;
}

/** Every key of model.embeddingTables names a table this model has (item, user, a listed item field, user.<listed user field>). */
function checkTableKeys(sizes: Readonly<Record<string, TableSize>>, args: IdFeaturesArgs): void {
  const known = ['item', ...args.itemFields, ...(args.userEmbedding ? ['user'] : []), ...(args.userFields ?? []).map((f) => `user.${f}`)];
  for (const key of Object.keys(sizes))
    if (!known.includes(key))
      throw new ConfigError(`model.embeddingTables.${key}`, [
        `'${key}' names no ID table of this model; its tables are: ${known.join(', ')} (item fields by name as in model.itemFields, user fields as user.<field>${args.userEmbedding ? '' : '; the user table needs model.userEmbedding'})`,
      ]);
}
