/**
 * The world's catalogues: items with a title, an image and their true attributes.
 *
 * - `fashion`: the real product catalogue in the shared data folder (photos, titles and
 *   attributes of real products; brand = the first word of the title). Read in place, never
 *   copied: the world's items.csv points at the shared images.
 * - `builtin`: a small catalogue the project draws itself, deterministically: one simple shape
 *   per article type filled with the item's colour, a brand mark, a usage-tinted background,
 *   written as PNG with sharp; titles from the attributes. The demo and the tests use it, so a
 *   fresh clone runs without shared data.
 * - `synthetic`: the scale benchmark's catalogue, of any size: the built-in article types and
 *   colours, brands and product lines named from syllables (more brands for a larger catalogue),
 *   titles from the attributes, no images (items.csv's image column is empty and the dataset
 *   spec maps none). Drawn from the world's seed.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { splitCsvLine } from '../data/csv.js';
import { DataError } from '../data/errors.js';
import { sharedDataDir } from '../util/paths.js';
import type { WorldParams } from './params.js';
import { Rng } from './rng.js';

/** The hidden truth of an item: what users' tastes are about. Never a model feature by default. */
export const TRUE_ATTRIBUTES = ['articleType', 'baseColour', 'gender', 'usage', 'season', 'brand'] as const;
export type TrueAttribute = (typeof TRUE_ATTRIBUTES)[number];

export interface CatalogItem {
  id: string;
  title: string;
  /** Image path as items.csv holds it: relative to the catalogue's imageRoot. */
  image: string;
  masterCategory: string;
  subCategory: string;
  attrs: Record<TrueAttribute, string>;
}

export interface WorldCatalog {
  name: WorldParams['catalog'];
  items: CatalogItem[];
  /** Absolute folder the image paths are relative to. */
  imageRoot: string;
  /** What was left out while reading, for people. */
  notes: string[];
}

/** The fashion catalogue's table of products (beside it, images/<id>.jpg). */
const FASHION_ITEMS = 'items.csv';

const clean = (v: string | undefined) => {
  const s = (v ?? '').trim();
  return s === '' || s === 'NA' ? 'Unknown' : s;
};

/**
 * Reads the fashion catalogue (items.csv + images/ID.jpg). Items without an image file or a
 * title are left out and counted in `notes`. `maxItems` keeps a deterministic subset.
 */
export function loadFashionCatalog(dir: string, maxItems?: number): WorldCatalog {
  const file = path.join(dir, FASHION_ITEMS);
  if (!existsSync(file)) throw new DataError({ file }, 'not found: the fashion catalogue needs items.csv and images/ (set --catalog-dir or MMCTR_SHARED_DATA)');
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = splitCsvLine(lines[0], ',').map((h) => h.trim());
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new DataError({ file, field: name }, `column not found; the file has: ${header.join(', ')}`);
    return i;
  };
  const c = {
    id: col('id'), gender: col('gender'), master: col('masterCategory'), sub: col('subCategory'), type: col('articleType'),
    colour: col('baseColour'), season: col('season'), usage: col('usage'), title: col('productDisplayName'),
  };
  const imageRoot = path.join(dir, 'images');
  const items: CatalogItem[] = [];
  let noImage = 0, noTitle = 0;
  for (let r = 1; r < lines.length; r++) {
    const f = splitCsvLine(lines[r], ',');
    const id = (f[c.id] ?? '').trim();
    const title = (f[c.title] ?? '').trim();
    if (!id || !title) {
      noTitle++;
      continue;
    }
    const image = `${id}.jpg`;
    if (!existsSync(path.join(imageRoot, image))) {
      noImage++;
      continue;
    }
    items.push({
      id,
      title,
      image,
      masterCategory: clean(f[c.master]),
      subCategory: clean(f[c.sub]),
      attrs: {
        articleType: clean(f[c.type]),
        baseColour: clean(f[c.colour]),
        gender: clean(f[c.gender]),
        usage: clean(f[c.usage]),
        season: clean(f[c.season]),
        brand: clean(title.split(/\s+/)[0]),
      },
    });
  }
  const notes: string[] = [];
  if (noImage) notes.push(`${noImage} items without an image file left out`);
  if (noTitle) notes.push(`${noTitle} items without an id or title left out`);
  let kept = items;
  if (maxItems !== undefined && maxItems < items.length) {
    const rng = new Rng(0x5eed);
    kept = rng.shuffle(items.map((_, i) => i)).slice(0, maxItems).sort((a, b) => a - b).map((i) => items[i]);
    notes.push(`a deterministic subset of ${maxItems} of ${items.length} items kept (maxItems)`);
  }
  return { name: 'fashion', items: kept, imageRoot, notes };
}

