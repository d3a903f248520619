/**
 * Ingestion: reads the user's files through DuckDB, validates every row, and builds the
 * canonical tables `items`, `events` and `searches`. A row whose required field is unusable is
 * left out and reported with its file, line and field; an optional field that does not parse is
 * set to NULL and reported as a warning. Nothing is dropped without being counted.
 *
 * Timestamps: numbers are epoch seconds, milliseconds or microseconds (the table's `timeUnit`, or
 * detected from their magnitude and stated in the report), and must fall in a plausible range
 * (1970 to 2100); ids must not hold control characters.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { DataError } from './errors.js';
import { Duck, sqlIdent, sqlString } from './duck.js';
import { imagePatternSql, imageProblems } from './images.js';
import { labelEvents } from './labels.js';
import { cleanJsonLines, locateCsvError, physicalLines, rowLines } from './lines.js';
import { DatasetSpec, EventsTableSpec, FileFormat, formatOf, historyTypes, ItemsTableSpec, positiveType, SearchesTableSpec, TimeUnit, UsersTableSpec } from './spec.js';

export type Severity = 'error' | 'warning';

export interface Problem {
  file: string;
  /** 1-based line in the file (csv/tsv/jsonl) or row (parquet) where known. */
  line?: number;
  field?: string;
  value?: string;
  message: string;
  severity: Severity;
}

export interface TableReport {
  file: string;
  format: FileFormat;
  /** Data rows in the file (structurally malformed ones included). */
  rows: number;
  /** Rows left out: malformed, or a required field unusable. */
  rowsDropped: number;
  rowsUsed: number;
  /** Count per kind of problem ("field: message"). */
  problemCounts: Record<string, number>;
  /** The first problems, for people to look at. */
  examples: Problem[];
  /** How numeric timestamps were read: the unit, and whether it was detected (not set in the spec). */
  time?: { field: string; unit: Exclude<TimeUnit, 'auto'>; detected: boolean };
  /** Items (a catalogue with an image column or imagePattern): images named, and those missing or unreadable. */
  images?: { root: string; named: number; missing: number; unreadable: number };
}

export interface IngestReport {
  tables: { items?: TableReport; events: TableReport; searches?: TableReport; users?: TableReport };
  /** Dataset-level observations (ids without catalogue entries, ...). */
  notes: string[];
}

const MAX_EXAMPLES = 20;
export const EVENT_TYPES = ['impression', 'click', 'cart', 'purchase'] as const;
/** The texts of a clicked column read as a click and as no click (lower case); any other text is refused. */
export const CLICK_TEXTS = { yes: ['1', 'true', 't', 'yes', 'y', '1.0'], no: ['0', 'false', 'f', 'no', 'n', '0.0'] } as const;

/** A file read into DuckDB as `raw_<name>`, one row per data row, rowid = file order. */
interface RawTable {
  name: string;
  file: string;
  format: FileFormat;
  /** Column name -> DuckDB type. */
  types: Map<string, string>;
  /** Structurally malformed rows (csv/tsv): how many, and the first ones with physical line numbers. */
  rejectedCount: number;
  rejected: Problem[];
  /** Physical lines of the given raw row indices (file order, 0-based). */
  linesOf(rowIndices: number[]): Map<number, number>;
}

function checkFile(file: string): void {
  if (!existsSync(file)) throw new DataError({ file }, 'does not exist');
  if (statSync(file).isDirectory()) throw new DataError({ file }, 'is a folder, not a data file');
  if (statSync(file).size === 0) throw new DataError({ file }, 'is empty: expected a header line and data rows');
}

