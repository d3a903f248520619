import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auc, bucketOf, evaluatePredictions, gauc, logloss } from '../../src/ctr/metrics.js';

test('AUC counts every (positive, negative) pair, ties as one half', () => {
  // Pairs (pos, neg): (0.8,0.1)=1 (0.8,0.4)=1 (0.4,0.1)=1 (0.4,0.4)=0.5 -> 3.5 / 4.
  assert.equal(auc([0.8, 0.1, 0.4, 0.4], [1, 0, 1, 0]), 3.5 / 4);
  assert.equal(auc([0.9, 0.2], [1, 0]), 1);
  assert.equal(auc([0.2, 0.9], [1, 0]), 0);
  assert.equal(auc([0.5, 0.5, 0.5], [1, 0, 0]), 0.5);
  assert.ok(Number.isNaN(auc([0.3, 0.6], [1, 1])), 'single-class input has no AUC');
});

test('AUC matches a brute-force pair count on random scores with many ties', () => {
  let seed = 3;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const scores = Array.from({ length: 300 }, () => Math.round(rand() * 10) / 10);
  const labels = Array.from({ length: 300 }, () => (rand() < 0.3 ? 1 : 0));
  let num = 0, den = 0;
  for (let i = 0; i < 300; i++)
    for (let j = 0; j < 300; j++)
      if (labels[i] === 1 && labels[j] === 0) {
        den++;
        num += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
  assert.ok(Math.abs(auc(scores, labels) - num / den) < 1e-12);
});

test('GAUC weights per-user AUC by impressions and skips single-class users', () => {
  // user 1: 4 impressions, AUC 1; user 2: 2 impressions, AUC 0; user 3: all clicks (skipped).
  const scores = [0.9, 0.3, 0.5, 0.1, 0.2, 0.8, 0.7, 0.6];
  const labels = [1, 0, 1, 0, 1, 0, 1, 1];
  const users = [1, 1, 1, 1, 2, 2, 3, 3];
  const u1 = auc([0.9, 0.3, 0.5, 0.1], [1, 0, 1, 0]);
  const u2 = auc([0.2, 0.8], [1, 0]);
  const g = gauc(scores, labels, users);
  assert.equal(g.users, 2);
  assert.ok(Math.abs(g.gauc - (4 * u1 + 2 * u2) / 6) < 1e-12);
  assert.equal(u1, 1);
  assert.equal(u2, 0);
});

test('logloss is the mean binary cross-entropy, clipped away from 0 and 1', () => {
  const ll = logloss([0.8, 0.25], [1, 0]);
  assert.ok(Math.abs(ll - -(Math.log(0.8) + Math.log(0.75)) / 2) < 1e-12);
  assert.ok(Number.isFinite(logloss([0, 1], [1, 0])), 'clipping keeps certain mistakes finite');
});

test('frequency buckets and the breakdown cover every sample once', () => {
  assert.deepEqual([0, 1, 10, 11, 100, 101].map((f) => bucketOf(f, 10, 100)), ['new', 'rare', 'rare', 'mid', 'mid', 'head']);
  const e = evaluatePredictions([0.9, 0.1, 0.6, 0.4, 0.7, 0.2], [1, 0, 1, 0, 1, 0], [1, 1, 2, 2, 3, 3], [0, 0, 5, 5, 500, 500], { rareMax: 10, midMax: 100 });
  assert.equal(e.overall.count, 6);
  assert.equal(e.buckets.new.count + e.buckets.rare.count + e.buckets.mid.count + e.buckets.head.count, 6);
  assert.equal(e.buckets.new.auc, 1);
  assert.equal(e.buckets.mid.count, 0);
  assert.ok(Number.isNaN(e.buckets.mid.auc));
});
