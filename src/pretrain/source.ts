/**
 * What SCL reads from a dataset: the item catalogue (ids, titles, absolute image paths, and the
 * true attributes when the dataset has them, for people and synthetic tests) and the searches,
 * through the data layer (spec + DuckDB ingest). A photo query's image is matched to the
 * catalogue item with that image (the ad world's photos are other catalogue items' images).
 * The catalogue alone (loadCatalogue) needs neither searches nor events (`mmctr encode`, `embed`).
 */
import path from 'node:path';
import { Duck } from '../data/duck.js';
import { ingest, ingestCatalogue, TableReport } from '../data/ingest.js';
import { DatasetSpec, readDatasetSpec } from '../data/spec.js';
import type { ItemContent } from '../encoders/types.js';
import { MmctrError } from '../util/errors.js';
import type { SearchRecord } from './pairs.js';

export interface SearchData {
  items: ItemContent[];
  searches: SearchRecord[];
}

const str = (v: unknown): string | null => (v === null || v === undefined || String(v).trim() === '' ? null : String(v));

/** The ingested catalogue (table `items`) as encoder inputs, image paths made absolute. */
async function catalogueItems(duck: Duck, items: NonNullable<DatasetSpec['items']>): Promise<ItemContent[]> {
  const root = items.imageRoot ?? path.dirname(items.path);
  const rows = await duck.all(`SELECT item_id, title, image FROM items ORDER BY seq`);
  return rows.map((r) => {
    const image = str(r.image);
    return { id: String(r.item_id), title: str(r.title), image: image ? path.resolve(root, image) : null };
  });
}

function requireItems(specFile: string, spec: DatasetSpec): NonNullable<DatasetSpec['items']> {
  if (!spec.items) throw new MmctrError(`${specFile}: needs an item catalogue (an "items" table with titles and images)`);
  return spec.items;
}

/** A dataset's item catalogue alone, with the items table's report (rows dropped, image files missing or unreadable). */
export async function loadCatalogue(specFile: string): Promise<{ items: ItemContent[]; report: TableReport }> {
  const spec = readDatasetSpec(specFile);
  const itemsSpec = requireItems(specFile, spec);
  const duck = await Duck.open();
  try {
    const report = await ingestCatalogue(duck, spec);
    return { items: await catalogueItems(duck, itemsSpec), report };
  } finally {
    duck.close();
  }
}

export async function loadSearchData(specFile: string): Promise<SearchData> {
  const spec = readDatasetSpec(specFile);
  const itemsSpec = requireItems(specFile, spec);
  if (!spec.searches)
    throw new MmctrError(`${specFile}: SCL training and retrieval evaluation need a searches table (query -> clicks -> purchase); to turn a catalogue into vectors without one: mmctr encode ${specFile} --out <vectors.safetensors>`);
  const duck = await Duck.open();
  try {
    await ingest(duck, spec);
    const items = await catalogueItems(duck, itemsSpec);
    const byImage = new Map<string, string>();
    for (const it of items) if (it.image) byImage.set(path.basename(it.image), it.id);
    // The data layer keeps ts as epoch seconds (DOUBLE), or a TIMESTAMP for dated files.
    const tsType = String(await duck.scalar(`SELECT typeof(ts) FROM searches LIMIT 1`));
    const tsExpr = /TIMESTAMP|DATE/.test(tsType) ? 'epoch(ts)' : 'ts::DOUBLE';
    const rows = await duck.all(`SELECT seq, user_id, ${tsExpr} AS ts, query_text, query_image, shown, clicked, bought FROM searches ORDER BY seq`);
    const searches: SearchRecord[] = rows.map((r) => {
      const img = str(r.query_image);
      return {
        id: `s${String(r.seq)}`,
        ts: Number(r.ts),
        queryText: str(r.query_text),
        queryItem: img ? (byImage.get(path.basename(img)) ?? `?${img}`) : null,
        shown: (r.shown as unknown as unknown[]).map(String),
        clicked: (r.clicked as unknown as unknown[]).map(String),
        bought: str(r.bought),
      };
    });
    return { items, searches };
  } finally {
    duck.close();
  }
}