async function readRaw(duck: Duck, name: string, table: { path: string; format?: FileFormat; delimiter?: string }, wanted: string[]): Promise<RawTable> {
  const file = table.path;
  checkFile(file);
  const format = formatOf(table);
  const raw = `raw_${name}`;
  const path = sqlString(file);
  let rejected: Problem[] = [];
  let rejectedCount: number | null = null;
  let keptLines: number[] | null = null;
  const rejectedLogical = new Set<number>();
  const delim = table.delimiter ?? (format === 'tsv' ? '\t' : ',');
  try {
    if (format === 'csv' || format === 'tsv') {
      await duck.run(
        `CREATE OR REPLACE TABLE ${raw} AS SELECT * FROM read_csv(${path}, delim=${sqlString(delim)}, header=true, all_varchar=true, store_rejects=true, rejects_table='rej_${name}', rejects_scan='scan_${name}')`,
      );
      // One problem per line (DuckDB may report a line more than once); `line` counts logical lines.
      for (const r of await duck.all(`SELECT DISTINCT line::BIGINT AS line FROM rej_${name}`)) rejectedLogical.add(Number(r.line));
      const rej = await duck.all(`SELECT line::BIGINT AS line, first(column_name ORDER BY byte_position) AS column_name, first(error_type ORDER BY byte_position) AS error_type, first(error_message ORDER BY byte_position) AS error_message
        FROM rej_${name} GROUP BY line ORDER BY line LIMIT ${MAX_EXAMPLES}`);
      const physical = physicalLines(file, format, rej.map((r) => Number(r.line)));
      rejected = rej.map((r) => ({
        file,
        line: physical.get(Number(r.line)) ?? Number(r.line),
        field: r.column_name ? String(r.column_name) : undefined,
        message: `malformed row (${String(r.error_type).toLowerCase().replace(/_/g, ' ')}): ${String(r.error_message).split('\n')[0]}`,
        severity: 'error' as const,
      }));
    } else if (format === 'jsonl') {
      try {
        await duck.run(`CREATE OR REPLACE TABLE ${raw} AS SELECT * FROM read_json(${path}, format='newline_delimited')`);
      } catch {
        // One bad line (or a BOM) makes DuckDB refuse the whole file and name the wrong line:
        // check it line by line instead, and read the good lines.
        const dir = mkdtempSync(nodePath.join(os.tmpdir(), 'mmctr-jsonl-'));
        try {
          const clean = nodePath.join(dir, 'clean.jsonl');
          const checked = cleanJsonLines(file, clean, MAX_EXAMPLES);
          keptLines = checked.lines;
          rejectedCount = checked.rejectedCount;
          rejected = checked.rejected.map((r) => ({ file, line: r.line, message: `malformed row (${r.reason})`, severity: 'error' as const }));
          if (checked.lines.length === 0) throw new DataError({ file }, `has no JSON object lines${rejected[0] ? ` (line ${rejected[0].line}: ${rejected[0].message})` : ''}`);
          await duck.run(`CREATE OR REPLACE TABLE ${raw} AS SELECT * FROM read_json(${sqlString(clean)}, format='newline_delimited')`);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    } else {
      await duck.run(`CREATE OR REPLACE TABLE ${raw} AS SELECT * FROM read_parquet(${path})`);
    }
  } catch (err) {
    if (err instanceof DataError) throw err;
    const message = (err as Error).message;
    if (format === 'csv' || format === 'tsv') {
      // DuckDB's own message numbers lines within a thread's chunk and names no field: locate it.
      const at = locateCsvError(file, delim, message);
      throw new DataError({ file, line: at.line, field: at.field }, `cannot be read as ${format}: ${at.detail}`);
    }
    throw new DataError({ file }, `cannot be read as ${format}: ${message.split('\n')[0]}`);
  }
  const described = await duck.all(`SELECT column_name, column_type FROM (DESCRIBE ${raw})`);
  const types = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]));
  const columns = [...types.keys()];
  for (const c of wanted)
    if (!types.has(c)) {
      let hint = '';
      if ((format === 'csv' || format === 'tsv') && columns.length === 1) {
        const other = [',', '\t', ';', '|'].find((d) => columns[0].includes(d));
        if (other) hint = ` (the header splits on ${JSON.stringify(other)}: set "format" or "delimiter" in the spec)`;
      }
      throw new DataError({ file, field: c }, `column not found; the file has columns: ${columns.join(', ')}${hint}`);
    }
  const linesOf = (rowIndices: number[]): Map<number, number> => {
    if (format === 'parquet') return new Map(rowIndices.map((r) => [r, r + 1]));
    if (keptLines) return new Map(rowIndices.map((r) => [r, keptLines![r]]));
    return rowLines(file, format, rowIndices, rejectedLogical);
  };
  return { name, file, format, types, rejectedCount: rejectedCount ?? rejectedLogical.size, rejected, linesOf };
}

/**
 * A raw column as trimmed text, NULL when empty. Lists become separator-joined text; JSON values
 * (jsonl columns of mixed types) lose their JSON quoting.
 */
function text(raw: RawTable, column: string | undefined, sep = '|'): string {
  if (!column) return 'NULL';
  const c = sqlIdent(column);
  const type = raw.types.get(column) ?? 'VARCHAR';
  let expr: string;
  if (type.endsWith('[]')) expr = `array_to_string(${c}::VARCHAR[], ${sqlString(sep)})`;
  else if (type === 'JSON')
    expr = `CASE WHEN json_type(${c}) = 'ARRAY' THEN array_to_string(from_json(${c}, '["VARCHAR"]'), ${sqlString(sep)}) ELSE json_extract_string(${c}, '$') END`;
  else expr = `${c}::VARCHAR`;
  return `NULLIF(trim(${expr}), '')`;
}

export const UNIT_SECONDS: Record<Exclude<TimeUnit, 'auto'>, number> = { s: 1, ms: 1e3, us: 1e6 };
/** The plausible range of a timestamp, epoch seconds: 1970-01-01 to 2100-01-01 (UTC). */
export const TIME_MIN = 0;
export const TIME_MAX = 4_102_444_800;

