import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { RandomStream } from '../../src/engine/random.js';
import { AnnIndex, EmbeddedIndex, IndexError, InProcessQueue, loadVectorsInto } from '../../src/index/index.js';
import { writeEmbeddings } from '../../src/pretrain/export.js';

const tmp = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-index-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
const vec = (...xs: number[]) => Float32Array.from(xs);
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) => Array.from(a).every((x, i) => Math.abs(x - b[i]) <= tol);

test('embedded index: stores normalised vectors, null for missing ids', async () => {
  const index = EmbeddedIndex.open({ file: null, dim: 3 });
  await index.putMany([{ id: 'a', vector: vec(3, 0, 4) }, { id: 'b', vector: vec(0, 2, 0) }]);
  const [a, missing, b] = await index.getMany(['a', 'nope', 'b']);
  assert.ok(close(a!, [0.6, 0, 0.8]));
  assert.equal(missing, null);
  assert.ok(close(b!, [0, 1, 0]));
  await index.putMany([{ id: 'a', vector: vec(1, 0, 0) }]);
  assert.ok(close((await index.getMany(['a']))[0]!, [1, 0, 0]), 'a put replaces the earlier vector');
  assert.equal(await index.size(), 2);
});

test('embedded index: bad vectors are errors that say what is wrong', async () => {
  const index = EmbeddedIndex.open({ file: null, dim: 3 });
  await assert.rejects(index.putMany([{ id: 'x', vector: vec(1, 2) }]), /"x": has 2 values, the index holds 3-d/);
  await assert.rejects(index.putMany([{ id: 'x', vector: vec(0, 0, 0) }]), /all zeros/);
  await assert.rejects(index.putMany([{ id: 'x', vector: vec(1, NaN, 0) }]), /value 1 is not a finite number/);
  assert.throws(() => EmbeddedIndex.open({ file: null }), IndexError);
});

test('embedded index: int8 storage round-trips within quantisation error', async () => {
  const index = EmbeddedIndex.open({ file: null, dim: 64, precision: 'int8' });
  const v = new RandomStream(3).normal(64);
  await index.putMany([{ id: 'q', vector: v }]);
  const back = (await index.getMany(['q']))[0]!;
  let dot = 0, n = 0;
  for (let i = 0; i < 64; i++) {
    dot += back[i] * v[i];
    n += v[i] * v[i];
  }
  assert.ok(dot / Math.sqrt(n) > 0.999, `cosine to the original ${dot / Math.sqrt(n)}`);
});

test('embedded index: the journal survives a crash; close folds it into the snapshot', async () => {
  const file = path.join(tmp(), 'index.safetensors');
  const first = EmbeddedIndex.open({ file, dim: 2 });
  await first.putMany([{ id: 'a', vector: vec(1, 0) }]);
  await first.flush();
  await first.putMany([{ id: 'b', vector: vec(0, 1) }]);
  // No close(): a crash. A half-written last line must not stop the replay.
  appendFileSync(`${file}.journal`, '{"id":"c","v":[0.');
  const reopened = EmbeddedIndex.open({ file, dim: 2 });
  assert.equal(await reopened.size(), 2);
  assert.ok(close((await reopened.getMany(['b']))[0]!, [0, 1]));
  await reopened.close();
  assert.equal(existsSync(`${file}.journal`), false, 'close() wrote a snapshot and dropped the journal');
  const again = EmbeddedIndex.open({ file });
  assert.equal(again.dim, 2);
  assert.deepEqual((await again.getMany(['a', 'b'])).map((v) => v !== null), [true, true]);
  assert.throws(() => EmbeddedIndex.open({ file, dim: 5 }), /holds 2-d vectors, 5 were asked for/);
});

test('embedded index: seeded from an `mmctr embed` file', async () => {
  const file = path.join(tmp(), 'e.safetensors');
  writeEmbeddings(file, ['x', 'y'], vec(1, 0, 0, 1), 2);
  const index = EmbeddedIndex.open({ file: null, dim: 2 });
  assert.equal(await loadVectorsInto(index, file), 2);
  assert.ok(close((await index.getMany(['y']))[0]!, [0, 1]));
});

test('ANN (hnswlib, cosine): finds the true nearest neighbours and follows updates', async () => {
  const index = EmbeddedIndex.open({ file: null, dim: 16 });
  const rng = new RandomStream(11);
  const items = Array.from({ length: 300 }, (_, i) => ({ id: `i${i}`, vector: rng.normal(16) }));
  await index.putMany(items);
  const ann = await AnnIndex.build(index);
  assert.equal(ann.size, 300);
  const query = (await index.getMany(['i7']))[0]!;
  // Exact neighbours by brute force.
  const exact = (await index.getMany(items.map((it) => it.id)))
    .map((v, i) => ({ id: items[i].id, score: v!.reduce((s, x, k) => s + x * query[k], 0) }))
    .filter((x) => x.id !== 'i7')
    .sort((a, b) => b.score - a.score)
    .slice(0, 5);
  const found = ann.nearest(query, 5, 'i7');
  assert.deepEqual(found.map((f) => f.id), exact.map((e) => e.id));
  assert.ok(Math.abs(found[0].score - exact[0].score) < 1e-4);
  ann.add('i8', query);
  assert.equal(ann.nearest(query, 1, 'i7')[0].id, 'i8', 'a replaced vector is found at its new place');
});

test('in-process queue: jobs are handled once, in order, with their final state', async () => {
  const queue = new InProcessQueue();
  const seen: string[] = [];
  const worker = queue.startWorker(async (jobs) => {
    seen.push(...jobs.map((j) => j.id));
    return jobs.filter((j) => j.id === 'bad').map((j) => ({ jobId: j.jobId, reason: 'no good' }));
  });
  const jobs = [];
  for (const id of ['a', 'bad', 'c']) jobs.push(await queue.submit({ id, title: id }));
  while ((await queue.depth()) > 0) await new Promise((r) => setImmediate(r));
  await worker.stop();
  assert.deepEqual(seen, ['a', 'bad', 'c']);
  assert.equal((await queue.status(jobs[0].jobId))?.state, 'done');
  assert.deepEqual(await queue.status(jobs[1].jobId), { state: 'failed', reason: 'no good' });
  assert.equal(await queue.status('nope'), null);
});
