/**
 * The Taobao display-ad sample schema (train_sample.csv, valid_sample.csv, test_sample.csv: clk,
 * time_stamp, userid, adgroup_id, pid, cate_id, campaign_id, customer, brand, price, user profile
 * fields, click_sequence with ^-separated ad ids) as a canonical dataset:
 *
 * - items = ad groups: category cate_id, brand, shop = customer (the advertiser), attributes
 *   campaign_id and price (the first row of an ad group wins; disagreements are counted);
 * - every row is an impression with clicked = clk;
 * - a row's click_sequence is the user's click history before it. It becomes click events
 *   timestamped at the impression and written just before it (ties 'file-order' makes them
 *   earlier than that impression and later than the user's earlier rows), so the generic sample
 *   builder derives the histories. A user's sequences repeat across rows: only what a row adds to
 *   the user's sequence so far becomes new events (the part after the known prefix, else the ids
 *   not seen for that user), so one click is one event;
 * - splits by time from the three files: validation starts at the valid file's first timestamp,
 *   test at the test file's. Where a file does not start after the previous one ends (the
 *   public sample files all cover the same seconds), its times are moved later by whole days
 *   and a note says so.
 *
 * The shared sample files are 100 rows each: a parse-and-train smoke test, not a benchmark.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { sharedDataDir } from '../../util/paths.js';
import { DataError } from '../errors.js';
import { SampleConfig } from '../sample-config.js';
import { adapterSource, columnIndex, CsvOut, PreparedDataset, readDelimited, SkipLog, writeDatasetFiles } from './common.js';

export const TAOBAO_NAME = 'taobao-ad-samples';
export const TAOBAO_FILES = ['train_sample.csv', 'valid_sample.csv', 'test_sample.csv'] as const;
const COLUMNS = ['clk', 'time_stamp', 'userid', 'adgroup_id', 'cate_id', 'campaign_id', 'customer', 'brand', 'price', 'click_sequence'] as const;
const DAY = 86400;

export function defaultTaobaoSource(): string {
  return path.join(sharedDataDir(), 'taobao-ad-samples');
}

/** Epoch seconds from epoch numbers or 'YYYY-MM-DD HH:MM:SS' (UTC); NaN when neither. */
export function parseTaobaoTime(text: string): number {
  const t = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$/.exec(t);
  if (!m) return Number.NaN;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  return Number.isNaN(ms) ? Number.NaN : ms / 1000 + (m[7] ? Number(`0.${m[7]}`) : 0);
}

interface Row {
  file: number;
  line: number;
  ts: number;
  user: string;
  item: string;
  clk: number;
  sequence: string[];
}