/**
 * Epoch seconds from a number in `unit` or a timestamp text (UTC unless it names an offset);
 * NULL when it is neither.
 */
function timestamp(expr: string, unit: Exclude<TimeUnit, 'auto'>): string {
  const v = `COALESCE(TRY_CAST(${expr} AS DOUBLE) / ${UNIT_SECONDS[unit]}, epoch(TRY_CAST(${expr} AS TIMESTAMPTZ)), epoch(TRY_CAST(${expr} AS TIMESTAMP)))`;
  return `CASE WHEN isfinite(${v}) THEN ${v} END`;
}

/**
 * The unit of a column's numeric timestamps: the spec's, or the one that puts their median in the
 * plausible range (seconds up to 2100 are below 4.1e9, milliseconds below 4.1e12, microseconds
 * below 4.1e15). Text timestamps carry their own unit.
 */
async function timeUnitOf(duck: Duck, raw: RawTable, column: string, configured: TimeUnit): Promise<{ field: string; unit: Exclude<TimeUnit, 'auto'>; detected: boolean }> {
  if (configured !== 'auto') return { field: column, unit: configured, detected: false };
  const median = await duck.scalar<number | null>(`SELECT median(abs(TRY_CAST(${text(raw, column)} AS DOUBLE))) FROM raw_${raw.name}`);
  return { field: column, unit: unitOfMagnitude(median === null ? 0 : Number(median)), detected: true };
}

/** The unit that puts a typical timestamp magnitude in the plausible range (seconds when none does). */
export function unitOfMagnitude(m: number): Exclude<TimeUnit, 'auto'> {
  return m <= TIME_MAX ? 's' : m <= TIME_MAX * 1e3 ? 'ms' : m <= TIME_MAX * 1e6 ? 'us' : 's';
}

const unitName = { s: 'seconds', ms: 'milliseconds', us: 'microseconds' } as const;

/** The check of a timestamp that parsed but falls outside the plausible range. */
function rangeCheck(field: string, column: string, raw: string, unit: Exclude<TimeUnit, 'auto'>, severity: Severity): Check {
  return {
    field,
    when: `${column} IS NOT NULL AND (${column} < ${TIME_MIN} OR ${column} >= ${TIME_MAX})`,
    value: raw,
    message: `is outside the plausible range 1970-01-01 .. 2100-01-01 (numbers read as epoch ${unitName[unit]}; set "timeUnit" in the dataset spec if that is wrong)${severity === 'warning' ? '; left empty' : ''}`,
    severity,
  };
}

/** The check that refuses an id holding control characters (a NUL or a tab would make a new id that prints like an old one). */
function controlCheck(field: string, column: string, what: string): Check {
  return { field, when: `regexp_matches(${column}, '[[:cntrl:]]')`, value: `to_json(${column})::VARCHAR`, message: `holds control characters: not a usable ${what} id`, severity: 'error' };
}

interface Check {
  field: string;
  /** SQL condition over the checked table that marks the problem. */
  when: string;
  value: string;
  message: string;
  severity: Severity;
}

/**
 * Runs the checks over `chk_<name>` (one row per raw row, column r = raw row index), stores the
 * failing row indices of error checks in `bad_<name>`, and builds the table report.
 */
async function runChecks(duck: Duck, raw: RawTable, checks: Check[]): Promise<TableReport> {
  const chk = `chk_${raw.name}`;
  const union = checks
    .map((c, i) => `SELECT r, ${i} AS k, (${c.value})::VARCHAR AS value FROM ${chk} WHERE ${c.when}`)
    .join(' UNION ALL ');
  await duck.run(`CREATE OR REPLACE TABLE prob_${raw.name} AS ${union || `SELECT 0 AS r, 0 AS k, '' AS value WHERE false`}`);
  const errorKinds = checks.map((c, i) => (c.severity === 'error' ? i : -1)).filter((i) => i >= 0);
  await duck.run(
    `CREATE OR REPLACE TABLE bad_${raw.name} AS SELECT DISTINCT r FROM prob_${raw.name} WHERE k IN (${errorKinds.length ? errorKinds.join(',') : '-1'})`,
  );
  const counts = await duck.all(`SELECT k, count(*)::INTEGER AS n FROM prob_${raw.name} GROUP BY k ORDER BY k`);
  const examples = await duck.all(`SELECT r::INTEGER AS r, k, value FROM prob_${raw.name} ORDER BY r, k LIMIT ${MAX_EXAMPLES}`);
  const rows = Number(await duck.scalar(`SELECT count(*)::INTEGER FROM raw_${raw.name}`));
  const bad = Number(await duck.scalar(`SELECT count(*)::INTEGER FROM bad_${raw.name}`));
  const problemCounts: Record<string, number> = {};
  if (raw.rejectedCount) problemCounts['(row): malformed'] = raw.rejectedCount;
  for (const c of counts) {
    const check = checks[Number(c.k)];
    problemCounts[`${check.field}: ${check.message}`] = Number(c.n);
  }
  const lines = raw.linesOf(examples.map((e) => Number(e.r)));
  const list: Problem[] = [
    ...raw.rejected,
    ...examples.map((e) => {
      const check = checks[Number(e.k)];
      return {
        file: raw.file,
        line: lines.get(Number(e.r)),
        field: check.field,
        value: e.value === null ? undefined : String(e.value),
        message: check.message,
        severity: check.severity,
      };
    }),
  ].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return {
    file: raw.file,
    format: raw.format,
    rows: rows + raw.rejectedCount,
    rowsDropped: bad + raw.rejectedCount,
    rowsUsed: rows - bad,
    problemCounts,
    examples: list.slice(0, MAX_EXAMPLES),
  };
}

