/**
 * The world's days: each user's visits; in a visit, what they shop for (an intent kept or drawn
 * anew), maybe a search session (a text or photo query, results ranked by fit and popularity,
 * clicks, maybe a purchase), then ad requests whose slots are filled by retargeting, targeting,
 * bought traffic for new ads or popularity, each impression clicked with its true probability:
 *
 *   logit = base + bias_u + taste(u, i) + intentWeight * strength(intent, t) * match(anchor, i)
 *           + quality_i + noise * affinity(u, i) - positionDecay * position
 *
 * Every event and search becomes one CSV line, handed to the writer day by day in time order.
 */
import { csvField } from '../data/csv.js';
import type { ItemWorld } from './items.js';
import type { WorldParams } from './params.js';
import { hashNormal, Rng } from './rng.js';
import { formatStated, PHOTO_SHOWS } from './search-truth.js';
import type { Intent, Population } from './users.js';
import { composeQuery } from './wording.js';

const DAY = 86_400;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** One CSV line. */
export const csvRow = (values: (string | number)[]): string => values.map(csvField).join(',');

export interface SimulationStats {
  impressions: number;
  clicks: number;
  /** Sum of the impressions' true click probabilities. */
  pSum: number;
  newImpressions: number;
  searches: number;
  photoSearches: number;
  searchClicks: number;
  purchases: number;
}

/** Where a day's lines go, each table in time order. */
export interface DayWriter {
  events(lines: readonly string[]): void;
  searches(lines: readonly string[]): void;
}

interface TimedLine {
  ts: number;
  k: number;
  line: string;
}

/** Lines of one day, sorted by time (ties in the order they were made) when handed on. */
class DayLog {
  private readonly lines: TimedLine[] = [];
  add(ts: number, line: string): void {
    this.lines.push({ ts, k: this.lines.length, line });
  }
  sorted(): string[] {
    return this.lines.sort((a, b) => a.ts - b.ts || a.k - b.k).map((e) => e.line);
  }
}

export class Simulation {
  readonly stats: SimulationStats = { impressions: 0, clicks: 0, pSum: 0, newImpressions: 0, searches: 0, photoSearches: 0, searchClicks: 0, purchases: 0 };
  private adRequest = 0;
  private searchId = 0;
  private readonly halfLife: number;
  /** A catalogue without images (synthetic) has no photo queries; the draw is still made, so other catalogues' worlds stay as they were. */
  private readonly photoShare: number;

  constructor(
    private readonly world: ItemWorld,
    private readonly people: Population,
    private readonly params: WorldParams,
    private readonly rng: Rng,
  ) {
    this.halfLife = params.intentHalfLifeHours * 3600;
    this.photoShare = params.catalog === 'synthetic' ? 0 : params.photoQueryShare;
  }

  /** Runs every day, handing each day's lines to `out`. */
  run(out: DayWriter, onProgress?: (day: number, days: number) => void): void {
    const { params } = this;
    for (let day = 0; day < params.days; day++) {
      const dayStart = params.startTs + day * DAY;
      const events = new DayLog(), searches = new DayLog();
      for (let u = 0; u < this.people.users.length; u++) {
        const user = this.people.users[u];
        const visits = this.rng.poisson(params.sessionsPerDay * user.activity);
        const times = Array.from({ length: visits }, () => dayStart + this.rng.int(DAY - 4 * 3600)).sort((a, b) => a - b);
        for (const t0 of times) {
          // What the user shops for in this visit: the current intent, or a new one.
          if (!(user.intent && this.strength(user.intent, t0) > 0.1 && this.rng.next() < params.intentPersistence)) user.intent = this.drawIntent(u, t0);
          let t = t0;
          if (user.intent && this.rng.next() < params.searchShare) {
            this.search(u, user.intent.anchor, t, events, searches);
            t += 180;
          }
          this.adRequests(u, t, events);
        }
      }
      out.events(events.sorted());
      out.searches(searches.sorted());
      onProgress?.(day + 1, params.days);
    }
  }

  private strength(intent: Intent | null, t: number): number {
    return intent ? 0.5 ** ((t - intent.since) / this.halfLife) : 0;
  }