export async function prepareTaobao(options: { src?: string; out: string }): Promise<PreparedDataset> {
  const src = path.resolve(adapterSource('taobao', options.src, defaultTaobaoSource()));
  const outDir = path.resolve(options.out);
  mkdirSync(outDir, { recursive: true });
  const notes: string[] = [];
  const skips = new SkipLog();

  const rows: Row[] = [];
  const items = new Map<string, { category: string; brand: string; shop: string; campaign: string; price: string }>();
  let conflicts = 0;
  const ranges: { min: number; max: number; rows: number }[] = [];
  for (let f = 0; f < TAOBAO_FILES.length; f++) {
    const file = path.join(src, TAOBAO_FILES[f]);
    let c: Record<(typeof COLUMNS)[number], number> | undefined;
    const range = { min: Infinity, max: -Infinity, rows: 0 };
    for await (const { line, fields } of readDelimited(file, ',', skips, (h) => (c = columnIndex(file, h, COLUMNS)), true)) {
      const get = (k: (typeof COLUMNS)[number]) => fields[c![k]].trim();
      const ts = parseTaobaoTime(get('time_stamp'));
      const clkText = get('clk');
      if (!get('userid')) skips.add(file, line, 'userid', 'is empty');
      else if (!get('adgroup_id')) skips.add(file, line, 'adgroup_id', 'is empty');
      else if (!Number.isFinite(ts)) skips.add(file, line, 'time_stamp', `'${get('time_stamp')}' is not epoch seconds or YYYY-MM-DD HH:MM:SS`);
      else if (clkText !== '0' && clkText !== '1') skips.add(file, line, 'clk', `'${clkText}' is not 0 or 1`);
      else {
        const item = get('adgroup_id');
        const attrs = { category: get('cate_id'), brand: get('brand'), shop: get('customer'), campaign: get('campaign_id'), price: get('price') };
        const known = items.get(item);
        if (!known) items.set(item, attrs);
        else if (known.category !== attrs.category || known.brand !== attrs.brand) conflicts++;
        const sequence = get('click_sequence').split('^').map((s) => s.trim()).filter(Boolean);
        rows.push({ file: f, line, ts, user: get('userid'), item, clk: Number(clkText), sequence });
        range.min = Math.min(range.min, ts);
        range.max = Math.max(range.max, ts);
        range.rows++;
      }
    }
    ranges.push(range);
  }
  if (rows.length === 0) throw new DataError({ file: src }, `has no usable rows in ${TAOBAO_FILES.join(', ')}`);
  const skipped = skips.note('row');
  if (skipped) notes.push(skipped);
  if (conflicts) notes.push(`${conflicts} row${conflicts === 1 ? ' gives' : 's give'} an ad group a different cate_id or brand than its first row: the first row's are kept`);

  // Lay the files out one after another in time.
  const shift = ranges.map(() => 0);
  let prevEnd = -Infinity;
  let prevFile = '';
  for (let f = 0; f < ranges.length; f++) {
    const r = ranges[f];
    if (r.rows === 0) continue;
    if (r.min <= prevEnd) {
      shift[f] = (Math.floor((prevEnd - r.min) / DAY) + 1) * DAY;
      notes.push(`${TAOBAO_FILES[f]} starts before ${prevFile} ends: its times are moved ${shift[f] / DAY} day(s) later so that the split by file is a split by time`);
    }
    prevEnd = r.max + shift[f];
    prevFile = TAOBAO_FILES[f];
  }
  for (const row of rows) row.ts += shift[row.file];
  // Timeline order: time, then file, then line (stable).
  rows.sort((a, b) => a.ts - b.ts || a.file - b.file || a.line - b.line);

  const itemsOut = new CsvOut(path.join(outDir, 'items.csv'), ['item_id', 'category', 'brand', 'shop', 'campaign_id', 'price']);
  for (const [id, a] of items) itemsOut.add([id, a.category, a.brand, a.shop, a.campaign, a.price]);
  itemsOut.close();

  const events = new CsvOut(path.join(outDir, 'events.csv'), ['user_id', 'item_id', 'type', 'ts', 'clicked', 'origin']);
  const known = new Map<string, string[]>();
  let clickEvents = 0;
  let clicks = 0;
  const users = new Set<string>();
  for (const row of rows) {
    const origin = `${TAOBAO_FILES[row.file]}:${row.line}`;
    const before = known.get(row.user) ?? [];
    const isExtension = before.length <= row.sequence.length && before.every((id, i) => row.sequence[i] === id);
    const added = isExtension ? row.sequence.slice(before.length) : row.sequence.filter((id) => !before.includes(id));
    for (const id of added) events.add([row.user, id, 'click', row.ts, '', `${origin} click_sequence`]);
    clickEvents += added.length;
    known.set(row.user, isExtension ? row.sequence : [...before, ...added]);
    events.add([row.user, row.item, 'impression', row.ts, row.clk, origin]);
    clicks += row.clk;
    users.add(row.user);
  }
  events.close();

  const [train, valid, test] = ranges.map((r, f) => (r.rows ? { min: r.min + shift[f], max: r.max + shift[f] } : null));
  const lastTs = rows[rows.length - 1].ts;
  const testStart = test ? test.min : lastTs + 1;
  const validStart = valid ? valid.min : testStart;
  if (!train) notes.push(`${TAOBAO_FILES[0]} has no usable rows: the training split is empty`);
  const samples = SampleConfig.parse({ historyLength: 50, ties: 'file-order', split: { kind: 'time', validStart, testStart } });
  const spec = {
    name: TAOBAO_NAME,
    items: { path: 'items.csv', format: 'csv', columns: { item_id: 'item_id', category: 'category', brand: 'brand', shop: 'shop' }, attributes: ['campaign_id', 'price'] },
    events: { path: 'events.csv', format: 'csv', columns: { user_id: 'user_id', item_id: 'item_id', type: 'type', ts: 'ts', clicked: 'clicked' } },
  };
  const files = writeDatasetFiles(outDir, spec, samples);
  return {
    name: TAOBAO_NAME,
    outDir,
    ...files,
    samples,
    notes,
    counts: { items: items.size, impressions: rows.length, clicks, clickEvents, users: users.size, skippedRows: skips.count },
  };
}