async function ingestItems(duck: Duck, spec: ItemsTableSpec): Promise<TableReport> {
  const c = spec.columns;
  const raw = await readRaw(duck, 'items', spec, [...Object.values(c), ...spec.attributes]);
  const t = (column: string | undefined, sep?: string) => text(raw, column, sep);
  const time = c.created_at ? await timeUnitOf(duck, raw, c.created_at, spec.timeUnit) : undefined;
  const attrs = spec.attributes.map((a) => `${t(a)} AS ${sqlIdent(`attr_${a}`)}`).join(', ');
  await duck.run(`CREATE OR REPLACE TABLE chk_items AS SELECT rowid AS r,
      ${t(c.item_id)} AS item_id, ${t(c.title)} AS title, ${spec.imagePattern ? imagePatternSql(spec.imagePattern, t(c.item_id)) : t(c.image)} AS image,
      ${t(c.category)} AS category, ${t(c.brand)} AS brand, ${t(c.shop)} AS shop,
      ${t(c.created_at)} AS created_at_raw, ${time ? timestamp(t(c.created_at), time.unit) : 'NULL::DOUBLE'} AS created_parsed
      ${attrs ? `, ${attrs}` : ''},
      row_number() OVER (PARTITION BY ${t(c.item_id)} ORDER BY rowid) AS dup
    FROM raw_items`);
  const images = c.image || spec.imagePattern ? await checkImages(duck, spec.imageRoot!) : undefined;
  const imageField = c.image ?? 'imagePattern';
  const report = await runChecks(duck, raw, [
    { field: c.item_id, when: 'item_id IS NULL', value: 'NULL', message: 'is empty: every item needs an id', severity: 'error' },
    controlCheck(c.item_id, 'item_id', 'item'),
    { field: c.item_id, when: 'item_id IS NOT NULL AND dup > 1', value: 'item_id', message: 'repeats an earlier item id (the first row is kept)', severity: 'error' },
    ...(images
      ? [
          { field: imageField, when: `image_problem = 'missing'`, value: 'image', message: `image file does not exist under ${images.root}: the item has no image`, severity: 'warning' as const },
          { field: imageField, when: `image_problem = 'unreadable'`, value: 'image', message: 'image file cannot be read as an image: the item has no image', severity: 'warning' as const },
        ]
      : []),
    ...(c.created_at && time
      ? [
          { field: c.created_at, when: 'created_at_raw IS NOT NULL AND created_parsed IS NULL', value: 'created_at_raw', message: `is not a number (epoch ${unitName[time.unit]}) or a timestamp; left empty`, severity: 'warning' as const },
          rangeCheck(c.created_at, 'created_parsed', 'created_at_raw', time.unit, 'warning'),
        ]
      : []),
  ]);
  await duck.run(`CREATE OR REPLACE TABLE items AS SELECT r::BIGINT AS seq, * EXCLUDE (r, dup, created_at_raw, created_parsed${images ? ', image_problem' : ''}),
      CASE WHEN created_parsed >= ${TIME_MIN} AND created_parsed < ${TIME_MAX} THEN created_parsed END AS created_at
    FROM chk_items WHERE r NOT IN (SELECT r FROM bad_items) ORDER BY r`);
  return { ...report, time, images };
}

/**
 * An impression's own label, as SQL over raw_events: `raw` (the text read) and `label` (true,
 * false or NULL), from the label rule's column or the clicked column; plus the rule's row check.
 */