  /** A few items of a type the user came across; the one they want most becomes the intent. */
  private drawIntent(u: number, t: number): Intent | null {
    const { rng, world } = this;
    const ty = this.people.users[u].typeDraw.draw(rng);
    if (ty < 0) return null;
    let best = -1, bestScore = -Infinity;
    for (let k = 0; k < 6; k++) {
      const i = world.drawOfType(ty, t, rng);
      if (i < 0) continue;
      const s = this.people.tasteScore(u, i) - Math.log(-Math.log(rng.next() || 1e-12));
      if (s > bestScore) [best, bestScore] = [i, s];
    }
    return best < 0 ? null : { anchor: best, since: t };
  }

  /** A search session for the anchor item: query, results, clicks and maybe a purchase (which ends the intent). */
  private search(u: number, anchor: number, t: number, events: DayLog, searches: DayLog): void {
    const { rng, world, params } = this;
    const { items, attr, n, popularity } = world;
    const user = this.people.users[u];
    const want = items[anchor].attrs;
    const sid = `s${++this.searchId}`;
    // Query by photo: another item with the wanted type, colour and gender, seen elsewhere.
    let photo = -1;
    if (rng.next() < this.photoShare) {
      const twins = (world.byProfile.get(world.profileKey(anchor)) ?? []).filter((i) => i !== anchor && world.launch[i] <= t);
      if (twins.length) photo = rng.pick(twins);
    }
    const query = photo >= 0 ? { text: '', names: PHOTO_SHOWS } : composeQuery(want, rng);
    // Results: items of the wanted type, ranked by fit to the query and popularity.
    const ty = attr.articleType[anchor];
    const pool = new Set<number>([anchor]);
    const outNew = world.launched(world.newOfType[ty], t);
    const poolSize = world.oldOfType[ty].length + outNew;
    if (poolSize <= 200) {
      for (const i of world.oldOfType[ty]) pool.add(i);
      for (let k = 0; k < outNew; k++) pool.add(world.newOfType[ty][k]);
    } else for (let k = 0; k < 200; k++) pool.add(world.drawOfType(ty, t, rng));
    pool.delete(photo);
    pool.delete(-1);
    const scored = [...pool].map((i) => ({
      i,
      s: 2 * +(attr.baseColour[i] === attr.baseColour[anchor]) + 1 * +(attr.gender[i] === attr.gender[anchor]) + 0.5 * +(attr.usage[i] === attr.usage[anchor]) + 0.3 * Math.log(popularity[i]) - 0.8 * Math.log(-Math.log(rng.next() || 1e-12)),
    }));
    scored.sort((a, b) => b.s - a.s || a.i - b.i);
    const shown = scored.slice(0, params.shownPerSearch).map((x) => x.i);
    // Too few of the type: fill with other items of the same sub-category, then anything out.
    for (let attempt = 0; shown.length < Math.min(params.shownPerSearch, n - 1) && attempt < 50 * params.shownPerSearch; attempt++) {
      const i = attempt < 20 * params.shownPerSearch ? rng.int(n) : world.globalDraw.draw(rng);
      if (world.launch[i] > t || shown.includes(i) || i === photo) continue;
      if (attempt < 20 * params.shownPerSearch && items[i].subCategory !== items[anchor].subCategory) continue;
      shown.push(i);
    }
    const clicked: number[] = [];
    shown.forEach((i, k) => {
      if (rng.next() < sigmoid(-2.2 + 2.5 * world.match(anchor, i) + 0.3 * this.people.tasteScore(u, i) - 0.12 * k)) clicked.push(i);
    });
    let bought = -1;
    const fits = clicked.filter((i) => world.fullMatch(anchor, i));
    if (fits.length && rng.next() < 0.65) {
      let bestScore = -Infinity;
      for (const i of fits) {
        const s = this.people.tasteScore(u, i) - Math.log(-Math.log(rng.next() || 1e-12));
        if (s > bestScore) [bought, bestScore] = [i, s];
      }
    } else if (clicked.length && rng.next() < 0.08) bought = rng.pick(clicked);
    clicked.forEach((i, k) => events.add(t + 8 * (k + 1), csvRow([user.id, items[i].id, t + 8 * (k + 1), 'click', '', sid, shown.indexOf(i), ''])));
    if (bought >= 0) {
      events.add(t + 8 * (clicked.length + 1) + 60, csvRow([user.id, items[bought].id, t + 8 * (clicked.length + 1) + 60, 'purchase', '', sid, shown.indexOf(bought), '']));
      this.stats.purchases++;
      user.intent = null;
    }
    searches.add(
      t,
      csvRow([
        sid, user.id, t, query.text, photo >= 0 ? items[photo].image : '', photo >= 0 ? items[photo].id : '',
        shown.map((i) => items[i].id).join('|'), clicked.map((i) => items[i].id).join('|'), bought >= 0 ? items[bought].id : '',
        formatStated(query.names, want),
      ]),
    );
    this.stats.searches++;
    if (photo >= 0) this.stats.photoSearches++;
    this.stats.searchClicks += clicked.length;
  }

