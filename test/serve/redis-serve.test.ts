import assert from 'node:assert/strict';
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
