/**
 * bench:fuzz — issue 14's bar: the service and the trainer probed as an attacker and an unlucky
 * operator would, against processes this script starts itself, on loopback only.
 *
 *   1. fuzz: `mmctr serve` (the embedded default, a fresh journaled index) gets --requests
 *      requests (default 2000; --full: 10000), one at a time, drawn from every endpoint and the
 *      issue's categories: binary bodies on JSON routes, huge and odd JSON, unknown keys, wrong
 *      types, broken multipart forms, long and control-character ids, odd query strings, auth,
 *      methods and paths, and malformed HTTP on a raw socket. Counted: crashes (the process gone;
 *      it is restarted), 5xx answers, the most server CPU one request took (the service's own
 *      mmctr_http_request_cpu_max_seconds: process CPU from arrival to response), and resident
 *      memory after the run against before it (after a warm-up; given up to 20 s to settle).
 *   2. crash drills: (a, b) kill -9 during ingestion twice in a row on the embedded journal, then
 *      every acknowledged item (201 or 202) must have its vector; (c) kill -9 during training
 *      with dropout 0.3, `mmctr resume`, and the final weights compared bit for bit with an
 *      uninterrupted run.
 *   3. overload: capacity measured (closed loop), then an open loop at 2x that for 30 s: every
 *      request must be answered 200 or 503 within 2 s.
 *   4. the journal's fsync policies, timed in-process: one acknowledged ingestion (queue journal
 *      + index journal) per policy.
 *
 * Last line with --json: {"requests", "crashes", "status_5xx", "max_cpu_ms", "rss_growth_mb",
 * "acked_lost", "resume_identical", "overload_unanswered"}.
 * Options: --json, --full, --requests N, --overload-seconds S (default 30), --seed N, --skip-drills.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SampleConfig } from '../src/data/sample-config.js';
import { buildStoreFromSpec } from '../src/data/samples.js';
import { SampleStore } from '../src/data/store.js';
import { readExperimentConfig } from '../src/ctr/run.js';
import { readSafetensors } from '../src/engine/safetensors.js';
import { EmbeddedIndex, FSYNC_POLICIES, InProcessQueue } from '../src/index/index.js';
import { ensureDefaultModel } from '../src/serve/default-model.js';
import { repoRoot } from '../src/util/paths.js';
import { writeDemoData } from '../src/world/demo-data.js';
import { Rng } from '../src/world/rng.js';
import { metric, numberFlag, openLoop, processUsage, quantile, startServer } from './serve-child.js';

const args = process.argv.slice(2);
const num = (name: string, fallback: number) => numberFlag(args, name, fallback);
const json = args.includes('--json');
const full = args.includes('--full');
const nRequests = num('requests', full ? 10_000 : 2000);
const overloadSeconds = num('overload-seconds', 30);
const seed = num('seed', 14);
const say = (line: string) => console.log(line);
const TOKEN = 'fuzz-token';
const t0 = performance.now();
const cpu0 = process.cpuUsage();

/** Deterministic uniform numbers in [0, 1), independent of the native engine the servers run. */
const prng = (s: number) => {
  const rng = new Rng(s);
  return () => rng.next();
};
const rand = prng(seed);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const bytes = (n: number) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
};

// ---------------------------------------------------------------------------------------------
// The fuzzer

interface FuzzRequest {
  category: string;
  what: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Bytes written as they are on a fresh socket (malformed HTTP). */
  raw?: Buffer;
}

const auth = { authorization: `Bearer ${TOKEN}` };
const jsonHeaders = { 'content-type': 'application/json' };

