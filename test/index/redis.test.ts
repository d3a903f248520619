import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { RandomStream } from '../../src/engine/random.js';
import { AnnIndex, IndexError, RedisIndex, RedisStreamQueue, type IngestJob } from '../../src/index/index.js';
import { hasRedis, NO_REDIS, redisForFile, startRedis } from '../serve/fixture.js';

const skip = hasRedis ? false : NO_REDIS;
const redis = redisForFile();

test('redis index: put, get (one HMGET), size, scan, against a real server', { skip }, async () => {
  const index = await RedisIndex.open({ client: redis.client, prefix: 't1:', dim: 8 });
  const rng = new RandomStream(5);
  const items = Array.from({ length: 50 }, (_, i) => ({ id: `item-${i}`, vector: rng.normal(8) }));
  await index.putMany(items);
  assert.equal(await index.size(), 50);
  const got = await index.getMany(['item-3', 'missing', 'item-49']);
  assert.equal(got[1], null);
  const n = Math.hypot(...items[3].vector);
  assert.ok(got[0]!.every((x, k) => Math.abs(x - items[3].vector[k] / n) < 1e-6));
  let scanned = 0;
  for await (const batch of index.scan(7)) scanned += batch.length;
  assert.equal(scanned, 50);
  // A second opener reads the settings from the server and refuses a mismatch.
  const again = await RedisIndex.open({ client: redis.client, prefix: 't1:' });
  assert.equal(again.dim, 8);
  await assert.rejects(RedisIndex.open({ client: redis.client, prefix: 't1:', dim: 4 }), IndexError);
  await assert.rejects(RedisIndex.open({ client: redis.client, prefix: 'empty:' }), /needs its vector width/);
});

test('redis index: int8 rows are dim bytes and read back close to the original', { skip }, async () => {
  const index = await RedisIndex.open({ client: redis.client, prefix: 't2:', dim: 32, precision: 'int8' });
  const v = new RandomStream(9).normal(32);
  await index.putMany([{ id: 'q', vector: v }]);
  assert.equal((await redis.client.hgetBuffer('t2:vectors', 'q'))!.length, 32);
  const back = (await index.getMany(['q']))[0]!;
  const cos = back.reduce((s, x, k) => s + x * v[k], 0) / Math.hypot(...v);
  assert.ok(cos > 0.999);
});

test('redis stream queue: two workers share the jobs, each job handled once, states recorded', { skip }, async () => {
  const queue = new RedisStreamQueue({ client: redis.client, prefix: 't3:', blockMs: 50 });
  const handled: string[] = [];
  const handler = async (jobs: IngestJob[]) => {
    handled.push(...jobs.map((j) => j.id));
    return jobs.filter((j) => j.id === 'j-bad').map((j) => ({ jobId: j.jobId, reason: 'cannot encode' }));
  };
  const w1 = queue.startWorker(handler, { batch: 2, name: 'a' });
  const w2 = queue.startWorker(handler, { batch: 2, name: 'b' });
  const ids = [...Array.from({ length: 20 }, (_, i) => `j-${i}`), 'j-bad'];
  const jobs = [];
  for (const id of ids) jobs.push(await queue.submit({ id, title: `title ${id}`, image: id === 'j-1' ? Buffer.from([1, 2, 3]) : null }));
  while ((await queue.depth()) > 0) await new Promise((r) => setTimeout(r, 10));
  // The last batch's states are written with its XACK, in one transaction.
  await w1.stop();
  await w2.stop();
  assert.deepEqual([...handled].sort(), [...ids].sort());
  assert.equal((await queue.status(jobs[0].jobId))?.state, 'done');
  assert.deepEqual(await queue.status(jobs[20].jobId), { state: 'failed', reason: 'cannot encode' });
  assert.equal(await redis.client.xlen('t3:ingest'), 0, 'acknowledged entries are deleted');
});

