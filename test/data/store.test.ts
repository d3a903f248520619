import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DataError } from '../../src/data/errors.js';
import { SPLITS } from '../../src/data/sample-config.js';
import { SampleStore, SPLIT_COLUMNS, splitFile, STORE_FILES, storeFile, tableFile, TRUTH_FILE } from '../../src/data/store.js';
import { buildStore, csv, prng, tempDir, write } from './helpers.js';

const SPEC = {
  name: 'store',
  items: { path: 'items.csv', columns: { item_id: 'id', category: 'cat' } },
  events: { path: 'events.csv', columns: { user_id: 'u', item_id: 'i', ts: 'ts', clicked: 'c', p_true: 'p' } },
};

/** Two users, three items (z never shown), eight impressions split 4 / 2 / 2. */
async function built(): Promise<{ dir: string; store: string }> {
  const dir = tempDir('mmctr-store-');
  write(dir, 'items.csv', csv([['id', 'cat'], ['x', 'c1'], ['y', 'c2'], ['z', 'c1']]));
  write(dir, 'events.csv', csv([['u', 'i', 'ts', 'c', 'p'], ['a', 'x', 1, 1, 0.9], ['b', 'y', 2, 0, 0.2], ['a', 'y', 3, 1, 0.6], ['b', 'x', 4, 0, 0.1], ['a', 'x', 5, 0, 0.3], ['b', 'y', 6, 1, 0.7], ['a', 'y', 7, 0, 0.4], ['b', 'x', 8, 1, 0.8]]));
  const { store } = await buildStore(dir, SPEC, { historyLength: 2, split: { kind: 'fraction', train: 0.5, valid: 0.25 } });
  return { dir, store };
}

test('the layout the writer used is the one the store names: top-level files and one column file per field and split', async () => {
  const { store } = await built();
  assert.deepEqual(readdirSync(store).sort(), [...Object.values(STORE_FILES), ...SPLITS].sort());
  for (const split of SPLITS) {
    assert.deepEqual(readdirSync(path.join(store, split)).sort(), [...Object.values(SPLIT_COLUMNS).map((c) => c.file), TRUTH_FILE].sort());
    assert.equal(splitFile(store, split, 'histLen'), path.join(store, split, 'hist_len.i32'));
  }
  assert.deepEqual(readdirSync(path.join(store, 'catalog')).sort(), ['field-0.i32', 'field-0.strt', 'field-1.i32', 'field-1.strt', 'field-2.i32', 'field-2.strt', 'ids.strt', 'images.strt', 'titles.strt']);
  assert.deepEqual(readdirSync(path.join(store, 'users')), ['ids.strt']);
  assert.equal(tableFile(store, 'users', 'ids'), path.join(store, 'users', 'ids.strt'));
});

test('opened once: typed meta, catalogue, user ids, id maps (1-based), split readers and the answer key', async () => {
  const { store: dir } = await built();
  const store = SampleStore.open(dir);
  assert.equal(store.dir, path.resolve(dir));
  assert.equal(store.meta.items, 3);
  assert.equal(store.meta.users, 2);
  assert.deepEqual(SPLITS.map((s) => store.meta.splits[s].count), [4, 2, 2]);
  assert.equal(store.historyLength, 2);
  assert.deepEqual(store.catalog.ids, ['x', 'y', 'z']);
  assert.deepEqual(store.users, ['a', 'b']);
  assert.deepEqual(['x', 'y', 'z', 'w'].map((id) => store.itemIndex.indexOf(id)), [1, 2, 3, 0]);
  assert.deepEqual(['a', 'b', 'x'].map((id) => store.userIndex.indexOf(id)), [1, 2, 0]);
  assert.deepEqual([...store.itemIndex.keys()], ['x', 'y', 'z']);
  assert.deepEqual(store.catalog.fields.category, { vocab: ['c1', 'c2'], index: Int32Array.from([0, 1, 2, 1]) });
  assert.deepEqual(store.meta.itemFields, ['category', 'brand', 'shop']);
  assert.equal(store.catalog, store.catalog, 'the catalogue is read once');
  const reader = store.split('train');
  try {
    assert.equal(reader.split, 'train');
    assert.equal(reader.count, 4);
    const b = reader.readRange(0, 4);
    assert.deepEqual([...b.item].map((i) => store.catalog.ids[i - 1]), ['x', 'y', 'y', 'x']);
    assert.deepEqual([...b.user].map((u) => store.users[u - 1]), ['a', 'b', 'a', 'b']);
    // a's history at ts 3 holds x (clicked at ts 1): [x, padding] as catalogue indices.
    assert.deepEqual([...b.hist.subarray(4, 6)], [1, 0]);
  } finally {
    reader.close();
  }
  assert.deepEqual([...store.truth('test')!].map((p) => +p.toFixed(2)), [0.4, 0.8]);
});

