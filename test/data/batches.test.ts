import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batch } from '../../src/data/batches.js';
import { SampleStore } from '../../src/data/store.js';
import { RandomStream } from '../../src/engine/random.js';
import { buildStore, csv, prng, tempDir, write } from './helpers.js';

/** A store with n training samples (split 100 / 0 / 0), histories of length 3. */
async function store(n: number): Promise<string> {
  const dir = tempDir();
  const rnd = prng(7);
  const rows: (string | number)[][] = [['user_id', 'item_id', 'ts', 'clicked']];
  for (let i = 0; i < n; i++) rows.push([`u${Math.floor(rnd() * 20)}`, `i${Math.floor(rnd() * 50)}`, i, rnd() < 0.5 ? 1 : 0]);
  write(dir, 'events.csv', csv(rows));
  const { store } = await buildStore(dir, { name: 'b', events: { path: 'events.csv', columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', clicked: 'clicked' } } }, {
    historyLength: 3,
    split: { kind: 'time', validStart: n + 1, testStart: n + 2 },
  });
  return store;
}

/** Record i of a batch as one comparable line. */
function record(b: Batch, i: number, L: number): string {
  return [b.index[i], b.user[i], b.item[i], b.label[i], b.ts[i], b.histLen[i], b.freq[i], b.isNew[i], ...b.hist.subarray(i * L, (i + 1) * L)].join(' ');
}

test('batches in file order: every record once, in order, full batches then the remainder', async () => {
  const reader = SampleStore.open(await store(1000)).split('train');
  try {
    assert.equal(reader.count, 1000);
    const all = reader.readRange(0, reader.count);
    const L = reader.historyLength;
    const sizes: number[] = [];
    let at = 0;
    for (const b of reader.batches({ batchSize: 128 })) {
      sizes.push(b.size);
      assert.equal(b.hist.length, b.size * L);
      for (let i = 0; i < b.size; i++, at++) assert.equal(record(b, i, L), record(all, at, L));
    }
    assert.deepEqual(sizes, [128, 128, 128, 128, 128, 128, 128, 104]);
    assert.ok(all.histLen.some((h) => h === 3), 'histories are filled');
  } finally {
    reader.close();
  }
});

test('shuffled batches: a permutation of the records, each intact; deterministic per seed; streamed window by window', async () => {
  const reader = SampleStore.open(await store(1000)).split('train');
  try {
    const all = reader.readRange(0, reader.count);
    const L = reader.historyLength;
    const epoch = (seed: number) => [...reader.batches({ batchSize: 50, shuffle: new RandomStream(seed), blockSize: 64, windowBlocks: 3 })];
    const batches = epoch(11);
    const order = batches.flatMap((b) => Array.from(b.index));
    assert.equal(order.length, 1000);
    assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i), 'a permutation');
    assert.notDeepEqual(order, Array.from({ length: 1000 }, (_, i) => i), 'not the file order');
    for (const b of batches) for (let i = 0; i < b.size; i++) assert.equal(record(b, i, L), record(all, b.index[i], L), 'record fields stay together');
    assert.ok(batches.slice(0, -1).every((b) => b.size === 50), 'full batches until the last');
    assert.deepEqual(epoch(11).flatMap((b) => Array.from(b.index)), order, 'same seed, same order');
    assert.notDeepEqual(epoch(12).flatMap((b) => Array.from(b.index)), order, 'another seed, another order');
    // Streaming: a window of 3 blocks (192 records) gives the first 3 batches, so they draw from
    // those 3 blocks only, never from the whole split (later ones add a carry of < 50 records).
    const blocks = new Set(batches.slice(0, 3).flatMap((b) => Array.from(b.index, (i) => Math.floor(i / 64))));
    assert.equal(blocks.size, 3, `the first window's batches span blocks ${[...blocks].join(', ')}`);
  } finally {
    reader.close();
  }
});

test('an empty split yields no batches, shuffled or not', async () => {
  const reader = SampleStore.open(await store(30)).split('valid');
  try {
    assert.equal(reader.count, 0);
    assert.deepEqual([...reader.batches({ batchSize: 8 })], []);
    assert.deepEqual([...reader.batches({ batchSize: 8, shuffle: new RandomStream(1) })], []);
  } finally {
    reader.close();
  }
});