// ---------------------------------------------------------------------------------------------
// The built-in catalogue.

type Shape = 'tshirt' | 'shirt' | 'dress' | 'trousers' | 'shorts' | 'shoe' | 'heel' | 'sandal' | 'watch' | 'handbag' | 'backpack' | 'cap' | 'glasses' | 'belt';

interface BuiltinType {
  type: string;
  /** The title's word for it. */
  noun: string;
  master: string;
  sub: string;
  shape: Shape;
  genders: string[];
  usages: string[];
  /** Relative share of the catalogue. */
  share: number;
}

const BUILTIN_TYPES: BuiltinType[] = [
  { type: 'Tshirts', noun: 'T-Shirt', master: 'Apparel', sub: 'Topwear', shape: 'tshirt', genders: ['Men', 'Women', 'Unisex'], usages: ['Casual', 'Sports'], share: 5 },
  { type: 'Shirts', noun: 'Shirt', master: 'Apparel', sub: 'Topwear', shape: 'shirt', genders: ['Men', 'Women'], usages: ['Casual', 'Formal'], share: 4 },
  { type: 'Dresses', noun: 'Dress', master: 'Apparel', sub: 'Dress', shape: 'dress', genders: ['Women'], usages: ['Casual', 'Formal'], share: 2 },
  { type: 'Jeans', noun: 'Jeans', master: 'Apparel', sub: 'Bottomwear', shape: 'trousers', genders: ['Men', 'Women'], usages: ['Casual'], share: 2 },
  { type: 'Shorts', noun: 'Shorts', master: 'Apparel', sub: 'Bottomwear', shape: 'shorts', genders: ['Men', 'Women', 'Unisex'], usages: ['Casual', 'Sports'], share: 1.5 },
  { type: 'Casual Shoes', noun: 'Casual Shoes', master: 'Footwear', sub: 'Shoes', shape: 'shoe', genders: ['Men', 'Women', 'Unisex'], usages: ['Casual', 'Sports'], share: 3 },
  { type: 'Heels', noun: 'Heels', master: 'Footwear', sub: 'Shoes', shape: 'heel', genders: ['Women'], usages: ['Casual', 'Formal'], share: 1.5 },
  { type: 'Sandals', noun: 'Sandals', master: 'Footwear', sub: 'Sandal', shape: 'sandal', genders: ['Men', 'Women'], usages: ['Casual'], share: 1.5 },
  { type: 'Watches', noun: 'Watch', master: 'Accessories', sub: 'Watches', shape: 'watch', genders: ['Men', 'Women', 'Unisex'], usages: ['Casual', 'Formal', 'Sports'], share: 2 },
  { type: 'Handbags', noun: 'Handbag', master: 'Accessories', sub: 'Bags', shape: 'handbag', genders: ['Women'], usages: ['Casual', 'Formal'], share: 2 },
  { type: 'Backpacks', noun: 'Backpack', master: 'Accessories', sub: 'Bags', shape: 'backpack', genders: ['Men', 'Women', 'Unisex'], usages: ['Casual', 'Sports'], share: 1.5 },
  { type: 'Caps', noun: 'Cap', master: 'Accessories', sub: 'Headwear', shape: 'cap', genders: ['Men', 'Unisex'], usages: ['Casual', 'Sports'], share: 1 },
  { type: 'Sunglasses', noun: 'Sunglasses', master: 'Accessories', sub: 'Eyewear', shape: 'glasses', genders: ['Men', 'Women', 'Unisex'], usages: ['Casual'], share: 1.5 },
  { type: 'Belts', noun: 'Belt', master: 'Accessories', sub: 'Belts', shape: 'belt', genders: ['Men', 'Women'], usages: ['Casual', 'Formal'], share: 1 },
];

