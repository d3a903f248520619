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
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { simTierCounts } from '../src/engine/ops/simtier.js';
import { RandomStream } from '../src/engine/random.js';
import { ensureDefaultModel } from '../src/serve/default-model.js';
import { SampleStore } from '../src/data/store.js';
import { readExperimentConfig } from '../src/ctr/run.js';
import { freePort } from '../src/util/net.js';
import { metric, numberFlag, openLoop, quantile, startServer as startChild } from './serve-child.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => numberFlag(args, name, fallback);
const json = args.includes('--json');
const seconds = opt('seconds', 60), rate = opt('rate', 100), maxSeconds = opt('max-seconds', 10), connections = opt('connections', 4);
const nCandidates = opt('candidates', 200), nBehaviours = opt('behaviours', 100), nIngest = opt('ingest', 50), threads = opt('threads', os.availableParallelism());
const rankThreads = opt('rank-threads', 0);
const say = (line: string) => console.log(line);
const startServer = (extra: string[]) => startChild(['--log-level', 'warn', '--threads', String(threads), '--rank-threads', String(rankThreads), ...extra], { token: 'bench' });

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
const ids = SampleStore.open(readExperimentConfig(path.join(manifest.run, 'config.json')).data.store!).catalog.ids;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmctr-bench-serve-'));
const server = await startServer(['--index', path.join(tmp, 'index.safetensors')]);
let results: Record<string, number>;
try {
  const bodies = rankBodies(ids, 32);
  const requests = bodies.map((body) => ({ method: 'POST', path: '/v1/rank', body, headers: { 'content-type': 'application/json' } }));
  say(`service ${server.url}: ${nCandidates} candidates x ${nBehaviours} behaviours per request; ${rankThreads} ranking thread(s) x ${threads} engine thread(s)`);
  // Warm-up (JIT, first-call costs), not measured.
  await autocannon({ url: server.url, requests, connections: 2, duration: 2 });

  const cpuBefore = await metric(server.url, 'process_cpu_seconds_total');
  const sent = await openLoop(server.url, '/v1/rank', bodies, rate, seconds);
  const latencies = sent.filter((r) => r.status === 200).map((r) => r.ms);
  const fixed = { sent: sent.length, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: Math.max(...latencies) };
  const errors = sent.length - latencies.length;
  const cpuMs = ((await metric(server.url, 'process_cpu_seconds_total')) - cpuBefore) * 1000;
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
