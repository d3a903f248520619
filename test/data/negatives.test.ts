import assert from 'node:assert/strict';
import { test } from 'node:test';
import { samplePlan } from '../../src/data/samples.js';
import { SampleConfig } from '../../src/data/sample-config.js';
import { samplingNote, SampleStore } from '../../src/data/store.js';
import { buildStore, csv, ingestSpec, prng, readSamples, tempDir, write } from './helpers.js';

/** A purchase log: 6 users, items i0..i9 created at 0, 100, ..., 900 (catalogue order), purchases from t = 1000. */
function purchaseLog(dir: string, withCreated = true) {
  const rnd = prng(11);
  write(dir, 'items.csv', csv([['item_id', 'created'], ...Array.from({ length: 10 }, (_, i) => [`i${i}`, withCreated ? i * 100 : ''])]));
  const rows: (string | number)[][] = [['user', 'item', 'ts', 'kind']];
  for (let t = 0; t < 60; t++) rows.push([`u${Math.floor(rnd() * 6)}`, `i${Math.floor(rnd() * rnd() * 10)}`, 1000 + 10 * t, 'buy']);
  write(dir, 'events.csv', csv(rows));
  return {
    name: 'shop',
    items: { path: 'items.csv', columns: { item_id: 'item_id', created_at: 'created' }, timeUnit: 's' },
    events: { path: 'events.csv', columns: { user_id: 'user', item_id: 'item', ts: 'ts', type: 'kind' }, typeValues: { buy: 'purchase' }, label: { eventType: 'purchase' } },
  };
}

test('a purchase log without impressions: each positive is followed by k sampled negatives of the same user, time and history, never its own item', async () => {
  const dir = tempDir();
  const spec = purchaseLog(dir);
  const { store, meta } = await buildStore(dir, spec, { negatives: { perPositive: 3 } });
  assert.deepEqual(meta.sampling, { kind: 'negatives', positiveType: 'purchase', perPositive: 3, sampler: 'uniform', seed: 1, positives: 60, short: 0 });
  const { rows } = readSamples(store);
  assert.equal(rows.length, 60 * 4);
  // The split cuts positives 48/6/6: a positive and its negatives stay together.
  assert.deepEqual([meta.splits.train.count, meta.splits.valid.count, meta.splits.test.count], [48 * 4, 6 * 4, 6 * 4]);
  assert.deepEqual([meta.splits.train.clicks, meta.splits.valid.clicks, meta.splits.test.clicks], [48, 6, 6]);
  const drawn = new Set<string>();
  for (let p = 0; p < rows.length; p += 4) {
    const [pos, ...neg] = rows.slice(p, p + 4);
    assert.equal(pos.label, 1);
    for (const n of neg) {
      assert.equal(n.label, 0);
      assert.deepEqual([n.user, n.ts, n.hist, n.split], [pos.user, pos.ts, pos.hist, pos.split]);
      assert.notEqual(n.item, pos.item);
      drawn.add(n.item);
    }
  }
  assert.ok(drawn.size >= 8, `negatives cover the catalogue: ${[...drawn].join(' ')}`);
  // Purchases feed the history (the positive type's default).
  assert.ok(rows.some((r) => r.hist.length > 0));
  // Seeded: the same store again; another seed draws other negatives.
  const again = await buildStore(dir, spec, { negatives: { perPositive: 3 } }, 'again');
  assert.deepEqual(readSamples(again.store).rows, rows);
  const other = await buildStore(dir, spec, { negatives: { perPositive: 3, seed: 2 } }, 'other');
  assert.notDeepEqual(readSamples(other.store).rows.map((r) => r.item), rows.map((r) => r.item));
  assert.match(samplingNote(SampleStore.open(store).meta)!, /^evaluation on sampled candidates: each purchase is a positive scored against 3 negatives drawn uniformly from the items live at its time/);
});

test('negatives come only from items live at the time: created by then, or seen in the log by then', async () => {
  const dir = tempDir();
  write(dir, 'items.csv', csv([['item_id', 'created'], ['old', 0], ['late', 5000], ['never', '']]));
  write(dir, 'events.csv', csv([['user', 'item', 'ts'], ['u', 'old', 1000], ['u', 'seen', 1500], ['u', 'old', 2000], ['u', 'old', 6000]]));
  const spec = { name: 'live', items: { path: 'items.csv', columns: { item_id: 'item_id', created_at: 'created' }, timeUnit: 's' }, events: { path: 'events.csv', columns: { user_id: 'user', item_id: 'item', ts: 'ts' }, defaultType: 'click' } };
  const { store, meta } = await buildStore(dir, spec, { negatives: { perPositive: 5 } });
  const rows = readSamples(store).rows.map((r) => `${r.ts} ${r.item} ${r.label}`);
  // t=1000: only 'old' is live, its own item: no negative (counted as short).
  assert.equal(meta.sampling && meta.sampling.kind === 'negatives' && meta.sampling.short, 1);
  assert.deepEqual(rows.filter((r) => r.startsWith('1000 ')), ['1000 old 1']);
  // t=2000: 'seen' (first seen at 1500) is the only other live item; t=6000: 'seen' or 'late'; 'never' never.
  assert.deepEqual(rows.filter((r) => r.startsWith('2000 ') && r.endsWith(' 0')), Array(5).fill('2000 seen 0'));
  const late = rows.filter((r) => r.startsWith('6000 ') && r.endsWith(' 0')).map((r) => r.split(' ')[1]);
  assert.equal(late.length, 5);
  assert.ok(late.every((i) => i === 'seen' || i === 'late'));
  assert.ok(!rows.some((r) => r.includes('never')));
});

test('popularity negatives follow the positives so far', async () => {
  const dir = tempDir();
  const spec = purchaseLog(dir);
  const uniform = await buildStore(dir, spec, { negatives: { perPositive: 8 } }, 'uniform');
  const popular = await buildStore(dir, spec, { negatives: { perPositive: 8, sampler: 'popularity' } }, 'popular');
  const share = (store: string, item: string) => {
    const neg = readSamples(store).rows.filter((r) => r.label === 0);
    return neg.filter((r) => r.item === item).length / neg.length;
  };
  // i0 is the most bought item (rnd() * rnd() skews low): far more often a popularity negative.
  assert.ok(share(popular.store, 'i9') < share(uniform.store, 'i9'));
  assert.ok(share(popular.store, 'i0') > 1.5 * share(uniform.store, 'i0'), `${share(popular.store, 'i0')} vs ${share(uniform.store, 'i0')}`);
});

test('data build plan: impressions, negatives for a positives-only log, or nothing', async () => {
  const dir = tempDir();
  const spec = purchaseLog(dir);
  const { duck } = await ingestSpec(dir, spec);
  try {
    assert.deepEqual(await samplePlan(duck, SampleConfig.parse({ negatives: { sampler: 'popularity' } })), { kind: 'negatives', positiveType: 'purchase', perPositive: 4, sampler: 'popularity', seed: 1 });
  } finally {
    duck.close();
  }
  const clicks = await ingestSpec(dir, { ...spec, events: { ...spec.events, label: undefined } });
  try {
    assert.equal((await samplePlan(clicks.duck, SampleConfig.parse({}))).kind, 'none');
  } finally {
    clicks.duck.close();
  }
});