test('what is not a store, or a damaged one, is a DataError that names the file', async () => {
  const { dir, store } = await built();
  assert.equal(SampleStore.isStore(store), true);
  assert.equal(SampleStore.isStore(dir), false);
  assert.throws(() => SampleStore.open(dir), (e: unknown) => e instanceof DataError && e.message.includes(path.join(dir, 'meta.json')) && /is not a sample store/.test(e.message));
  const meta = storeFile(store, 'meta');
  const text = readFileSync(meta, 'utf8');
  writeFileSync(meta, '{ not json');
  assert.throws(() => SampleStore.open(store), (e: unknown) => e instanceof DataError && /meta\.json.*is not a sample store/.test(e.message));
  writeFileSync(meta, text);
  rmSync(tableFile(store, 'users', 'ids'));
  rmSync(splitFile(store, 'valid', 'freq'));
  const opened = SampleStore.open(store);
  assert.throws(() => opened.users, (e: unknown) => e instanceof DataError && e.message.includes(path.join('users', 'ids.strt')) && /incomplete/.test(e.message));
  assert.throws(() => opened.split('valid'), (e: unknown) => e instanceof DataError && e.message.includes(path.join('valid', 'freq.i32')) && /incomplete/.test(e.message));
  writeFileSync(splitFile(store, 'test', 'label'), Buffer.alloc(3));
  assert.throws(() => opened.split('test'), (e: unknown) => e instanceof DataError && /label\.f32.*not a whole number of 4-byte records/.test(e.message));
});

test('a store of the JSON layout (version 1) is refused with a rebuild hint naming its meta.json', async () => {
  const { store } = await built();
  const meta = storeFile(store, 'meta');
  writeFileSync(meta, JSON.stringify({ ...JSON.parse(readFileSync(meta, 'utf8')), version: 1 }));
  assert.throws(() => SampleStore.open(store), (e: unknown) => e instanceof DataError && e.message.includes(meta) && /layout version 1; this mmctr reads version 2.*rebuild the store with `mmctr data build`/.test(e.message));
});

test('the string-table id maps give the indices the JSON maps gave (catalogue order, users by first event), unicode and unknown ids included', async () => {
  const dir = tempDir('mmctr-store-ids-');
  // 3,000 items listed in a shuffled order (the catalogue keeps the file's order), ids of mixed scripts and lengths.
  const rand = prng(7);
  const items = Array.from({ length: 3000 }, (_, i) => `${['it', 'ärt', '商品', 'x'][i % 4]}-${i}${'z'.repeat(i % 13)}`);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  const events: (string | number)[][] = [['u', 'i', 'ts', 'c']];
  for (let t = 0; t < 4000; t++) events.push([`user ${Math.floor(rand() * 500)}`, items[Math.floor(rand() * items.length)], t + 1, rand() < 0.2 ? 1 : 0]);
  write(dir, 'items.csv', csv([['id', 'cat'], ...items.map((id, i) => [id, `c${i % 7}`])]));
  write(dir, 'events.csv', csv(events));
  const { store: storeDir } = await buildStore(dir, { ...SPEC, events: { path: 'events.csv', columns: { user_id: 'u', item_id: 'i', ts: 'ts', clicked: 'c' } } }, { historyLength: 3 });
  const store = SampleStore.open(storeDir);
  // What the JSON store's maps were: id -> position in catalog.json's ids (items.csv order) and users.json (first event order).
  const jsonItems = new Map(items.map((id, i) => [id, i + 1]));
  const firstSeen: string[] = [];
  for (const [u] of events.slice(1)) if (!firstSeen.includes(String(u))) firstSeen.push(String(u));
  const jsonUsers = new Map(firstSeen.map((id, i) => [id, i + 1]));
  assert.equal(store.itemIndex.size, jsonItems.size);
  for (const [id, ix] of jsonItems) assert.equal(store.itemIndex.indexOf(id), ix, id);
  for (const [id, ix] of jsonUsers) assert.equal(store.userIndex.indexOf(id), ix, id);
  assert.deepEqual(store.catalog.ids, items);
  assert.deepEqual(store.users, firstSeen);
  for (const unknown of ['', 'it-', 'it-0 ', 'IT-1', 'user 500', '商品', items[0] + 'z']) {
    assert.equal(store.itemIndex.indexOf(unknown), 0, JSON.stringify(unknown));
    assert.equal(store.itemIndex.has(unknown), false);
  }
  assert.equal(store.userIndex.indexOf(items[0]), 0);
});
