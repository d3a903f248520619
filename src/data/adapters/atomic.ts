/**
 * RecBole's atomic files (NAME.inter, NAME.item, NAME.user: tab-separated, typed headers such as
 * `item_id:token`), both ways:
 *
 * - read (prepareAtomic): a rating log as a canonical CTR dataset, by the task the MovieLens
 *   adapter and FuxiCTR's DIN harness (../shared/peers) define: every .inter row is an
 *   impression; rating >= clickRating (default 4) is a click; item category = the first token of
 *   the item's `class`; history = the user's clicked rows strictly earlier in time, equal
 *   timestamps ordered by file order (ties 'file-order'), most recent last, the last 50; rows
 *   sorted by timestamp (stable); the first 80% train, the next 10% validate, the last 10% test.
 *   events.csv keeps the .inter rows in file order, so the sample builder's (time, file order)
 *   sort is exactly the stable sort by timestamp.
 * - write (exportAtomic): a sample store's impressions, in store order, as atomic files any
 *   RecBole-format tool reads (the peer harness among them): rating 5 for a click and 1 for none
 *   (so rating >= 4 maps back to the label), class = the item's category with spaces as '_',
 *   the title beside it. Ids that are not all integers (a world's user ids u00042) are written as
 *   the store's 1-based indices, since common readers of the format parse ids as integers; the
 *   export says which were. Exported then read back, a store's impressions, labels and categories
 *   come back; the histories are rebuilt from the exported clicks only (a world's search clicks
 *   are not rows of the export).
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors.js';
import { SampleConfig, SPLITS } from '../sample-config.js';
import type { SampleStore } from '../store.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { columnIndex, CsvOut, PreparedDataset, readDelimited, requireFile, SkipLog, writeDatasetFiles } from './common.js';

/** A rating at or above this is a click unless told otherwise. */
export const DEFAULT_CLICK_RATING = 4;

/** The sample settings of the atomic-file task. */
export function atomicSampleConfig(): SampleConfig {
  return SampleConfig.parse({ historyLength: 50, ties: 'file-order', split: { kind: 'fraction', train: 0.8, valid: 0.1 } });
}

export interface AtomicSource {
  /** Folder holding NAME.inter and NAME.item. */
  src: string;
  /** The files' stem (ml-100k for ml-100k.inter); default: the stem of the one NAME.inter in `src`. */
  name?: string;
  out: string;
  /** The dataset's name in the written spec (default: the stem). */
  datasetName?: string;
  clickRating?: number;
}

/**
 * The stem of the atomic files in `src`: `name` when given (its NAME.inter and NAME.item must be
 * there), else the stem of the folder's one .inter file. Errors list the .inter files found.
 */
export function atomicStem(srcDir: string, name?: string): string {
  const src = path.resolve(srcDir);
  if (!existsSync(src)) throw new DataError({ file: src }, 'does not exist: expected the folder of the atomic files (NAME.inter, NAME.item)');
  const stems = readdirSync(src).filter((f) => f.endsWith('.inter')).map((f) => f.slice(0, -'.inter'.length)).sort();
  const found = stems.length ? `it holds ${stems.map((s) => `${s}.inter`).join(', ')}` : 'it holds no .inter file';
  if (name === undefined) {
    if (stems.length === 1) name = stems[0];
    else throw new DataError({ file: src }, `${found}: ${stems.length ? 'give the stem with --name' : 'expected NAME.inter and NAME.item'}`);
  }
  if (!stems.includes(name)) throw new DataError({ file: path.join(src, `${name}.inter`) }, `does not exist; ${found}${stems.length ? ` (--name ${stems[0]})` : ''}`);
  requireFile(path.join(src, `${name}.item`));
  requireFile(path.join(src, `${name}.inter`));
  return name;
}

/**
 * Reads NAME.inter and NAME.item and writes the canonical dataset; the source is checked and
 * read in full before anything is written, so a failure leaves no (empty or partial) output.
 */
