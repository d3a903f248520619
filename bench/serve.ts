/**
 * bench:serve — the ranking service under load, on loopback, as a user would run it:
 *   1. builds (or reuses) the embedded default (runs/serve-default) and starts `mmctr serve` in a
 *      child process with a fresh embedded index file;
 *   2. open loop: requests evenly spaced at --rate req/s (default 100) for --seconds (default
 *      60), each 200 candidates x 100 behaviours: latency p50 / p99 / max and errors;
 *   3. closed loop: autocannon with --connections (default 4) and no rate limit for
 *      --max-seconds (default 10): the most requests per second the service sustains;
 *   4. ingestion: --ingest (default 50) new items POSTed one after another; each is timed from
 *      its POST to the first /v1/rank that scores it with its vector (submit -> rankable), p50/p95;
 *      then the same against a Redis-backed service when redis-server is installed;
 *   5. the SimTier kernel alone (candidates x behaviours x dim per second) beside the memory
 *      bandwidth bound (memcpy of 256 MB): how far the kernel is from streaming every vector.
 * Last line: {"p50_ms", "p99_ms", "max_rps", "errors", "ingest_p95_ms"}.
 * Options: --json, --seconds, --rate, --max-seconds, --connections, --candidates, --behaviours,
 * --ingest, --threads (engine threads per forward pass), --rank-threads (ranking worker threads;
 * default 0 = the main thread, as `mmctr serve`), --no-redis.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { simTierCounts } from '../src/engine/ops/simtier.js';
import { RandomStream } from '../src/engine/random.js';
import { ensureDefaultModel } from '../src/serve/default-model.js';
import { readCatalog } from '../src/data/samples.js';
import { readExperimentConfig } from '../src/ctr/run.js';
import { repoRoot } from '../src/util/paths.js';
import { freePort } from '../src/util/net.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} takes a non-negative number, got '${args[i + 1]}'`);
    process.exit(2);
  }
  return n;
};
const json = args.includes('--json');
const seconds = opt('seconds', 60), rate = opt('rate', 100), maxSeconds = opt('max-seconds', 10), connections = opt('connections', 4);
const nCandidates = opt('candidates', 200), nBehaviours = opt('behaviours', 100), nIngest = opt('ingest', 50), threads = opt('threads', os.availableParallelism());
const rankThreads = opt('rank-threads', 0);
const say = (line: string) => console.log(line);
const root = repoRoot();

interface AutocannonResult {
  latency: { p50: number; p99: number; max: number; average: number };
  requests: { average: number; total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** Starts `mmctr serve` and waits until /readyz answers 200. */
async function startServer(extra: string[]): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  // The token goes through the environment: a command line is readable by every user of the machine (ps).
  const child = spawn(process.execPath, [path.join(root, 'bin', 'mmctr.js'), 'serve', '--port', String(port), '--log-level', 'warn', '--threads', String(threads), '--rank-threads', String(rankThreads), ...extra], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, MMCTR_TOKEN: 'bench' },
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) throw new Error('mmctr serve exited before it was ready');
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('mmctr serve was not ready within 120 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/**
 * An open-loop load generator: request i leaves at start + i / rate whatever happened to the
 * earlier ones (autocannon's rate limit releases each second's requests in a burst, which
 * measures the burst, not the service). Latency counts from the scheduled departure, so a
 * generator that falls behind cannot hide server slowness (no coordinated omission).
 */
async function openLoop(url: string, bodies: string[], perSecond: number, durationS: number): Promise<{ sent: number; errors: number; p50: number; p99: number; max: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(`${url}/v1/rank`);
  const latencies: number[] = [];
  let errors = 0;
  const send = (body: string, scheduled: number) =>
    new Promise<void>((resolve) => {
      const req = http.request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 10_000 },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - scheduled);
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(body);
    });
  const total = Math.round(perSecond * durationS);
  const start = performance.now() + 10;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = start + (i * 1000) / perSecond;
    const wait = scheduled - performance.now();
    // A timer may fire a millisecond late; that lateness is counted in the latency (conservative).
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(send(bodies[i % bodies.length], scheduled));
  }
  await Promise.all(inFlight);
  agent.destroy();
  return { sent: total, errors, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: Math.max(...latencies) };
}

