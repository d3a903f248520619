/**
 * The dataset spec: where a user's files are and which of their columns mean what. One schema,
 * validated at the boundary; every later stage sees only canonical names.
 *
 * Canonical tables:
 *   items    item_id, title, image, category, brand, shop, created_at (+ any listed attributes)
 *   events   user_id, item_id, type (impression | click | cart | purchase), ts, clicked (label of
 *            an impression, optional: the clicked column or the label rule), request_id, position,
 *            p_true (the impression's true click probability where a simulator knows it: evaluation
 *            only, never a model input), positive (an event of the label's positive type),
 *            in_history (feeds the behaviour history: its type is listed, or a positive impression
 *            when the positive type is)
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

/** One id field of an items.imagePattern: {item_id} or {item_id:0Nd} (group 1: N). */
export const IMAGE_PATTERN_FIELD = /\{item_id(?::0(\d+)d)?\}/;

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
  /**
   * For a catalogue without an image column: each item's image file named from its id, relative
   * to imageRoot: "{item_id}.jpg", or "{item_id:010d}.jpg" for the id left-padded with zeros to 10
   * characters (item 255396018 -> 0255396018.jpg; longer ids are kept whole).
   */
  imagePattern: z
    .string()
    .refine((p) => IMAGE_PATTERN_FIELD.test(p) && !/[{}]/.test(p.replace(new RegExp(IMAGE_PATTERN_FIELD, 'g'), '')), {
      message: 'must name the id as {item_id} or {item_id:0Nd} (zero-padded to N characters), with no other {...}, e.g. "{item_id:010d}.jpg"',
    })
    .optional(),
}).strict().refine((t) => !(t.imagePattern && t.columns.image), {
  message: 'give either columns.image (a column of image paths) or imagePattern (image names made from the id), not both',
  path: ['imagePattern'],
});


/** The event types that can make a positive or feed a behaviour history. */
export const BEHAVIOUR_TYPES = ['click', 'cart', 'purchase'] as const;
export type BehaviourType = (typeof BEHAVIOUR_TYPES)[number];

/**
 * How an event's label is read (labels.ts applies it):
 *   {"column": "rating", "atLeast": 4}          an impression is positive when its numeric column is >= the threshold
 *   {"column": "feedback", "values": ["like"]}  ... when its column holds one of the values
 *   {"eventType": "purchase"}                   events of this type are the positives: each labels the
 *                                               latest earlier impression it matches (as clicks do by
 *                                               default), and in a log without impressions they are
 *                                               the positives negative sampling pairs with negatives
 */
export const LabelRule = z.union([
  z.object({ column, atLeast: z.number() }).strict(),
  z.object({ column, values: z.array(z.string().min(1)).min(1) }).strict(),
  z.object({ eventType: z.enum(BEHAVIOUR_TYPES) }).strict(),
]);
export type LabelRule = z.infer<typeof LabelRule>;

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
  /** The label rule (absent: an impression's `clicked` column, else matched click events). */
  label: LabelRule.optional(),
  /** Event types that feed the behaviour history (default: the positive type, click unless the label rule names another). */
  history: z.array(z.enum(BEHAVIOUR_TYPES)).min(1).refine((h) => new Set(h).size === h.length, { message: 'lists an event type twice' }).optional(),
}).strict().superRefine((e, ctx) => {
  if (e.label && 'column' in e.label && e.columns.clicked)
    ctx.addIssue({ code: 'custom', path: ['label'], message: `reads column '${e.label.column}' while columns.clicked names '${e.columns.clicked}': give one of them` });
});

/** The event type whose events are positives (they label impressions; without impressions they are the samples). */
export function positiveType(events: EventsTableSpec): BehaviourType {
  return events.label && 'eventType' in events.label ? events.label.eventType : 'click';
}

/** The event types that feed the behaviour history. */
export function historyTypes(events: EventsTableSpec): BehaviourType[] {
  return events.history ?? [positiveType(events)];
}

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
    /** Absent for a catalogue alone (`mmctr encode` reads only the items). */
    events: EventsTableSpec.optional(),
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
  if (spec.events) spec.events.path = abs(spec.events.path);
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