export async function prepareAtomic({ src: srcDir, name: given, out, datasetName, clickRating = DEFAULT_CLICK_RATING }: AtomicSource): Promise<PreparedDataset> {
  const src = path.resolve(srcDir);
  const outDir = path.resolve(out);
  if (!Number.isFinite(clickRating)) throw new DataError({ file: src }, `the click rating must be a number, got ${clickRating}`);
  const name = atomicStem(src, given);
  datasetName ??= name;
  const notes: string[] = [];

  // Items: id, title (movie_title or title, when given), first class token, all tokens, release year (when given).
  const itemFile = path.join(src, `${name}.item`);
  const itemSkips = new SkipLog();
  const items = new CsvOut(path.join(outDir, 'items.csv'), ['item_id', 'title', 'category', 'genres', 'release_year']);
  const seen = new Set<string>();
  let ic: { item_id: number; class: number; title: number; year: number } | undefined;
  const header = (h: string[]) => {
    const { item_id, class: cls } = columnIndex(itemFile, h, ['item_id', 'class'] as const);
    ic = { item_id, class: cls, title: h.includes('movie_title') ? h.indexOf('movie_title') : h.indexOf('title'), year: h.indexOf('release_year') };
  };
  for await (const { line, fields } of readDelimited(itemFile, '\t', itemSkips, header)) {
    const id = fields[ic!.item_id].trim();
    if (!id) {
      itemSkips.add(itemFile, line, 'item_id', 'is empty');
      continue;
    }
    if (seen.has(id)) {
      itemSkips.add(itemFile, line, 'item_id', `repeats item ${id}`);
      continue;
    }
    seen.add(id);
    const genres = fields[ic!.class].trim().split(/\s+/).filter(Boolean);
    const optional = (i: number) => (i >= 0 ? fields[i].trim() : '');
    items.add([id, optional(ic!.title), genres[0] ?? '', genres.join('|'), optional(ic!.year)]);
  }

  // Events: one impression per rating row, in file order.
  const interFile = path.join(src, `${name}.inter`);
  const skips = new SkipLog();
  const events = new CsvOut(path.join(outDir, 'events.csv'), ['user_id', 'item_id', 'ts', 'clicked', 'rating']);
  const users = new Set<string>();
  let clicks = 0;
  let xc: Record<'user_id' | 'item_id' | 'rating' | 'timestamp', number> | undefined;
  for await (const { line, fields } of readDelimited(interFile, '\t', skips, (h) => (xc = columnIndex(interFile, h, ['user_id', 'item_id', 'rating', 'timestamp'] as const)))) {
    const user = fields[xc!.user_id].trim();
    const item = fields[xc!.item_id].trim();
    const ratingText = fields[xc!.rating].trim();
    const tsText = fields[xc!.timestamp].trim();
    const rating = Number(ratingText);
    const ts = Number(tsText);
    if (!user) skips.add(interFile, line, 'user_id', 'is empty');
    else if (!item) skips.add(interFile, line, 'item_id', 'is empty');
    else if (ratingText === '' || !Number.isFinite(rating)) skips.add(interFile, line, 'rating', `'${ratingText}' is not a number`);
    else if (tsText === '' || !Number.isFinite(ts)) skips.add(interFile, line, 'timestamp', `'${tsText}' is not a number (epoch seconds)`);
    else {
      const clicked = rating >= clickRating ? 1 : 0;
      clicks += clicked;
      users.add(user);
      events.add([user, item, tsText, clicked, ratingText]);
    }
  }
  if (events.rows === 0) throw new DataError({ file: interFile }, 'has no usable rating rows');
  mkdirSync(outDir, { recursive: true });
  items.close();
  events.close();
  for (const n of [itemSkips.note('item row'), skips.note('rating row')]) if (n) notes.push(n);

  const samples = atomicSampleConfig();
  const spec = {
    name: datasetName,
    items: { path: 'items.csv', format: 'csv', columns: { item_id: 'item_id', title: 'title', category: 'category' }, attributes: ['genres', 'release_year'] },
    events: { path: 'events.csv', format: 'csv', columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', clicked: 'clicked' }, defaultType: 'impression' },
  };
  const files = writeDatasetFiles(outDir, spec, samples);
  return {
    name: datasetName,
    outDir,
    ...files,
    samples,
    notes,
    counts: { items: items.rows, impressions: events.rows, clicks, users: users.size, skippedItemRows: itemSkips.count, skippedRatingRows: skips.count },
  };
}

/** A token of an atomic file: no tabs or line breaks; `spaces` joins words with '_' (class tokens). */
function token(text: string, spaces = false): string {
  const flat = text.replace(/[\t\r\n]+/g, ' ').trim();
  return spaces ? flat.replace(/\s+/g, '_') : flat;
}

export interface AtomicExport {
  dir: string;
  files: { inter: string; item: string; user: string };
  rows: number;
  clicks: number;
  items: number;
  users: number;
  /** Which ids were written as store indices because not all of them were integers. */
  indexed: { users: boolean; items: boolean };
}

/** The ids as written: themselves when every one is an integer, else their 1-based store indices. */
function integerIds(ids: readonly string[]): { ids: string[]; indexed: boolean } {
  if (ids.every((id) => /^\d+$/.test(id))) return { ids: [...ids], indexed: false };
  return { ids: ids.map((_, i) => String(i + 1)), indexed: true };
}

/** Writes a store's impressions (train, valid, test, in store order) as NAME.inter / .item / .user in outDir. */
export function exportAtomic(store: SampleStore, outDir: string, name: string): AtomicExport {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new DataError({ file: name }, 'is not a usable file stem: letters, digits, ".", "_" and "-" only');
  const { meta, catalog } = store;
  const users = integerIds(store.users);
  const items = integerIds(catalog.ids);
  const dir = path.resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const files = { inter: path.join(dir, `${name}.inter`), item: path.join(dir, `${name}.item`), user: path.join(dir, `${name}.user`) };

  const chunks: Buffer[] = [Buffer.from('user_id:token\titem_id:token\trating:float\ttimestamp:float\n')];
  let rows = 0, clicks = 0;
  for (const split of SPLITS) {
    if (meta.splits[split].count === 0) continue;
    const reader = store.split(split);
    try {
      for (const b of reader.batches({ batchSize: 65536 })) {
        const lines: string[] = [];
        for (let i = 0; i < b.size; i++) {
          const clicked = b.label[i] > 0.5;
          lines.push(`${users.ids[b.user[i] - 1]}\t${items.ids[b.item[i] - 1]}\t${clicked ? 5 : 1}\t${b.ts[i]}`);
          if (clicked) clicks++;
        }
        rows += b.size;
        chunks.push(Buffer.from(lines.join('\n') + '\n'));
      }
    } finally {
      reader.close();
    }
  }
  writeFileAtomic(files.inter, chunks);

  const category = catalog.fields.category;
  const itemLines = ['item_id:token\ttitle:token_seq\tclass:token_seq'];
  items.ids.forEach((id, i) => {
    const c = category ? category.index[i + 1] : 0;
    itemLines.push(`${id}\t${token(catalog.titles[i] ?? '')}\t${c > 0 ? token(category.vocab[c - 1], true) : ''}`);
  });
  writeFileAtomic(files.item, [Buffer.from(itemLines.join('\n') + '\n')]);
  writeFileAtomic(files.user, [Buffer.from(['user_id:token', ...users.ids].join('\n') + '\n')]);
  return { dir, files, rows, clicks, items: items.ids.length, users: users.ids.length, indexed: { users: users.indexed, items: items.indexed } };
}
