/**
 * User attributes end to end: a users table in the dataset spec (bad rows reported with file,
 * line and field; users without a row get the reserved 'missing' value), joined on user id into
 * the store's user fields, embedded by a model whose config lists them, trained one epoch.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ExperimentConfig, ModelConfig } from '../../src/ctr/config.js';
import { featureSpaceOf } from '../../src/ctr/feature-space.js';
import { createModel } from '../../src/ctr/models/index.js';
import { openRun, trainRun } from '../../src/ctr/run.js';
import { SampleStore } from '../../src/data/store.js';
import { ConfigError } from '../../src/util/errors.js';
import { buildStore, csv, prng, tempDir, write } from '../data/helpers.js';

const USERS = 40, ITEMS = 20, SEGMENTS = ['young', 'family', 'senior'];

/** 40 users, 15 impressions each (clicks drawn by segment x item parity); the users table lacks users 35-39 and holds an empty id and a repeated id. */
async function built() {
  const dir = tempDir('mmctr-user-fields-');
  const rand = prng(7);
  const segment = (u: number) => SEGMENTS[u % 3];
  const events: (string | number)[][] = [['uid', 'iid', 'ts', 'clicked']];
  for (let t = 0; t < 15; t++)
    for (let u = 0; u < USERS; u++) {
      const i = Math.floor(rand() * ITEMS);
      const p = (u % 3 === 0) === (i % 2 === 0) ? 0.6 : 0.1;
      events.push([`u${u}`, `i${i}`, 1000 + t * USERS + u, rand() < p ? 1 : 0]);
    }
  write(dir, 'events.csv', csv(events));
  const users: (string | number)[][] = [['uid', 'segment', 'city']];
  for (let u = 0; u < 35; u++) users.push([`u${u}`, segment(u), `c${u % 2}`]);
  users.push(['', 'young', 'c0']); // line 37: no id
  users.push(['u3', 'senior', 'c1']); // line 38: u3 again
  write(dir, 'users.csv', csv(users));
  const spec = {
    name: 'users',
    events: { path: 'events.csv', columns: { user_id: 'uid', item_id: 'iid', ts: 'ts', clicked: 'clicked' } },
    users: { path: 'users.csv', columns: { user_id: 'uid' }, attributes: ['segment', 'city'] },
  };
  return { dir, ...(await buildStore(dir, spec, { historyLength: 5 })) };
}

test("a users table: bad rows named by file, line and field; users without a row get 'missing'; fields joined on user id", async () => {
  const { dir, store, report } = await built();
  const t = report.tables.users!;
  assert.equal(t.rows, 37);
  assert.equal(t.rowsUsed, 35);
  const file = path.join(dir, 'users.csv');
  assert.deepEqual(
    t.examples.map((p) => [p.file, p.line, p.field, p.message]),
    [
      [file, 37, 'uid', 'is empty: every user row needs an id'],
      [file, 38, 'uid', 'repeats an earlier user id (the first row is kept)'],
    ],
  );
  assert.ok(report.notes.some((n) => /^5 user ids in the events have no row in .*users\.csv: their user fields take the reserved 'missing' value$/.test(n)), report.notes.join(' | '));
  const s = SampleStore.open(store);
  const { segment } = s.userFields;
  assert.deepEqual(Object.keys(s.userFields).sort(), ['city', 'segment']);
  assert.equal(segment.index.length, s.users.length + 1);
  s.users.forEach((id, k) => {
    const u = Number(id.slice(1));
    const value = segment.index[k + 1];
    if (u >= 35) assert.equal(value, 0, `${id} has no row: 'missing'`);
    else assert.equal(segment.vocab[value - 1], SEGMENTS[u % 3], `${id}: the first row's segment (u3's repeat is dropped)`);
  });
});

test('a model lists user fields: their embedding tables exist, train one epoch and are used; an unknown field is an error', async () => {
  const { dir, store } = await built();
  const s = SampleStore.open(store);
  const model = { model: 'din' as const, embeddingDim: 4, attentionHidden: [8], mlpHidden: [8], userFields: ['segment'] };
  const config = ExperimentConfig.parse({ name: 'user-fields', data: { store }, model, train: { batchSize: 64, lr: 0.05, epochs: 1, seed: 3 } });
  const run = trainRun(config, s, path.join(dir, 'run'));
  assert.equal(run.fit.epochs.length, 1);
  const trained = openRun(run.dir).model.namedTables().get('features.user_segment');
  assert.ok(trained, 'the user field has its own table');
  assert.equal(trained.rows, SEGMENTS.length + 1, "one row per segment and the 'missing' row");
  const fresh = createModel(ModelConfig.parse(model), featureSpaceOf(s), 3).namedTables().get('features.user_segment')!;
  const moved = (row: number) => trained.weight.subarray(row * 4, row * 4 + 4).some((x, j) => x !== fresh.weight[row * 4 + j]);
  for (let v = 1; v <= SEGMENTS.length; v++) assert.ok(moved(v), `segment row ${v} was trained (the model reads it)`);
  assert.ok(moved(0), "the 'missing' row was trained too: users 35-39 have no row");
  assert.throws(
    () => createModel(ModelConfig.parse({ model: 'din', userFields: ['age'] }), featureSpaceOf(s), 1),
    (e: unknown) => e instanceof ConfigError && /'age' is not a user field of this data; it has: segment, city/.test(e.message),
  );
});
