import { test } from 'node:test';
import assert from 'node:assert/strict';
import { minePairs, SearchRecord } from '../../src/pretrain/pairs.js';

const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
const s = (id: string, ts: number, extra: Partial<SearchRecord>): SearchRecord => ({ id, ts, queryText: null, queryItem: null, shown: [], clicked: [], bought: null, ...extra });

test('pair mining: bought item is the positive, clicked-not-bought are hard negatives, no co-click pairs', () => {
  const searches = [
    s('s1', 10, { queryText: 'red shirt', shown: ['a', 'b', 'c', 'd'], clicked: ['a', 'b', 'c'], bought: 'b' }),
    // Clicks but no purchase: no pair at all (no co-click pair between a and c).
    s('s2', 20, { queryText: 'blue jeans', shown: ['a', 'c'], clicked: ['a', 'c'], bought: null }),
    s('s3', 30, { queryItem: 'e', shown: ['d', 'f'], clicked: ['d', 'f'], bought: 'f' }),
    s('s4', 40, { queryText: 'x', shown: ['a'], clicked: ['a'], bought: 'a' }),
    s('s5', 50, { queryText: 'y', shown: ['b', 'c'], clicked: ['c'], bought: 'b' }),
  ];
  const m = minePairs(searches, ids, { heldOutShare: 0.4 });
  const all = [...m.train, ...m.heldOut];
  assert.equal(all.length, 4);
  const p1 = all.find((p) => p.search === 's1')!;
  assert.equal(p1.kind, 'text');
  assert.equal(p1.text, 'red shirt');
  assert.equal(ids[p1.pos], 'b');
  assert.deepEqual(p1.hard.map((h) => ids[h]).sort(), ['a', 'c']);
  // Shown but not clicked (d) is not a hard negative.
  assert.ok(!p1.hard.includes(ids.indexOf('d')));
  const p3 = all.find((p) => p.search === 's3')!;
  assert.equal(p3.kind, 'image');
  assert.equal(ids[p3.queryItem], 'e');
  assert.equal(ids[p3.pos], 'f');
  assert.deepEqual(p3.hard.map((h) => ids[h]), ['d']);
  // Every pair's positive is a bought item; no pair comes from s2 (co-clicks only).
  for (const p of all) assert.equal(ids[p.pos], searches.find((x) => x.id === p.search)!.bought);
  assert.ok(!all.some((p) => p.search === 's2'));
  assert.equal(m.stats.withPurchase, 4);
});

test('pair mining: held-out split is by time (the latest searches), whatever the input order', () => {
  const searches = Array.from({ length: 10 }, (_, k) => s(`s${k}`, 100 * (10 - k), { queryText: `q${k}`, shown: ['a'], clicked: ['a'], bought: 'a' }));
  const m = minePairs(searches, ids, { heldOutShare: 0.3 });
  assert.equal(m.heldOut.length, 3);
  assert.equal(m.train.length, 7);
  const maxTrain = Math.max(...m.train.map((p) => p.ts));
  const minHeld = Math.min(...m.heldOut.map((p) => p.ts));
  assert.ok(maxTrain < minHeld, `train ends at ${maxTrain}, held-out starts at ${minHeld}`);
  assert.ok(m.heldOut.every((p) => p.ts >= m.cutoffTs) && m.train.every((p) => p.ts < m.cutoffTs));
});

test('pair mining: unknown items and self-photo queries are skipped and counted', () => {
  const m = minePairs(
    [s('s1', 1, { queryText: 'q', bought: 'zzz', shown: ['zzz'] }), s('s2', 2, { queryItem: 'a', bought: 'a', shown: ['a'] }), s('s3', 3, { queryText: 'ok', bought: 'a', clicked: ['a', 'nope'], shown: ['a'] })],
    ids,
    { heldOutShare: 0.5 },
  );
  assert.equal(m.train.length + m.heldOut.length, 1);
  assert.equal(m.stats.skipped['bought item not in catalogue'], 1);
  assert.equal(m.stats.skipped['photo query is the bought item'], 1);
  assert.throws(() => minePairs([], ids, { heldOutShare: 1 }), /heldOutShare/);
});
