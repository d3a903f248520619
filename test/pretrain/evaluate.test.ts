/**
 * The one retrieval evaluation of pre-training (src/pretrain/evaluate.ts): the candidate drawer
 * that SCL and co-click share, and the ranker with its random tie-break in expectation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RandomStream } from '../../src/engine/random.js';
import { drawCandidates, rankTargets, Scorer } from '../../src/pretrain/evaluate.js';

test('drawCandidates: the target first, then distinct random items, never the query item; seeded', () => {
  const targets = Int32Array.from([3, 0, 7, 7]), queries = Int32Array.from([4, 1, 6, 8]);
  const N = 6, items = 10;
  const c = drawCandidates(targets, items, N, new RandomStream(5).fork('t'), queries);
  for (let j = 0; j < targets.length; j++) {
    const row = Array.from(c.subarray(j * N, (j + 1) * N));
    assert.equal(row[0], targets[j]);
    assert.equal(new Set(row).size, N, `row ${j} distinct`);
    assert.ok(!row.includes(queries[j]), `row ${j} leaves out its query item`);
    assert.ok(row.every((x) => x >= 0 && x < items));
  }
  assert.deepEqual(drawCandidates(targets, items, N, new RandomStream(5).fork('t'), queries), c, 'same stream, same lists');
  assert.notDeepEqual(drawCandidates(targets, items, N, new RandomStream(6).fork('t'), queries), c);
  // Without queries the query item may be drawn; with them the catalogue must hold N + 1 items.
  assert.equal(drawCandidates(targets, items, items, new RandomStream(1)).length, targets.length * items);
  assert.throws(() => drawCandidates(targets, items, items, new RandomStream(1), queries), /needs 10 candidates besides the query but the catalogue has only 10 items/);
});

test('rankTargets: ties count in expectation (top-k = P(rank < k), MRR with rank = greater + ties / 2 + 1), per group', () => {
  const N = 5;
  const candidates = Int32Array.from([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  // Query 0: the target ties with three others and beats one. Query 1: two candidates beat it.
  const scores = [Float64Array.from([1, 1, 1, 1, 0]), Float64Array.from([0.5, 0.9, 0.7, 0.1, 0.5])];
  const scorer: Scorer = { name: 't', score: (j) => scores[j] };
  const f = rankTargets(scorer, 2, candidates, N, 2, ['all', 'second'], (j) => (j === 1 ? ['all', 'second'] : ['all']));
  // Query 0: top1 1/4, top2 2/4, mrr 1 / (0 + 3/2 + 1). Query 1: greater 2, one tie: top1 0, top2 0, mrr 1 / (2 + 1/2 + 1).
  assert.equal(f.all.n, 2);
  assert.ok(Math.abs(f.all.top1 - 0.25 / 2) < 1e-12);
  assert.ok(Math.abs(f.all.topK - 0.5 / 2) < 1e-12);
  assert.ok(Math.abs(f.all.mrr - (1 / 2.5 + 1 / 3.5) / 2) < 1e-12);
  assert.deepEqual(f.second, { n: 1, top1: 0, topK: 0, mrr: 1 / 3.5 });
  const none = rankTargets(scorer, 0, new Int32Array(0), N, 2, ['all'], () => ['all']);
  assert.equal(none.all.n, 0);
  assert.ok(Number.isNaN(none.all.top1), 'no query: NaN, not 0');
});
