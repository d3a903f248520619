import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { RandomStream } from '../../src/engine/random.js';
import { AnnIndex, EmbeddedIndex, IndexError, InProcessQueue, loadVectorsInto, normalized } from '../../src/index/index.js';
import { writeEmbeddings } from '../../src/encoders/vector-file.js';

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
  assert.equal(statSync(`${file}.journal`).size, 0, 'close() wrote a snapshot and emptied the journal');
  const again = EmbeddedIndex.open({ file });
  assert.equal(again.dim, 2);
  assert.deepEqual((await again.getMany(['a', 'b'])).map((v) => v !== null), [true, true]);
  assert.throws(() => EmbeddedIndex.open({ file, dim: 5 }), /holds 2-d vectors, 5 were asked for/);
});

test('embedded index: seeded from an `mmctr pretrain embed` file', async () => {
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

test('embedded index: a torn journal tail is cut on open, so a write after the restart survives a second crash', async () => {
  const file = path.join(tmp(), 'index.safetensors');
  const first = EmbeddedIndex.open({ file, dim: 2 });
  await first.putMany([{ id: 'a', vector: vec(1, 0) }]);
  // Crash mid-append: a torn last line, and no close().
  appendFileSync(`${file}.journal`, '{"id":"torn","v":[0.');
  const second = EmbeddedIndex.open({ file, dim: 2 });
  await second.putMany([{ id: 'b', vector: vec(0, 1) }]); // acknowledged
  // A second crash: the acknowledged write must not have been glued onto the torn line.
  const third = EmbeddedIndex.open({ file, dim: 2 });
  assert.deepEqual((await third.getMany(['a', 'b', 'torn'])).map((v) => v !== null), [true, true, false]);
  assert.equal(readFileSync(`${file}.journal`, 'utf8').split('\n').filter(Boolean).every((l) => JSON.parse(l)), true, 'every journal line is whole JSON');
  await third.close();
});

test('embedded index: every journal record is validated; a bad line is skipped, counted and located by byte offset, never fatal', async () => {
  const file = path.join(tmp(), 'index.safetensors');
  const good = (id: string, v: number[]) => JSON.stringify({ id, v });
  const lines = [good('a', [1, 0]), 'null', JSON.stringify({ v: [0, 1] }), good('nan', [1, Number.NaN]), '{"id":"inf","v":[1e999,0]}', good('narrow', [1]), '{not json', good('b', [0, 1])];
  writeFileSync(`${file}.journal`, lines.map((l) => `${l}\n`).join(''));
  const index = EmbeddedIndex.open({ file, dim: 2 });
  assert.equal(await index.size(), 2, 'the two valid records');
  assert.deepEqual((await index.getMany(['a', 'b', 'undefined', 'nan'])).map((v) => v !== null), [true, true, false, false]);
  const recovery = (index as unknown as { recovery: { skipped: number; skippedLines: { offset: number; reason: string }[] } }).recovery;
  assert.equal(recovery.skipped, 6);
  const offsets = lines.map((_, i) => lines.slice(0, i).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0));
  assert.deepEqual(recovery.skippedLines.map((s) => s.offset), offsets.slice(1, 7));
  assert.match(recovery.skippedLines[0].reason, /not a record/);
  assert.match(recovery.skippedLines[1].reason, /no item id/);
  assert.match(recovery.skippedLines[4].reason, /1 values, the index holds 2-d/);
  await index.close();
});

test('a vector whose length overflows (1e200) is refused with a clear message, not normalised to zeros', () => {
  assert.throws(() => normalized([1e200, 1e200, 0], 3, 'v'), /v: its length overflows/);
  assert.throws(() => normalized([1e-200, 0, 0], 3, 'v'), /underflows/);
  assert.deepEqual(Array.from(normalized([3, 4, 0], 3)), [0.6000000238418579, 0.800000011920929, 0]);
});

test('embedded index: every fsync policy writes a journal that replays; an unknown policy is refused', async () => {
  for (const fsync of ['always', 'everysec', 'no'] as const) {
    const file = path.join(tmp(), 'index.safetensors');
    const index = EmbeddedIndex.open({ file, dim: 2, fsync });
    await index.putMany([{ id: 'x', vector: vec(1, 1) }]);
    const replayed = EmbeddedIndex.open({ file, dim: 2 });
    assert.equal(await replayed.size(), 1, fsync);
    await index.close();
  }
  assert.throws(() => EmbeddedIndex.open({ file: path.join(tmp(), 'i.safetensors'), dim: 2, fsync: 'sometimes' as 'always' }), /fsync policy must be one of always, everysec, no/);
});

test('in-process queue: bounded; a submission past the bound is refused (the service answers 503)', async () => {
  const queue = new InProcessQueue({ maxJobs: 2 });
  await queue.submit({ id: 'a', title: 'a' });
  await queue.submit({ id: 'b', title: 'b' });
  await assert.rejects(queue.submit({ id: 'c', title: 'c' }), /ingestion queue is full/);
  const small = new InProcessQueue({ maxBytes: 1000 });
  await assert.rejects(small.submit({ id: 'big', title: null, image: Buffer.alloc(2000) }), /ingestion queue is full/);
});

test('in-process queue with a journal: accepted jobs survive a crash and are replayed until settled', async () => {
  const file = path.join(tmp(), 'index.safetensors.queue');
  const before = new InProcessQueue({ file });
  const a = await before.submit({ id: 'a', title: 'first' });
  await before.submit({ id: 'b', title: null, image: Buffer.from([1, 2, 3]) });
  // Crash: no worker ran, no close(). The next process finds both.
  const after = new InProcessQueue({ file });
  const seen: { id: string; image: number[] | null }[] = [];
  const worker = after.startWorker(async (jobs) => {
    seen.push(...jobs.map((j) => ({ id: j.id, image: j.image ? [...j.image] : null })));
    return [];
  });
  while ((await after.depth()) > 0) await new Promise((r) => setImmediate(r));
  await worker.stop();
  assert.deepEqual(seen, [{ id: 'a', image: null }, { id: 'b', image: [1, 2, 3] }]);
  assert.equal((await after.status(a.jobId))?.state, 'done');
  await after.close();
  const third = new InProcessQueue({ file });
  assert.equal(await third.depth(), 0, 'settled jobs are not replayed again');
  await third.close();
});

test('in-process queue: a batch whose handler throws stays queued and is retried; a memory-only queue is drained by a graceful stop', async () => {
  const queue = new InProcessQueue();
  let calls = 0;
  const done: string[] = [];
  const worker = queue.startWorker(async (jobs) => {
    if (++calls === 1) throw new Error('index unreachable');
    await new Promise((r) => setTimeout(r, 5));
    done.push(...jobs.map((j) => j.id));
    return [];
  }, { batch: 2 });
  for (const id of ['a', 'b', 'c', 'd', 'e']) void queue.submit({ id, title: id });
  await new Promise((r) => setTimeout(r, 20));
  await worker.stop();
  assert.deepEqual(done, ['a', 'b', 'c', 'd', 'e'], 'nothing lost to the failed batch or to the stop');
});
