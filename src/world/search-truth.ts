/**
 * The ad world's answer key for search, read back from a generated folder: each item's true
 * attributes (items.csv) and, per search, the attribute values its query states
 * (searches.csv, column query_attributes). Benchmarks use it to bound what any query encoder
 * can reach: a query names only some of what decided the purchase, so the rest is guesswork for
 * every model alike.
 */
import path from 'node:path';
import { Duck } from '../data/duck.js';
import { DataError } from '../data/errors.js';
import { MmctrError } from '../util/errors.js';
import { TRUE_ATTRIBUTES, TrueAttribute } from './catalog.js';

export type StatedAttributes = Partial<Record<TrueAttribute, string>>;

/** What a photo query shows of the need: the photo is of another item with these in common. */
export const PHOTO_SHOWS: readonly TrueAttribute[] = ['articleType', 'baseColour', 'gender'];

/** query_attributes as written: "articleType=Tshirts;baseColour=Navy Blue". */
export function formatStated(names: readonly TrueAttribute[], want: Record<TrueAttribute, string>): string {
  return names.map((a) => `${a}=${want[a]}`).join(';');
}

export function parseStated(text: string, where: { file: string; line: number }): StatedAttributes {
  const out: StatedAttributes = {};
  for (const part of text.split(';').filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq) as TrueAttribute;
    if (eq < 1 || !TRUE_ATTRIBUTES.includes(name)) throw new DataError({ ...where, field: 'query_attributes' }, `'${part}' is not <attribute>=<value> with an attribute of ${TRUE_ATTRIBUTES.join(', ')}`);
    out[name] = part.slice(eq + 1);
  }
  return out;
}

export interface SearchTruth {
  /** True attributes by item id. */
  attributes: Map<string, Record<TrueAttribute, string>>;
  /** Stated attributes of each search, in file order (row k is the data layer's search seq k). */
  stated: StatedAttributes[];
}

export async function readSearchTruth(dir: string): Promise<SearchTruth> {
  const itemsFile = path.join(dir, 'items.csv'), searchesFile = path.join(dir, 'searches.csv');
  const duck = await Duck.open();
  try {
    const read = (file: string) => `read_csv('${file.replaceAll("'", "''")}', header = true, all_varchar = true)`;
    const attributes = new Map<string, Record<TrueAttribute, string>>();
    for (const r of await duck.all(`SELECT item_id, ${TRUE_ATTRIBUTES.join(', ')} FROM ${read(itemsFile)}`)) {
      attributes.set(String(r.item_id), Object.fromEntries(TRUE_ATTRIBUTES.map((a) => [a, String(r[a] ?? '')])) as Record<TrueAttribute, string>);
    }
    const columns = (await duck.all(`DESCRIBE SELECT * FROM ${read(searchesFile)}`)).map((r) => String(r.column_name));
    if (!columns.includes('query_attributes')) throw new DataError({ file: searchesFile }, 'has no query_attributes column: the world comes from an older version; generate it again');
    // A table keeps the file's row order (preserve_insertion_order), which the data layer's seq follows.
    await duck.run(`CREATE TABLE truth_searches AS SELECT query_attributes FROM ${read(searchesFile)}`);
    const rows = await duck.all(`SELECT query_attributes FROM truth_searches ORDER BY rowid`);
    const stated = rows.map((r, k) => parseStated(String(r.query_attributes ?? ''), { file: searchesFile, line: k + 2 }));
    return { attributes, stated };
  } finally {
    duck.close();
  }
}

/**
 * How well a candidate fits what the query states: the article type above everything, then one
 * point per other stated attribute it shares. An encoder that knew the stated attributes exactly
 * and nothing else would rank by this, breaking ties at random.
 */
export function statedFit(stated: StatedAttributes, item: Record<TrueAttribute, string>): number {
  let fit = 0;
  for (const a of TRUE_ATTRIBUTES) {
    const v = stated[a];
    if (v !== undefined && item[a] === v) fit += a === 'articleType' ? 10 : 1;
  }
  return fit;
}

/**
 * The reference row 'oracle' of a retrieval table: candidates ranked by statedFit of their true
 * attributes, ties at random (the evaluation's tie rule). No encoder of the query alone can be
 * expected to do much better: the rest of what decided the purchase is not in the query.
 * Shaped like pretrain's Scorer: score(j, candidates) for held-out pair j, candidates as
 * catalogue indices.
 */
export function statedOracle(
  truth: SearchTruth,
  { searchIds, itemIds, heldOutSearches }: { searchIds: readonly string[]; itemIds: readonly string[]; heldOutSearches: readonly string[] },
): { name: string; note: string; score: (j: number, candidates: Int32Array) => Float32Array } {
  if (truth.stated.length !== searchIds.length) throw new MmctrError(`the world lists ${truth.stated.length} searches but ${searchIds.length} were read: was a search row dropped or the folder edited?`);
  const row = new Map(searchIds.map((id, k) => [id, k]));
  const attributes = itemIds.map((id) => {
    const a = truth.attributes.get(id);
    if (!a) throw new MmctrError(`item ${id} is not in the world's items.csv`);
    return a;
  });
  const stated = heldOutSearches.map((id) => {
    const k = row.get(id);
    if (k === undefined) throw new MmctrError(`held-out search ${id} is not among the searches read`);
    return truth.stated[k];
  });
  return {
    name: 'oracle',
    note: "ranks by the true attributes the query states (the world's answer key), ties at random: about the most a query encoder can reach",
    score: (j, candidates) => Float32Array.from(candidates, (c) => statedFit(stated[j], attributes[c])),
  };
}
