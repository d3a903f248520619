/**
 * The dataset spec: where a user's files are and which of their columns mean what. One schema,
 * validated at the boundary; every later stage sees only canonical names.
 *
 * Canonical tables:
 *   items    item_id, title, image, category, brand, shop, created_at (+ any listed attributes)
 *   events   user_id, item_id, type (impression | click | cart | purchase), ts, clicked (label of
 *            an impression, optional), request_id, position, p_true (the impression's true click
 *            probability where a simulator knows it: evaluation only, never a model input)
 *   searches user_id, ts, query_text, query_image, shown, clicked, bought (lists: ids joined by
 *            the list separator)
 *   users    user_id (+ the listed attributes: categorical user fields, joined on user id)
 */
import path from 'node:path';
import { z } from 'zod';
import { parseConfig, readConfigFile } from '../util/config-file.js';

export const FILE_FORMATS = ['csv', 'tsv', 'jsonl', 'parquet'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

export const TIME_UNITS = ['auto', 's', 'ms', 'us'] as const;
export type TimeUnit = (typeof TIME_UNITS)[number];

const tableBase = {
  path: z.string().min(1),
  /** Inferred from the file extension when absent. */
  format: z.enum(FILE_FORMATS).optional(),
  /** For csv/tsv: field delimiter (default ',' for csv, tab for tsv). */
  delimiter: z.string().length(1).optional(),
  /** Unit of numeric timestamps (ts, created_at): epoch s, ms or us; 'auto' detects it from their magnitude (stated by `data check`). */
  timeUnit: z.enum(TIME_UNITS).default('auto'),
};

const column = z.string().min(1);

/** Canonical item columns: attribute names must differ from them (attributes become item fields by name). */
export const RESERVED_ITEM_FIELDS = ['item_id', 'title', 'image', 'category', 'brand', 'shop', 'created_at'] as const;

export const ItemsTableSpec = z.object({
  ...tableBase,
  columns: z
    .object({
      item_id: column,
      title: column.optional(),
      image: column.optional(),
      category: column.optional(),
      brand: column.optional(),
      shop: column.optional(),
      created_at: column.optional(),
    })
    .strict(),
  /** Extra categorical columns kept as item attributes (name in the file). */
  attributes: z
    .array(column)
    .default([])
    .refine((a) => a.every((n) => !(RESERVED_ITEM_FIELDS as readonly string[]).includes(n)), {
      message: `an attribute may not be named like a canonical item field (${'item_id, title, image, category, brand, shop, created_at'}): map that column under "columns" instead`,
    })
    .refine((a) => new Set(a).size === a.length, { message: 'lists an attribute twice' }),
  /** Image paths are relative to this folder (default: the items file's folder). */
  imageRoot: z.string().optional(),
}).strict();

export const EventsTableSpec = z.object({
  ...tableBase,
  columns: z
    .object({
      user_id: column,
      item_id: column,
      ts: column,
      type: column.optional(),
      clicked: column.optional(),
      request_id: column.optional(),
      position: column.optional(),
      /**
       * The impression's true click probability (a simulated world writes it): carried into the
       * sample store beside the samples, for oracle metrics only; no model ever sees it.
       */
      p_true: column.optional(),
    })
    .strict(),
  /** Value of `type` for rows without a type column. */
  defaultType: z.enum(['impression', 'click', 'cart', 'purchase']).default('impression'),
  /** Maps the file's type values to canonical ones, e.g. {"pv": "impression", "clk": "click"}. */
  typeValues: z.record(z.string(), z.enum(['impression', 'click', 'cart', 'purchase'])).default({}),
}).strict();

export const SearchesTableSpec = z.object({
  ...tableBase,
  columns: z
    .object({
      user_id: column,
      ts: column,
      query_text: column.optional(),
      query_image: column.optional(),
      shown: column,
      clicked: column.optional(),
      bought: column.optional(),
    })
    .strict(),
  listSeparator: z.string().min(1).default('|'),
}).strict();

/** User attributes: one row per user id; each listed column becomes a categorical user field by name. */
export const UsersTableSpec = z.object({
  ...tableBase,
  columns: z.object({ user_id: column }).strict(),
  attributes: z
    .array(column)
    .min(1, { message: 'lists no attribute: name the columns to keep as user fields' })
    .refine((a) => new Set(a).size === a.length, { message: 'lists an attribute twice' }),
}).strict();

export const DatasetSpec = z
  .object({
    name: z.string().min(1),
    items: ItemsTableSpec.optional(),
    events: EventsTableSpec,
    searches: SearchesTableSpec.optional(),
    users: UsersTableSpec.optional(),
  })
  .strict();

export type DatasetSpec = z.infer<typeof DatasetSpec>;
export type ItemsTableSpec = z.infer<typeof ItemsTableSpec>;
export type EventsTableSpec = z.infer<typeof EventsTableSpec>;
export type SearchesTableSpec = z.infer<typeof SearchesTableSpec>;
export type UsersTableSpec = z.infer<typeof UsersTableSpec>;

/** Validates a spec object; relative paths resolve against `baseDir`. */
export function parseDatasetSpec(raw: unknown, source: string, baseDir: string): DatasetSpec {
  const spec = parseConfig(DatasetSpec, raw, source);
  const abs = (p: string) => path.resolve(baseDir, p);
  if (spec.items) {
    spec.items.path = abs(spec.items.path);
    spec.items.imageRoot = spec.items.imageRoot ? abs(spec.items.imageRoot) : path.dirname(spec.items.path);
  }
  spec.events.path = abs(spec.events.path);
  if (spec.searches) spec.searches.path = abs(spec.searches.path);
  if (spec.users) spec.users.path = abs(spec.users.path);
  return spec;
}

/** Reads a dataset spec JSON file (dataset.json). */
export function readDatasetSpec(file: string): DatasetSpec {
  return parseDatasetSpec(readConfigFile(z.unknown(), file), file, path.dirname(path.resolve(file)));
}

export function formatOf(table: { path: string; format?: FileFormat }): FileFormat {
  if (table.format) return table.format;
  const ext = path.extname(table.path).toLowerCase();
  if (ext === '.tsv' || ext === '.tab' || ext === '.inter' || ext === '.item' || ext === '.user') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (ext === '.parquet') return 'parquet';
  return 'csv';
}