/** The server process's CPU time so far (Prometheus process_cpu_seconds_total). */
async function serverCpuSeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/** Deterministic requests: `count` bodies of nCandidates candidates and nBehaviours behaviours. */
function rankBodies(ids: string[], count: number): string[] {
  const rng = new RandomStream(7);
  return Array.from({ length: count }, () => {
    const pick = (n: number) => Array.from(rng.ints(n, ids.length), (i) => ids[i]);
    return JSON.stringify({ behaviours: pick(nBehaviours), candidates: pick(nCandidates) });
  });
}

/** POSTs new items one at a time; each timed from its POST to the first rank that has its vector. */
async function measureIngest(url: string, ids: string[], tag: string): Promise<number[]> {
  const words = ['red', 'blue', 'black', 'cotton', 'summer', 'dress', 'shirt', 'leather', 'boots', 'jacket', 'silk', 'scarf', 'running', 'shoes', 'denim', 'jeans'];
  const rng = new RandomStream(11);
  const times: number[] = [];
  for (let k = 0; k < nIngest; k++) {
    const id = `${tag}-new-${Date.now()}-${k}`;
    const title = Array.from(rng.ints(4, words.length), (i) => words[i]).join(' ');
    const probe = JSON.stringify({ behaviours: ids.slice(0, 10), candidates: [id, ids[k % ids.length]] });
    const t0 = performance.now();
    const r = await fetch(`${url}/v1/items`, { method: 'POST', body: JSON.stringify({ id, title }), headers: { 'content-type': 'application/json', authorization: 'Bearer bench' } });
    if (r.status !== 202) throw new Error(`ingest answered ${r.status}: ${await r.text()}`);
    await r.arrayBuffer();
    for (;;) {
      const ranked = (await (await fetch(`${url}/v1/rank`, { method: 'POST', body: probe, headers: { 'content-type': 'application/json' } })).json()) as { counts: { missingCandidateVectors: number } };
      if (ranked.counts.missingCandidateVectors === 0) break;
      if (performance.now() - t0 > 30_000) throw new Error(`${id} was not rankable within 30 s`);
      await new Promise((res) => setTimeout(res, 2));
    }
    times.push(performance.now() - t0);
  }
  return times;
}

/** The SimTier kernel alone on one request's shape, and memcpy bandwidth for the bound. */
function simTierKernel(): { pairsDimPerSec: number; boundPerSec: number; bandwidthGBs: number; msPerRequest: number } {
  const dim = 128, B = nCandidates, L = nBehaviours, rows = 1 + B + L;
  const rng = new RandomStream(3);
  const table = new Float32Array(rows * dim);
  table.set(rng.normal((rows - 1) * dim), dim);
  for (let r = 1; r < rows; r++) {
    const v = table.subarray(r * dim, (r + 1) * dim);
    const n = Math.hypot(...v);
    for (let i = 0; i < dim; i++) v[i] /= n;
  }
  const target = Int32Array.from({ length: B }, (_, i) => 1 + i);
  const hist = new Int32Array(B * L);
  for (let b = 0; b < B; b++) for (let j = 0; j < L; j++) hist[b * L + j] = 1 + B + j;
  const input = { table, dim, target, hist, histLen: new Int32Array(B).fill(L), length: L };
  for (let i = 0; i < 20; i++) simTierCounts(input, 20);
  let iters = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    simTierCounts(input, 20);
    iters++;
  }
  const sec = (performance.now() - t0) / 1000;
  const pairsDimPerSec = (iters * B * L * dim) / sec;
  // memcpy bandwidth over 256 MB (far beyond the caches): each copied byte is read once and written once.
  const src = Buffer.alloc(256 << 20, 1), dst = Buffer.alloc(256 << 20);
  src.copy(dst);
  let copies = 0;
  const t1 = performance.now();
  while (performance.now() - t1 < 1000) {
    src.copy(dst);
    copies++;
  }
  const bandwidth = (2 * copies * src.length) / ((performance.now() - t1) / 1000);
  // The bound if every (candidate, behaviour) pair streamed its behaviour's float32 vector from memory.
  return { pairsDimPerSec, boundPerSec: bandwidth / 4, bandwidthGBs: bandwidth / 1e9, msPerRequest: (sec * 1000) / iters };
}