function ownLabel(spec: EventsTableSpec, t: (column: string | undefined) => string): { column?: string; raw: string; label: string; check?: Check } {
  const rule = spec.label;
  if (rule && 'atLeast' in rule) {
    const raw = t(rule.column);
    return {
      column: rule.column,
      raw,
      label: `CASE WHEN ${raw} IS NOT NULL THEN TRY_CAST(${raw} AS DOUBLE) >= ${rule.atLeast} END`,
      check: { field: rule.column, when: 'clicked_raw IS NOT NULL AND clicked IS NULL', value: 'clicked_raw', message: `is not a number: the label rule reads ${rule.column} >= ${rule.atLeast}`, severity: 'error' },
    };
  }
  if (rule && 'values' in rule) {
    const raw = t(rule.column);
    return { column: rule.column, raw, label: `CASE WHEN ${raw} IS NOT NULL THEN ${raw} IN (${rule.values.map(sqlString).join(', ')}) END` };
  }
  const column = spec.columns.clicked;
  if (!column) return { raw: 'NULL', label: 'NULL::BOOLEAN' };
  const raw = `lower(${t(column)})`;
  return {
    column,
    raw,
    label: `CASE WHEN ${raw} IN (${CLICK_TEXTS.yes.map(sqlString).join(', ')}) THEN true WHEN ${raw} IN (${CLICK_TEXTS.no.map(sqlString).join(', ')}) THEN false ELSE NULL END`,
    check: {
      field: column,
      when: 'clicked_raw IS NOT NULL AND clicked IS NULL',
      value: 'clicked_raw',
      message: `is not a click label: expected 0/1 or true/false (for other values write a label rule in the spec's events, e.g. "label": {"column": "${column}", "values": [...]})`,
      severity: 'error',
    },
  };
}

/**
 * A clicked column holding numbers other than 0 and 1 is a rating or a score: refused whole, since
 * reading it row by row would take every row rated 1 for a click.
 */
async function refuseScoreAsClick(duck: Duck, file: string, column: string): Promise<void> {
  const scores = `FROM chk_events WHERE clicked IS NULL AND TRY_CAST(clicked_raw AS DOUBLE) IS NOT NULL`;
  const n = Number(await duck.scalar(`SELECT count(*)::INTEGER ${scores}`));
  if (n === 0) return;
  const values = (await duck.all(`SELECT v FROM (SELECT DISTINCT clicked_raw AS v ${scores}) ORDER BY TRY_CAST(v AS DOUBLE), v LIMIT 6`)).map((r) => String(r.v));
  throw new DataError(
    { file, field: column },
    `holds numbers other than 0 and 1 (${values.join(', ')}${values.length === 6 ? ', ...' : ''} in ${n} rows): a rating or score, not a click label, so none of it is read as one (rows valued 1 would pass for clicks). ` +
      `Write a label rule in the dataset spec's events instead of columns.clicked, e.g. "label": {"column": "${column}", "atLeast": 4} (a threshold) or "label": {"column": "${column}", "values": ["4", "5"]}`,
  );
}

/** Checks the image file of every row of chk_items (column image_problem: 'missing', 'unreadable' or NULL). */
async function checkImages(duck: Duck, root: string): Promise<NonNullable<TableReport['images']>> {
  const rows = await duck.all(`SELECT r::BIGINT AS r, image FROM chk_items WHERE image IS NOT NULL ORDER BY r`);
  const problems = await imageProblems(rows.map((x) => String(x.image)), root);
  await duck.run(`ALTER TABLE chk_items ADD COLUMN image_problem VARCHAR`);
  const bad = rows.flatMap((x, i) => (problems[i] ? [`(${String(x.r)}, '${problems[i]}')`] : []));
  for (let s = 0; s < bad.length; s += 1000)
    await duck.run(`UPDATE chk_items SET image_problem = v.p FROM (VALUES ${bad.slice(s, s + 1000).join(', ')}) v(r, p) WHERE chk_items.r = v.r`);
  const count = (p: string) => problems.filter((x) => x === p).length;
  return { root, named: rows.length, missing: count('missing'), unreadable: count('unreadable') };
}

