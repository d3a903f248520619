/**
 * The service under hostile or unlucky input: wrong content types, huge and odd bodies, broken
 * forms, long and control-character ids, path probing through reload, overload. Each of these
 * once stalled the service, answered 500, or accepted what it should refuse.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { InjectOptions } from 'fastify';
import type { RankingService } from '../../src/serve/app.js';
import { startService, stopService } from '../../src/serve/start.js';
import type { OpenedIndex } from '../../src/index/index.js';
import { tinyModel } from './fixture.js';

let started: { service: RankingService; opened: OpenedIndex; run: string };
let items: string[];
const TOKEN = 'robust-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const json = (r: { body: string }) => JSON.parse(r.body);

before(async () => {
  const m = await tinyModel();
  started = await startService({ run: m.run, vectors: m.vectors, indexFile: null, token: TOKEN, log: false });
  items = [...started.service.model!.itemIndex.keys()];
});
after(() => stopService(started));

const inject = (opts: InjectOptions) => started.service.app.inject(opts);

/** Wall ms and process CPU ms of one call. */
async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> {
  const c0 = process.cpuUsage(), t0 = performance.now();
  const value = await f();
  const c = process.cpuUsage(c0);
  return { value, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

test('a binary body on a JSON route is a quick 415 (it once took 35 s of CPU and blocked /healthz)', async () => {
  await inject({ method: 'POST', url: '/v1/rank', payload: Buffer.alloc(10), headers: { 'content-type': 'image/jpeg' } }); // first-call costs, unmeasured
  for (const type of ['image/jpeg', 'application/octet-stream', 'text/plain', 'application/x-www-form-urlencoded']) {
    const { value: r, cpuMs } = await timed(() => inject({ method: 'POST', url: '/v1/rank', payload: Buffer.alloc(1 << 20), headers: { 'content-type': type } }));
    assert.equal(r.statusCode, 415, `${type}: ${r.body.slice(0, 200)}`);
    assert.equal(json(r).error, 'unsupported_media_type');
    // The old parser-and-validator path took seconds for 1 MiB; this process's CPU is noisy, the bound generous.
    assert.ok(cpuMs < 300, `${type}: ${cpuMs.toFixed(0)} ms of CPU`);
    assert.ok(r.body.length < 1000);
  }
  const users = await inject({ method: 'POST', url: `/v1/users/u1/behaviours`, payload: Buffer.alloc(1000), headers: { ...auth, 'content-type': 'image/png' } });
  assert.equal(users.statusCode, 415);
});

test('validation stops after a few problems and echoes at most a few: 100k unknown keys are one small 400', async () => {
  const keys = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 0]));
  const { value: item } = await timed(() => inject({ method: 'POST', url: '/v1/items', payload: JSON.stringify({ id: 'x', title: 'y', ...keys }), headers: { ...auth, 'content-type': 'application/json' } }));
  assert.equal(item.statusCode, 400);
  assert.match(json(item).message, /holds more values than an item has/);
  assert.ok(item.body.length < 4000, `${item.body.length} bytes`);
  const over = await inject({ method: 'POST', url: '/v1/items', payload: JSON.stringify({ id: 'x', title: 'y', pad: 'p'.repeat(3 << 20) }), headers: { ...auth, 'content-type': 'application/json' } });
  assert.equal(over.statusCode, 413, 'JSON items stop at 2 MiB (images go as bytes or a form)');
  assert.ok(json(item).issues.length <= 5);
  const rankKeys = Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, 0]));
  const rank = await inject({ method: 'POST', url: '/v1/rank', payload: JSON.stringify({ candidates: ['a'], ...rankKeys }), headers: { 'content-type': 'application/json' } });
  assert.equal(rank.statusCode, 400);
  assert.ok(rank.body.length < 4000, `${rank.body.length} bytes`);
  // A long unknown key is clipped in the answer, not echoed in full.
  const long = await inject({ method: 'POST', url: '/v1/rank', payload: JSON.stringify({ candidates: ['a'], ['z'.repeat(100_000)]: 1 }), headers: { 'content-type': 'application/json' } });
  assert.equal(long.statusCode, 400);
  assert.ok(long.body.length < 2000, `${long.body.length} bytes`);
});

