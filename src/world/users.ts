/**
 * The world's users: each with hidden tastes over the items' true attributes (article type,
 * colour, gender, usage, season, brand), favourites drawn by how much of the catalogue fits
 * them, an activity level, a click bias, and the article-type draw that targeting and intents
 * use. `tasteScore(u, i)` is the taste part of the click model.
 */
import { TRUE_ATTRIBUTES, TrueAttribute } from './catalog.js';
import type { ItemWorld } from './items.js';
import type { WorldParams } from './params.js';
import { Cumulative, Rng } from './rng.js';

/** What a user shops for now: an item profile (the anchor) since a time; it decays with a half-life. */
export interface Intent {
  anchor: number;
  since: number;
}

export interface User {
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

const ADULT_GENDERS = ['Men', 'Women'];

export class Population {
  readonly users: User[] = [];
  /** [users, width]: each user's taste for every value of every true attribute (offset[a] + value). */
  private readonly taste: Float32Array;
  private readonly width: number;
  private readonly offset = {} as Record<TrueAttribute, number>;
  private readonly weights: WorldParams['tasteWeights'];

  constructor(
    private readonly world: ItemWorld,
    params: WorldParams,
    rng: Rng,
  ) {
    const { vocab, attr, items, n } = world;
    let width = 0;
    for (const a of TRUE_ATTRIBUTES) {
      this.offset[a] = width;
      width += vocab[a].length;
    }
    this.width = width;
    this.weights = params.tasteWeights;
    const taste = (this.taste = new Float32Array(params.users * width));
    const nTypes = vocab.articleType.length;
    const colourCount = new Float64Array(vocab.baseColour.length);
    for (let i = 0; i < n; i++) colourCount[attr.baseColour[i]]++;
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
      const gender = rng.next() < 0.55 ? 'Men' : 'Women';
      const kids = rng.next() < 0.15;
      const t = (a: TrueAttribute, v: number) => u * width + this.offset[a] + v;
      const fits = (g: string) => g === gender || g === 'Unisex' || (kids && (g === 'Boys' || g === 'Girls'));
      vocab.gender.forEach((g, v) => {
        taste[t('gender', v)] = g === gender ? 1.0 : g === 'Unisex' ? 0.4 : ADULT_GENDERS.includes(g) ? -1.5 : g === 'Boys' || g === 'Girls' ? (kids ? 0.3 : -1.0) : 0;
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
      this.users.push({
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
  }

  /** The taste part of user u's click logit for item i. */
  tasteScore(u: number, i: number): number {
    const { taste, offset, weights: w } = this;
    const { attr } = this.world;
    const b = u * this.width;
    return (
      w.articleType * taste[b + offset.articleType + attr.articleType[i]] +
      w.baseColour * taste[b + offset.baseColour + attr.baseColour[i]] +
      w.gender * taste[b + offset.gender + attr.gender[i]] +
      w.usage * taste[b + offset.usage + attr.usage[i]] +
      w.season * taste[b + offset.season + attr.season[i]] +
      w.brand * taste[b + offset.brand + attr.brand[i]]
    );
  }
}
