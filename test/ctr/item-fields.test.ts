import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelConfig } from '../../src/ctr/config.js';
import { featureSpaceOf } from '../../src/ctr/feature-space.js';
import { createModel } from '../../src/ctr/models/index.js';
import { SampleStore } from '../../src/data/store.js';
import { ConfigError } from '../../src/util/errors.js';
import { buildStore, csv, tempDir, write } from '../data/helpers.js';

async function store(): Promise<string> {
  const dir = tempDir();
  write(dir, 'items.csv', csv([['id', 'cat', 'colour', 'kind'], ['x', 'c1', 'red', 'shirt'], ['y', 'c1', 'blue', 'shirt'], ['z', 'c2', 'red', '']]));
  write(dir, 'events.csv', csv([['u', 'i', 'ts', 'c'], ['a', 'x', 1, 1], ['a', 'y', 2, 0], ['b', 'z', 3, 1], ['b', 'x', 4, 0]]));
  const spec = {
    name: 'fields',
    items: { path: 'items.csv', columns: { item_id: 'id', category: 'cat' }, attributes: ['colour', 'kind'] },
    events: { path: 'events.csv', columns: { user_id: 'u', item_id: 'i', ts: 'ts', clicked: 'c' } },
  };
  return (await buildStore(dir, spec, { historyLength: 3 })).store;
}

test('listed attributes become catalogue fields by name (index 0 = unknown)', async () => {
  const catalog = SampleStore.open(await store()).catalog;
  assert.deepEqual(catalog.fields.colour, { vocab: ['red', 'blue'], index: Int32Array.from([0, 1, 2, 1]) });
  assert.deepEqual(catalog.fields.kind, { vocab: ['shirt'], index: Int32Array.from([0, 1, 1, 0]) });
  assert.deepEqual(catalog.fields.category.vocab, ['c1', 'c2']);
  const space = featureSpaceOf(SampleStore.open(await store()));
  assert.deepEqual(Object.keys(space.itemFields).sort(), ['category', 'colour', 'kind']);
});

test('a model embeds any listed attribute; an unknown attribute is an error, a missing canonical field is skipped', async () => {
  const dir = await store();
  const space = featureSpaceOf(SampleStore.open(dir));
  const model = createModel(ModelConfig.parse({ model: 'din', embeddingDim: 4, itemFields: ['category', 'colour', 'kind', 'brand'] }), space, 1);
  const tables = [...model.namedTables().keys()].sort();
  assert.deepEqual(tables, ['features.attr_colour', 'features.attr_kind', 'features.category', 'features.item', 'features.user']);
  assert.throws(() => createModel(ModelConfig.parse({ model: 'din', itemFields: ['size'] }), space, 1), (e: unknown) => e instanceof ConfigError && /'size' is not an item field.*category, colour, kind/.test(e.message));
  assert.throws(() => ModelConfig.parse({ model: 'din', itemFields: ['colour', 'colour'] }));
});

test('an attribute may not take the name of a canonical item field', async () => {
  const { parseDatasetSpec } = await import('../../src/data/spec.js');
  assert.throws(
    () => parseDatasetSpec({ name: 'x', items: { path: 'i.csv', columns: { item_id: 'id' }, attributes: ['brand'] }, events: { path: 'e.csv', columns: { user_id: 'u', item_id: 'i', ts: 't' } } }, 'spec.json', '/tmp'),
    /attributes.*canonical item field/s,
  );
});