function makeGenerators(ids: string[], runName: string): Record<string, () => FuzzRequest> {
  const id = () => (rand() < 0.8 ? pick(ids) : `unknown-${int(1e6)}`);
  const idList = (n: number) => Array.from({ length: n }, id);
  const vector = (dim = 128) => Array.from({ length: dim }, () => rand() * 2 - 1);
  const jsonRoutes = ['/v1/rank', '/v1/users/fz-user/behaviours', '/v1/admin/reload'];
  const anyRoute = () => pick(['/v1/rank', '/v1/items', `/v1/items/${pick(ids)}`, `/v1/items/${pick(ids)}/similar`, '/v1/ingest/abc', '/v1/users/u/behaviours', '/v1/admin/reload', '/healthz', '/readyz', '/metrics', '/v1/info']);
  const post = (category: string, what: string, path: string, body: string | Buffer, headers: Record<string, string> = jsonHeaders): FuzzRequest => ({ category, what, method: 'POST', path, headers, body });
  let ingested = 0;
  const form = (parts: string, boundary = 'fzb') => ({ 'content-type': `multipart/form-data; boundary=${boundary}`, ...auth, body: parts });
  return {
    'valid-rank': () => post('valid', 'rank', '/v1/rank', JSON.stringify({ behaviours: idList(int(100)), candidates: idList(1 + int(200)), ...(rand() < 0.3 ? { topK: 1 + int(20) } : {}), ...(rand() < 0.2 ? { userId: `user-${int(50)}` } : {}) })),
    'valid-ingest': () => {
      const n = ingested++;
      const kind = int(4);
      if (kind === 0) return post('valid', 'ingest json', `/v1/items${rand() < 0.3 ? '?wait=1' : ''}`, JSON.stringify({ id: `fz-${n}`, title: `red cotton dress ${n}` }), { ...jsonHeaders, ...auth });
      if (kind === 1) return post('valid', 'ingest vector', '/v1/items', JSON.stringify({ id: `fz-${n}`, vector: vector() }), { ...jsonHeaders, ...auth });
      if (kind === 2) return post('valid', 'ingest image', `/v1/items?id=fz-${n}&title=green%20jacket`, bytes(1000 + int(50_000)), { 'content-type': 'image/jpeg', ...auth });
      const f = form(`--fzb\r\ncontent-disposition: form-data; name="id"\r\n\r\nfz-${n}\r\n--fzb\r\ncontent-disposition: form-data; name="title"\r\n\r\nblue scarf\r\n--fzb--\r\n`);
      const { body, ...headers } = f;
      return post('valid', 'ingest form', '/v1/items', body, headers);
    },
    'valid-read': () => {
      const k = int(8);
      const paths = [`/v1/items/${id()}`, `/v1/items/${pick(ids)}/similar?k=${1 + int(50)}`, `/v1/ingest/${int(1e9)}`, '/healthz', '/readyz', '/metrics', '/v1/info', `/v1/items/fz-${int(Math.max(1, ingested))}`];
      if (k === 7) return post('valid', 'behaviours', `/v1/users/user-${int(50)}/behaviours`, JSON.stringify({ items: idList(1 + int(20)) }), { ...jsonHeaders, ...auth });
      return { category: 'valid', what: 'read', method: 'GET', path: paths[k] };
    },
    'binary-on-json': () => {
      const size = pick([0, 1, 100, 10_000, 1 << 20, 4 << 20]);
      const type = pick(['image/jpeg', 'application/octet-stream', 'text/plain', 'application/json', 'application/x-www-form-urlencoded', '']);
      const headers: Record<string, string> = { ...auth, ...(type ? { 'content-type': type } : {}) };
      return post('binary-on-json', `${size} bytes as ${type || 'no type'}`, pick(jsonRoutes), rand() < 0.5 ? Buffer.alloc(size) : bytes(size), headers);
    },
    'huge-json': () => {
      const k = int(7);
      if (k === 0) return post('huge-json', 'rank, 1 MiB of candidates', '/v1/rank', JSON.stringify({ candidates: Array.from({ length: 80_000 }, () => 'c0123456') }));
      if (k === 1) return post('huge-json', 'rank, over the body limit', '/v1/rank', JSON.stringify({ candidates: ['a'.repeat(2 << 20)] }));
      if (k === 2) return post('huge-json', 'item, 1.9 MiB title', '/v1/items', JSON.stringify({ id: 'h', title: 't'.repeat(1.9 * 2 ** 20) }), { ...jsonHeaders, ...auth });
      if (k === 3) return post('huge-json', 'item, 1M-number vector', '/v1/items', JSON.stringify({ id: 'h', vector: Array.from({ length: 1_000_000 }, () => 0) }), { ...jsonHeaders, ...auth });
      if (k === 4) {
        const size = pick([1.45 * 2 ** 20, 5 << 20]);
        return post('huge-json', `item, ${(size / 2 ** 20).toFixed(1)} MiB image in base64`, '/v1/items?wait=1', JSON.stringify({ id: `big-${int(1e6)}`, title: 'x', image: bytes(size).toString('base64') }), { ...jsonHeaders, ...auth });
      }
      if (k === 5) return post('huge-json', 'image bytes at the 5 MiB limit', `/v1/items?id=big-${int(1e6)}&title=x&wait=1`, bytes((5 << 20) - 1), { 'content-type': 'image/jpeg', ...auth });
      return post('huge-json', 'item, over the body limit', '/v1/items', JSON.stringify({ id: 'h', title: 'x', pad: 'p'.repeat(11 << 20) }), { ...jsonHeaders, ...auth });
    },
    'odd-json': () => {
      const depth = pick([100, 10_000, 100_000]);
      const bodies = [
        '['.repeat(depth) + ']'.repeat(depth),
        '{"candidates":' + '['.repeat(depth) + ']'.repeat(depth) + '}',
        '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
        '{"candidates":["a"],"candidates":["b"]}',
        '{"__proto__":{"polluted":true},"candidates":["a"]}',
        '{"constructor":{"prototype":{"x":1}},"candidates":["a"]}',
        '{"candidates":["\\ud800"]}',
        '{"candidates":["a"],"topK":1e400}',
        '{"candidates":["a"],"topK":-0}',
        '{"candidates":["a"],"topK":123456789012345678901234567890}',
        '{"candidates":[NaN]}',
        '',
        'null',
        'true',
        '[]',
        '"candidates"',
        '\uFEFF{"candidates":["a"]}',
        '{"candidates":["a"],}',
        '{"candidates":["a"] /* comment */}',
        '{"candidates":["a"',
        '{"candidates":["a"]}garbage',
        '{"candidates":["\u0000"]}',
        JSON.stringify({ candidates: ['é', '中文', '🙂', 'a\u200bb'] }),
      ];
      const body = pick(bodies);
      const route = pick([...jsonRoutes, '/v1/items']);
      const enc = rand() < 0.1 ? Buffer.from(body, 'utf16le') : body;
      return post('odd-json', `${body.slice(0, 40)}${body.length > 40 ? '...' : ''} (${body.length} chars) to ${route}`, route, enc, { ...jsonHeaders, ...auth });
    },
    'unknown-keys': () => {
      const n = pick([1, 100, 10_000, 200_000]);
      const route = pick([...jsonRoutes, '/v1/items']);
      const base = route === '/v1/items' ? { id: 'u', title: 'x' } : route === '/v1/rank' ? { candidates: ['a'] } : { items: ['a'] };
      const body = JSON.stringify({ ...base, ...Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])) });
      return post('unknown-keys', `${n} unknown keys to ${route}`, route, body, { ...jsonHeaders, ...auth });
    },
    'wrong-types': () => {
      const wrong = [null, 0, -1, 1.5, 1e300, 'x', '', true, [], {}, [[]], [null], [1, 2], { a: 1 }];
      const field = pick(['candidates', 'behaviours', 'userId', 'topK', 'onUnknown', 'id', 'title', 'image', 'vector', 'items', 'run']);
      const value = pick(wrong);
      const route = ['id', 'title', 'image', 'vector'].includes(field) ? '/v1/items' : field === 'items' ? '/v1/users/u/behaviours' : field === 'run' ? '/v1/admin/reload' : '/v1/rank';
      const base: Record<string, unknown> = route === '/v1/items' ? { id: 'w', title: 't' } : route === '/v1/rank' ? { candidates: ['a'] } : {};
      const special = field === 'vector' ? pick([vector(127), vector(129), Array(128).fill(1e200), Array(128).fill(0), Array(128).fill('1'), Array(128).fill(1e-320)]) : value;
      return post('wrong-types', `${field}: ${JSON.stringify(special)?.slice(0, 40)}`, route, JSON.stringify({ ...base, [field]: special }), { ...jsonHeaders, ...auth });
    },
    multipart: () => {
      const cases: [string, Record<string, string>, string | Buffer][] = [
        ['no boundary', { 'content-type': 'multipart/form-data' }, '--x\r\n\r\n'],
        ['garbage', { 'content-type': 'multipart/form-data; boundary=fzb' }, bytes(2000)],
        ['truncated', { 'content-type': 'multipart/form-data; boundary=fzb' }, '--fzb\r\ncontent-disposition: form-data; name="id"\r\n\r\nabc'],
        ['no parts', { 'content-type': 'multipart/form-data; boundary=fzb' }, '--fzb--\r\n'],
        ['long id', { 'content-type': 'multipart/form-data; boundary=fzb' }, `--fzb\r\ncontent-disposition: form-data; name="id"\r\n\r\n${'i'.repeat(5000)}\r\n--fzb--\r\n`],
        ['huge field', { 'content-type': 'multipart/form-data; boundary=fzb' }, `--fzb\r\ncontent-disposition: form-data; name="title"\r\n\r\n${'t'.repeat(100_000)}\r\n--fzb--\r\n`],
        ['many parts', { 'content-type': 'multipart/form-data; boundary=fzb' }, Array.from({ length: 50 }, (_, i) => `--fzb\r\ncontent-disposition: form-data; name="f${i}"\r\n\r\nv\r\n`).join('') + '--fzb--\r\n'],
        ['two files', { 'content-type': 'multipart/form-data; boundary=fzb' }, `--fzb\r\ncontent-disposition: form-data; name="image"; filename="a"\r\n\r\nAAA\r\n--fzb\r\ncontent-disposition: form-data; name="image"; filename="b"\r\n\r\nBBB\r\n--fzb--\r\n`],
        ['file as id', { 'content-type': 'multipart/form-data; boundary=fzb' }, `--fzb\r\ncontent-disposition: form-data; name="id"; filename="id.txt"\r\n\r\nabc\r\n--fzb--\r\n`],
        ['no disposition', { 'content-type': 'multipart/form-data; boundary=fzb' }, `--fzb\r\n\r\nabc\r\n--fzb--\r\n`],
        ['long field name', { 'content-type': 'multipart/form-data; boundary=fzb' }, `--fzb\r\ncontent-disposition: form-data; name="${'n'.repeat(10_000)}"\r\n\r\nv\r\n--fzb--\r\n`],
        ['__proto__ field', { 'content-type': 'multipart/form-data; boundary=fzb' }, `--fzb\r\ncontent-disposition: form-data; name="__proto__"\r\n\r\nv\r\n--fzb--\r\n`],
        ['json field', { 'content-type': 'multipart/form-data; boundary=fzb' }, `--fzb\r\ncontent-disposition: form-data; name="id"\r\ncontent-type: application/json\r\n\r\n{bad\r\n--fzb--\r\n`],
        ['control id', { 'content-type': 'multipart/form-data; boundary=fzb' }, `--fzb\r\ncontent-disposition: form-data; name="id"\r\n\r\na\u0000b\r\n--fzb\r\ncontent-disposition: form-data; name="title"\r\n\r\nx\r\n--fzb--\r\n`],
        ['12 MiB file', { 'content-type': 'multipart/form-data; boundary=fzb' }, Buffer.concat([Buffer.from(`--fzb\r\ncontent-disposition: form-data; name="id"\r\n\r\nbigfile\r\n--fzb\r\ncontent-disposition: form-data; name="image"; filename="x"\r\n\r\n`), Buffer.alloc(12 << 20), Buffer.from('\r\n--fzb--\r\n')])],
      ];
      const [what, headers, body] = pick(cases);
      return post('multipart', what, pick(['/v1/items', '/v1/rank']), body, { ...headers, ...auth });
    },
    'long-ids': () => {
      const n = pick([100, 101, 127, 128, 129, 200, 1000, 1600, 5000]);
      const ch = pick(['x', 'é', '中', '🙂', '%', '/', '\u0000', '\t', '..']);
      const raw = Array.from(ch.repeat(n)).slice(0, n).join('');
      const k = int(5);
      if (k === 0) return { category: 'long-ids', what: `GET item id of ${n} x ${JSON.stringify(ch)}`, method: 'GET', path: `/v1/items/${encodeURIComponent(raw)}` };
      if (k === 1) return { category: 'long-ids', what: `similar of ${n}`, method: 'GET', path: `/v1/items/${encodeURIComponent(raw)}/similar` };
      if (k === 2) return post('long-ids', `rank candidate of ${n}`, '/v1/rank', JSON.stringify({ candidates: [raw], behaviours: [raw] }));
      if (k === 3) return post('long-ids', `ingest id of ${n}`, '/v1/items', JSON.stringify({ id: raw, title: 'x' }), { ...jsonHeaders, ...auth });
      return { category: 'long-ids', what: `bad escapes`, method: 'GET', path: pick(['/v1/items/%zz', '/v1/items/%', '/v1/items/%00', '/v1/items/..%2F..%2Fetc', '/v1/items/%C0%AF', `/v1/users/${'u'.repeat(n)}/behaviours`]) };
    },
    query: () => {
      const qs = pick(['?k=0', '?k=-1', '?k=abc', '?k=1000', '?k=99999999999', '?k=1&k=2', '?x=1', `?k=${'9'.repeat(5000)}`, '?wait=maybe', '?id=&title=', `?id=${'a'.repeat(300)}`, '?id=a%00b', '?title=' + 't'.repeat(3000), '?%zz=1', '?' + 'a=1&'.repeat(2000)]);
      const route = pick([`/v1/items/${pick(ids)}/similar`, '/v1/items', '/v1/rank', '/healthz']);
      const method = route.includes('similar') || route === '/healthz' ? 'GET' : 'POST';
      return { category: 'query', what: `${method} ${route}${qs.slice(0, 30)}`, method, path: `${route}${qs}`, headers: method === 'POST' ? { 'content-type': 'image/png', ...auth } : {}, body: method === 'POST' ? bytes(100) : undefined };
    },
    auth: () => {
      const header = pick([undefined, '', 'Bearer', 'Bearer ', 'bearer fuzz-token', `Bearer ${TOKEN}x`, 'Basic Zm9vOmJhcg==', `Bearer ${'t'.repeat(10_000)}`, 'Bearer \u00e9', `Bearer  ${TOKEN}`]);
      const route = pick(['/v1/items', '/v1/admin/reload', '/v1/users/u/behaviours']);
      return post('auth', `${route} with ${JSON.stringify(header)?.slice(0, 30)}`, route, JSON.stringify({ id: 'a', title: 'b' }), { ...jsonHeaders, ...(header === undefined ? {} : { authorization: header }) });
    },
    reload: () => {
      const run = pick([runName, '/etc', '../../etc', '.', '..', 'no-such-run', 'a/b', '', 'x'.repeat(300), runName]);
      return post('reload', `reload ${JSON.stringify(run).slice(0, 30)}`, '/v1/admin/reload', JSON.stringify(rand() < 0.1 ? {} : { run }), { ...jsonHeaders, ...auth });
    },
    methods: () => {
      const method = pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'GET', 'POST', 'TRACE']);
      const route = pick([anyRoute(), '/', '//v1//rank', '/v1/../v1/rank', `/${'p'.repeat(8000)}`, '/v1/rank?', '/V1/RANK', '/v1/rank/', '/.env', '/v1/items/a/b/c']);
      return { category: 'methods', what: `${method} ${route.slice(0, 40)}`, method, path: route, headers: jsonHeaders, body: method === 'GET' || method === 'HEAD' ? undefined : '{}' };
    },
    'raw-http': () => {
      const host = 'host: 127.0.0.1\r\n';
      const cases: [string, string | Buffer][] = [
        ['bad request line', 'GARBAGE\r\n\r\n'],
        ['HTTP/0.9', 'GET /healthz\r\n\r\n'],
        ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
        ['header without colon', `GET /healthz HTTP/1.1\r\n${host}no colon here\r\n\r\n`],
        ['20 KB header', `GET /healthz HTTP/1.1\r\n${host}x-big: ${'h'.repeat(20_000)}\r\n\r\n`],
        ['bad content-length', `POST /v1/rank HTTP/1.1\r\n${host}content-type: application/json\r\ncontent-length: abc\r\n\r\n{}`],
        ['negative content-length', `POST /v1/rank HTTP/1.1\r\n${host}content-type: application/json\r\ncontent-length: -5\r\n\r\n{}`],
        ['two content-lengths', `POST /v1/rank HTTP/1.1\r\n${host}content-type: application/json\r\ncontent-length: 2\r\ncontent-length: 9\r\n\r\n{}`],
        ['bad chunk size', `POST /v1/rank HTTP/1.1\r\n${host}content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`],
        ['chunked and length', `POST /v1/rank HTTP/1.1\r\n${host}content-type: application/json\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n2\r\n{}\r\n0\r\n\r\n`],
        ['NUL in header', `GET /healthz HTTP/1.1\r\n${host}x-a: a\u0000b\r\n\r\n`],
        ['pipelined', `GET /healthz HTTP/1.1\r\n${host}\r\n`.repeat(5) + `POST /v1/rank HTTP/1.1\r\n${host}content-type: application/json\r\ncontent-length: 20\r\n\r\n{"candidates":["a"]}`],
        ['CONNECT', `CONNECT 127.0.0.1:22 HTTP/1.1\r\n${host}\r\n`],
        ['absolute URI', `GET http://example.com/healthz HTTP/1.1\r\n${host}\r\n`],
        ['short body then close', `POST /v1/rank HTTP/1.1\r\n${host}content-type: application/json\r\ncontent-length: 100\r\n\r\n{"cand`],
        ['random bytes', bytes(1 + int(4000))],
      ];
      const [what, raw] = pick(cases);
      return { category: 'raw-http', what, raw: Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'latin1') };
    },
  };
}