const manifest = await ensureDefaultModel({ log: say });
const storeDir = readExperimentConfig(path.join(manifest.run, 'config.json')).data.store!;
const ids = readCatalog(storeDir).ids;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmctr-bench-serve-'));
const server = await startServer(['--index', path.join(tmp, 'index.safetensors')]);
let results: Record<string, number>;
try {
  const bodies = rankBodies(ids, 32);
  const requests = bodies.map((body) => ({ method: 'POST', path: '/v1/rank', body, headers: { 'content-type': 'application/json' } }));
  say(`service ${server.url}: ${nCandidates} candidates x ${nBehaviours} behaviours per request; ${rankThreads} ranking thread(s) x ${threads} engine thread(s)`);
  // Warm-up (JIT, first-call costs), not measured.
  await autocannon({ url: server.url, requests, connections: 2, duration: 2 });

  const cpuBefore = await serverCpuSeconds(server.url);
  const fixed = await openLoop(server.url, bodies, rate, seconds);
  const errors = fixed.errors;
  const cpuMs = ((await serverCpuSeconds(server.url)) - cpuBefore) * 1000;
  say(`open loop ${rate} req/s for ${seconds} s: ${fixed.sent} requests, p50 ${fixed.p50.toFixed(1)} ms, p99 ${fixed.p99.toFixed(1)} ms, max ${fixed.max.toFixed(1)} ms, errors ${errors}`);
  say(
    `  server CPU ${(cpuMs / fixed.sent).toFixed(2)} ms per request (all threads): ${(1000 / (cpuMs / fixed.sent)).toFixed(0)} req/s per free core; ` +
      `machine load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cores (other processes share them)`,
  );

  const closed = await autocannon({ url: server.url, requests, connections, duration: maxSeconds, timeout: 10 });
  const closedErrors = closed.errors + closed.timeouts + closed.non2xx;
  say(`closed loop, ${connections} connections for ${maxSeconds} s: ${closed.requests.average.toFixed(1)} req/s (p50 ${closed.latency.p50} ms, p99 ${closed.latency.p99} ms, errors ${closedErrors})`);

  const ingest = await measureIngest(server.url, ids, 'embedded');
  say(`ingest (embedded): ${nIngest} items, submit -> rankable p50 ${quantile(ingest, 0.5).toFixed(1)} ms, p95 ${quantile(ingest, 0.95).toFixed(1)} ms, max ${Math.max(...ingest).toFixed(1)} ms`);
  results = {
    p50_ms: Math.round(fixed.p50 * 10) / 10,
    p99_ms: Math.round(fixed.p99 * 10) / 10,
    max_rps: Math.round(closed.requests.average * 10) / 10,
    errors: errors + closedErrors,
    ingest_p95_ms: Math.round(quantile(ingest, 0.95) * 10) / 10,
  };
} finally {
  await server.stop();
}

if (!args.includes('--no-redis') && spawnSync('redis-server', ['--version']).status === 0) {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const redisServer = await startServer(['--redis', `redis://127.0.0.1:${port}`, '--prefix', 'bench:']);
  try {
    const ingest = await measureIngest(redisServer.url, ids, 'redis');
    say(`ingest (redis):    ${nIngest} items, submit -> rankable p50 ${quantile(ingest, 0.5).toFixed(1)} ms, p95 ${quantile(ingest, 0.95).toFixed(1)} ms, max ${Math.max(...ingest).toFixed(1)} ms`);
  } finally {
    await redisServer.stop();
    redis.kill('SIGTERM');
  }
} else say('ingest (redis): skipped (redis-server not installed, or --no-redis)');

const k = simTierKernel();
say(
  `SimTier kernel alone (${nCandidates} x ${nBehaviours} x 128, 20 tiers): ${k.msPerRequest.toFixed(3)} ms per request, ${(k.pairsDimPerSec / 1e9).toFixed(2)} G candidate x behaviour x dim per s; ` +
    `memcpy ${k.bandwidthGBs.toFixed(1)} GB/s bounds a streaming kernel at ${(k.boundPerSec / 1e9).toFixed(2)} G/s (ratio ${(k.pairsDimPerSec / k.boundPerSec).toFixed(2)}; above 1 = the vectors come from cache)`,
);
rmSync(tmp, { recursive: true, force: true });
if (json) console.log(JSON.stringify(results));
else say(JSON.stringify(results));