/** Colour names and their RGB. */
export const BUILTIN_COLOURS: [string, [number, number, number]][] = [
  ['Black', [25, 25, 28]], ['White', [245, 245, 245]], ['Blue', [40, 90, 210]], ['Navy Blue', [20, 30, 90]],
  ['Red', [205, 30, 40]], ['Green', [40, 150, 60]], ['Grey', [128, 128, 132]], ['Brown', [120, 70, 30]],
  ['Pink', [240, 130, 180]], ['Yellow', [240, 210, 40]], ['Purple', [120, 50, 160]], ['Beige', [220, 200, 160]],
];
const COLOUR_SHARE = [5, 4, 4, 2, 2.5, 2, 3, 2.5, 1.5, 1, 1.5, 1];

const BUILTIN_BRANDS = ['Nordvik', 'Altamira', 'Kestrel', 'Lumen', 'Orbis', 'Pinecrest', 'Quill', 'Rivet', 'Solano', 'Tarn', 'Umber', 'Vanta', 'Wexford', 'Yarrow', 'Zephyr', 'Brisa'];
const SEASONS = ['Summer', 'Winter', 'Fall', 'Spring'];
const STYLE_WORDS = ['', '', '', 'Solid', 'Printed', 'Classic', 'Slim Fit', 'Striped', 'Textured', 'Essential'];

/** Background tint by usage: a weak visual cue, as product photos are styled by use. */
const USAGE_BACKGROUND: Record<string, [number, number, number]> = { Casual: [250, 250, 247], Formal: [238, 233, 222], Sports: [228, 240, 250] };

export const BUILTIN_IMAGE_SIZE = 64;

/** The built-in catalogue's items (attributes and titles; deterministic for `count`). */
export function builtinItems(count: number): CatalogItem[] {
  const rng = new Rng(0xb17);
  const typeShares = BUILTIN_TYPES.map((t) => t.share);
  // Brands have a home: each brand makes a few article types (as real brands do).
  const brandTypes = BUILTIN_BRANDS.map(() => new Set(Array.from({ length: 5 }, () => rng.weighted(typeShares))));
  const items: CatalogItem[] = [];
  for (let k = 0; k < count; k++) {
    const t = BUILTIN_TYPES[rng.weighted(typeShares)];
    const colour = BUILTIN_COLOURS[rng.weighted(COLOUR_SHARE)][0];
    const gender = rng.pick(t.genders);
    const usage = rng.pick(t.usages);
    const season = rng.pick(SEASONS);
    const makers = BUILTIN_BRANDS.filter((_, b) => brandTypes[b].has(BUILTIN_TYPES.indexOf(t)));
    const brand = makers.length && rng.next() < 0.85 ? rng.pick(makers) : rng.pick(BUILTIN_BRANDS);
    const style = rng.pick(STYLE_WORDS);
    const id = `b${String(k + 1).padStart(4, '0')}`;
    const g = gender === 'Unisex' ? 'Unisex' : gender;
    const words =
      rng.next() < 0.5
        ? [brand, g, style, colour, usage === 'Casual' ? '' : usage, t.noun]
        : [brand, g, usage === 'Casual' ? '' : usage, style, colour, t.noun];
    items.push({
      id,
      title: words.filter(Boolean).join(' '),
      image: `images/${id}.png`,
      masterCategory: t.master,
      subCategory: t.sub,
      attrs: { articleType: t.type, baseColour: colour, gender, usage, season, brand },
    });
  }
  return items;
}

/** The brand's mark colour: a small square in a corner, the logo of the drawing. */
function brandMark(brand: string): [number, number, number] {
  const i = BUILTIN_BRANDS.indexOf(brand);
  const h = (i < 0 ? 0 : i) / BUILTIN_BRANDS.length;
  const f = (n: number) => Math.round(255 * (0.5 + 0.45 * Math.cos(2 * Math.PI * (h + n / 3))));
  return [f(0), f(1), f(2)];
}

