import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { after, before, test } from 'node:test';
import { startService, stopService } from '../../src/serve/start.js';
import { hasRedis, NO_REDIS, startRedis, tinyModel, type RedisProcess } from './fixture.js';

const skip = hasRedis ? false : NO_REDIS;
let redis: RedisProcess;
before(async () => {
  if (hasRedis) redis = await startRedis();
});
after(async () => {
  if (hasRedis) await redis.stop();
});

test('redis backend: an item ingested through one server is rankable and findable as similar on another; histories are shared', { skip }, async () => {
  const m = await tinyModel();
  const common = { run: m.run, vectors: m.vectors, redis: redis.url, prefix: 'svc:', token: 'tok', log: false as const };
  // Server A runs the encoder worker; server B only ranks (its index and queue are the same Redis).
  const a = await startService({ ...common, ingestWorkers: 1 });
  const b = await startService({ ...common, ingestWorkers: 0 });
  try {
    const info = JSON.parse((await b.service.app.inject({ url: '/v1/info' })).body);
    assert.equal(info.index.backend, 'redis');
    assert.equal(info.index.queue, 'redis-stream');
    assert.equal(info.index.items, [...a.service.model!.itemIndex.keys()].length, 'seeded once, by the first server');
    const items = [...a.service.model!.itemIndex.keys()];
    const auth = { authorization: 'Bearer tok' };
    const r = await b.service.app.inject({ method: 'POST', url: '/v1/items?wait=1', payload: { id: 'redis-new', title: 'black leather boots' }, headers: auth });
    assert.equal(r.statusCode, 201, r.body);
    const ranked = JSON.parse((await b.service.app.inject({ method: 'POST', url: '/v1/rank', payload: { behaviours: items.slice(0, 5), candidates: ['redis-new', items[9]] } })).body);
    assert.equal(ranked.counts.missingCandidateVectors, 0);
    assert.equal(ranked.counts.unknownCandidates, 1);
    // B's similar-items graph learns of the item A's worker wrote, through the index's change feed:
    // asked for every neighbour of an old item, B lists the new one.
    const neighboursOnB = async () => (JSON.parse((await b.service.app.inject({ url: `/v1/items/${items[0]}/similar?k=${items.length + 1}` })).body) as { similar: { id: string }[] }).similar.map((x) => x.id);
    for (const t0 = Date.now(); !(await neighboursOnB()).includes('redis-new'); await new Promise((r) => setTimeout(r, 20))) if (Date.now() - t0 > 5000) assert.fail('B never saw the item A wrote');
    assert.equal((await neighboursOnB()).length, items.length, 'every other item, the new one included');
    await a.service.app.inject({ method: 'POST', url: '/v1/users/shopper/behaviours', payload: { items: items.slice(0, 3) }, headers: auth });
    const byUser = JSON.parse((await b.service.app.inject({ method: 'POST', url: '/v1/rank', payload: { userId: 'shopper', candidates: items.slice(10, 14) } })).body);
    const explicit = JSON.parse((await b.service.app.inject({ method: 'POST', url: '/v1/rank', payload: { userId: 'shopper', behaviours: items.slice(0, 3), candidates: items.slice(10, 14) } })).body);
    assert.deepEqual(byUser.items, explicit.items);
  } finally {
    await stopService(b);
    await stopService(a);
  }
});

test('redis down: every route that needs it answers 503 (never 500) and readiness says why; redis back empty: not ready, and ranking counts as degraded', { skip }, async () => {
  const m = await tinyModel();
  let own = await startRedis();
  const s = await startService({ run: m.run, vectors: m.vectors, redis: own.url, prefix: 'down:', token: 'tok', log: false, limits: { storeTimeoutMs: 1500 } });
  const app = s.service.app;
  const items = [...s.service.model!.itemIndex.keys()];
  const rankBody = { behaviours: items.slice(0, 5), candidates: items.slice(5, 15) };
  const auth = { authorization: 'Bearer tok' };
  try {
    assert.equal((await app.inject({ method: 'POST', url: '/v1/rank', payload: rankBody })).statusCode, 200);
    await own.stop();
    const calls: [string, InjectOptions][] = [
      ['rank', { method: 'POST', url: '/v1/rank', payload: rankBody }],
      ['rank by user', { method: 'POST', url: '/v1/rank', payload: { userId: 'someone', candidates: items.slice(0, 3) } }],
      ['ingest', { method: 'POST', url: '/v1/items', payload: { id: 'while-down', title: 'grey wool coat' }, headers: auth }],
      ['job status', { url: '/v1/ingest/00000000-0000-0000-0000-000000000000' }],
      ['item', { url: `/v1/items/${items[0]}` }],
      ['behaviours', { method: 'POST', url: '/v1/users/someone/behaviours', payload: { items: items.slice(0, 2) }, headers: auth }],
    ];
    for (const [what, call] of calls) {
      const r = await app.inject(call);
      assert.equal(r.statusCode, 503, `${what}: ${r.statusCode} ${r.body}`);
      assert.equal(r.headers['retry-after'], '1', what);
    }
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.match(JSON.parse(ready.body).reason, /redis vector index/);
    assert.equal((await app.inject({ url: '/v1/info' })).statusCode, 200, 'info still answers');
    assert.equal((await app.inject({ url: '/metrics' })).statusCode, 200, 'metrics still answer');
    assert.match((await app.inject({ url: '/metrics' })).body, /mmctr_dependency_errors_total [1-9]/);

    // Back, but empty (no persistence): the index lost every vector.
    own = await startRedis(own.port);
    let reason = '';
    for (const t0 = Date.now(); Date.now() - t0 < 10_000; await new Promise((r) => setTimeout(r, 100))) {
      const r = await app.inject({ url: '/readyz' });
      reason = JSON.parse(r.body).reason ?? '';
      if (r.statusCode === 503 && /index is empty/.test(reason)) break;
    }
    assert.match(reason, /the vector index is empty but held \d+ items when the service started/);
    const ranked = await app.inject({ method: 'POST', url: '/v1/rank', payload: rankBody });
    assert.equal(ranked.statusCode, 200, 'ranking still answers, on IDs alone');
    assert.equal(JSON.parse(ranked.body).counts.missingCandidateVectors, 10);
    assert.match((await app.inject({ url: '/metrics' })).body, /mmctr_rank_degraded_total [1-9]/);
  } finally {
    await stopService(s);
    await own.stop();
  }
});
