import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closeIndex, openIndex } from '../../src/index/index.js';
import { RankingService } from '../../src/serve/app.js';
import { startService, stopService } from '../../src/serve/start.js';
import { tinyModel } from './fixture.js';

for (const rankThreads of [0, 2]) {
  test(`hot reload under load (${rankThreads ? `${rankThreads} ranking threads` : 'main thread'}): every request succeeds, the new model takes over`, async () => {
  const m = await tinyModel();
  const started = await startService({ run: m.run, vectors: m.vectors, indexFile: null, token: 't', log: false, ann: false, rankThreads });
  try {
    const base = await started.service.listen(0);
    const items = [...started.service.model!.itemIndex.keys()];
    const body = JSON.stringify({ behaviours: items.slice(0, 20), candidates: items.slice(20, 120) });
    let stop = false;
    const statuses = new Map<number, number>();
    let sent = 0;
    // Eight clients hammering /v1/rank back to back.
    const client = async () => {
      while (!stop) {
        sent++;
        const r = await fetch(`${base}/v1/rank`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        await r.arrayBuffer();
      }
    };
    const clients = Array.from({ length: 8 }, client);
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${base}/v1/admin/reload`, { method: 'POST', headers: { authorization: 'Bearer t' } });
      assert.equal(r.status, 200, await r.text());
    }
    // A reload of a name that is not a run fails and leaves the serving model in place.
    const bad = await fetch(`${base}/v1/admin/reload`, { method: 'POST', body: JSON.stringify({ run: 'no-such-run' }), headers: { authorization: 'Bearer t', 'content-type': 'application/json' } });
    assert.equal(bad.status, 422);
    assert.match(((await bad.json()) as { message: string }).message, /previous model is still serving/);
    stop = true;
    await Promise.all(clients);
    assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);
    assert.ok(sent > 8);
    assert.equal(started.service.model!.version, 6);
    const last = await fetch(`${base}/v1/rank`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(((await last.json()) as { model: number }).model, 6, 'a request after the last reload runs on the new model');
  } finally {
    await stopService(started);
  }
});
}

test('graceful close: in-flight requests finish, readiness goes false, new connections are refused', async () => {
  const m = await tinyModel();
  // A behaviour store that holds every read until released: requests are provably in flight.
  let entered = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const behaviours = {
    recent: async () => {
      entered++;
      await gate;
      return [];
    },
    append: async () => {},
  };
  const opened = await openIndex({ backend: 'embedded', file: null, dim: 128 });
  const service = await RankingService.create({ run: m.run, index: opened, encoder: null, behaviours, token: null, log: false, ann: false });
  const base = await service.listen(0);
  const items = [...service.model!.itemIndex.keys()];
  const inFlight = Array.from({ length: 10 }, (_, i) =>
    fetch(`${base}/v1/rank`, { method: 'POST', body: JSON.stringify({ userId: `u${i}`, candidates: items.slice(0, 50) }), headers: { 'content-type': 'application/json' } }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    }),
  );
  while (entered < 10) await new Promise((r) => setTimeout(r, 5));
  const closing = service.close();
  assert.equal((await service.app.inject({ url: '/readyz' })).statusCode, 503);
  release();
  assert.deepEqual(await Promise.all(inFlight), Array(10).fill(200));
  await closing;
  await closeIndex(opened);
  await assert.rejects(fetch(`${base}/healthz`));
});
