import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { evaluatePredictions } from '../../src/ctr/metrics.js';
import { SampleStore, TRUTH_FILE } from '../../src/data/store.js';
import { existsSync } from 'node:fs';
import { buildStore, csv, ingestOnly, tempDir, write } from './helpers.js';

const SPEC = {
  name: 'truth',
  events: { path: 'events.csv', columns: { user_id: 'u', item_id: 'i', ts: 'ts', clicked: 'c', p_true: 'p' } },
};
const ROWS: (string | number)[][] = [
  ['u', 'i', 'ts', 'c', 'p'],
  ['a', 'x', 1, 1, 0.9],
  ['a', 'y', 2, 0, 0.1],
  ['b', 'x', 3, 0, 1.5],
  ['b', 'y', 4, 1, 'abc'],
  ['a', 'x', 5, 0, ''],
  ['b', 'x', 6, 1, 0.75],
  ['a', 'y', 7, 0, 0],
  ['b', 'y', 8, 1, 1],
];

test('p_true is read as a probability: anything else is a warning and left empty, never a dropped row', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', csv(ROWS));
  const report = await ingestOnly(dir, SPEC);
  assert.equal(report.tables.events.rowsDropped, 0);
  assert.deepEqual(report.tables.events.problemCounts, { 'p: is not a probability in [0, 1]; left empty': 2 });
  const lines = report.tables.events.examples.map((p) => [p.line, p.value, p.severity]);
  assert.deepEqual(lines, [[4, '1.5', 'warning'], [5, 'abc', 'warning']]);
});

test('the store keeps p_true in its own file beside the samples (NaN where unknown)', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', csv(ROWS));
  const { store, meta } = await buildStore(dir, SPEC, { split: { kind: 'fraction', train: 0.5, valid: 0.25 } });
  assert.equal(meta.truth, true);
  const all = [...SampleStore.open(store).truth('train')!, ...SampleStore.open(store).truth('valid')!, ...SampleStore.open(store).truth('test')!];
  assert.deepEqual(all.map((p) => (Number.isNaN(p) ? null : +p.toFixed(4))), [0.9, 0.1, null, null, null, 0.75, 0, 1]);
  // A partial answer key gives no oracle metrics; a whole one does.
  const labels = [1, 0, 0, 1];
  assert.equal(evaluatePredictions([0.5, 0.4, 0.3, 0.2], labels, [1, 1, 1, 1], [1, 1, 1, 1], { rareMax: 10, midMax: 100 }, [0.9, Number.NaN, 0.1, 0.8]).oracle, undefined);
  const e = evaluatePredictions([0.5, 0.4, 0.3, 0.2], labels, [1, 1, 1, 1], [1, 1, 1, 1], { rareMax: 10, midMax: 100 }, [0.9, 0.1, 0.2, 0.8]);
  assert.equal(e.oracle?.overall.auc, 1);
  assert.equal(e.overall.auc, 0.5);
});

test('a store of data without p_true has no truth file and no oracle', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', csv(ROWS.map((r) => r.slice(0, 4))));
  const spec = { ...SPEC, events: { ...SPEC.events, columns: { user_id: 'u', item_id: 'i', ts: 'ts', clicked: 'c' } } };
  const { store } = await buildStore(dir, spec, {});
  assert.equal(SampleStore.open(store).meta.truth, false);
  assert.equal(existsSync(path.join(store, 'train', TRUTH_FILE)), false);
  assert.equal(SampleStore.open(store).truth('test'), null);
});