/** Is (x, y) in [0, 1]^2 inside the shape? Returns 0 outside, 1 fill, 2 detail (drawn darker). */
function inside(shape: Shape, x: number, y: number): number {
  const inRect = (x0: number, y0: number, x1: number, y1: number) => x >= x0 && x <= x1 && y >= y0 && y <= y1;
  const inCircle = (cx: number, cy: number, r: number) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  switch (shape) {
    case 'tshirt':
      if (inCircle(0.5, 0.2, 0.08)) return 0;
      return inRect(0.3, 0.2, 0.7, 0.9) || (y >= 0.2 && y <= 0.42 && ((x >= 0.14 && x < 0.3 && y <= 0.42 - (0.3 - x) * 0.6) || (x > 0.7 && x <= 0.86 && y <= 0.42 - (x - 0.7) * 0.6))) ? 1 : 0;
    case 'shirt':
      if (inRect(0.49, 0.25, 0.51, 0.9) && inRect(0.3, 0.2, 0.7, 0.9)) return 2;
      if (y >= 0.18 && y <= 0.28 && Math.abs(x - 0.5) < 0.12 - (y - 0.18) && Math.abs(x - 0.5) > 0.02) return 2;
      return inRect(0.3, 0.18, 0.7, 0.9) || inRect(0.14, 0.2, 0.3, 0.8) || inRect(0.7, 0.2, 0.86, 0.8) ? 1 : 0;
    case 'dress': {
      if (inRect(0.38, 0.08, 0.41, 0.2) || inRect(0.59, 0.08, 0.62, 0.2)) return 1;
      const half = 0.12 + 0.3 * Math.max(0, (y - 0.2) / 0.72);
      return y >= 0.2 && y <= 0.92 && Math.abs(x - 0.5) <= half ? 1 : 0;
    }
    case 'trousers':
      if (inRect(0.3, 0.12, 0.7, 0.2)) return 2;
      return inRect(0.3, 0.2, 0.7, 0.35) || inRect(0.3, 0.35, 0.48, 0.94) || inRect(0.52, 0.35, 0.7, 0.94) ? 1 : 0;
    case 'shorts':
      if (inRect(0.28, 0.25, 0.72, 0.33)) return 2;
      return inRect(0.28, 0.33, 0.72, 0.5) || inRect(0.28, 0.5, 0.48, 0.72) || inRect(0.52, 0.5, 0.72, 0.72) ? 1 : 0;
    case 'shoe':
      if (inRect(0.12, 0.64, 0.88, 0.72)) return 2;
      return y >= 0.4 && y < 0.64 && x >= 0.14 && x <= 0.86 && y >= 0.4 + Math.max(0, x - 0.45) * 0.5 ? 1 : 0;
    case 'heel':
      if (inRect(0.2, 0.52, 0.28, 0.85)) return 2;
      if (y >= 0.45 && y <= 0.52 && x >= 0.18 && x <= 0.85 && y >= 0.45 + (x - 0.18) * 0.05) return 1;
      return y >= 0.3 && y < 0.5 && x >= 0.2 && x <= 0.82 && y >= 0.3 + (x - 0.2) * 0.3 ? 1 : 0;
    case 'sandal':
      if (inRect(0.15, 0.66, 0.85, 0.72)) return 2;
      return inRect(0.3, 0.5, 0.38, 0.66) || inRect(0.55, 0.5, 0.63, 0.66) || inRect(0.28, 0.48, 0.66, 0.54) ? 1 : 0;
    case 'watch':
      if (inCircle(0.5, 0.5, 0.14)) return inRect(0.495, 0.4, 0.505, 0.5) || inRect(0.5, 0.495, 0.58, 0.505) ? 2 : 0;
      return inCircle(0.5, 0.5, 0.2) || inRect(0.42, 0.05, 0.58, 0.95) ? 1 : 0;
    case 'handbag': {
      const r = Math.sqrt((x - 0.5) ** 2 + (y - 0.42) ** 2);
      if (y < 0.42 && r >= 0.16 && r <= 0.2) return 2;
      return inRect(0.18, 0.42, 0.82, 0.85) ? 1 : 0;
    }
    case 'backpack':
      if (inRect(0.36, 0.55, 0.64, 0.8)) return 2;
      return inRect(0.28, 0.2, 0.72, 0.9) || inCircle(0.5, 0.2, 0.22) ? (y >= 0.1 ? 1 : 0) : 0;
    case 'cap':
      if (inRect(0.45, 0.58, 0.9, 0.64)) return 2;
      return y <= 0.6 && inCircle(0.5, 0.6, 0.28) ? 1 : 0;
    case 'glasses':
      if (inRect(0.44, 0.46, 0.56, 0.5)) return 2;
      return inCircle(0.3, 0.5, 0.14) || inCircle(0.7, 0.5, 0.14) || inRect(0.08, 0.44, 0.16, 0.47) || inRect(0.84, 0.44, 0.92, 0.47) ? 1 : 0;
    case 'belt':
      if (inRect(0.2, 0.4, 0.3, 0.6) && !inRect(0.22, 0.43, 0.28, 0.57)) return 2;
      return inRect(0.05, 0.45, 0.95, 0.55) ? 1 : 0;
  }
}

