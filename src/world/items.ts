/**
 * The world's items as the simulation sees them: each true attribute as an index, popularity
 * (a power law over a random rank), the hidden quality (only an item id can learn it), launch
 * times (new items launch late in the range), and the draws the simulation makes: an item of an
 * article type out at a time, any item by popularity, how well an item fits a wanted one.
 */
import type { CatalogItem, TrueAttribute } from './catalog.js';
import { TRUE_ATTRIBUTES } from './catalog.js';
import type { WorldParams } from './params.js';
import { Cumulative, Rng } from './rng.js';

const DAY = 86_400;

export class ItemWorld {
  readonly n: number;
  /** Per true attribute: its values (index -> value) and each item's index. */
  readonly vocab = {} as Record<TrueAttribute, string[]>;
  readonly attr = {} as Record<TrueAttribute, Int32Array>;
  readonly popularity: Float64Array;
  readonly quality: Float64Array;
  readonly isNew: Uint8Array;
  readonly launch: Float64Array;
  /** The new items, in the order they were drawn. */
  readonly newOrder: number[];
  /** Per article type: the old items and the new ones (sorted by launch). */
  readonly oldOfType: number[][];
  readonly newOfType: number[][];
  /** Every new item, sorted by launch. */
  readonly allNew: number[];
  /** Any item, by popularity. */
  readonly globalDraw: Cumulative;
  /** Items by (article type, colour, gender): the photo twins of an item. */
  readonly byProfile = new Map<string, number[]>();
  private readonly oldDraw: Cumulative[];

  constructor(
    readonly items: readonly CatalogItem[],
    params: WorldParams,
    rng: Rng,
  ) {
    const n = (this.n = items.length);
    const start = params.startTs;
    for (const a of TRUE_ATTRIBUTES) {
      const index = new Map<string, number>();
      this.attr[a] = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = items[i].attrs[a];
        let k = index.get(v);
        if (k === undefined) index.set(v, (k = index.size));
        this.attr[a][i] = k;
      }
      this.vocab[a] = [...index.keys()];
    }
    const rank = rng.shuffle(Array.from({ length: n }, (_, i) => i));
    const popularity = (this.popularity = new Float64Array(n));
    rank.forEach((item, r) => (popularity[item] = (r + 3) ** -params.popularityExponent));
    const logPop = Array.from(popularity, (p) => Math.log(p));
    const meanLogPop = logPop.reduce((s, x) => s + x, 0) / n;
    const stdLogPop = Math.sqrt(logPop.reduce((s, x) => s + (x - meanLogPop) ** 2, 0) / n) || 1;
    this.quality = new Float64Array(n);
    for (let i = 0; i < n; i++) this.quality[i] = params.qualityStd * rng.normal() + params.qualityPopularity * ((logPop[i] - meanLogPop) / stdLogPop);
    const isNew = (this.isNew = new Uint8Array(n));
    const launch = (this.launch = new Float64Array(n));
    this.newOrder = rng.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, Math.round(n * params.newItemShare));
    for (const i of this.newOrder) isNew[i] = 1;
    for (let i = 0; i < n; i++) {
      launch[i] = isNew[i]
        ? Math.floor(start + params.days * DAY * (1 - params.newItemWindow + params.newItemWindow * rng.next()))
        : Math.floor(start - 365 * DAY * rng.next());
    }
    const nTypes = this.vocab.articleType.length;
    this.oldOfType = Array.from({ length: nTypes }, () => []);
    this.newOfType = Array.from({ length: nTypes }, () => []);
    for (let i = 0; i < n; i++) (isNew[i] ? this.newOfType : this.oldOfType)[this.attr.articleType[i]].push(i);
    for (const list of this.newOfType) list.sort((a, b) => launch[a] - launch[b] || a - b);
    this.oldDraw = this.oldOfType.map((list) => new Cumulative(list.map((i) => popularity[i])));
    this.allNew = Array.from({ length: n }, (_, i) => i).filter((i) => isNew[i]).sort((a, b) => launch[a] - launch[b] || a - b);
    this.globalDraw = new Cumulative(popularity);
    for (let i = 0; i < n; i++) {
      const k = this.profileKey(i);
      const list = this.byProfile.get(k);
      if (list) list.push(i);
      else this.byProfile.set(k, [i]);
    }
  }

  /** How many of a launch-sorted list are out at time t. */
  launched(list: readonly number[], t: number): number {
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.launch[list[mid]] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** An item of article type `ty` out at time t: old ones by popularity, launched new ones evenly; -1 when none. */
  drawOfType(ty: number, t: number, rng: Rng): number {
    if (ty < 0) return -1;
    const fresh = this.launched(this.newOfType[ty], t);
    const old = this.oldOfType[ty].length;
    if (fresh + old === 0) return -1;
    if (rng.next() * (old + fresh) < fresh) return this.newOfType[ty][rng.int(fresh)];
    return this.oldOfType[ty][this.oldDraw[ty].draw(rng)];
  }

  profileKey(i: number): string {
    return `${this.attr.articleType[i]}|${this.attr.baseColour[i]}|${this.attr.gender[i]}`;
  }

  /** How well item i fits a wanted (anchor) item, in [0, 1]: same article type first of all. */
  match(anchor: number, i: number): number {
    const attr = this.attr;
    if (attr.articleType[anchor] !== attr.articleType[i]) return 0;
    return (1 + 0.6 * +(attr.baseColour[anchor] === attr.baseColour[i]) + 0.3 * +(attr.usage[anchor] === attr.usage[i]) + 0.3 * +(attr.gender[anchor] === attr.gender[i])) / 2.2;
  }

  /** Same article type, colour and gender: what a purchase needs. */
  fullMatch(anchor: number, i: number): boolean {
    return this.profileKey(anchor) === this.profileKey(i);
  }
}