async function ingestEvents(duck: Duck, spec: EventsTableSpec): Promise<TableReport> {
  const c = spec.columns;
  const ruleColumn = spec.label && 'column' in spec.label ? [spec.label.column] : [];
  const raw = await readRaw(duck, 'events', spec, [...(Object.values(c) as string[]), ...ruleColumn]);
  const t = (column: string | undefined, sep?: string) => text(raw, column, sep);
  const time = await timeUnitOf(duck, raw, c.ts, spec.timeUnit);
  const mapping = Object.entries(spec.typeValues)
    .map(([from, to]) => `WHEN lower(${t(c.type)}) = ${sqlString(from.toLowerCase())} THEN ${sqlString(to)}`)
    .join(' ');
  const canonical = EVENT_TYPES.map((t) => sqlString(t)).join(', ');
  const typeExpr = c.type
    ? `CASE ${mapping} WHEN lower(${t(c.type)}) IN (${canonical}) THEN lower(${t(c.type)}) ELSE NULL END`
    : sqlString(spec.defaultType);
  const own = ownLabel(spec, t);
  await duck.run(`CREATE OR REPLACE TABLE chk_events AS SELECT rowid AS r,
      ${t(c.user_id)} AS user_id, ${t(c.item_id)} AS item_id,
      ${t(c.ts)} AS ts_raw, ${timestamp(t(c.ts), time.unit)} AS ts,
      ${c.type ? t(c.type) : 'NULL'} AS type_raw, ${typeExpr} AS type,
      ${own.raw} AS clicked_raw, ${own.label} AS clicked,
      ${t(c.request_id)} AS request_id,
      ${t(c.position)} AS position_raw, TRY_CAST(${t(c.position)} AS INTEGER) AS position,
      ${t(c.p_true)} AS p_true_raw, TRY_CAST(${t(c.p_true)} AS DOUBLE) AS p_true_num
    FROM raw_events`);
  if (!spec.label && c.clicked) await refuseScoreAsClick(duck, spec.path, c.clicked);
  const report = await runChecks(duck, raw, [
    { field: c.user_id, when: 'user_id IS NULL', value: 'NULL', message: 'is empty: every event needs a user id', severity: 'error' },
    controlCheck(c.user_id, 'user_id', 'user'),
    { field: c.item_id, when: 'item_id IS NULL', value: 'NULL', message: 'is empty: every event needs an item id', severity: 'error' },
    controlCheck(c.item_id, 'item_id', 'item'),
    { field: c.ts, when: 'ts IS NULL', value: 'ts_raw', message: `is not a number (epoch ${unitName[time.unit]}) or a timestamp`, severity: 'error' },
    rangeCheck(c.ts, 'ts', 'ts_raw', time.unit, 'error'),
    ...(c.type
      ? [{ field: c.type, when: 'type IS NULL', value: 'type_raw', message: `is not an event type: expected ${EVENT_TYPES.join(', ')} (or map the file's values with typeValues)`, severity: 'error' as const }]
      : []),
    ...(own.check ? [own.check] : []),
    ...(c.position
      ? [{ field: c.position, when: 'position_raw IS NOT NULL AND position IS NULL', value: 'position_raw', message: 'is not an integer position; left empty', severity: 'warning' as const }]
      : []),
    ...(c.p_true
      ? [{ field: c.p_true, when: 'p_true_raw IS NOT NULL AND NOT COALESCE(p_true_num BETWEEN 0 AND 1, false)', value: 'p_true_raw', message: 'is not a probability in [0, 1]; left empty', severity: 'warning' as const }]
      : []),
  ]);
  // p_true stays beside the events for oracle metrics; it never becomes a feature.
  const positive = positiveType(spec);
  const history = historyTypes(spec).map(sqlString).join(', ');
  await duck.run(`CREATE OR REPLACE TABLE events AS
    SELECT user_id, item_id, type, ts, r::BIGINT AS seq, clicked, request_id, position,
      CASE WHEN p_true_num BETWEEN 0 AND 1 THEN p_true_num END AS p_true,
      type = ${sqlString(positive)} AS positive,
      CASE WHEN type = 'impression' THEN ${sqlString(positive)} IN (${history}) ELSE type IN (${history}) END AS in_history
    FROM chk_events WHERE r NOT IN (SELECT r FROM bad_events) ORDER BY r`);
  return { ...report, time };
}

async function ingestSearches(duck: Duck, spec: SearchesTableSpec): Promise<TableReport> {
  const c = spec.columns;
  const sep = spec.listSeparator;
  const raw = await readRaw(duck, 'searches', spec, Object.values(c) as string[]);
  const t = (column: string | undefined, sep?: string) => text(raw, column, sep);
  const time = await timeUnitOf(duck, raw, c.ts, spec.timeUnit);
  const list = (col: string | undefined) => (col ? `list_filter(string_split(${t(col, sep)}, ${sqlString(sep)}), x -> trim(x) <> '')` : `[]::VARCHAR[]`);
  await duck.run(`CREATE OR REPLACE TABLE chk_searches AS SELECT rowid AS r,
      ${t(c.user_id)} AS user_id, ${t(c.ts)} AS ts_raw, ${timestamp(t(c.ts), time.unit)} AS ts,
      ${t(c.query_text)} AS query_text, ${t(c.query_image)} AS query_image,
      COALESCE(${list(c.shown)}, []::VARCHAR[]) AS shown, COALESCE(${list(c.clicked)}, []::VARCHAR[]) AS clicked,
      ${t(c.bought)} AS bought
    FROM raw_searches`);
  const report = await runChecks(duck, raw, [
    { field: c.user_id, when: 'user_id IS NULL', value: 'NULL', message: 'is empty: every search needs a user id', severity: 'error' },
    controlCheck(c.user_id, 'user_id', 'user'),
    { field: c.ts, when: 'ts IS NULL', value: 'ts_raw', message: `is not a number (epoch ${unitName[time.unit]}) or a timestamp`, severity: 'error' },
    rangeCheck(c.ts, 'ts', 'ts_raw', time.unit, 'error'),
    { field: c.shown, when: `list_bool_or(list_transform(shown, x -> regexp_matches(x, '[[:cntrl:]]')))`, value: `to_json(shown)::VARCHAR`, message: 'lists an item id that holds control characters', severity: 'error' },
    { field: c.query_text ?? c.query_image ?? 'query', when: 'query_text IS NULL AND query_image IS NULL', value: 'NULL', message: 'has neither a query text nor a query image', severity: 'error' },
    { field: c.shown, when: 'len(shown) = 0', value: 'NULL', message: 'lists no shown items', severity: 'error' },
    ...(c.bought
      ? [{ field: c.bought, when: 'bought IS NOT NULL AND NOT list_contains(shown, bought)', value: 'bought', message: 'names an item that is not among the shown ones (kept)', severity: 'warning' as const }]
      : []),
  ]);
  await duck.run(`CREATE OR REPLACE TABLE searches AS SELECT r::BIGINT AS seq, user_id, ts, query_text, query_image, shown, clicked, bought
    FROM chk_searches WHERE r NOT IN (SELECT r FROM bad_searches) ORDER BY r`);
  return { ...report, time };
}