/** The RGB pixels of an item's drawing (size x size x 3). Deterministic per item. */
export function drawItem(item: CatalogItem, size = BUILTIN_IMAGE_SIZE): Uint8Array {
  const t = BUILTIN_TYPES.find((b) => b.type === item.attrs.articleType);
  const colour = BUILTIN_COLOURS.find((c) => c[0] === item.attrs.baseColour)?.[1] ?? [128, 128, 128];
  const bg = USAGE_BACKGROUND[item.attrs.usage] ?? [250, 250, 250];
  const rng = new Rng(Number.parseInt(item.id.replace(/\D/g, ''), 10) || 1);
  // Each photo is framed a little differently: scale, shift, a shade of the colour, stripes or not.
  const scale = 0.85 + 0.25 * rng.next(), dx = (rng.next() - 0.5) * 0.12, dy = (rng.next() - 0.5) * 0.12;
  const shade = 0.85 + 0.3 * rng.next();
  const striped = item.title.includes('Striped');
  const mark = brandMark(item.attrs.brand);
  const light = colour[0] + colour[1] + colour[2] > 600;
  const px = new Uint8Array(size * size * 3);
  for (let j = 0; j < size; j++)
    for (let i = 0; i < size; i++) {
      const u = ((i + 0.5) / size - 0.5 - dx) / scale + 0.5;
      const v = ((j + 0.5) / size - 0.5 - dy) / scale + 0.5;
      const k = t ? inside(t.shape, u, v) : 0;
      let rgb: number[];
      if (k === 0) rgb = bg;
      else {
        const base = colour.map((c) => Math.min(255, Math.round(c * shade)));
        const dark = k === 2 || (striped && Math.floor(v * 14) % 2 === 0);
        rgb = dark ? base.map((c) => Math.round(c * (light ? 0.75 : 0.6))) : base;
        // Light items get an outline so they stand out from the background.
        if (light && k === 1 && (inside(t!.shape, u + 0.03, v) === 0 || inside(t!.shape, u - 0.03, v) === 0 || inside(t!.shape, u, v + 0.03) === 0 || inside(t!.shape, u, v - 0.03) === 0)) rgb = [90, 90, 90];
      }
      if (i >= size - 10 && i < size - 3 && j >= 3 && j < 10) rgb = mark;
      const o = (j * size + i) * 3;
      px[o] = rgb[0];
      px[o + 1] = rgb[1];
      px[o + 2] = rgb[2];
    }
  return px;
}

/** Writes the built-in catalogue's images as PNG under `root` (images/<id>.png). */
export async function writeBuiltinImages(items: CatalogItem[], root: string): Promise<void> {
  const sharp = (await import('sharp')).default;
  mkdirSync(path.join(root, 'images'), { recursive: true });
  const size = BUILTIN_IMAGE_SIZE;
  for (let s = 0; s < items.length; s += 32) {
    await Promise.all(
      items.slice(s, s + 32).map((item) =>
        sharp(Buffer.from(drawItem(item, size)), { raw: { width: size, height: size, channels: 3 } })
          .png({ compressionLevel: 9 })
          .toFile(path.join(root, item.image)),
      ),
    );
  }
}

/** The built-in catalogue (images are written by the world generator into its output folder). */
export function builtinCatalog(count: number, outDir: string): WorldCatalog {
  return { name: 'builtin', items: builtinItems(count), imageRoot: path.resolve(outDir), notes: [] };
}

// ---------------------------------------------------------------------------------------------
// The synthetic catalogue.

/** Items of a synthetic catalogue when the parameters name no count. */
export const SYNTHETIC_DEFAULT_ITEMS = 100_000;

