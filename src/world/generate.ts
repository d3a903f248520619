/**
 * world/: the semi-synthetic ad world, the benchmark data this project measures against. This
 * file owns the simulation and what it writes: real (or built-in) product content, simulated
 * users with hidden tastes over the items' true attributes, their search sessions (text or
 * photo queries, results, clicks, purchases), ad impressions with positions and clicks, new ads
 * launched late in the range, and each impression's true click probability (the answer key).
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
import { sharedDataDir } from '../util/paths.js';
import { builtinCatalog, CatalogItem, loadFashionCatalog, TRUE_ATTRIBUTES, TrueAttribute, WorldCatalog, writeBuiltinImages } from './catalog.js';
import { WorldParams } from './params.js';
import { Cumulative, hashNormal, Rng } from './rng.js';
import { formatStated, PHOTO_SHOWS } from './search-truth.js';
import { composeQuery } from './wording.js';

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
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** A CSV field, quoted when needed. */
function field(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
const row = (values: (string | number)[]) => values.map(field).join(',');

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
  count = 0;
  constructor(file: string, header: string) {
    this.fd = openSync(file, 'w');
    this.push(header);
    this.count = 0;
  }
  push(line: string): void {
    this.buf.push(line);
    this.size += line.length;
    this.count++;
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

interface Intent {
  anchor: number;
  since: number;
}

interface User {
  id: string;
  gender: string;
  kids: boolean;
  activity: number;
  bias: number;
  /** Article types drawn for targeting and intents, by taste. */
  typeDraw: Cumulative;
  intent: Intent | null;
  favourites: Record<'articleType' | 'baseColour' | 'brand', string[]>;
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
  const catalog =
    params.catalog === 'fashion'
      ? loadFashionCatalog(params.catalogDir ? path.resolve(params.catalogDir) : path.join(sharedDataDir(), 'fashion-products'), params.maxItems)
      : builtinCatalog(params.builtinItems, dir);
  if (catalog.items.length < 10) throw new DataError({ file: catalog.imageRoot }, `holds ${catalog.items.length} usable items: a world needs at least 10`);
  prepareDir(dir);
  if (catalog.name === 'builtin') await writeBuiltinImages(catalog.items, dir);

  const root = new Rng(params.seed);
  const items = catalog.items;
  const n = items.length;
  const start = params.startTs;
  const end = start + params.days * DAY;

  // ---- Items: attribute indices, popularity, hidden quality, launch times.
  const vocab = {} as Record<TrueAttribute, string[]>;
  const attr = {} as Record<TrueAttribute, Int32Array>;
  for (const a of TRUE_ATTRIBUTES) {
    const index = new Map<string, number>();
    attr[a] = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = items[i].attrs[a];
      let k = index.get(v);
      if (k === undefined) index.set(v, (k = index.size));
      attr[a][i] = k;
    }
    vocab[a] = [...index.keys()];
  }
  const itemRng = root.fork('items');
  const rank = itemRng.shuffle(Array.from({ length: n }, (_, i) => i));
  const popularity = new Float64Array(n);
  rank.forEach((item, r) => (popularity[item] = (r + 3) ** -params.popularityExponent));
  const logPop = Array.from(popularity, (p) => Math.log(p));
  const meanLogPop = logPop.reduce((s, x) => s + x, 0) / n;
  const stdLogPop = Math.sqrt(logPop.reduce((s, x) => s + (x - meanLogPop) ** 2, 0) / n) || 1;
  const quality = new Float64Array(n);
  for (let i = 0; i < n; i++) quality[i] = params.qualityStd * itemRng.normal() + params.qualityPopularity * ((logPop[i] - meanLogPop) / stdLogPop);
  const isNew = new Uint8Array(n);
  const launch = new Float64Array(n);
  const newOrder = itemRng.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, Math.round(n * params.newItemShare));
  for (const i of newOrder) isNew[i] = 1;
  for (let i = 0; i < n; i++) {
    launch[i] = isNew[i]
      ? Math.floor(start + params.days * DAY * (1 - params.newItemWindow + params.newItemWindow * itemRng.next()))
      : Math.floor(start - 365 * DAY * itemRng.next());
  }
  const nTypes = vocab.articleType.length;
  const oldOfType: number[][] = Array.from({ length: nTypes }, () => []);
  const newOfType: number[][] = Array.from({ length: nTypes }, () => []);
  for (let i = 0; i < n; i++) (isNew[i] ? newOfType : oldOfType)[attr.articleType[i]].push(i);
  for (const list of newOfType) list.sort((a, b) => launch[a] - launch[b] || a - b);
  const oldDraw = oldOfType.map((list) => new Cumulative(list.map((i) => popularity[i])));
  const allNew = Array.from({ length: n }, (_, i) => i).filter((i) => isNew[i]).sort((a, b) => launch[a] - launch[b] || a - b);
  const globalDraw = new Cumulative(popularity);
  /** How many of a launch-sorted list are out at time t. */
  const launched = (list: number[], t: number) => {
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (launch[list[mid]] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  /** An item of article type `ty` out at time t: old ones by popularity, launched new ones evenly. */
  const drawOfType = (ty: number, t: number, rng: Rng): number => {
    if (ty < 0) return -1;
    const fresh = launched(newOfType[ty], t);
    const old = oldOfType[ty].length;
    if (fresh + old === 0) return -1;
    if (rng.next() * (old + fresh) < fresh) return newOfType[ty][rng.int(fresh)];
    return oldOfType[ty][oldDraw[ty].draw(rng)];
  };
  const byProfile = new Map<string, number[]>();
  const profileKey = (i: number) => `${attr.articleType[i]}|${attr.baseColour[i]}|${attr.gender[i]}`;
  for (let i = 0; i < n; i++) {
    const k = profileKey(i);
    const list = byProfile.get(k);
    if (list) list.push(i);
    else byProfile.set(k, [i]);
  }

  // ---- Users: hidden tastes over the true attributes.
  const offset = {} as Record<TrueAttribute, number>;
  let width = 0;
  for (const a of TRUE_ATTRIBUTES) {
    offset[a] = width;
    width += vocab[a].length;
  }
  const taste = new Float32Array(params.users * width);
  const users: User[] = [];
  const userRng = root.fork('users');
  const typeCount = new Float64Array(nTypes);
  for (let i = 0; i < n; i++) typeCount[attr.articleType[i]]++;
  const colourCount = new Float64Array(vocab.baseColour.length);
  for (let i = 0; i < n; i++) colourCount[attr.baseColour[i]]++;
  const adultGenders = ['Men', 'Women'];
  // Item counts per article type and brand among the items that fit a kind of user.
  const fitCache = new Map<string, { fitCount: Float64Array; brandCount: Float64Array }>();
  const countsFor = (gender: string, kids: boolean, fits: (g: string) => boolean) => {
    const key = `${gender}|${kids}`;
    let c = fitCache.get(key);
    if (!c) {
      c = { fitCount: new Float64Array(nTypes), brandCount: new Float64Array(vocab.brand.length) };
      for (let i = 0; i < n; i++)
        if (fits(items[i].attrs.gender)) {
          c.fitCount[attr.articleType[i]]++;
          c.brandCount[attr.brand[i]]++;
        }
      fitCache.set(key, c);
    }
    return c;
  };
  for (let u = 0; u < params.users; u++) {
    const rng = userRng;
    const gender = rng.next() < 0.55 ? 'Men' : 'Women';
    const kids = rng.next() < 0.15;
    const t = (a: TrueAttribute, v: number) => u * width + offset[a] + v;
    const fits = (g: string) => g === gender || g === 'Unisex' || (kids && (g === 'Boys' || g === 'Girls'));
    vocab.gender.forEach((g, v) => {
      taste[t('gender', v)] = g === gender ? 1.0 : g === 'Unisex' ? 0.4 : adultGenders.includes(g) ? -1.5 : g === 'Boys' || g === 'Girls' ? (kids ? 0.3 : -1.0) : 0;
    });
    // Favourite article types, drawn by how much of the catalogue fits the user.
    const { fitCount, brandCount } = countsFor(gender, kids, fits);
    for (let v = 0; v < nTypes; v++) taste[t('articleType', v)] = rng.normal(-0.6, 0.3);
    const favTypes: number[] = [];
    const nFav = 2 + rng.poisson(1.5);
    const typeWeights = Array.from(fitCount, (c) => c ** 0.7);
    for (let k = 0; k < nFav; k++) {
      const v = rng.weighted(typeWeights);
      if (v < 0 || favTypes.includes(v)) continue;
      favTypes.push(v);
      taste[t('articleType', v)] += 1.6 + rng.next();
    }
    for (let v = 0; v < vocab.baseColour.length; v++) taste[t('baseColour', v)] = rng.normal(0, 0.35);
    const colourWeights = Array.from(colourCount, (c) => c ** 0.5);
    const favColours: number[] = [];
    for (let k = 0; k < 2; k++) {
      const v = rng.weighted(colourWeights);
      if (favColours.includes(v)) continue;
      favColours.push(v);
      taste[t('baseColour', v)] += 0.8 + 0.7 * rng.next();
    }
    taste[t('baseColour', rng.weighted(colourWeights))] -= 1.0;
    for (let v = 0; v < vocab.usage.length; v++) taste[t('usage', v)] = rng.normal(0, 0.5);
    for (let v = 0; v < vocab.season.length; v++) taste[t('season', v)] = rng.normal(0, 0.4);
    const favBrands: number[] = [];
    const nBrands = 1 + rng.poisson(1);
    for (let k = 0; k < nBrands; k++) {
      const v = rng.weighted(brandCount);
      if (v < 0 || favBrands.includes(v)) continue;
      favBrands.push(v);
      taste[t('brand', v)] += 0.6 + 0.6 * rng.next();
    }
    // Targeting and intents draw article types by taste, among types the catalogue has for the user.
    const typeDraw = new Cumulative(Array.from(fitCount, (c, v) => (c > 0 ? Math.exp(1.5 * taste[t('articleType', v)]) : 0)));
    users.push({
      id: `u${String(u + 1).padStart(5, '0')}`,
      gender,
      kids,
      activity: Math.exp(rng.normal(0, params.activitySpread) - params.activitySpread ** 2 / 2),
      bias: rng.normal(0, params.userBiasStd),
      typeDraw,
      intent: null,
      favourites: { articleType: favTypes.map((v) => vocab.articleType[v]), baseColour: favColours.map((v) => vocab.baseColour[v]), brand: favBrands.map((v) => vocab.brand[v]) },
    });
  }
  const w = params.tasteWeights;
  const tasteScore = (u: number, i: number): number => {
    const b = u * width;
    return (
      w.articleType * taste[b + offset.articleType + attr.articleType[i]] +
      w.baseColour * taste[b + offset.baseColour + attr.baseColour[i]] +
      w.gender * taste[b + offset.gender + attr.gender[i]] +
      w.usage * taste[b + offset.usage + attr.usage[i]] +
      w.season * taste[b + offset.season + attr.season[i]] +
      w.brand * taste[b + offset.brand + attr.brand[i]]
    );
  };
  /** How well item i fits an intent's anchor item, in [0, 1]: same article type first of all. */
  const match = (anchor: number, i: number): number => {
    if (attr.articleType[anchor] !== attr.articleType[i]) return 0;
    return (1 + 0.6 * +(attr.baseColour[anchor] === attr.baseColour[i]) + 0.3 * +(attr.usage[anchor] === attr.usage[i]) + 0.3 * +(attr.gender[anchor] === attr.gender[i])) / 2.2;
  };
  const fullMatch = (anchor: number, i: number) => profileKey(anchor) === profileKey(i);
  const halfLife = params.intentHalfLifeHours * 3600;
  const strength = (intent: Intent | null, t: number) => (intent ? 0.5 ** ((t - intent.since) / halfLife) : 0);

  // ---- Files.
  const files = { items: 'items.csv', events: 'events.csv', searches: 'searches.csv', users: 'users.csv' };
  const itemLines = new Lines(path.join(dir, files.items), row(['item_id', 'title', 'image', 'category', 'created_at', 'brand', ...TRUE_ATTRIBUTES.filter((a) => a !== 'brand'), 'masterCategory', 'subCategory', 'is_new']));
  for (let i = 0; i < n; i++) {
    const it: CatalogItem = items[i];
    itemLines.push(row([it.id, it.title, it.image, params.categoryLevel === 'masterCategory' ? it.masterCategory : it.subCategory, launch[i], it.attrs.brand, ...TRUE_ATTRIBUTES.filter((a) => a !== 'brand').map((a) => it.attrs[a]), it.masterCategory, it.subCategory, isNew[i]]));
  }
  itemLines.close();
  const userLines = new Lines(path.join(dir, files.users), row(['user_id', 'gender', 'kids', 'activity', 'favourite_types', 'favourite_colours', 'favourite_brands']));
  for (const u of users) userLines.push(row([u.id, u.gender, u.kids ? 1 : 0, u.activity.toFixed(3), u.favourites.articleType.join('|'), u.favourites.baseColour.join('|'), u.favourites.brand.join('|')]));
  userLines.close();
  const events = new Lines(path.join(dir, files.events), row(['user_id', 'item_id', 'ts', 'type', 'clicked', 'request_id', 'position', 'p_true']));
  const searches = new Lines(path.join(dir, files.searches), row(['search_id', 'user_id', 'ts', 'query_text', 'query_image', 'query_item', 'shown', 'clicked', 'bought', 'query_attributes']));

  // ---- The simulation, day by day; each day's events are written in time order.
  const sim = root.fork('simulation');
  const stats = { impressions: 0, clicks: 0, pSum: 0, newImpressions: 0, searches: 0, photoSearches: 0, searchClicks: 0, purchases: 0 };
  let adRequest = 0, searchId = 0;
  const drawIntent = (u: number, t: number): Intent | null => {
    const ty = users[u].typeDraw.draw(sim);
    if (ty < 0) return null;
    // A few items of the type the user came across; the one they want most becomes the intent.
    let best = -1, bestScore = -Infinity;
    for (let k = 0; k < 6; k++) {
      const i = drawOfType(ty, t, sim);
      if (i < 0) continue;
      const s = tasteScore(u, i) - Math.log(-Math.log(sim.next() || 1e-12));
      if (s > bestScore) [best, bestScore] = [i, s];
    }
    return best < 0 ? null : { anchor: best, since: t };
  };
  const fillSlot = (u: number, t: number, taken: Set<number>): number => {
    const user = users[u];
    for (let attempt = 0; attempt < 8; attempt++) {
      let i = -1;
      const fresh = launched(allNew, t);
      if (fresh > 0 && sim.next() < params.newItemTraffic) {
        // New ads get bought traffic; half of it targeted to the user's article types.
        if (sim.next() < 0.5) {
          const ty = user.typeDraw.draw(sim);
          const out = ty < 0 ? 0 : launched(newOfType[ty], t);
          i = out > 0 ? newOfType[ty][sim.int(out)] : allNew[sim.int(fresh)];
        } else i = allNew[sim.int(fresh)];
      } else {
        const r = sim.next();
        if (r < params.retargeting && strength(user.intent, t) > 0.2) i = drawOfType(attr.articleType[user.intent!.anchor], t, sim);
        else if (r < params.retargeting + params.targeting) i = drawOfType(user.typeDraw.draw(sim), t, sim);
        else {
          i = globalDraw.draw(sim);
          if (launch[i] > t) i = -1;
        }
      }
      if (i >= 0 && !taken.has(i)) return i;
    }
    return -1;
  };

  for (let day = 0; day < params.days; day++) {
    const dayStart = start + day * DAY;
    const dayEvents: { ts: number; k: number; line: string }[] = [];
    const dayLog = (ts: number, line: string) => dayEvents.push({ ts, k: dayEvents.length, line });
    const daySearches: { ts: number; k: number; line: string }[] = [];
    for (let u = 0; u < users.length; u++) {
      const user = users[u];
      const visits = sim.poisson(params.sessionsPerDay * user.activity);
      const times = Array.from({ length: visits }, () => dayStart + sim.int(DAY - 4 * 3600)).sort((a, b) => a - b);
      for (const t0 of times) {
        // What the user shops for in this visit: the current intent, or a new one.
        if (!(user.intent && strength(user.intent, t0) > 0.1 && sim.next() < params.intentPersistence)) user.intent = drawIntent(u, t0);
        let t = t0;
        if (user.intent && sim.next() < params.searchShare) {
          const anchor = user.intent.anchor;
          const want = items[anchor].attrs;
          const sid = `s${++searchId}`;
          // Query by photo: another item with the wanted type, colour and gender, seen elsewhere.
          let photo = -1;
          if (sim.next() < params.photoQueryShare) {
            const twins = (byProfile.get(profileKey(anchor)) ?? []).filter((i) => i !== anchor && launch[i] <= t);
            if (twins.length) photo = sim.pick(twins);
          }
          const query = photo >= 0 ? { text: '', names: PHOTO_SHOWS } : composeQuery(want, sim);
          // Results: items of the wanted type, ranked by fit to the query and popularity.
          const ty = attr.articleType[anchor];
          const pool = new Set<number>([anchor]);
          const outNew = launched(newOfType[ty], t);
          const poolSize = oldOfType[ty].length + outNew;
          if (poolSize <= 200) {
            for (const i of oldOfType[ty]) pool.add(i);
            for (let k = 0; k < outNew; k++) pool.add(newOfType[ty][k]);
          } else for (let k = 0; k < 200; k++) pool.add(drawOfType(ty, t, sim));
          pool.delete(photo);
          pool.delete(-1);
          const scored = [...pool].map((i) => ({
            i,
            s: 2 * +(attr.baseColour[i] === attr.baseColour[anchor]) + 1 * +(attr.gender[i] === attr.gender[anchor]) + 0.5 * +(attr.usage[i] === attr.usage[anchor]) + 0.3 * Math.log(popularity[i]) - 0.8 * Math.log(-Math.log(sim.next() || 1e-12)),
          }));
          scored.sort((a, b) => b.s - a.s || a.i - b.i);
          const shown = scored.slice(0, params.shownPerSearch).map((x) => x.i);
          // Too few of the type: fill with other items of the same sub-category, then anything out.
          for (let attempt = 0; shown.length < Math.min(params.shownPerSearch, n - 1) && attempt < 50 * params.shownPerSearch; attempt++) {
            const i = attempt < 20 * params.shownPerSearch ? sim.int(n) : globalDraw.draw(sim);
            if (launch[i] > t || shown.includes(i) || i === photo) continue;
            if (attempt < 20 * params.shownPerSearch && items[i].subCategory !== items[anchor].subCategory) continue;
            shown.push(i);
          }
          const clicked: number[] = [];
          shown.forEach((i, k) => {
            if (sim.next() < sigmoid(-2.2 + 2.5 * match(anchor, i) + 0.3 * tasteScore(u, i) - 0.12 * k)) clicked.push(i);
          });
          let bought = -1;
          const fits = clicked.filter((i) => fullMatch(anchor, i));
          if (fits.length && sim.next() < 0.65) {
            let bestScore = -Infinity;
            for (const i of fits) {
              const s = tasteScore(u, i) - Math.log(-Math.log(sim.next() || 1e-12));
              if (s > bestScore) [bought, bestScore] = [i, s];
            }
          } else if (clicked.length && sim.next() < 0.08) bought = sim.pick(clicked);
          clicked.forEach((i, k) => dayLog(t + 8 * (k + 1), row([user.id, items[i].id, t + 8 * (k + 1), 'click', '', sid, shown.indexOf(i), ''])));
          if (bought >= 0) {
            dayLog(t + 8 * (clicked.length + 1) + 60, row([user.id, items[bought].id, t + 8 * (clicked.length + 1) + 60, 'purchase', '', sid, shown.indexOf(bought), '']));
            stats.purchases++;
            user.intent = null;
          }
          daySearches.push({
            ts: t,
            k: daySearches.length,
            line: row([
              sid, user.id, t, query.text, photo >= 0 ? items[photo].image : '', photo >= 0 ? items[photo].id : '',
              shown.map((i) => items[i].id).join('|'), clicked.map((i) => items[i].id).join('|'), bought >= 0 ? items[bought].id : '',
              formatStated(query.names, want),
            ]),
          });
          stats.searches++;
          if (photo >= 0) stats.photoSearches++;
          stats.searchClicks += clicked.length;
          t += 180;
        }
        // Ad requests of the visit.
        const requests = 1 + sim.poisson(params.adRequestsPerSession - 1);
        for (let r = 0; r < requests; r++) {
          t += 30 + sim.int(300);
          const rid = `a${++adRequest}`;
          const taken = new Set<number>();
          for (let pos = 0; pos < params.adsPerRequest; pos++) {
            const i = fillSlot(u, t, taken);
            if (i < 0) continue;
            taken.add(i);
            const logit =
              params.baseLogit + user.bias + tasteScore(u, i) + params.intentWeight * strength(user.intent, t) * (user.intent ? match(user.intent.anchor, i) : 0) + quality[i] + params.noise * hashNormal(params.seed, u, i) - params.positionDecay * pos;
            const p = sigmoid(logit);
            const click = sim.next() < p ? 1 : 0;
            dayLog(t, row([user.id, items[i].id, t, 'impression', click, rid, pos, p.toFixed(6)]));
            stats.impressions++;
            stats.pSum += p;
            if (isNew[i]) stats.newImpressions++;
            if (click) {
              stats.clicks++;
              dayLog(t + 5, row([user.id, items[i].id, t + 5, 'click', '', rid, pos, '']));
              // A click on an ad can start an intent.
              if (strength(user.intent, t) < 0.2 && sim.next() < 0.3) user.intent = { anchor: i, since: t };
            }
          }
        }
      }
    }
    dayEvents.sort((a, b) => a.ts - b.ts || a.k - b.k);
    for (const e of dayEvents) events.push(e.line);
    daySearches.sort((a, b) => a.ts - b.ts || a.k - b.k);
    for (const s of daySearches) searches.push(s.line);
    onProgress?.(day + 1, params.days);
  }
  events.close();
  searches.close();

  // ---- The dataset spec, the sample config, the world's record.
  const attributes = [...TRUE_ATTRIBUTES.filter((a) => a !== 'brand'), 'masterCategory', 'subCategory'];
  const spec = {
    name: `adworld-${catalog.name}`,
    items: {
      path: files.items,
      columns: { item_id: 'item_id', title: 'title', image: 'image', category: 'category', brand: 'brand', created_at: 'created_at' },
      attributes,
      imageRoot: catalog.name === 'builtin' ? '.' : catalog.imageRoot,
    },
    events: { path: files.events, columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', type: 'type', clicked: 'clicked', request_id: 'request_id', position: 'position', p_true: 'p_true' } },
    searches: { path: files.searches, columns: { user_id: 'user_id', ts: 'ts', query_text: 'query_text', query_image: 'query_image', shown: 'shown', clicked: 'clicked', bought: 'bought' }, listSeparator: '|' },
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
    items: n,
    newItems: newOrder.length,
    users: users.length,
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
  writeFileSync(
    path.join(dir, 'world.json'),
    `${JSON.stringify({ version: WORLD_VERSION, params, catalog: { name: catalog.name, imageRoot: catalog.name === 'builtin' ? '.' : catalog.imageRoot, attributes: TRUE_ATTRIBUTES, end }, summary: record, files: { ...files, spec: 'dataset.json', sampleConfig: 'sample-config.json' } }, null, 2)}\n`,
  );
  return summary;
}
