import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateInSession, Scorer } from '../../src/pretrain/evaluate.js';
import { minePairs, Pair, SearchRecord } from '../../src/pretrain/pairs.js';
import { filterHard } from '../../src/pretrain/train.js';

const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
const s = (id: string, ts: number, extra: Partial<SearchRecord>): SearchRecord => ({ id, ts, queryText: null, queryItem: null, shown: [], clicked: [], bought: null, ...extra });

test('pair mining keeps the other shown items (clicked or not) for in-session evaluation', () => {
  const m = minePairs(
    [
      s('s1', 10, { queryText: 'red shirt', shown: ['a', 'b', 'c', 'd'], clicked: ['a', 'b'], bought: 'b' }),
      s('s2', 20, { queryItem: 'e', shown: ['e', 'f', 'a'], clicked: ['f'], bought: 'f' }),
    ],
    ids,
    { heldOutShare: 0.5 },
  );
  const all = [...m.train, ...m.heldOut];
  const p1 = all.find((p) => p.search === 's1')!;
  assert.deepEqual(p1.shown!.map((i) => ids[i]).sort(), ['a', 'c', 'd']);
  const p2 = all.find((p) => p.search === 's2')!;
  // Neither the bought item nor the photo query's own item is a candidate.
  assert.deepEqual(p2.shown!.map((i) => ids[i]), ['a']);
});

test('in-session retrieval: the bought item among the shown ones, random tie-break, pairs without others skipped', () => {
  const pair = (pos: number, shown: number[]): Pair => ({ search: '', ts: 0, kind: 'text', text: 'q', queryItem: -1, pos, hard: [], shown });
  const pairs = [pair(0, [1, 2]), pair(3, [4]), pair(5, [])];
  // Scores by item index: item 0 wins its session, item 3 loses to 4.
  const byIndex: Scorer = { name: 'idx', score: (_j, c) => Float32Array.from(c, (i) => (i === 0 ? 10 : i)) };
  const r = evaluateInSession(byIndex, pairs);
  assert.equal(r.n, 2);
  assert.equal(r.top1, 0.5);
  assert.equal(r.candidates, 2.5);
  const flat: Scorer = { name: 'flat', score: (_j, c) => new Float32Array(c.length) };
  assert.ok(Math.abs(evaluateInSession(flat, pairs).top1 - (1 / 3 + 1 / 2) / 2) < 1e-12);
});

test('hard-negative filter: drops negatives too close to the positive, optional dissimilarity weights', () => {
  assert.deepEqual(filterHard([0.1, 0.95, 0.5], 1, 'uniform'), { keep: [0, 1, 2], weights: undefined });
  const f = filterHard([0.1, 0.95, 0.5], 0.9, 'dissimilar');
  assert.deepEqual(f.keep, [0, 2]);
  assert.deepEqual(Array.from(f.weights!), [Math.fround(0.45), Math.fround(0.25)]);
});
