/**
 * A tiny synthetic search world for the SCL tests (not a test file): items with a type and a
 * colour, titles in one vocabulary and text queries in synonyms (so raw n-gram overlap finds
 * nothing), frozen "image features" = attribute signal + a larger per-item nuisance (so raw
 * feature cosine is weak), purchases of an item of the wanted type and colour, and clicked-not-
 * bought items of the same type in other colours.
 */
import type { FeatureTable, ItemContent } from '../../src/encoders/types.js';
import { RandomStream } from '../../src/engine/random.js';
import type { SearchRecord } from '../../src/pretrain/pairs.js';

const TYPES = ['shirt', 'jeans', 'sneaker', 'watch', 'handbag', 'scarf'];
const TYPE_SYN = ['blouse', 'denim', 'trainer', 'timepiece', 'purse', 'muffler'];
const COLOURS = ['red', 'blue', 'green', 'black', 'white'];
const COLOUR_SYN = ['crimson', 'navy', 'olive', 'ebony', 'ivory'];

export interface SyntheticWorld {
  items: ItemContent[];
  table: FeatureTable;
  searches: SearchRecord[];
  profile: (i: number) => string;
}

export function syntheticWorld({ perProfile = 4, searches = 1500, dim = 24, seed = 3 } = {}): SyntheticWorld {
  const rng = new RandomStream(seed);
  const n = TYPES.length * COLOURS.length * perProfile;
  const type = (i: number) => i % TYPES.length;
  const colour = (i: number) => Math.floor(i / TYPES.length) % COLOURS.length;
  const items: ItemContent[] = Array.from({ length: n }, (_, i) => ({ id: `i${i}`, title: `${COLOURS[colour(i)]} ${TYPES[type(i)]} model${i}`, image: `/nowhere/${i}.jpg` }));
  const tv = rng.normal(TYPES.length * dim), cv = rng.normal(COLOURS.length * dim), noise = rng.normal(n * dim, 0, 2.5);
  const features = new Float32Array(n * dim);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < dim; j++) features[i * dim + j] = tv[type(i) * dim + j] + cv[colour(i) * dim + j] + noise[i * dim + j];
  const missing = new Uint8Array(n);
  const table: FeatureTable = { backbone: 'synthetic', dim, ids: items.map((it) => it.id), features, missing, report: { computed: n, cached: 0, missing: 0, corrupt: 0, problems: [] } };
  const byProfile = (t: number, c: number) => Array.from({ length: perProfile }, (_, k) => t + TYPES.length * (c + COLOURS.length * k));
  const out: SearchRecord[] = [];
  const u = rng.uniform(searches * 8);
  for (let s = 0; s < searches; s++) {
    const r = (k: number) => u[s * 8 + k];
    const t = Math.floor(r(0) * TYPES.length), c = Math.floor(r(1) * COLOURS.length);
    const same = byProfile(t, c);
    const bought = same[Math.floor(r(2) * same.length)];
    const photo = r(3) < 0.4 ? same[(same.indexOf(bought) + 1) % same.length] : -1;
    const others = [0, 1, 2, 3, 4].filter((x) => x !== c);
    const h1 = byProfile(t, others[Math.floor(r(4) * 4)])[Math.floor(r(5) * perProfile)];
    const h2 = byProfile(t, others[Math.floor(r(6) * 4)])[Math.floor(r(7) * perProfile)];
    const shown = [...new Set([bought, h1, h2, (bought + 7) % n])];
    out.push({
      id: `s${s}`,
      ts: 1000 + s,
      queryText: photo >= 0 ? null : `${COLOUR_SYN[c]} ${TYPE_SYN[t]}`,
      queryItem: photo >= 0 ? `i${photo}` : null,
      shown: shown.map((i) => `i${i}`),
      clicked: [h1, bought, h2].map((i) => `i${i}`),
      bought: `i${bought}`,
    });
  }
  return { items, table, searches: out, profile: (i) => `${type(i)}|${colour(i)}` };
}
