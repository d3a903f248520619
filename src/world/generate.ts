/**
 * world/: the semi-synthetic ad world, the benchmark data this project measures against: real
 * (or built-in) product content, simulated users with hidden tastes over the items' true
 * attributes, their search sessions (text or photo queries, results, clicks, purchases), ad
 * impressions with positions and clicks, new ads launched late in the range, and each
 * impression's true click probability (the answer key). This file runs the phases in order and
 * owns what the world writes: the catalogue (catalog.ts), the items' hidden model (items.ts),
 * the users (users.ts), the days of searches and ad impressions (simulation.ts), then the files.
 *
 * The output folder is a dataset the data layer reads as it is (dataset.json): items.csv (id,
 * title, image, coarse category, created_at, and the true attributes as extra columns that no
 * model uses unless told to), events.csv (impressions with clicked / position / request_id /
 * p_true, clicks, purchases), searches.csv, users.csv (each user's hidden tastes, for people),
 * sample-config.json and world.json (the parameters and what came out).
 *
 * The hidden truth, per impression of item i to user u at position k and time t:
 *   logit = base + bias_u + sum_a w_a * taste_u,a[attr_a(i)] + intent_u(t) . match(i)
 *           + quality_i + noise * affinity(u, i) - positionDecay * k
 *   p_true = sigmoid(logit); clicked ~ Bernoulli(p_true)
 * taste: each user's preferences over article type, colour, gender, usage, season and brand;
 * intent: what the user shops for now (an item profile drawn from the tastes, set at a visit,
 * searched for, decaying with a half-life, ended by a purchase); quality: a hidden per-item
 * effect (only an item id can learn it); affinity: a fixed hidden per user-item normal that
 * nothing observable explains.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { DataError } from '../data/errors.js';
import { TRUE_ATTRIBUTES, WorldCatalog, worldCatalog, writeBuiltinImages } from './catalog.js';
import { ItemWorld } from './items.js';
import { WorldParams } from './params.js';
import { Rng } from './rng.js';
import { csvRow, Simulation, SimulationStats } from './simulation.js';
import { Population } from './users.js';

export interface WorldSummary {
  dir: string;
  specFile: string;
  sampleConfigFile: string;
  catalog: WorldCatalog['name'];
  items: number;
  newItems: number;
  users: number;
  days: number;
  impressions: number;
  clicks: number;
  ctr: number;
  /** Mean true click probability over impressions (close to the CTR). */
  meanPTrue: number;
  /** Impressions of new items and their share. */
  newImpressions: number;
  searches: number;
  photoSearches: number;
  searchClicks: number;
  purchases: number;
  notes: string[];
}

const DAY = 86_400;
const FILES = { items: 'items.csv', events: 'events.csv', searches: 'searches.csv', users: 'users.csv' };

/** `dir` may be (re)written: absent, empty, or an earlier world. */
function prepareDir(dir: string): void {
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes('world.json'))
      throw new DataError({ file: dir }, 'is a folder that is not empty and not an ad world: it is left alone; choose an empty or new --out folder');
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
}