/**
 * Builds the canonical tables in `duck` and reports what was read, kept and left out. Items keep
 * a `seq` (catalogue order: file order, then ids known only from the events, by first use).
 */
/**
 * The users table: `user_attrs` (user_id, then attr_<name> per listed attribute), one row per
 * user id; without a users spec, an empty table of user ids alone.
 */
async function ingestUsers(duck: Duck, spec: UsersTableSpec | undefined): Promise<TableReport | undefined> {
  if (!spec) {
    await duck.run(`CREATE OR REPLACE TABLE user_attrs (user_id VARCHAR)`);
    return undefined;
  }
  const c = spec.columns;
  const raw = await readRaw(duck, 'users', spec, [c.user_id, ...spec.attributes]);
  const t = (column: string) => text(raw, column);
  const attrs = spec.attributes.map((a) => `${t(a)} AS ${sqlIdent(`attr_${a}`)}`).join(', ');
  await duck.run(`CREATE OR REPLACE TABLE chk_users AS SELECT rowid AS r, ${t(c.user_id)} AS user_id, ${attrs},
      row_number() OVER (PARTITION BY ${t(c.user_id)} ORDER BY rowid) AS dup
    FROM raw_users`);
  const report = await runChecks(duck, raw, [
    { field: c.user_id, when: 'user_id IS NULL', value: 'NULL', message: 'is empty: every user row needs an id', severity: 'error' },
    controlCheck(c.user_id, 'user_id', 'user'),
    { field: c.user_id, when: 'user_id IS NOT NULL AND dup > 1', value: 'user_id', message: 'repeats an earlier user id (the first row is kept)', severity: 'error' },
  ]);
  await duck.run(`CREATE OR REPLACE TABLE user_attrs AS SELECT * EXCLUDE (r, dup) FROM chk_users WHERE r NOT IN (SELECT r FROM bad_users) ORDER BY r`);
  return report;
}

