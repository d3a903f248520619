import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RankingService } from '../../src/serve/app.js';
import { startService, stopService } from '../../src/serve/start.js';
import type { OpenedIndex } from '../../src/index/index.js';
import { tinyModel } from './fixture.js';

let started: { service: RankingService; opened: OpenedIndex; run: string };
let items: string[];
const TOKEN = 'test-token';

before(async () => {
  const m = await tinyModel();
  started = await startService({ run: m.run, vectors: m.vectors, indexFile: null, encoder: 'hashed-title', token: TOKEN, log: false, limits: { candidates: 50, behaviours: 60 } });
  items = [...started.service.model!.itemIndex.keys()];
});
after(() => stopService(started));

const rank = (payload: unknown, headers: Record<string, string> = {}) =>
  started.service.app.inject({ method: 'POST', url: '/v1/rank', payload: payload as object, headers });
const json = (r: { body: string }) => JSON.parse(r.body);

test('rank: pCTR for every candidate, sorted, counts of what was unknown', async () => {
  const r = await rank({ behaviours: items.slice(0, 5), candidates: [...items.slice(10, 20), 'brand-new-ad'], userId: 'nobody' });
  assert.equal(r.statusCode, 200);
  const body = json(r);
  assert.equal(body.items.length, 11);
  for (let i = 1; i < body.items.length; i++) assert.ok(body.items[i - 1].pctr >= body.items[i].pctr, 'sorted by pCTR');
  assert.ok(body.items.every((x: { pctr: number }) => x.pctr > 0 && x.pctr < 1));
  assert.deepEqual(body.counts, { unknownCandidates: 1, unknownBehaviours: 0, unknownUser: true, missingCandidateVectors: 1, missingBehaviourVectors: 0, droppedBehaviours: 0 });
  const metrics = (await started.service.app.inject({ url: '/metrics' })).body;
  assert.match(metrics, /mmctr_missing_vectors_total\{kind="candidate"\} 1/);
  assert.match(metrics, /mmctr_unknown_ids_total\{kind="candidate"\} 1/);
  assert.match(metrics, /mmctr_rank_duration_seconds_count 1/);
});

test('rank: the same request gives the same scores; topK truncates', async () => {
  const req = { behaviours: items.slice(0, 8), candidates: items.slice(20, 30) };
  const a = json(await rank(req)), b = json(await rank({ ...req, topK: 3 }));
  assert.deepEqual(b.items, a.items.slice(0, 3));
});

test('rank: malformed requests are 400s that name the field and what was expected', async () => {
  const cases: [unknown, RegExp][] = [
    [{ behaviours: ['a'] }, /body\.candidates: must have required property/],
    [{ candidates: 'a' }, /body\.candidates: must be array/],
    [{ candidates: ['a', 7] }, /body\.candidates\[1\]: must be string/],
    [{ candidates: [] }, /body\.candidates: must NOT have fewer than 1 items/],
    [{ candidates: Array.from({ length: 51 }, (_, i) => `c${i}`) }, /body\.candidates: must NOT have more than 50 items/],
    [{ candidates: ['a'], behaviours: Array.from({ length: 61 }, () => 'b') }, /body\.behaviours: must NOT have more than 60 items/],
    [{ candidates: ['a'], userId: 12 }, /body\.userId: must be string/],
    [{ candidates: ['a'], topK: '3' }, /body\.topK: must be integer/],
    [{ candidates: ['a'], extra: true }, /body\.extra: is not a known field/],
    [{ candidates: [''] }, /body\.candidates\[0\]: must NOT have fewer than 1 characters/],
    [[1, 2], /body: must be object/],
  ];
  for (const [payload, message] of cases) {
    const r = await rank(payload);
    assert.equal(r.statusCode, 400, JSON.stringify(payload).slice(0, 80));
    assert.equal(json(r).error, 'bad_request');
    assert.match(json(r).message, message);
  }
  const broken = await started.service.app.inject({ method: 'POST', url: '/v1/rank', payload: '{"candidates": [', headers: { 'content-type': 'application/json' } });
  assert.equal(broken.statusCode, 400);
  assert.match(json(broken).message, /not valid JSON/);
  const huge = await started.service.app.inject({ method: 'POST', url: '/v1/rank', payload: JSON.stringify({ candidates: ['x'.repeat(2 << 20)] }), headers: { 'content-type': 'application/json' } });
  assert.equal(huge.statusCode, 413);
  assert.equal(json(huge).error, 'payload_too_large');
  const text = await started.service.app.inject({ method: 'POST', url: '/v1/rank', payload: '<candidates/>', headers: { 'content-type': 'application/xml' } });
  assert.equal(text.statusCode, 415);
});