/** Weights of the categories (valid traffic mixed in, as a real server sees it). */
const WEIGHTS: Record<string, number> = {
  'valid-rank': 10, 'valid-ingest': 6, 'valid-read': 8, 'binary-on-json': 7, 'huge-json': 3, 'odd-json': 8, 'unknown-keys': 5, 'wrong-types': 10,
  multipart: 7, 'long-ids': 8, query: 6, auth: 5, reload: 3, methods: 6, 'raw-http': 8,
};

interface Answer {
  /** null: no answer (the connection closed or reset first; e.g. a 413 sent while the body was still going out). */
  status: number | null;
  ms: number;
  /** No answer within the time allowed: a stall. */
  timedOut?: boolean;
}

/** The last client-side error (EPIPE: the server answered, e.g. 413, and closed while the body was still going out). */
let lastError = '';

function sendHttp(base: string, r: FuzzRequest, timeoutMs: number): Promise<Answer> {
  const url = new URL(base);
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (status: number | null, timedOut = false) => {
      if (settled) return;
      settled = true;
      resolve({ status, ms: performance.now() - started, timedOut });
    };
    let req: http.ClientRequest;
    try {
      // A connection per request: a reused keep-alive socket the server had just closed (after a
      // 413) would fail the next request on the client's side and look like a server fault.
      req = http.request({ agent: false, host: url.hostname, port: url.port, method: r.method, path: r.path, headers: { ...(r.headers ?? {}), ...(r.body !== undefined ? { 'content-length': String(Buffer.byteLength(r.body)) } : {}) }, timeout: timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? null));
        res.on('error', () => done(res.statusCode ?? null));
      });
    } catch {
      // The client itself refuses (an invalid header value): nothing was sent.
      return done(-1);
    }
    req.on('timeout', () => {
      req.destroy();
      done(null, true);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      lastError = err.code ?? err.message;
      done(null);
    });
    req.end(r.body);
  });
}