export async function ingest(duck: Duck, spec: DatasetSpec): Promise<IngestReport> {
  const notes: string[] = [];
  if (!spec.events) throw new DataError({ file: spec.name, field: 'events' }, 'the dataset has no events table: checking and building samples need one (`mmctr encode` reads a catalogue alone)');
  const items = spec.items ? await ingestItems(duck, spec.items) : undefined;
  const events = await ingestEvents(duck, spec.events);
  const searches = spec.searches ? await ingestSearches(duck, spec.searches) : undefined;
  const users = await ingestUsers(duck, spec.users);
  if (users) {
    const unknown = Number(await duck.scalar(`SELECT count(DISTINCT user_id)::INTEGER FROM events WHERE user_id NOT IN (SELECT user_id FROM user_attrs)`));
    if (unknown > 0) notes.push(`${unknown} user id${unknown === 1 ? '' : 's'} in the events ${unknown === 1 ? 'has' : 'have'} no row in ${users.file}: ${unknown === 1 ? 'its' : 'their'} user fields take the reserved 'missing' value`);
  }
  if (events.rowsUsed === 0) notes.push(`${events.file} has no usable event rows: there is nothing to build samples from`);
  const firstUse = `SELECT item_id, min(seq) AS first FROM events GROUP BY item_id`;
  if (!spec.items) {
    await duck.run(`CREATE OR REPLACE TABLE items AS SELECT (row_number() OVER (ORDER BY first) - 1)::BIGINT AS seq, item_id, NULL::VARCHAR AS title, NULL::VARCHAR AS image,
        NULL::VARCHAR AS category, NULL::VARCHAR AS brand, NULL::VARCHAR AS shop, NULL::DOUBLE AS created_at FROM (${firstUse}) ORDER BY first`);
    notes.push('no item catalogue given: items are known by id only (no titles, images or categories)');
  } else {
    const unknown = await duck.all(`SELECT item_id FROM (${firstUse}) WHERE item_id NOT IN (SELECT item_id FROM items) ORDER BY first`);
    if (unknown.length > 0) {
      const some = unknown.slice(0, 5).map((r) => String(r.item_id)).join(', ');
      notes.push(
        `${unknown.length} item id${unknown.length === 1 ? '' : 's'} in the events ${unknown.length === 1 ? 'is' : 'are'} not in the item catalogue (${some}${unknown.length > 5 ? ', ...' : ''}): kept as id-only items (no title, image or category)`,
      );
      await duck.run(`INSERT INTO items (seq, item_id)
        SELECT (SELECT COALESCE(max(seq), -1) FROM items) + row_number() OVER (ORDER BY first), item_id
        FROM (${firstUse}) WHERE item_id NOT IN (SELECT item_id FROM items) ORDER BY first`);
    }
  }
  const hasLabels = Number(await duck.scalar(`SELECT count(*)::INTEGER FROM events WHERE type = 'impression' AND clicked IS NOT NULL`));
  const impressions = Number(await duck.scalar(`SELECT count(*)::INTEGER FROM events WHERE type = 'impression'`));
  const positive = positiveType(spec.events);
  const positives = Number(await duck.scalar(`SELECT count(*)::INTEGER FROM events WHERE positive`));
  if (events.rowsUsed > 0 && impressions === 0 && positives === 0) {
    const types = await duck.all(`SELECT type, count(*)::INTEGER AS n FROM events GROUP BY type ORDER BY n DESC, type`);
    notes.push(
      `no impression events and no ${positive} events (the positives), only ${types.map((r) => `${r.n} ${r.type}`).join(', ')}: there is nothing to build samples from; to learn from another event type, name it in the spec's events: "label": {"eventType": "${String(types[0].type)}"}`,
    );
  } else if (hasLabels < impressions) {
    const n = impressions - hasLabels;
    if (positives > 0) notes.push(`${n} impression${n === 1 ? ' has no click label of its own' : 's have no click label of their own'}: labelled by matching ${positive} events`);
    else notes.push(`${n} impression${n === 1 ? ' has' : 's have'} no click label and there are no ${positive} events: they count as not clicked`);
  }
  return { tables: { items, events, searches, ...(users ? { users } : {}) }, notes };
}

/** The item catalogue alone (table `items`, catalogue order), for readers that need no events (`mmctr encode`). */
export async function ingestCatalogue(duck: Duck, spec: DatasetSpec): Promise<TableReport> {
  if (!spec.items) throw new DataError({ file: spec.name, field: 'items' }, 'the dataset has no item catalogue (an "items" table with ids, titles and images)');
  return ingestItems(duck, spec.items);
}

/** The dataset at a glance, after `ingest`: who, what, how many clicks, when. */
export interface DatasetSummary {
  users: number;
  items: number;
  /** Events per canonical type. */
  events: Record<string, number>;
  impressions: number;
  /** Clicked impressions (own label, else a matching click event). */
  clicks: number;
  ctr: number | null;
  tsMin: number | null;
  tsMax: number | null;
}

export async function summarize(duck: Duck, clickWindowSeconds: number): Promise<DatasetSummary> {
  await labelEvents(duck, clickWindowSeconds);
  const types = await duck.all(`SELECT type, count(*)::INTEGER AS n FROM events GROUP BY type ORDER BY type`);
  const row = (await duck.all(`SELECT
      (SELECT count(DISTINCT user_id) FROM events)::INTEGER AS users,
      (SELECT count(*) FROM items)::INTEGER AS items,
      (SELECT count(*) FROM labelled WHERE is_imp = 1)::INTEGER AS impressions,
      (SELECT COALESCE(sum(label), 0) FROM labelled WHERE is_imp = 1)::INTEGER AS clicks,
      (SELECT min(ts) FROM events) AS ts_min, (SELECT max(ts) FROM events) AS ts_max`))[0];
  const impressions = Number(row.impressions);
  const clicks = Number(row.clicks);
  return {
    users: Number(row.users),
    items: Number(row.items),
    events: Object.fromEntries(types.map((t) => [String(t.type), Number(t.n)])),
    impressions,
    clicks,
    ctr: impressions > 0 ? clicks / impressions : null,
    tsMin: row.ts_min === null ? null : Number(row.ts_min),
    tsMax: row.ts_max === null ? null : Number(row.ts_max),
  };
}
