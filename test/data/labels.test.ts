import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { prepareMovieLens } from '../../src/data/adapters/movielens.js';
import { DataError } from '../../src/data/errors.js';
import { parseDatasetSpec } from '../../src/data/spec.js';
import { ConfigError } from '../../src/util/errors.js';
import { buildStore, csv, ingestOnly, readSamples, tempDir, write } from './helpers.js';

const ratingsCsv = csv([
  ['user', 'item', 'ts', 'rating'],
  ['u1', 'a', 10, 5],
  ['u1', 'b', 20, 1],
  ['u1', 'c', 30, 4],
  ['u2', 'a', 40, 3],
  ['u2', 'c', 50, 1],
]);
const ratingSpec = (events: Record<string, unknown>) => ({
  name: 'ratings',
  events: { path: 'ratings.csv', columns: { user_id: 'user', item_id: 'item', ts: 'ts' }, ...events },
});
const samples = (store: string) => readSamples(store).rows.map((r) => `${r.user}/${r.item} ${r.label} [${r.hist.join(' ')}]`);

test('a rating column given as the click label is refused whole, with the label rule to write (rows rated 1 are not clicks)', async () => {
  const dir = tempDir();
  write(dir, 'ratings.csv', ratingsCsv);
  const spec = ratingSpec({ columns: { user_id: 'user', item_id: 'item', ts: 'ts', clicked: 'rating' } });
  await assert.rejects(ingestOnly(dir, spec), (e: Error) => {
    assert.ok(e instanceof DataError, String(e));
    assert.match(e.message, /ratings\.csv field 'rating': holds numbers other than 0 and 1 \(3, 4, 5 in 3 rows\): a rating or score, not a click label/);
    assert.match(e.message, /"label": \{"column": "rating", "atLeast": 4\}/);
    return true;
  });
});

test('a click column with words it does not know says how to write a label rule for them', async () => {
  const dir = tempDir();
  write(dir, 'ev.csv', csv([['user', 'item', 'ts', 'fb'], ['u', 'a', 1, 'liked'], ['u', 'b', 2, '0']]));
  const report = await ingestOnly(dir, { name: 'w', events: { path: 'ev.csv', columns: { user_id: 'user', item_id: 'item', ts: 'ts', clicked: 'fb' } } });
  assert.deepEqual(Object.keys(report.tables.events.problemCounts), [
    `fb: is not a click label: expected 0/1 or true/false (for other values write a label rule in the spec's events, e.g. "label": {"column": "fb", "values": [...]})`,
  ]);
});

test('label rule: a threshold on a numeric column labels impressions, and labelled rows feed the history', async () => {
  const dir = tempDir();
  write(dir, 'ratings.csv', ratingsCsv + 'u2,b,60,lots\n');
  const { store, report } = await buildStore(dir, ratingSpec({ label: { column: 'rating', atLeast: 4 } }), { split: { kind: 'fraction', train: 0.6, valid: 0.2 } });
  assert.deepEqual(report.tables.events.problemCounts, { 'rating: is not a number: the label rule reads rating >= 4': 1 });
  assert.deepEqual(samples(store), ['u1/a 1 []', 'u1/b 0 [a]', 'u1/c 1 [a]', 'u2/a 0 []', 'u2/c 0 []']);
});

test('label rule: a set of values', async () => {
  const dir = tempDir();
  write(dir, 'ev.csv', csv([['user', 'item', 'ts', 'fb'], ['u', 'a', 1, 'like'], ['u', 'b', 2, 'skip'], ['u', 'c', 3, 'love']]));
  const { store } = await buildStore(dir, { name: 'v', events: { path: 'ev.csv', columns: { user_id: 'user', item_id: 'item', ts: 'ts' }, label: { column: 'fb', values: ['like', 'love'] } } }, {});
  assert.deepEqual(samples(store), ['u/a 1 []', 'u/b 0 [a]', 'u/c 1 [a]']);
});

test('label rule and columns.clicked together are refused with the field named', () => {
  const raw = ratingSpec({ columns: { user_id: 'user', item_id: 'item', ts: 'ts', clicked: 'clk' }, label: { column: 'rating', atLeast: 4 } });
  assert.throws(() => parseDatasetSpec(raw, 'dataset.json', '/tmp'), (e: Error) => e instanceof ConfigError && /events\.label.*reads column 'rating' while columns\.clicked names 'clk': give one of them/.test(e.message));
});