function sendRaw(base: string, r: FuzzRequest, timeoutMs: number): Promise<Answer> {
  const url = new URL(base);
  const started = performance.now();
  return new Promise((resolve) => {
    let got = '';
    let settled = false;
    const sock = net.connect(Number(url.port), url.hostname);
    const done = () => {
      if (settled) return;
      settled = true;
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : 0, ms: performance.now() - started });
    };
    sock.setTimeout(timeoutMs, done);
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (/^HTTP\/1\.[01] \d{3}/.test(got)) setTimeout(done, 20);
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.write(r.raw!);
    // Half-close after writing: a request cut short must be answered or dropped, not waited on.
    setTimeout(() => sock.end(), 50);
  });
}

// ---------------------------------------------------------------------------------------------
// Phases

interface FuzzResult {
  requests: number;
  crashes: number;
  status5xx: number;
  maxCpuMs: number;
  rssGrowthMb: number;
  stalls: number;
}

async function fuzz(tmp: string, ids: string[], runName: string, runsRoot: string): Promise<FuzzResult> {
  const logFile = path.join(tmp, 'fuzz-server.log');
  const logFd = openSync(logFile, 'a');
  const serverArgs = ['--index', path.join(tmp, 'fuzz-index.safetensors'), '--log-level', 'error', '--runs-root', runsRoot];
  let server = await startServer(serverArgs, { token: TOKEN, output: logFd });
  const generators = makeGenerators(ids, runName);
  const names = Object.keys(WEIGHTS);
  const total = names.reduce((s, n) => s + WEIGHTS[n], 0);
  const draw = () => {
    let x = rand() * total;
    for (const n of names) if ((x -= WEIGHTS[n]) < 0) return generators[n]();
    return generators[names[0]]();
  };
  // Warm-up (JIT, first calls, the ANN graph) before memory is read as the baseline.
  for (let i = 0; i < 200; i++) await sendHttp(server.url, generators[pick(['valid-rank', 'valid-read', 'valid-ingest'])](), 15_000);
  await new Promise((r) => setTimeout(r, 2000));
  const rssStart = processUsage(server.child.pid!).rssMb;
  let crashes = 0, status5xx = 0, stalls = 0, maxCpuMs = 0;
  const byCategory = new Map<string, { n: number; statuses: Map<number | null, number> }>();
  const heaviest: { cpuMs: number; what: string }[] = [];
  const five: string[] = [];
  const noAnswer: string[] = [];
  const started = performance.now();
  for (let i = 0; i < nRequests; i++) {
    const r = draw();
    const before = processUsage(server.child.pid!).cpuSeconds;
    const a = r.raw ? await sendRaw(server.url, r, 15_000) : await sendHttp(server.url, r, 15_000);
    const cpuMs = (processUsage(server.child.pid!).cpuSeconds - before) * 1000;
    heaviest.push({ cpuMs, what: `${r.category}: ${r.what}` });
    heaviest.sort((x, y) => y.cpuMs - x.cpuMs);
    heaviest.length = Math.min(heaviest.length, 5);
    const c = byCategory.get(r.category) ?? { n: 0, statuses: new Map() };
    c.n++;
    c.statuses.set(a.status, (c.statuses.get(a.status) ?? 0) + 1);
    byCategory.set(r.category, c);
    if (a.status !== null && a.status >= 500) {
      status5xx++;
      if (five.length < 10) five.push(`${a.status} ${r.category}: ${r.what}`);
    }
    if (a.timedOut) stalls++;
    if (a.status === null && !r.raw && noAnswer.length < 8) noAnswer.push(`${r.category}: ${r.what} (${lastError})`);
    if (server.exited()) {
      crashes++;
      say(`  the server died after request ${i} (${r.category}: ${r.what}); restarting (log: ${logFile})`);
      maxCpuMs = Math.max(maxCpuMs, 0);
      server = await startServer(serverArgs, { token: TOKEN, output: logFd });
    }
    if ((i + 1) % 1000 === 0) say(`  ${i + 1} requests, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  maxCpuMs = Math.max(maxCpuMs, (await metric(server.url, 'mmctr_http_request_cpu_max_seconds')) * 1000);
  // Memory after the run, given time for the collector to return what the run used.
  let rssEnd = processUsage(server.child.pid!).rssMb;
  for (let s = 0; s < 20 && rssEnd > rssStart + 50; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    rssEnd = processUsage(server.child.pid!).rssMb;
  }
  const serverCpu = processUsage(server.child.pid!).cpuSeconds;
  await server.stop();
  closeSync(logFd);
  say(`fuzz: ${nRequests} requests in ${((performance.now() - started) / 1000).toFixed(1)} s; server CPU ${serverCpu.toFixed(1)} s in all`);
  for (const [cat, c] of [...byCategory].sort()) say(`  ${cat.padEnd(15)} ${String(c.n).padStart(5)}  ${[...c.statuses].sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0)).map(([s, n]) => `${s ?? 'none'}:${n}`).join(' ')}`);
  say(`  crashes ${crashes}, 5xx ${status5xx}${five.length ? ` (${five.join('; ')})` : ''}, unanswered in 15 s ${stalls}`);
  if (noAnswer.length) say(`  connection closed before an answer (the first): ${noAnswer.join('; ')}`);
  say(`  most server CPU for one request: ${maxCpuMs.toFixed(1)} ms (service metric); heaviest by /proc ticks (10 ms resolution, background work included): ${heaviest.map((h) => `${h.cpuMs.toFixed(0)} ms ${h.what}`).join('; ')}`);
  say(`  RSS ${rssStart.toFixed(0)} MB after warm-up, ${rssEnd.toFixed(0)} MB after the run (${(rssEnd - rssStart).toFixed(1)} MB)`);
  return { requests: nRequests, crashes, status5xx, maxCpuMs, rssGrowthMb: rssEnd - rssStart, stalls };
}

/** Posts items from `clients` concurrent clients until stop(); every acknowledged id is recorded. */
function ingestStream(base: string, tag: string, acked: Set<string>, clients = 4): { stop: () => Promise<number> } {
  let running = true;
  let n = 0, sent = 0;
  const words = ['red', 'blue', 'cotton', 'summer', 'dress', 'shirt', 'leather', 'boots', 'jacket', 'silk'];
  const one = async () => {
    while (running) {
      const id = `${tag}-${n++}`;
      const wait = n % 2 === 0;
      const body = n % 3 === 0 ? { id, vector: Array.from({ length: 128 }, () => rand() - 0.5) } : { id, title: `${pick(words)} ${pick(words)} ${n}` };
      sent++;
      try {
        const r = await fetch(`${base}/v1/items${wait ? '?wait=1' : ''}`, { method: 'POST', body: JSON.stringify(body), headers: { ...jsonHeaders, ...auth } });
        if (r.status === 201 || r.status === 202) acked.add(id);
        await r.arrayBuffer();
      } catch {
        // The server was killed under us: the request was not acknowledged.
        return;
      }
    }
  };
  const all = Array.from({ length: clients }, one);
  return {
    stop: async () => {
      running = false;
      await Promise.all(all);
      return sent;
    },
  };
}

async function ingestionDrills(tmp: string): Promise<{ acked: number; lost: number }> {
  const index = path.join(tmp, 'drill-index.safetensors');
  const args = ['--index', index, '--log-level', 'error', '--no-ann'];
  const acked = new Set<string>();
  for (const round of [1, 2]) {
    const server = await startServer(args, { token: TOKEN, output: 'ignore' });
    const stream = ingestStream(server.url, `drill${round}`, acked);
    // Killed mid-stream, at a moment that depends on the seed (0.8 to 2 s in).
    await new Promise((r) => setTimeout(r, 800 + int(1200)));
    await server.kill();
    const sent = await stream.stop();
    say(`  drill ${round}: kill -9 during ingestion (${sent} items sent, ${acked.size} acknowledged so far)`);
  }
  const server = await startServer(args, { token: TOKEN, output: 'ignore' });
  try {
    // Jobs acknowledged but not yet indexed come back from the queue's journal: wait for them.
    for (const t = Date.now(); Date.now() - t < 60_000; await new Promise((r) => setTimeout(r, 100))) {
      const info = (await (await fetch(`${server.url}/v1/info`)).json()) as { index: { queued: number } };
      if (info.index.queued === 0) break;
    }
    let lost = 0;
    const missing: string[] = [];
    for (const id of acked) {
      const r = await fetch(`${server.url}/v1/items/${encodeURIComponent(id)}`);
      const body = (await r.json()) as { hasVector?: boolean };
      if (!body.hasVector) {
        lost++;
        if (missing.length < 5) missing.push(id);
      }
    }
    say(`  after the two kills: ${acked.size} acknowledged items, ${lost} without their vector${missing.length ? ` (${missing.join(', ')})` : ''}`);
    return { acked: acked.size, lost };
  } finally {
    await server.stop();
  }
}

function mmctr(args: string[], cwd: string) {
  return spawn(process.execPath, [path.join(repoRoot(), 'bin', 'mmctr.js'), ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function exitOf(child: ReturnType<typeof mmctr>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })));
}

const newestStep = (dir: string) => {
  if (!existsSync(dir)) return 0;
  const steps = readdirSync(dir).map((f) => /^step-(\d{12})\.safetensors$/.exec(f)?.[1]).filter((x): x is string => !!x).map(Number);
  return steps.length ? Math.max(...steps) : 0;
};

/** kill -9 during training with dropout on, resume, and compare with an uninterrupted run. */
async function trainingDrill(tmp: string): Promise<{ identical: boolean; detail: string }> {
  const dir = path.join(tmp, 'train-drill');
  mkdirSync(dir, { recursive: true });
  const store = path.join(dir, 'store');
  await buildStoreFromSpec(writeDemoData(path.join(dir, 'data'), { users: 400, items: 300, impressionsPerUser: 60, seed: 5 }), SampleConfig.parse({}), store);
  const config = path.join(dir, 'drill.json');
  writeFileSync(config, JSON.stringify({
    name: 'drill',
    data: { store },
    model: { model: 'din', embeddingDim: 16, mlpHidden: [64, 32], attentionHidden: [32, 16], dropout: 0.3 },
    train: { batchSize: 64, lr: 0.005, epochs: 2, seed: 3, checkpointEvery: 25 },
  }));
  const runsOf = (name: string) => path.join(dir, name);
  const runIn = (runs: string) => path.join(runs, readdirSync(runs).find((f) => f.startsWith('drill-seed3-'))!);
  const straight = await exitOf(mmctr(['train', config, '--runs', runsOf('straight'), '--json'], dir));
  if (straight.code !== 0) return { identical: false, detail: `the uninterrupted run failed: ${straight.stderr.slice(-500)}` };
  const straightRun = runIn(runsOf('straight'));
  const lastStep = newestStep(path.join(straightRun, 'checkpoints'));
  const child = mmctr(['train', config, '--runs', runsOf('killed'), '--json'], dir);
  const exited = exitOf(child);
  const target = Math.round(lastStep * (0.3 + 0.4 * rand()));
  let killedAt = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 5));
    if (child.exitCode !== null) break;
    const runs = runsOf('killed');
    const run = existsSync(runs) ? readdirSync(runs).find((f) => f.startsWith('drill-seed3-')) : undefined;
    killedAt = run ? newestStep(path.join(runs, run, 'checkpoints')) : 0;
    if (killedAt >= target) {
      // Somewhere after a checkpoint: the steps since it are lost and redone.
      await new Promise((r) => setTimeout(r, int(300)));
      child.kill('SIGKILL');
      break;
    }
  }
  const killed = await exited;
  if (killed.signal !== 'SIGKILL') return { identical: false, detail: `the run ended (${killed.code}) before it could be killed: make it longer` };
  const killedRun = runIn(runsOf('killed'));
  const resumed = await exitOf(mmctr(['resume', killedRun], dir));
  if (resumed.code !== 0) return { identical: false, detail: `mmctr resume failed: ${resumed.stderr.slice(-500)}` };
  const a = readSafetensors(path.join(straightRun, 'model.safetensors')).tensors, b = readSafetensors(path.join(killedRun, 'model.safetensors')).tensors;
  let differing = 0, values = 0;
  for (const [name, t] of a) {
    const u = b.get(name);
    const x = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), y = u ? new Uint8Array(u.data.buffer, u.data.byteOffset, u.data.byteLength) : new Uint8Array(0);
    values += t.data.length;
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) differing++;
  }
  const identical = differing === 0 && a.size === b.size;
  return { identical, detail: `${a.size} tensors (${values} values) of the resumed run ${identical ? 'identical to' : `differ from (${differing} tensors)`} the uninterrupted run's; killed after the checkpoint of step ${killedAt} of ${lastStep}, dropout 0.3` };
}