test('rank: unknown ids are scored and counted, or rejected with onUnknown=reject', async () => {
  const r = await rank({ behaviours: ['ghost-1', items[0]], candidates: [items[1], 'ghost-2'] });
  assert.equal(r.statusCode, 200);
  assert.equal(json(r).counts.unknownBehaviours, 1);
  assert.equal(json(r).counts.unknownCandidates, 1);
  const strict = await rank({ behaviours: [], candidates: [items[1], 'ghost-2', 'ghost-3'], onUnknown: 'reject' });
  assert.equal(strict.statusCode, 422);
  assert.deepEqual(json(strict).ids, ['ghost-2', 'ghost-3']);
  assert.match(json(strict).message, /2 candidate\(s\) are unknown/);
});

test('write endpoints need the bearer token', async () => {
  const app = started.service.app;
  const item = { id: 'auth-item', title: 'blue cotton shirt' };
  const none = await app.inject({ method: 'POST', url: '/v1/items', payload: item });
  assert.equal(none.statusCode, 401);
  assert.match(json(none).message, /Authorization: Bearer/);
  const wrong = await app.inject({ method: 'POST', url: '/v1/items', payload: item, headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.statusCode, 401);
  for (const url of ['/v1/admin/reload', '/v1/users/u1/behaviours']) assert.equal((await app.inject({ method: 'POST', url, payload: { items: ['a'] } })).statusCode, 401, url);
  const ok = await app.inject({ method: 'POST', url: '/v1/items', payload: item, headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(ok.statusCode, 202);
  // Reads stay open.
  assert.equal((await app.inject({ url: '/v1/info' })).statusCode, 200);
});

test('a server without a token refuses writes (403), it does not leave them open', async () => {
  const m = await tinyModel();
  const s = await startService({ run: m.run, vectors: m.vectors, indexFile: null, token: null, log: false, ann: false });
  try {
    const r = await s.service.app.inject({ method: 'POST', url: '/v1/items', payload: { id: 'x', title: 'y' }, headers: { authorization: 'Bearer anything' } });
    assert.equal(r.statusCode, 403);
    assert.match(json(r).message, /MMCTR_TOKEN/);
  } finally {
    await stopService(s);
  }
});

test('ingest: a new item is encoded, indexed, rankable with its vector, and similar items found', async () => {
  const app = started.service.app;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const before = json(await rank({ behaviours: items.slice(0, 3), candidates: ['fresh-ad', items[5]] }));
  assert.equal(before.counts.missingCandidateVectors, 1);
  const r = await app.inject({ method: 'POST', url: '/v1/items?wait=1', payload: { id: 'fresh-ad', title: 'red summer dress with flowers' }, headers: auth });
  assert.equal(r.statusCode, 201, r.body);
  assert.equal(json(r).state, 'done');
  const after = json(await rank({ behaviours: items.slice(0, 3), candidates: ['fresh-ad', items[5]] }));
  assert.equal(after.counts.missingCandidateVectors, 0);
  // The default model reads the vectors (SimTier): the new ad's content changes its score at once.
  const pctr = (r: { items: { id: string; pctr: number }[] }) => r.items.find((x) => x.id === 'fresh-ad')!.pctr;
  assert.notEqual(pctr(after), pctr(before));
  assert.deepEqual(json(await app.inject({ url: '/v1/items/fresh-ad' })), { id: 'fresh-ad', hasVector: true, knownToModel: false });
  const similar = json(await app.inject({ url: '/v1/items/fresh-ad/similar?k=3' }));
  assert.equal(similar.similar.length, 3);
  assert.ok(similar.similar.every((s: { id: string }) => s.id !== 'fresh-ad'));
  // Raw image bytes with id and title in the query (the hashed-title encoder uses the title).
  const raw = await app.inject({ method: 'POST', url: '/v1/items?id=img-ad&title=green%20jacket&wait=1', payload: Buffer.from([0x89, 0x50, 0x4e, 0x47]), headers: { ...auth, 'content-type': 'image/png' } });
  assert.equal(raw.statusCode, 201, raw.body);
  // A precomputed vector bypasses the encoder.
  const vector = Array.from({ length: 128 }, (_, i) => (i === 0 ? 1 : 0));
  const pre = await app.inject({ method: 'POST', url: '/v1/items?wait=1', payload: { id: 'vec-ad', vector }, headers: auth });
  assert.equal(pre.statusCode, 201, pre.body);
  const metrics = (await app.inject({ url: '/metrics' })).body;
  assert.match(metrics, /mmctr_ingest_total\{result="done"\} [3-9]/);
  assert.match(metrics, /mmctr_ingest_to_indexed_seconds_count [3-9]/);
});

/** A multipart/form-data body: text fields, then an optional file field. */
function form(fields: Record<string, string>, file?: { name: string; bytes: Buffer }): { payload: Buffer; headers: Record<string, string> } {
  const boundary = 'mmctr-test-boundary';
  const parts: Buffer[] = Object.entries(fields).map(([k, v]) => Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  if (file) parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${file.name}"; filename="x.png"\r\ncontent-type: image/png\r\n\r\n`), file.bytes, Buffer.from('\r\n'));
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

test('ingest: a multipart form (curl -F) with id, title and image is indexed; bad forms are 400s naming the field', async () => {
  const app = started.service.app;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const ok = form({ id: 'form-ad', title: 'blue denim jacket' }, { name: 'image', bytes: Buffer.from([0x89, 0x50, 0x4e, 0x47]) });
  const r = await app.inject({ method: 'POST', url: '/v1/items?wait=1', payload: ok.payload, headers: { ...auth, ...ok.headers } });
  assert.equal(r.statusCode, 201, r.body);
  assert.deepEqual(json(await app.inject({ url: '/v1/items/form-ad' })), { id: 'form-ad', hasVector: true, knownToModel: false });
  const noId = form({ title: 'no id' });
  const bad = await app.inject({ method: 'POST', url: '/v1/items', payload: noId.payload, headers: { ...auth, ...noId.headers } });
  assert.equal(bad.statusCode, 400);
  assert.equal(json(bad).issues[0].field, 'form.id');
  const stray = form({ id: 'x', colour: 'red' });
  const unknown = await app.inject({ method: 'POST', url: '/v1/items', payload: stray.payload, headers: { ...auth, ...stray.headers } });
  assert.equal(unknown.statusCode, 400);
  assert.match(json(unknown).message, /unknown field 'colour'/);
  const anon = await app.inject({ method: 'POST', url: '/v1/items', payload: ok.payload, headers: ok.headers });
  assert.equal(anon.statusCode, 401, 'the token is checked before the form is read');
});

test('ingest: bad items are 400s naming the field; failures are reported by the job', async () => {
  const app = started.service.app;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const cases: [unknown, RegExp][] = [
    [{ title: 'no id' }, /body\.id: must be a string/],
    [{ id: 'v', vector: [1, 2] }, /body\.vector: must be an array of 128 numbers/],
    [{ id: 'v', image: 'not base64!' }, /body\.image: must be the image file as a non-empty base64 string/],
    [{ id: 'v' }, /body: needs a title, an image or a vector/],
    [{ id: 'v', title: 'x', colour: 'red' }, /body\.colour: is not a known field/],
  ];
  for (const [payload, message] of cases) {
    const r = await app.inject({ method: 'POST', url: '/v1/items', payload: payload as object, headers: auth });
    assert.equal(r.statusCode, 400, JSON.stringify(payload));
    assert.match(json(r).message, message);
  }
  // A title with no words cannot be encoded by the hashed-title encoder: the job fails with the reason.
  const r = await app.inject({ method: 'POST', url: '/v1/items?wait=1', payload: { id: 'empty-title', title: '!!!' }, headers: auth });
  assert.equal(r.statusCode, 422);
  assert.match(json(r).message, /needs a title with at least one word/);
  const status = json(await app.inject({ url: `/v1/ingest/${json(r).jobId}` }));
  assert.equal(status.state, 'failed');
});

test('rank by user id reads the behaviours the service keeps', async () => {
  const app = started.service.app;
  const user = [...started.service.model!.userIndex.keys()][0];
  const w = await app.inject({ method: 'POST', url: `/v1/users/${user}/behaviours`, payload: { items: items.slice(0, 4) }, headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(w.statusCode, 200);
  const byUser = json(await rank({ userId: user, candidates: items.slice(10, 15) }));
  const explicit = json(await rank({ userId: user, behaviours: items.slice(0, 4), candidates: items.slice(10, 15) }));
  assert.deepEqual(byUser.items, explicit.items);
  assert.equal(byUser.counts.unknownUser, false);
});

test('health, readiness and info', async () => {
  const app = started.service.app;
  assert.deepEqual(json(await app.inject({ url: '/healthz' })), { status: 'ok' });
  const ready = json(await app.inject({ url: '/readyz' }));
  assert.equal(ready.ready, true);
  assert.equal(ready.model, started.service.model!.version);
  assert.ok(ready.indexItems > 0);
  const info = json(await app.inject({ url: '/v1/info' }));
  assert.equal(info.index.backend, 'embedded');
  assert.equal(info.model.historyLength, 20);
  assert.equal((await app.inject({ url: '/nope' })).statusCode, 404);
});

test('overload: a request that waited past the ranking deadline is a quick 503, counted', async () => {
  const m = await tinyModel();
  const s = await startService({ run: m.run, vectors: m.vectors, indexFile: null, token: null, log: false, ann: false, limits: { rankDeadlineMs: -1 } });
  try {
    const r = await s.service.app.inject({ method: 'POST', url: '/v1/rank', payload: { candidates: items.slice(0, 3) } });
    assert.equal(r.statusCode, 503);
    assert.equal(json(r).error, 'overloaded');
    assert.equal(r.headers['retry-after'], '1');
    assert.match((await s.service.app.inject({ url: '/metrics' })).body, /mmctr_rank_shed_total 1/);
  } finally {
    await stopService(s);
  }
});

test('GET /openapi.json describes every route from the schemas the service validates with', async () => {
  const r = await started.service.app.inject({ url: '/openapi.json' });
  assert.equal(r.statusCode, 200);
  const doc = json(r);
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.info.title, 'mmctr ranking service');
  for (const route of ['/v1/rank', '/v1/items', '/v1/items/{id}', '/healthz']) assert.ok(doc.paths[route], `${route} is described`);
  assert.ok(!doc.paths['/openapi.json'], 'the description does not describe itself');
  const body = doc.paths['/v1/rank'].post.requestBody.content['application/json'].schema;
  assert.deepEqual(body.required, ['candidates']);
  assert.equal(body.properties.candidates.type, 'array');
  // The same limit the route enforces (limits.candidates = 50 for this service).
  assert.equal(body.properties.candidates.maxItems, 50);
});
