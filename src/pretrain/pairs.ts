/**
 * Pair mining for SCL from search sessions (method.md, phase 1):
 *   positive: (query text, bought item) and (query image, bought item): a photo query's image is
 *             a catalogue item's image, so its frozen features are that item's;
 *   hard negatives: items clicked but not bought in the same search;
 *   never: co-click / i2i pairs (two clicked items of one search are not a pair).
 * Searches without a purchase give no pair. The held-out split is by time: the latest
 * `heldOutShare` of searches (by timestamp) are evaluation only, so no later behaviour leaks into
 * training.
 */
import { MmctrError } from '../util/errors.js';

export interface SearchRecord {
  id: string;
  /** Epoch seconds. */
  ts: number;
  queryText: string | null;
  /** Id of the catalogue item whose image is the photo query, or null. */
  queryItem: string | null;
  shown: string[];
  clicked: string[];
  bought: string | null;
}

export interface Pair {
  search: string;
  ts: number;
  kind: 'text' | 'image';
  /** The query text (text queries). */
  text: string | null;
  /** Catalogue index of the photo query's item (image queries), else -1. */
  queryItem: number;
  /** Catalogue index of the bought item. */
  pos: number;
  /** Catalogue indices of clicked-not-bought items of the same search. */
  hard: number[];
  /**
   * Catalogue indices of the other items shown in the same search (distinct, without the bought
   * item and the photo query's item): the candidates of the in-session evaluation.
   */
  shown?: number[];
}

export interface MinedPairs {
  train: Pair[];
  heldOut: Pair[];
  /** Searches at or after this time are held out. */
  cutoffTs: number;
  stats: { searches: number; withPurchase: number; textPairs: number; imagePairs: number; hardNegatives: number; skipped: Record<string, number> };
}

export interface MineOptions {
  heldOutShare: number;
  /** Drop photo queries whose photo is the bought item itself. */
  dropSelfPhoto?: boolean;
}

/** Mines (query -> bought item) pairs with their hard negatives and splits them by time. */
export function minePairs(searches: readonly SearchRecord[], itemIds: readonly string[], { heldOutShare, dropSelfPhoto = true }: MineOptions): MinedPairs {
  if (!(heldOutShare > 0 && heldOutShare < 1)) throw new MmctrError(`heldOutShare must be in (0, 1), got ${heldOutShare}`);
  const index = new Map<string, number>();
  itemIds.forEach((id, i) => index.set(id, i));
  const skipped: Record<string, number> = {};
  const skip = (why: string) => (skipped[why] = (skipped[why] ?? 0) + 1);
  // The cutoff: the time at the (1 - share) quantile of all searches (with or without purchase).
  const times = searches.map((s) => s.ts).sort((a, b) => a - b);
  const cutoffTs = times.length ? times[Math.min(times.length - 1, Math.floor(times.length * (1 - heldOutShare)))] : 0;
  const train: Pair[] = [];
  const heldOut: Pair[] = [];
  let withPurchase = 0, textPairs = 0, imagePairs = 0, hardNegatives = 0;
  const ordered = [...searches].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const s of ordered) {
    if (!s.bought) continue;
    withPurchase++;
    const pos = index.get(s.bought);
    if (pos === undefined) {
      skip('bought item not in catalogue');
      continue;
    }
    let kind: Pair['kind'];
    let queryItem = -1;
    const text = s.queryText?.trim() ? s.queryText.trim() : null;
    if (s.queryItem) {
      const q = index.get(s.queryItem);
      if (q === undefined) {
        skip('photo query item not in catalogue');
        continue;
      }
      if (dropSelfPhoto && q === pos) {
        skip('photo query is the bought item');
        continue;
      }
      kind = 'image';
      queryItem = q;
    } else if (text) kind = 'text';
    else {
      skip('no query');
      continue;
    }
    const hard: number[] = [];
    for (const c of new Set(s.clicked)) {
      if (c === s.bought) continue;
      const h = index.get(c);
      if (h !== undefined && h !== pos && h !== queryItem) hard.push(h);
    }
    const shown: number[] = [];
    for (const c of new Set([...s.shown, ...s.clicked])) {
      const h = index.get(c);
      if (h !== undefined && h !== pos && h !== queryItem) shown.push(h);
    }
    const pair: Pair = { search: s.id, ts: s.ts, kind, text: kind === 'text' ? text : null, queryItem, pos, hard, shown };
    (s.ts >= cutoffTs ? heldOut : train).push(pair);
    if (kind === 'text') textPairs++;
    else imagePairs++;
    hardNegatives += hard.length;
  }
  return { train, heldOut, cutoffTs, stats: { searches: searches.length, withPurchase, textPairs, imagePairs, hardNegatives, skipped } };
}
