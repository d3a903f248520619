/**
 * What SCL reads from a dataset: the item catalogue (ids, titles, absolute image paths, and the
 * true attributes when the dataset has them, for people and synthetic tests) and the searches,
 * through the data layer (spec + DuckDB ingest). A photo query's image is matched to the
 * catalogue item with that image (the ad world's photos are other catalogue items' images).
 */
import path from 'node:path';
import { Duck } from '../data/duck.js';
import { ingest } from '../data/ingest.js';
import { readDatasetSpec } from '../data/spec.js';
import type { ItemContent } from '../encoders/types.js';
import { MmctrError } from '../util/errors.js';
import type { SearchRecord } from './pairs.js';

export interface SearchData {
  items: ItemContent[];
  searches: SearchRecord[];
}

const str = (v: unknown): string | null => (v === null || v === undefined || String(v).trim() === '' ? null : String(v));

export async function loadSearchData(specFile: string): Promise<SearchData> {
  const spec = readDatasetSpec(specFile);
  if (!spec.items) throw new MmctrError(`${specFile}: SCL needs an item catalogue (items with titles and images)`);
  if (!spec.searches) throw new MmctrError(`${specFile}: SCL needs a searches table (query -> clicks -> purchase)`);
  const root = spec.items.imageRoot ?? path.dirname(spec.items.path);
  const duck = await Duck.open();
  try {
    await ingest(duck, spec);
    const itemRows = await duck.all(`SELECT item_id, title, image FROM items ORDER BY seq`);
    const items: ItemContent[] = itemRows.map((r) => {
      const image = str(r.image);
      return { id: String(r.item_id), title: str(r.title), image: image ? path.resolve(root, image) : null };
    });
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