test('a broken multipart form is a 400, never a 500; a multipart id past 128 characters is refused', async () => {
  const garbage = await inject({ method: 'POST', url: '/v1/items', payload: 'not a form at all', headers: { ...auth, 'content-type': 'multipart/form-data' } });
  assert.equal(garbage.statusCode, 400, garbage.body);
  const truncated = await inject({ method: 'POST', url: '/v1/items', payload: '--b\r\ncontent-disposition: form-data; name="id"\r\n\r\nabc', headers: { ...auth, 'content-type': 'multipart/form-data; boundary=b' } });
  assert.ok(truncated.statusCode === 400, `${truncated.statusCode} ${truncated.body}`);
  const longId = `--b\r\ncontent-disposition: form-data; name="id"\r\n\r\n${'i'.repeat(5000)}\r\n--b\r\ncontent-disposition: form-data; name="title"\r\n\r\nred dress\r\n--b--\r\n`;
  const r = await inject({ method: 'POST', url: '/v1/items', payload: longId, headers: { ...auth, 'content-type': 'multipart/form-data; boundary=b' } });
  assert.equal(r.statusCode, 400, r.body);
  assert.match(json(r).message, /form\.id: must be a string of 1 to 128 characters/);
});

test('ids of up to 128 characters are readable through GET /v1/items/:id; longer ones and control characters are 400s', async () => {
  const id = `long-${'x'.repeat(123)}`;
  assert.equal(id.length, 128);
  const put = await inject({ method: 'POST', url: '/v1/items?wait=1', payload: { id, title: 'green wool scarf' }, headers: auth });
  assert.equal(put.statusCode, 201, put.body);
  const got = await inject({ url: `/v1/items/${id}` });
  assert.equal(got.statusCode, 200, got.body);
  assert.equal(json(got).hasVector, true);
  assert.equal((await inject({ url: `/v1/items/${encodeURIComponent(id)}/similar?k=2` })).statusCode, 200);
  assert.equal((await inject({ url: `/v1/items/${id}y` })).statusCode, 400);
  const nul = await inject({ method: 'POST', url: '/v1/rank', payload: { candidates: ['a\u0000b'] } });
  assert.equal(nul.statusCode, 400);
  assert.match(json(nul).message, /control characters/);
  const ctl = await inject({ method: 'POST', url: '/v1/items', payload: { id: 'tab\there', title: 'x' }, headers: auth });
  assert.equal(ctl.statusCode, 400);
  assert.equal((await inject({ url: `/v1/items/${encodeURIComponent('a\u0001b')}` })).statusCode, 400);
});

test('/v1/info shows no filesystem paths; reload takes a run name under the runs root, never a path', async () => {
  const info = (await inject({ url: '/v1/info' })).body;
  assert.ok(!info.includes(path.dirname(started.run)), 'no absolute path in /v1/info');
  assert.equal(json({ body: info }).model.run, path.basename(started.run));
  for (const run of ['/etc', '../run', '/nonexistent', 'a/b', '..']) {
    const r = await inject({ method: 'POST', url: '/v1/admin/reload', payload: { run }, headers: auth });
    assert.equal(r.statusCode, 400, `${run}: ${r.body}`);
  }
  const missing = await inject({ method: 'POST', url: '/v1/admin/reload', payload: { run: 'no-such-run' }, headers: auth });
  assert.equal(missing.statusCode, 422);
  assert.doesNotMatch(json(missing).message, /\//, 'the refusal names no path');
  const byName = await inject({ method: 'POST', url: '/v1/admin/reload', payload: { run: path.basename(started.run) }, headers: auth });
  assert.equal(byName.statusCode, 200, byName.body);
  assert.equal(json(byName).run, path.basename(started.run));
});

test('the ingestion queue is bounded: past it a submission is a 503 with Retry-After, not an unbounded backlog', async () => {
  const m = await tinyModel();
  const s = await startService({ run: m.run, vectors: m.vectors, indexFile: null, token: TOKEN, log: false, ann: false, ingestWorkers: 0, limits: { queueJobs: 3 } });
  try {
    const codes: number[] = [];
    let last: { headers: Record<string, unknown>; body: string } | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await s.service.app.inject({ method: 'POST', url: '/v1/items', payload: { id: `q${i}`, title: 'blue jeans' }, headers: auth });
      codes.push(r.statusCode);
      last = r;
    }
    assert.deepEqual(codes, [202, 202, 202, 503, 503]);
    assert.equal(last!.headers['retry-after'], '1');
    assert.match(json(last!).message, /ingestion queue is full/);
    const ready = await s.service.app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 503, 'not ready while the queue is full');
  } finally {
    await stopService(s);
  }
});

