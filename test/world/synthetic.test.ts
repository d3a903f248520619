import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { splitCsvLine } from '../../src/data/csv.js';
import { readSampleConfig } from '../../src/data/sample-config.js';
import { buildStoreFromSpec } from '../../src/data/samples.js';
import { syntheticItems } from '../../src/world/catalog.js';
import { generateWorld } from '../../src/world/generate.js';
import { worldParams } from '../../src/world/params.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-synthetic-');
/** A small world over the synthetic catalogue: the scale preset shrunk to a few hundred users and days. */
const params = (seed: number) => worldParams('scale', { seed, users: 300, days: 4, syntheticItems: 3000 });

test('the synthetic catalogue is the same for a seed, differs for another, and has unique ids, titles and no images', () => {
  const a = syntheticItems(3000, 1);
  assert.deepEqual(syntheticItems(3000, 1), a);
  const b = syntheticItems(3000, 2);
  assert.notDeepEqual(b.map((i) => i.title), a.map((i) => i.title));
  assert.equal(new Set(a.map((i) => i.id)).size, 3000);
  assert.ok(a.every((i) => i.image === '' && i.title.startsWith(i.attrs.brand) && i.title.includes(i.attrs.baseColour)));
  // Brands grow with the catalogue (about sqrt(n) / 4, at least 16).
  assert.equal(new Set(a.map((i) => i.attrs.brand)).size, 16);
  assert.ok(new Set(syntheticItems(40_000, 1).map((i) => i.attrs.brand)).size > 40);
  // Ids are padded to the width of the count.
  assert.equal(syntheticItems(20, 1)[0].id, 's01');
});

test('a synthetic world streams the same files for a seed, in time order, as its summary counts, and builds a store', async () => {
  const w = await generateWorld(params(1), path.join(dir, 'a'));
  const again = await generateWorld(params(1), path.join(dir, 'b'));
  for (const f of ['items.csv', 'events.csv', 'searches.csv', 'users.csv', 'dataset.json', 'world.json'])
    assert.ok(readFileSync(path.join(w.dir, f)).equals(readFileSync(path.join(again.dir, f))), `${f} differs between two runs with seed 1`);
  assert.equal(w.items, 3000);
  assert.equal(w.users, 300);
  const events = readFileSync(path.join(w.dir, 'events.csv'), 'utf8').split('\n').filter(Boolean).slice(1).map((l) => splitCsvLine(l, ','));
  let last = -Infinity;
  for (const e of events) {
    assert.ok(Number(e[2]) >= last, `events out of time order at ts ${e[2]}`);
    last = Number(e[2]);
  }
  assert.equal(events.filter((e) => e[3] === 'impression').length, w.impressions);
  assert.ok(w.impressions > 1000 && w.searches > 50, JSON.stringify(w));
  // No images, so no photo queries, and the spec maps no image column.
  assert.equal(w.photoSearches, 0);
  const spec = JSON.parse(readFileSync(w.specFile, 'utf8')) as { items: { columns: Record<string, string>; imageRoot?: string } };
  assert.equal(spec.items.columns.image, undefined);
  assert.equal(spec.items.imageRoot, undefined);
  const { store } = await buildStoreFromSpec(w.specFile, readSampleConfig(w.sampleConfigFile), path.join(dir, 'store'));
  const m = store.meta.splits;
  assert.equal(m.train.count + m.valid.count + m.test.count, w.impressions);
});

test('--items (syntheticItems) sizes the synthetic catalogue only', () => {
  assert.throws(() => worldParams('small', { syntheticItems: 1000 }), /syntheticItems.*synthetic/);
  assert.equal(worldParams('small', { catalog: 'synthetic', syntheticItems: 1000 }).syntheticItems, 1000);
  assert.equal(worldParams('scale').syntheticItems, 1_000_000);
});