async function overload(tmp: string, bodies: string[]): Promise<{ unanswered: number; rate: number }> {
  const server = await startServer(['--index', path.join(tmp, 'overload-index.safetensors'), '--log-level', 'error'], { token: TOKEN, output: 'ignore' });
  try {
    type Autocannon = (opts: Record<string, unknown>) => Promise<{ requests: { average: number }; non2xx: number; errors: number }>;
    const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
    const requests = bodies.map((body) => ({ method: 'POST', path: '/v1/rank', body, headers: jsonHeaders }));
    await autocannon({ url: server.url, requests, connections: 2, duration: 2 });
    const closed = await autocannon({ url: server.url, requests, connections: 4, duration: 5, timeout: 10 });
    const capacity = closed.requests.average;
    const rate = Math.max(1, Math.round(2 * capacity));
    const cpuBefore = processUsage(server.child.pid!).cpuSeconds;
    const sent = await openLoop(server.url, '/v1/rank', bodies, rate, overloadSeconds, 2000);
    const cpu = processUsage(server.child.pid!).cpuSeconds - cpuBefore;
    const ok = sent.filter((r) => r.status === 200), shed = sent.filter((r) => r.status === 503);
    const answered = sent.filter((r) => (r.status === 200 || r.status === 503) && r.ms <= 2000);
    const other = sent.filter((r) => r.status !== null && r.status !== 200 && r.status !== 503);
    say(`overload: capacity ${capacity.toFixed(0)} req/s (closed loop, 4 connections, 5 s); open loop at ${rate} req/s for ${overloadSeconds} s: ${sent.length} requests`);
    say(`  200: ${ok.length} (p50 ${quantile(ok.map((r) => r.ms), 0.5)?.toFixed(0)} ms, p99 ${quantile(ok.map((r) => r.ms), 0.99)?.toFixed(0)} ms), 503: ${shed.length} (p99 ${quantile(shed.map((r) => r.ms), 0.99)?.toFixed(0) ?? '-'} ms), other status ${other.length}, unanswered within 2 s ${sent.length - answered.length}; server CPU ${cpu.toFixed(1)} s`);
    return { unanswered: sent.length - answered.length, rate };
  } finally {
    await server.stop();
  }
}