test('a graceful stop keeps the waiting ingestion jobs: the next start indexes them', async () => {
  const m = await tinyModel();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-stop-'));
  try {
    const indexFile = path.join(dir, 'index.safetensors');
    const first = await startService({ run: m.run, vectors: m.vectors, indexFile, token: TOKEN, log: false, ann: false, ingestWorkers: 0 });
    for (let i = 0; i < 4; i++) assert.equal((await first.service.app.inject({ method: 'POST', url: '/v1/items', payload: { id: `kept-${i}`, title: 'black leather boots' }, headers: auth })).statusCode, 202);
    await stopService(first);
    const second = await startService({ run: m.run, vectors: m.vectors, indexFile, token: TOKEN, log: false, ann: false });
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const found = await Promise.all([0, 1, 2, 3].map(async (i) => (await second.service.app.inject({ url: `/v1/items/kept-${i}` })).statusCode));
        if (found.every((c) => c === 200)) break;
        assert.ok(Date.now() < deadline, `jobs accepted before the stop were never indexed: ${found}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await stopService(second);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The next HTTP response on a raw socket: status and Retry-After. */
function response(sock: net.Socket): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      const head = got.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(got.slice(0, head))?.[1] ?? 0);
      if (got.length < head + 4 + length) return;
      sock.off('data', onData);
      resolve({ status: Number(got.slice(9, 12)), retryAfter: /retry-after: (\S+)/i.exec(got.slice(0, head))?.[1] });
    };
    sock.on('data', onData);
    sock.once('error', reject);
  });
}

/**
 * POSTs `bodies` at once, one per connection: the connections are opened (and answered a
 * /healthz) first, then every request is written in the same turn of the event loop, so all of
 * them sit in the server's socket buffers together, as on a server flooded by many clients.
 */
async function burst(base: string, bodies: string[]): Promise<{ status: number; retryAfter?: string }[]> {
  const url = new URL(base);
  const sockets = await Promise.all(bodies.map(() => new Promise<net.Socket>((resolve, reject) => {
    const sock = net.connect(Number(url.port), url.hostname, () => resolve(sock));
    sock.once('error', reject);
  })));
  try {
    await Promise.all(sockets.map((sock) => {
      const answered = response(sock);
      sock.write(`GET /healthz HTTP/1.1\r\nhost: ${url.host}\r\n\r\n`);
      return answered;
    }));
    const answers = sockets.map((sock, i) => {
      const answered = response(sock);
      sock.write(`POST /v1/rank HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(bodies[i])}\r\n\r\n${bodies[i]}`);
      return answered;
    });
    return await Promise.all(answers);
  } finally {
    for (const sock of sockets) sock.destroy();
  }
}

test('overload: requests that arrive together queue with their real arrival time; past the deadline or the queue bound they get a quick 503', async () => {
  const m = await tinyModel();
  const s = await startService({ run: m.run, vectors: m.vectors, indexFile: null, token: null, log: false, ann: false, limits: { rankDeadlineMs: 100, rankQueue: 1000 } });
  try {
    const base = await s.service.listen(0);
    const body = JSON.stringify({ behaviours: items.slice(0, 20), candidates: Array.from({ length: 500 }, (_, i) => items[i % items.length]) });
    const results = await burst(base, Array.from({ length: 80 }, () => body));
    const ok = results.filter((r) => r.status === 200), shed = results.filter((r) => r.status === 503);
    assert.equal(ok.length + shed.length, results.length, `only 200 and 503: ${results.map((r) => r.status)}`);
    assert.ok(ok.length > 0, 'the first are scored');
    assert.ok(shed.length > 0, 'the ones that waited past the 100 ms deadline since they arrived are shed');
    assert.ok(shed.every((r) => r.retryAfter === '1'));
    assert.match((await s.service.app.inject({ url: '/metrics' })).body, /mmctr_rank_shed_total [1-9]/);
  } finally {
    await stopService(s);
  }
  const q = await startService({ run: m.run, vectors: m.vectors, indexFile: null, token: null, log: false, ann: false, limits: { rankQueue: 2 } });
  try {
    const base = await q.service.listen(0);
    const body = JSON.stringify({ behaviours: items.slice(0, 20), candidates: items.slice(0, 200) });
    const results = await burst(base, Array.from({ length: 30 }, () => body));
    assert.ok(results.filter((r) => r.status === 503).length >= 20, `a queue of 2 refuses most of 30 at once: ${results.map((r) => r.status)}`);
    assert.ok(results.every((r) => r.status === 200 || r.status === 503));
    assert.match((await q.service.app.inject({ url: '/metrics' })).body, /mmctr_admission_refused_total\{reason="rank_queue"\} [1-9]/);
  } finally {
    await stopService(q);
  }
});

test('a hot reload runs in steps: /healthz is answered while a reload is under way', async () => {
  const order: string[] = [];
  const reload = started.service.reload().then(() => order.push('reload'));
  const health = inject({ url: '/healthz' }).then((r) => order.push(`health ${r.statusCode}`));
  await Promise.all([reload, health]);
  assert.deepEqual(order, ['health 200', 'reload']);
});

test('per-request server CPU is measured and exported', async () => {
  await inject({ method: 'POST', url: '/v1/rank', payload: { behaviours: items.slice(0, 5), candidates: items.slice(0, 50) } });
  const metrics = (await inject({ url: '/metrics' })).body;
  assert.match(metrics, /mmctr_http_request_cpu_seconds_count\{route="\/v1\/rank"\} [1-9]/);
  assert.ok(Number(/^mmctr_http_request_cpu_max_seconds (\S+)$/m.exec(metrics)![1]) > 0);
});

test('journal lines skipped on start are logged with their byte offset and counted in /metrics', async () => {
  const m = await tinyModel();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-journal-'));
  try {
    const indexFile = path.join(dir, 'index.safetensors');
    const good = JSON.stringify({ id: 'kept', v: Array.from({ length: 128 }, (_, i) => (i === 0 ? 1 : 0)) });
    writeFileSync(`${indexFile}.journal`, `${good}\nnull\n{"v":[1]}\n${good.slice(0, 30)}`);
    const said: string[] = [];
    const s = await startService({ run: m.run, vectors: m.vectors, indexFile, token: null, log: false, ann: false, say: (l) => said.push(l) });
    try {
      assert.ok(said.some((l) => l.includes(`byte ${good.length + 1}: not a record`)), said.join('\n'));
      assert.ok(said.some((l) => /byte \d+: a torn last line/.test(l)), said.join('\n'));
      const metrics = (await s.service.app.inject({ url: '/metrics' })).body;
      assert.match(metrics, /mmctr_journal_skipped_lines_total\{journal="index\.safetensors\.journal",reason="invalid"\} 2/);
      assert.match(metrics, /mmctr_journal_skipped_lines_total\{journal="index\.safetensors\.journal",reason="torn-tail"\} 1/);
      assert.equal((await s.service.app.inject({ url: '/v1/items/kept' })).statusCode, 200);
    } finally {
      await stopService(s);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