  /** The ad requests of a visit starting at t: impressions, clicks, and intents started by clicks. */
  private adRequests(u: number, t: number, events: DayLog): void {
    const { rng, world, params, stats } = this;
    const user = this.people.users[u];
    const requests = 1 + rng.poisson(params.adRequestsPerSession - 1);
    for (let r = 0; r < requests; r++) {
      t += 30 + rng.int(300);
      const rid = `a${++this.adRequest}`;
      const taken = new Set<number>();
      for (let pos = 0; pos < params.adsPerRequest; pos++) {
        const i = this.fillSlot(u, t, taken);
        if (i < 0) continue;
        taken.add(i);
        const logit =
          params.baseLogit + user.bias + this.people.tasteScore(u, i) + params.intentWeight * this.strength(user.intent, t) * (user.intent ? world.match(user.intent.anchor, i) : 0) + world.quality[i] + params.noise * hashNormal(params.seed, u, i) - params.positionDecay * pos;
        const p = sigmoid(logit);
        const click = rng.next() < p ? 1 : 0;
        events.add(t, csvRow([user.id, world.items[i].id, t, 'impression', click, rid, pos, p.toFixed(6)]));
        stats.impressions++;
        stats.pSum += p;
        if (world.isNew[i]) stats.newImpressions++;
        if (click) {
          stats.clicks++;
          events.add(t + 5, csvRow([user.id, world.items[i].id, t + 5, 'click', '', rid, pos, '']));
          // A click on an ad can start an intent.
          if (this.strength(user.intent, t) < 0.2 && rng.next() < 0.3) user.intent = { anchor: i, since: t };
        }
      }
    }
  }

  /** The ad for one slot (not already in the request), or -1 after a few tries. */
  private fillSlot(u: number, t: number, taken: Set<number>): number {
    const { rng, world, params } = this;
    const user = this.people.users[u];
    for (let attempt = 0; attempt < 8; attempt++) {
      let i = -1;
      const fresh = world.launched(world.allNew, t);
      if (fresh > 0 && rng.next() < params.newItemTraffic) {
        // New ads get bought traffic; half of it targeted to the user's article types.
        if (rng.next() < 0.5) {
          const ty = user.typeDraw.draw(rng);
          const out = ty < 0 ? 0 : world.launched(world.newOfType[ty], t);
          i = out > 0 ? world.newOfType[ty][rng.int(out)] : world.allNew[rng.int(fresh)];
        } else i = world.allNew[rng.int(fresh)];
      } else {
        const r = rng.next();
        if (r < params.retargeting && this.strength(user.intent, t) > 0.2) i = world.drawOfType(world.attr.articleType[user.intent!.anchor], t, rng);
        else if (r < params.retargeting + params.targeting) i = world.drawOfType(user.typeDraw.draw(rng), t, rng);
        else {
          i = world.globalDraw.draw(rng);
          if (world.launch[i] > t) i = -1;
        }
      }
      if (i >= 0 && !taken.has(i)) return i;
    }
    return -1;
  }
}