/** One acknowledged ingestion's durable writes (queue journal, then index journal) per fsync policy. */
async function fsyncCosts(tmp: string): Promise<string[]> {
  const lines: string[] = [];
  const n = 300;
  for (const fsync of FSYNC_POLICIES) {
    const dir = mkdtempSync(path.join(tmp, `fsync-${fsync}-`));
    const file = path.join(dir, 'index.safetensors');
    const index = EmbeddedIndex.open({ file, dim: 128, fsync });
    const queue = new InProcessQueue({ file: `${file}.queue`, fsync });
    const times: number[] = [];
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    for (let i = 0; i < n; i++) {
      const v = Float32Array.from({ length: 128 }, () => rand() - 0.5);
      const s = performance.now();
      await queue.submit({ id: `f${i}`, title: null, vector: Array.from(v) });
      await index.putMany([{ id: `f${i}`, vector: v }]);
      times.push(performance.now() - s);
    }
    const wall = performance.now() - w0;
    const c = process.cpuUsage(c0);
    lines.push(`  ${fsync.padEnd(9)} ${(wall / n).toFixed(3)} ms per acknowledged item (p50 ${quantile(times, 0.5).toFixed(3)}, p99 ${quantile(times, 0.99).toFixed(3)} ms), ${((c.user + c.system) / 1000 / n).toFixed(3)} ms CPU, ${Math.round((n * 1000) / wall)} items/s one at a time`);
    await queue.close();
    await index.close();
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------

const manifest = await ensureDefaultModel({ log: say });
const ids = SampleStore.open(readExperimentConfig(path.join(manifest.run, 'config.json')).data.store!).catalog.ids;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmctr-bench-fuzz-'));
let result: Record<string, number | boolean>;
try {
  say(`bench:fuzz: ${nRequests} fuzzed requests${full ? ' (--full)' : ''}, seed ${seed}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.availableParallelism()} cores`);
  const f = await fuzz(tmp, ids, path.basename(manifest.run), path.dirname(manifest.run));
  let acked = { acked: 0, lost: 0 }, resume = { identical: false, detail: 'skipped' };
  if (!args.includes('--skip-drills')) {
    say('crash drills');
    acked = await ingestionDrills(tmp);
    resume = await trainingDrill(tmp);
    say(`  training: ${resume.detail}`);
  }
  const rngBodies = prng(7);
  const bodies = Array.from({ length: 32 }, () => JSON.stringify({ behaviours: Array.from({ length: 100 }, () => ids[Math.floor(rngBodies() * ids.length)]), candidates: Array.from({ length: 200 }, () => ids[Math.floor(rngBodies() * ids.length)]) }));
  const o = await overload(tmp, bodies);
  say('fsync policy of the embedded journals (one acknowledged ingestion: queue journal + index journal)');
  for (const line of await fsyncCosts(tmp)) say(line);
  result = {
    requests: f.requests,
    crashes: f.crashes,
    status_5xx: f.status5xx,
    max_cpu_ms: Math.round(f.maxCpuMs * 10) / 10,
    rss_growth_mb: Math.round(f.rssGrowthMb * 10) / 10,
    acked_lost: acked.lost,
    resume_identical: resume.identical,
    overload_unanswered: o.unanswered,
  };
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const cpu = process.cpuUsage(cpu0);
say(`bench:fuzz took ${((performance.now() - t0) / 1000).toFixed(0)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU in this process (the servers' CPU is printed per phase); load average now ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
if (json) console.log(JSON.stringify(result));
else say(JSON.stringify(result));
