/**
 * Bounded ID tables (model.embeddingTables): the index -> row maps (hashing, minimum training
 * count), the full mode unchanged, and a bounded model trained, reopened, served natively and
 * through ONNX on the demo store.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { noGrad } from '../../src/engine/autograd.js';
import { hashKey } from '../../src/engine/sparse-embedding.js';
import { SampleStore } from '../../src/data/store.js';
import { ExperimentConfig, ModelConfig } from '../../src/ctr/config.js';
import { featureSpaceOf } from '../../src/ctr/feature-space.js';
import { Din } from '../../src/ctr/models/din.js';
import { createModel } from '../../src/ctr/models/index.js';
import { countsOfValues, tableRows } from '../../src/ctr/parts/table-rows.js';
import { openRun, trainRun } from '../../src/ctr/run.js';
import { evaluateSplit } from '../../src/ctr/trainer.js';
import { loadServingModel } from '../../src/serve/model-state.js';
import { rankCandidates } from '../../src/serve/ranker.js';
import { ConfigError } from '../../src/util/errors.js';
import { demoStoreWithVectors } from './helpers.js';

const { dir, storeDir, ready } = demoStoreWithVectors('mmctr-table-rows-');
after(() => rmSync(dir, { recursive: true, force: true }));

const never = (): Int32Array => assert.fail('counts are read for minCount only');

test('hashBuckets: the same map for the same seed, another for another seed, every row in [1, n], collisions counted', () => {
  const a = tableRows('item', { hashBuckets: 50, seed: 0 }, 200, never)!;
  const b = tableRows('item', { hashBuckets: 50, seed: 0 }, 200, never)!;
  const c = tableRows('item', { hashBuckets: 50, seed: 7 }, 200, never)!;
  assert.deepEqual(a.remap, b.remap);
  assert.notDeepEqual(a.remap, c.remap);
  assert.equal(a.remap[0], 0, 'padding / unseen keeps row 0');
  for (let i = 1; i <= 200; i++) {
    assert.ok(a.remap[i] >= 1 && a.remap[i] <= 50);
    assert.equal(a.remap[i], hashKey(i, 50, 0));
  }
  // Collisions by brute force: ids whose bucket holds another id.
  let colliding = 0;
  for (let i = 1; i <= 200; i++) if (a.remap.some((r, j) => j >= 1 && j !== i && r === a.remap[i])) colliding++;
  assert.equal(a.summary.shared, colliding);
  assert.equal(a.summary.rows, 51);
  assert.ok(a.summary.shared > 150, `200 ids in 50 buckets: ${a.summary.shared} colliding`);
  assert.equal(tableRows('item', { hashBuckets: 1_000_000, seed: 0 }, 3, never)!.summary.shared, 0);
});

test('minCount: ids below the count (unseen ones too) read row 0, the others keep rows of their own in index order', () => {
  const counts = Int32Array.of(0, 5, 1, 0, 2, 9);
  const r = tableRows('item', { minCount: 2 }, 5, () => counts)!;
  assert.deepEqual([...r.remap], [0, 1, 0, 0, 2, 3]);
  assert.deepEqual(r.summary, { table: 'item', mode: 'minCount', n: 2, ids: 5, rows: 4, shared: 2 });
  assert.equal(tableRows('item', 'full', 5, never), null);
  // A field value's count sums its owners': items 1 and 2 are value 1, item 3 value 2.
  assert.deepEqual([...countsOfValues(Int32Array.of(0, 3, 4, 1), Int32Array.of(0, 1, 1, 2), 2)], [0, 7, 1]);
});

test('the config boundary: bad sizes and unknown tables are refused naming the field', () => {
  const parse = (embeddingTables: unknown) => ModelConfig.safeParse({ model: 'din', embeddingTables });
  const minOne = parse({ item: { minCount: 1 } });
  assert.ok(!minOne.success && JSON.stringify(minOne.error.issues).includes('embeddingTables'));
  assert.ok(!parse({ item: { hashBuckets: 0 } }).success);
  for (const bad of ['half', { hashBuckets: 10, minCount: 2 }, { buckets: 10 }]) {
    const r = parse({ item: bad });
    assert.ok(!r.success && r.error.issues.some((i) => i.path.join('.') === 'embeddingTables.item' && /give "full", \{"minCount": n\}/.test(i.message)), JSON.stringify(bad));
  }
  assert.deepEqual(ModelConfig.parse({ model: 'din' }).embeddingTables, {});
  const space = { items: 3, users: 2, itemFields: {}, historyLength: 2 };
  assert.throws(
    () => createModel(ModelConfig.parse({ model: 'din', itemFields: [], embeddingTables: { brand: { hashBuckets: 4 } } }), space, 1),
    (e: unknown) => e instanceof ConfigError && e.file === 'model.embeddingTables.brand' && /its tables are: item, user/.test(e.message),
  );
  assert.throws(() => createModel(ModelConfig.parse({ model: 'din', itemFields: [], embeddingTables: { item: { minCount: 2 } } }), space, 1), /minCount needs the training split/);
});

function config(name: string, model: Record<string, unknown>): ExperimentConfig {
  return ExperimentConfig.parse({
    name,
    data: { store: storeDir },
    model: { model: 'din', embeddingDim: 8, mlpHidden: [16], attentionHidden: [8, 4], ...model },
    train: { batchSize: 128, lr: 0.01, epochs: 1, seed: 3 },
  });
}

test("'full' everywhere is today's model: the same tables and the same trained metrics as no embeddingTables", async () => {
  await ready();
  const store = SampleStore.open(storeDir);
  const a = trainRun(config('none', {}), store, path.join(dir, 'full-none'));
  const b = trainRun(config('full', { embeddingTables: { item: 'full', user: 'full', category: 'full' } }), store, path.join(dir, 'full-explicit'));
  assert.deepEqual(a.test, b.test);
  const model = openRun(a.dir).model as Din;
  assert.equal(model.features.itemTable.rows, store.meta.items + 1);
  assert.equal(model.features.userTable!.rows, store.meta.users + 1);
  assert.equal(model.features.itemRows, null);
  assert.equal(model.features.tableRows.length, 0);
  assert.equal(JSON.parse(readFileSync(path.join(a.dir, 'metrics.json'), 'utf8')).tables, undefined);
});

test('a rare item reads the OOV row (row 0, as an unseen id), a frequent one keeps its own', async () => {
  await ready();
  const store = SampleStore.open(storeDir);
  const { items, users } = store.trainingCounts();
  const sum = (a: Int32Array) => a.reduce((x, y) => x + y, 0);
  assert.equal(sum(items), store.meta.splits.train.count);
  assert.equal(sum(users), store.meta.splits.train.count);
  assert.equal(items[0], 0, 'no training sample has the padding item');
  const minCount = 30;
  const rare = items.findIndex((c, i) => i > 0 && c > 0 && c < minCount);
  const frequent = items.findIndex((c, i) => i > 0 && c >= minCount);
  assert.ok(rare > 0 && frequent > 0, 'the demo store has rare and frequent items');
  const model = createModel(config('oov', { itemFields: [], embeddingTables: { item: { minCount } } }).model, featureSpaceOf(store), 1) as Din;
  const f = model.features;
  assert.equal(f.itemRows![rare], 0);
  assert.ok(f.itemRows![frequent] > 0);
  const kept = items.filter((c, i) => i > 0 && c >= minCount).length;
  assert.equal(f.itemTable.rows, kept + 1);
  const rows = noGrad(() => f.embedItems(Int32Array.of(rare, 0, frequent), [3])).data;
  const d = f.itemDim;
  assert.deepEqual(rows.subarray(0, d), rows.subarray(d, 2 * d));
  assert.notDeepEqual(rows.subarray(0, d), rows.subarray(2 * d, 3 * d));
});

test('a bounded model trains, reopens to the same mapping, and serves the same natively and through ONNX', async () => {
  await ready();
  const store = SampleStore.open(storeDir);
  const tables = { item: { minCount: 30 }, user: { hashBuckets: 40, seed: 2 } };
  const r = trainRun({ ...config('bounded', { itemFields: [], embeddingTables: tables }), train: { ...config('x', {}).train, epochs: 3 } }, store, path.join(dir, 'bounded'));
  assert.ok(r.test.overall.auc > 0.55, `test AUC ${r.test.overall.auc}`);
  const metrics = JSON.parse(readFileSync(path.join(r.dir, 'metrics.json'), 'utf8'));
  assert.deepEqual(metrics.tables.map((t: { table: string; mode: string }) => [t.table, t.mode]), [['item', 'minCount'], ['user', 'hashBuckets']]);
  const userTable = metrics.tables[1];
  assert.equal(userTable.rows, 41);
  assert.ok(userTable.shared > 0 && userTable.shared <= store.meta.users);
  const log = readFileSync(path.join(r.dir, 'log.txt'), 'utf8');
  assert.match(log, new RegExp(`embedding table user: hashBuckets 40 for ${store.meta.users} ids; ${userTable.shared} ids collide`));
  assert.match(log, /embedding table item: minCount 30, \d+ rows for \d+ ids; \d+ ids with fewer than 30 training samples share row 0/);

  const reopened = openRun(r.dir);
  assert.deepEqual(evaluateSplit(reopened.model, reopened.store, 'test'), r.test);

  const { items } = store.trainingCounts();
  const ids = store.catalog.ids;
  const rare = ids[items.findIndex((c, i) => i > 0 && c > 0 && c < 30) - 1];
  const frequent = ids.filter((_, i) => items[i + 1] >= 30).slice(0, 3);
  const input = { behaviours: ids.slice(0, 6), candidates: [rare, 'never-seen-ad', ...frequent], userId: store.users[4] };
  const native = await rankCandidates(await loadServingModel(r.dir, 1), input, [], [], 0);
  const onnx = await rankCandidates(await loadServingModel(r.dir, 2, { kind: 'onnx', threads: 1 }), input, [], [], 0);
  const pctr = (out: typeof native, id: string) => out.items.find((x) => x.id === id)!.pctr;
  // A rare candidate and one the store never saw read the same row, so (no item fields) the same score.
  assert.equal(pctr(native, rare), pctr(native, 'never-seen-ad'));
  assert.notEqual(pctr(native, rare), pctr(native, frequent[0]));
  for (const id of input.candidates) assert.ok(Math.abs(pctr(native, id) - pctr(onnx, id)) <= 1e-5, `${id}: native ${pctr(native, id)}, ONNX ${pctr(onnx, id)}`);
});