test('redis stream queue: a job left unacknowledged by a dead worker is claimed by a live one', { skip }, async () => {
  const queue = new RedisStreamQueue({ client: redis.client, prefix: 't4:', claimIdleMs: 100, blockMs: 50 });
  const job = await queue.submit({ id: 'orphan', title: 'x' });
  // A worker that read the job and died: delivered, never acknowledged.
  await redis.client.xreadgroup('GROUP', 'encoders', 'dead', 'COUNT', 1, 'STREAMS', 't4:ingest', '>');
  await new Promise((r) => setTimeout(r, 150));
  const handled: string[] = [];
  const w = queue.startWorker(async (jobs) => {
    handled.push(...jobs.map((j) => j.id));
    return [];
  }, { name: 'live' });
  while ((await queue.status(job.jobId))?.state !== 'done') await new Promise((r) => setTimeout(r, 10));
  await w.stop();
  assert.deepEqual(handled, ['orphan']);
});

test('redis index: an ANN graph built on one process follows what another writes, and stops when closed', { skip }, async () => {
  const rng = new RandomStream(11);
  const item = (id: string) => ({ id, vector: rng.normal(8) });
  const here = await RedisIndex.open({ client: redis.client, prefix: 'feed:', dim: 8 });
  const there = await RedisIndex.open({ url: redis.server.url, prefix: 'feed:' });
  try {
    await here.putMany([item('old-1'), item('old-2')]);
    const ann = await AnnIndex.build(here);
    assert.equal(ann.size, 2, 'built from the scan');
    const fresh = item('from-elsewhere');
    await there.putMany([fresh]);
    const until = async (ok: () => boolean, what: string) => {
      for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() - t0 > 5000) assert.fail(`timed out waiting: ${what}`);
    };
    await until(() => ann.has('from-elsewhere'), 'the other process write to reach the graph');
    assert.equal(ann.nearest(fresh.vector, 1)[0].id, 'from-elsewhere');
    assert.ok(Math.abs(ann.nearest(fresh.vector, 1)[0].score - 1) < 1e-5);
    // A changed vector for a known id replaces the old one.
    const moved = rng.normal(8);
    await there.putMany([{ id: 'old-1', vector: moved }]);
    await until(() => ann.nearest(moved, 1)[0]?.id === 'old-1' && ann.nearest(moved, 1)[0].score > 0.9999, 'the update to reach the graph');
    assert.equal(ann.size, 3);
    await ann.close();
    await there.putMany([item('after-close')]);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!ann.has('after-close'), 'a closed graph follows nothing');
  } finally {
    await there.close();
  }
});

test('redis index: a follower whose unread changes were trimmed away reads the whole index again', { skip }, async () => {
  const rng = new RandomStream(12);
  const index = await RedisIndex.open({ client: redis.client, prefix: 'trim:', dim: 8 });
  await index.putMany([{ id: 'before', vector: rng.normal(8) }]);
  const feed = await index.changes();
  // Written after the feed opened, then trimmed away before it read them.
  await index.putMany([1, 2, 3].map((k) => ({ id: `lost-${k}`, vector: rng.normal(8) })));
  await redis.client.xtrim(index.changesKey, 'MAXLEN', 0);
  await index.putMany([{ id: 'after', vector: rng.normal(8) }]);
  const seen = new Set<string>();
  feed.follow((items) => items.forEach((it) => seen.add(it.id)));
  try {
    for (const t0 = Date.now(); !['lost-1', 'lost-2', 'lost-3', 'after'].every((id) => seen.has(id)); await new Promise((r) => setTimeout(r, 10)))
      if (Date.now() - t0 > 5000) assert.fail(`seen only ${[...seen].join(', ')}`);
  } finally {
    await feed.stop();
  }
});

test('a worker and a change feed stop promptly while their server is gone (their connections reconnecting)', { skip }, async () => {
  const own = await startRedis();
  const conn = new Redis(own.url, { maxRetriesPerRequest: 2 });
  conn.on('error', () => {});
  const queue = new RedisStreamQueue({ client: conn, prefix: 'gone:', blockMs: 50 });
  const worker = queue.startWorker(async () => []);
  const index = await RedisIndex.open({ client: conn, prefix: 'gone:', dim: 4 });
  const feed = await index.changes();
  feed.follow(() => {}, () => {});
  await new Promise((r) => setTimeout(r, 200));
  await own.stop();
  // Long enough for the blocking readers to be reconnecting with their reads queued.
  await new Promise((r) => setTimeout(r, 1500));
  const within = <T>(p: Promise<T>, what: string) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not stop within 3 s`)), 3000).unref())]);
  await within(worker.stop(), 'the worker');
  await within(feed.stop(), 'the change feed');
  conn.disconnect();
});