test('label rule by event type: purchases label impressions and feed the history; history types are listed', async () => {
  const dir = tempDir();
  write(dir, 'ev.csv', csv([
    ['user', 'item', 'type', 'ts'],
    ['u', 'a', 'impression', 10],
    ['u', 'a', 'click', 11],
    ['u', 'b', 'impression', 20],
    ['u', 'b', 'purchase', 25],
    ['u', 'c', 'impression', 30],
  ]));
  const base = { path: 'ev.csv', columns: { user_id: 'user', item_id: 'item', type: 'type', ts: 'ts' } };
  const clicks = await buildStore(dir, { name: 'p', events: base }, {}, 'clicks');
  assert.deepEqual(samples(clicks.store), ['u/a 1 []', 'u/b 0 [a]', 'u/c 0 [a]']);
  const purchases = await buildStore(dir, { name: 'p', events: { ...base, label: { eventType: 'purchase' } } }, {}, 'purchases');
  assert.deepEqual(samples(purchases.store), ['u/a 0 []', 'u/b 1 []', 'u/c 0 [b]']);
  const both = await buildStore(dir, { name: 'p', events: { ...base, label: { eventType: 'purchase' }, history: ['click', 'purchase'] } }, {}, 'both');
  assert.deepEqual(samples(both.store), ['u/a 0 []', 'u/b 1 [a]', 'u/c 0 [a b]']);
});

/** Every file of a store folder, by relative path; meta.json without its build time. */
function storeBytes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const f = path.join(d, name);
      if (statSync(f).isDirectory()) walk(f);
      else out.set(path.relative(dir, f), name === 'meta.json' ? JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), builtAt: null }) : readFileSync(f).toString('base64'));
    }
  };
  walk(dir);
  return out;
}

test('a rating log with a label rule, read without an adapter, gives the MovieLens adapter store byte for byte', async () => {
  const src = tempDir();
  write(src, 'ml-100k.item', 'item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n1\tToy Story\t1995\tAnimation Comedy\n2\tHeat\t1995\tAction Crime\n3\tNo genre\t1990\t\n');
  const inter = ['user_id:token\titem_id:token\trating:float\ttimestamp:float'];
  for (let t = 0; t < 60; t++) inter.push(`${(t * 7) % 5}\t${1 + ((t * 3) % 3)}\t${1 + ((t * 11) % 5)}\t${100 + 10 * Math.floor(t / 2)}`);
  inter.push('3\t2\tfive\t999');
  write(src, 'ml-100k.inter', inter.join('\n') + '\n');
  const prepared = await prepareMovieLens({ src, out: path.join(src, 'ml') });
  const adapterSpec = JSON.parse(readFileSync(prepared.specFile, 'utf8'));
  const viaAdapter = await buildStore(prepared.outDir, adapterSpec, prepared.samples, '../adapter-store');
  // The same task by the spec alone: the .inter file as it is, rating >= 4 as the label rule
  // (the catalogue's first-genre category is the adapter's, items.csv).
  const ruleSpec = {
    name: adapterSpec.name,
    items: { ...adapterSpec.items, path: path.join(prepared.outDir, 'items.csv') },
    events: { path: path.join(src, 'ml-100k.inter'), columns: { user_id: 'user_id:token', item_id: 'item_id:token', ts: 'timestamp:float' }, label: { column: 'rating:float', atLeast: 4 } },
  };
  const viaRule = await buildStore(src, ruleSpec, prepared.samples, 'rule-store');
  assert.deepEqual(viaRule.report.tables.events.problemCounts, { 'rating:float: is not a number: the label rule reads rating:float >= 4': 1 });
  assert.ok(viaAdapter.meta.splits.train.clicks > 0 && viaAdapter.meta.splits.train.clicks < viaAdapter.meta.splits.train.count);
  const [a, b] = [storeBytes(viaAdapter.store), storeBytes(viaRule.store)];
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [file, bytes] of a) assert.equal(b.get(file), bytes, `${file} differs`);
});
