import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DataError } from '../../src/data/errors.js';
import { SPLITS } from '../../src/data/sample-config.js';
import { SampleStore, SPLIT_COLUMNS, splitFile, STORE_FILES, storeFile, TRUTH_FILE } from '../../src/data/store.js';
import { buildStore, csv, tempDir, write } from './helpers.js';

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
  assert.equal(storeFile(store, 'users'), path.join(store, 'users.json'));
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
  assert.deepEqual([...store.itemIndex], [['x', 1], ['y', 2], ['z', 3]]);
  assert.deepEqual([...store.userIndex], [['a', 1], ['b', 2]]);
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
  rmSync(storeFile(store, 'users'));
  rmSync(splitFile(store, 'valid', 'freq'));
  const opened = SampleStore.open(store);
  assert.throws(() => opened.users, (e: unknown) => e instanceof DataError && /users\.json.*is missing/.test(e.message));
  assert.throws(() => opened.split('valid'), (e: unknown) => e instanceof DataError && e.message.includes(path.join('valid', 'freq.i32')) && /incomplete/.test(e.message));
  writeFileSync(splitFile(store, 'test', 'label'), Buffer.alloc(3));
  assert.throws(() => opened.split('test'), (e: unknown) => e instanceof DataError && /label\.f32.*not a whole number of 4-byte records/.test(e.message));
});
