/**
 * MovieLens-100K (RecBole's atomic files: ml-100k.inter, ml-100k.item; tab-separated with typed
 * headers) as a canonical CTR dataset, by this project's definition:
 *
 * - every rating row is an impression; rating >= 4 is a click;
 * - item category = the movie's first genre (class is a space-separated genre list);
 * - history = the user's clicked rows strictly earlier in time, equal timestamps ordered by file
 *   order (ties 'file-order'), most recent last, the last 50;
 * - rows sorted by timestamp (stable); the first 80% train, the next 10% validate, the last 10% test.
 *
 * events.csv keeps the .inter rows in file order (line N of one is line N of the other), so the
 * sample builder's (time, file order) sort is exactly the stable sort by timestamp.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { sharedDataDir } from '../../util/paths.js';
import { DataError } from '../errors.js';
import { SampleConfig } from '../sample-config.js';
import { columnIndex, CsvOut, PreparedDataset, readDelimited, SkipLog, writeDatasetFiles } from './common.js';

export const MOVIELENS_NAME = 'movielens-100k';
/** A rating at or above this is a click. */
export const MOVIELENS_CLICK_RATING = 4;

export function defaultMovieLensSource(): string {
  return path.join(sharedDataDir(), 'movielens-100k');
}

/** The sample settings this task defines for MovieLens. */
export function movieLensSampleConfig(): SampleConfig {
  return SampleConfig.parse({ historyLength: 50, ties: 'file-order', split: { kind: 'fraction', train: 0.8, valid: 0.1 } });
}

export async function prepareMovieLens(options: { src?: string; out: string }): Promise<PreparedDataset> {
  const src = path.resolve(options.src ?? defaultMovieLensSource());
  const outDir = path.resolve(options.out);
  mkdirSync(outDir, { recursive: true });
  const notes: string[] = [];

  // Items: id, title, first genre, all genres, release year.
  const itemFile = path.join(src, 'ml-100k.item');
  const itemSkips = new SkipLog();
  const items = new CsvOut(path.join(outDir, 'items.csv'), ['item_id', 'title', 'category', 'genres', 'release_year']);
  const seen = new Set<string>();
  let ic: Record<'item_id' | 'movie_title' | 'release_year' | 'class', number> | undefined;
  for await (const { line, fields } of readDelimited(itemFile, '\t', itemSkips, (h) => (ic = columnIndex(itemFile, h, ['item_id', 'movie_title', 'release_year', 'class'] as const)))) {
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
    items.add([id, fields[ic!.movie_title].trim(), genres[0] ?? '', genres.join('|'), fields[ic!.release_year].trim()]);
  }
  items.close();

  // Events: one impression per rating row, in file order.
  const interFile = path.join(src, 'ml-100k.inter');
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
      const clicked = rating >= MOVIELENS_CLICK_RATING ? 1 : 0;
      clicks += clicked;
      users.add(user);
      events.add([user, item, tsText, clicked, ratingText]);
    }
  }
  events.close();
  if (events.rows === 0) throw new DataError({ file: interFile }, 'has no usable rating rows');
  for (const n of [itemSkips.note('item row'), skips.note('rating row')]) if (n) notes.push(n);

  const samples = movieLensSampleConfig();
  const spec = {
    name: MOVIELENS_NAME,
    items: { path: 'items.csv', format: 'csv', columns: { item_id: 'item_id', title: 'title', category: 'category' }, attributes: ['genres', 'release_year'] },
    events: { path: 'events.csv', format: 'csv', columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', clicked: 'clicked' }, defaultType: 'impression' },
  };
  const files = writeDatasetFiles(outDir, spec, samples);
  return {
    name: MOVIELENS_NAME,
    outDir,
    ...files,
    samples,
    notes,
    counts: { items: items.rows, impressions: events.rows, clicks, users: users.size, skippedItemRows: itemSkips.count, skippedRatingRows: skips.count },
  };
}