const SYLLABLES = ['ka', 'lo', 'ri', 'ven', 'mar', 'to', 'sa', 'nel', 'di', 'vor', 'ba', 'lu', 'quin', 'ta', 'rel', 'mo', 'zan', 'pi', 'dor', 'fe', 'gal', 'ni', 'so', 'ber'];

/** `count` distinct capitalised words of two or three syllables. */
function syllableNames(count: number, rng: Rng): string[] {
  const names = new Set<string>();
  while (names.size < count) {
    const word = Array.from({ length: 2 + (rng.next() < 0.4 ? 1 : 0) }, () => rng.pick(SYLLABLES)).join('');
    names.add(word[0].toUpperCase() + word.slice(1));
  }
  return [...names];
}

/**
 * A synthetic catalogue of `count` items, the same for a seed: each item of a built-in article
 * type (by its share), colour, a gender and usage its type allows, a season, a brand (85 % one
 * of the few types the brand makes) and one of the brand's product lines. Brands number about
 * sqrt(count) / 4 (at least 16, at most 1,000), so a user's taste over brands, one value per
 * brand per user, stays small beside the catalogue.
 */
export function syntheticItems(count: number, seed: number): CatalogItem[] {
  const rng = new Rng(seed).fork('synthetic-catalog');
  const typeShares = BUILTIN_TYPES.map((t) => t.share);
  const brands = syllableNames(Math.min(1000, Math.max(16, Math.round(Math.sqrt(count) / 4))), rng);
  const lines = syllableNames(8 * brands.length, rng);
  const brandTypes = brands.map(() => new Set(Array.from({ length: 4 }, () => rng.weighted(typeShares))));
  const makers = BUILTIN_TYPES.map((_, t) => brands.map((_, b) => b).filter((b) => brandTypes[b].has(t)));
  const width = String(count).length;
  const items: CatalogItem[] = new Array(count);
  for (let k = 0; k < count; k++) {
    const ti = rng.weighted(typeShares);
    const t = BUILTIN_TYPES[ti];
    const colour = BUILTIN_COLOURS[rng.weighted(COLOUR_SHARE)][0];
    const gender = rng.pick(t.genders);
    const usage = rng.pick(t.usages);
    const season = rng.pick(SEASONS);
    const b = makers[ti].length && rng.next() < 0.85 ? rng.pick(makers[ti]) : rng.int(brands.length);
    const line = lines[b * 8 + rng.int(8)];
    const style = rng.pick(STYLE_WORDS);
    items[k] = {
      id: `s${String(k + 1).padStart(width, '0')}`,
      title: [brands[b], line, gender, style, colour, usage === 'Casual' ? '' : usage, t.noun].filter(Boolean).join(' '),
      image: '',
      masterCategory: t.master,
      subCategory: t.sub,
      attrs: { articleType: t.type, baseColour: colour, gender, usage, season, brand: brands[b] },
    };
  }
  return items;
}

/** The folder of the fashion catalogue a world of `params` reads (items.csv + images/). */
export function fashionCatalogDir(params: WorldParams): string {
  return params.catalogDir ? path.resolve(params.catalogDir) : path.join(sharedDataDir(), 'fashion-products');
}

/** The files a world's catalogue is read from (the fashion items.csv; images are read in place), for cache keys. */
export function catalogSourceFiles(params: WorldParams): string[] {
  return params.catalog === 'fashion' ? [path.join(fashionCatalogDir(params), FASHION_ITEMS)] : [];
}

/** The catalogue of a world of `params` written to `outDir` (at least 10 usable items). */
export function worldCatalog(params: WorldParams, outDir: string): WorldCatalog {
  const catalog =
    params.catalog === 'fashion'
      ? loadFashionCatalog(fashionCatalogDir(params), params.maxItems)
      : params.catalog === 'builtin'
        ? builtinCatalog(params.builtinItems, outDir)
        : { name: 'synthetic' as const, items: syntheticItems(params.syntheticItems ?? SYNTHETIC_DEFAULT_ITEMS, params.seed), imageRoot: path.resolve(outDir), notes: [] };
  if (catalog.items.length < 10) throw new DataError({ file: catalog.imageRoot }, `holds ${catalog.items.length} usable items: a world needs at least 10`);
  return catalog;
}