/** Buffered line writer. */
class Lines {
  private readonly fd: number;
  private buf: string[] = [];
  private size = 0;
  constructor(file: string, header: string) {
    this.fd = openSync(file, 'w');
    this.push(header);
  }
  push(line: string): void {
    this.buf.push(line);
    this.size += line.length;
    if (this.size > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.buf.length === 0) return;
    writeSync(this.fd, `${this.buf.join('\n')}\n`);
    this.buf = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Bumped whenever the generator writes something different for the same parameters (2: searches.csv query_attributes). */
export const WORLD_VERSION = 2;

/** The generator version and parameters of the world in `dir` (world.json), or null when it holds none. */
export function writtenWorld(dir: string): { version: number; params: unknown } | null {
  const file = path.join(dir, 'world.json');
  if (!existsSync(file)) return null;
  const written = JSON.parse(readFileSync(file, 'utf8')) as { version?: number; params?: unknown };
  return { version: written.version ?? 0, params: written.params };
}

/** Whether `dir` holds the world of `params` as this version of the generator writes it. */
export function worldIsCurrent(dir: string, params: WorldParams): boolean {
  const written = writtenWorld(dir);
  return written?.version === WORLD_VERSION && JSON.stringify(written.params) === JSON.stringify(params);
}

/** Generates the world described by `params` into `outDir`; returns what came out. */
export async function generateWorld(params: WorldParams, outDir: string, onProgress?: (day: number, days: number) => void): Promise<WorldSummary> {
  const dir = path.resolve(outDir);
  const catalog = worldCatalog(params, dir);
  prepareDir(dir);
  if (catalog.name === 'builtin') await writeBuiltinImages(catalog.items, dir);
  const root = new Rng(params.seed);
  const world = new ItemWorld(catalog.items, params, root.fork('items'));
  const people = new Population(world, params, root.fork('users'));
  writeItems(dir, world, params);
  writeUsers(dir, people);
  const simulation = new Simulation(world, people, params, root.fork('simulation'));
  const events = new Lines(path.join(dir, FILES.events), csvRow(['user_id', 'item_id', 'ts', 'type', 'clicked', 'request_id', 'position', 'p_true']));
  const searches = new Lines(path.join(dir, FILES.searches), csvRow(['search_id', 'user_id', 'ts', 'query_text', 'query_image', 'query_item', 'shown', 'clicked', 'bought', 'query_attributes']));
  simulation.run({ events: (lines) => lines.forEach((l) => events.push(l)), searches: (lines) => lines.forEach((l) => searches.push(l)) }, onProgress);
  events.close();
  searches.close();
  return writeRecord(dir, params, catalog, world, people.users.length, simulation.stats);
}

/** items.csv: the catalogue with launch times, the true attributes and whether an item is new. */
function writeItems(dir: string, world: ItemWorld, params: WorldParams): void {
  const others = TRUE_ATTRIBUTES.filter((a) => a !== 'brand');
  const lines = new Lines(path.join(dir, FILES.items), csvRow(['item_id', 'title', 'image', 'category', 'created_at', 'brand', ...others, 'masterCategory', 'subCategory', 'is_new']));
  world.items.forEach((it, i) => {
    lines.push(csvRow([it.id, it.title, it.image, params.categoryLevel === 'masterCategory' ? it.masterCategory : it.subCategory, world.launch[i], it.attrs.brand, ...others.map((a) => it.attrs[a]), it.masterCategory, it.subCategory, world.isNew[i]]));
  });
  lines.close();
}

/** users.csv: each user's hidden tastes, for people reading the world. */
function writeUsers(dir: string, people: Population): void {
  const lines = new Lines(path.join(dir, FILES.users), csvRow(['user_id', 'gender', 'kids', 'activity', 'favourite_types', 'favourite_colours', 'favourite_brands']));
  for (const u of people.users) lines.push(csvRow([u.id, u.gender, u.kids ? 1 : 0, u.activity.toFixed(3), u.favourites.articleType.join('|'), u.favourites.baseColour.join('|'), u.favourites.brand.join('|')]));
  lines.close();
}

/** The dataset spec, the sample config and the world's record (world.json, written last: a complete world has it). */
function writeRecord(dir: string, params: WorldParams, catalog: WorldCatalog, world: ItemWorld, users: number, stats: SimulationStats): WorldSummary {
  const attributes = [...TRUE_ATTRIBUTES.filter((a) => a !== 'brand'), 'masterCategory', 'subCategory'];
  const imageRoot = catalog.name === 'builtin' ? '.' : catalog.imageRoot;
  // The synthetic catalogue has no images: its spec maps no image column (items.csv keeps the empty one).
  const images = catalog.name === 'synthetic' ? {} : { image: 'image' };
  const spec = {
    name: `adworld-${catalog.name}`,
    items: {
      path: FILES.items,
      columns: { item_id: 'item_id', title: 'title', ...images, category: 'category', brand: 'brand', created_at: 'created_at' },
      attributes,
      ...(catalog.name === 'synthetic' ? {} : { imageRoot }),
    },
    events: { path: FILES.events, columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', type: 'type', clicked: 'clicked', request_id: 'request_id', position: 'position', p_true: 'p_true' } },
    searches: { path: FILES.searches, columns: { user_id: 'user_id', ts: 'ts', query_text: 'query_text', query_image: 'query_image', shown: 'shown', clicked: 'clicked', bought: 'bought' }, listSeparator: '|' },
  };
  const specFile = path.join(dir, 'dataset.json');
  writeFileSync(specFile, `${JSON.stringify(spec, null, 2)}\n`);
  const sampleConfigFile = path.join(dir, 'sample-config.json');
  writeFileSync(sampleConfigFile, `${JSON.stringify({ historyLength: params.historyLength, split: { kind: 'fraction', ...params.split } }, null, 2)}\n`);
  const summary: WorldSummary = {
    dir,
    specFile,
    sampleConfigFile,
    catalog: catalog.name,
    items: world.n,
    newItems: world.newOrder.length,
    users,
    days: params.days,
    impressions: stats.impressions,
    clicks: stats.clicks,
    ctr: stats.impressions ? stats.clicks / stats.impressions : 0,
    meanPTrue: stats.impressions ? stats.pSum / stats.impressions : 0,
    newImpressions: stats.newImpressions,
    searches: stats.searches,
    photoSearches: stats.photoSearches,
    searchClicks: stats.searchClicks,
    purchases: stats.purchases,
    notes: catalog.notes,
  };
  const { dir: _d, specFile: _s, sampleConfigFile: _c, ...record } = summary;
  const end = params.startTs + params.days * DAY;
  writeFileSync(
    path.join(dir, 'world.json'),
    `${JSON.stringify({ version: WORLD_VERSION, params, catalog: { name: catalog.name, ...(catalog.name === 'synthetic' ? {} : { imageRoot }), attributes: TRUE_ATTRIBUTES, end }, summary: record, files: { ...FILES, spec: 'dataset.json', sampleConfig: 'sample-config.json' } }, null, 2)}\n`,
  );
  return summary;
}
