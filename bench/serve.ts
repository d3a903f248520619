/**
 * bench:serve — the ranking service under load, on loopback, as a user would run it. Headline:
 * the server's CPU per request (its own process CPU over the requests it answered: all threads
 * summed), which does not depend on neighbours the way latency does.
 *   1. builds (or reuses) the embedded default (runs/serve-default: DIN + SimTier + MAKE) and an
 *      ID-only DIN on the same world (runs/serve-default-id), and starts `mmctr serve` in a child
 *      process for each;
 *   2. open loop: requests evenly spaced at --rate req/s (default 100) for --seconds (default 60;
 *      --id-seconds, default 20, for the ID-only model and the ONNX backend), each 200 candidates
 *      x 100 behaviours: server CPU per request, latency p50 / p99 / max and errors;
 *   3. the physical bound: the forward pass's FLOPs (counted from the model's shapes) over the
 *      GEMM rate one core reaches here on the pair layer's shape, beside the measured CPU;
 *   4. closed loop: autocannon with --connections (default 4) and no rate limit for
 *      --max-seconds (default 10): the most requests per second; then again with the service
 *      pinned to cores 1.. and this load generator to core 0 (taskset), where there are 2+ cores;
 *   5. the ONNX backend (`serve --backend onnx`, when onnxruntime-node is installed): CPU per
 *      request and the largest |pCTR| difference from the native backend on the same requests;
 *   6. ingestion: --ingest (default 50) new items POSTed one after another; each is timed from
 *      its POST to the first /v1/rank that scores it with its vector (submit -> rankable), p50/p95;
 *      then the same against a Redis-backed service when redis-server is installed;
 *   7. the SimTier kernel alone beside the memory bandwidth bound;
 *   8. where the CPU goes: the forward pass alone (rankCandidates in a fresh process,
 *      bench/serve-forward.ts: one thread, no HTTP) for both models, and the HTTP floor
 *      (bench/http-floor.ts: bare fastify answering the same requests with a response of the same
 *      size, through the same open loop); the service's own is what remains of its CPU.
 * Last line: {"cpu_ms_per_request", "cpu_ms_per_request_id_only", "onnx_cpu_ms_per_request",
 * "onnx_max_abs_diff", "onnx_p99_ms", "onnx_errors", "p50_ms", "p99_ms", "max_rps", "max_rps_pinned",
 * "errors" (the native backend's, both models), "ingest_p95_ms", "bound_ms", "bound_ms_id_only",
 * "forward_cpu_ms", "forward_cpu_ms_id_only", "http_floor_cpu_ms_per_request", "load_avg"} (null
 * where a phase could not run).
 * Options: --json, --seconds, --id-seconds, --rate, --max-seconds, --connections, --candidates,
 * --behaviours, --ingest, --threads (engine threads per forward pass; default 1, as `mmctr serve`), --rank-threads (ranking
 * worker threads; default 0 = the main thread, as `mmctr serve`), --no-redis, --no-onnx.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { DinConfig, ExperimentConfig } from '../src/ctr/config.js';
import { blasCoreChosen, native } from '../src/engine/native.js';
import { simTierCounts } from '../src/engine/ops/simtier.js';
import { RandomStream } from '../src/engine/random.js';
import { ensureDefaultModel } from '../src/serve/default-model.js';
import { SampleStore } from '../src/data/store.js';
import { readExperimentConfig } from '../src/ctr/run.js';
import { freePort } from '../src/util/net.js';
import { homeDir, repoRoot } from '../src/util/paths.js';
import { metric, numberFlag, openLoop, quantile, startHttpFloor, startServer as startChild } from './serve-child.js';

// This process's kernels (the GEMM rate, the SimTier kernel, building the defaults) on one
// thread: the bound is per core. Read on the first kernel call, which has not happened yet.
process.env.MMCTR_THREADS = '1';
const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => numberFlag(args, name, fallback);
const json = args.includes('--json');
const seconds = opt('seconds', 60), idSeconds = opt('id-seconds', 20), rate = opt('rate', 100), maxSeconds = opt('max-seconds', 10), connections = opt('connections', 4);
const nCandidates = opt('candidates', 200), nBehaviours = opt('behaviours', 100), nIngest = opt('ingest', 50), threads = opt('threads', 1);
const rankThreads = opt('rank-threads', 0);
const say = (line: string) => console.log(line);
const startServer = (extra: string[], engineThreads = threads) => startChild(['--log-level', 'warn', '--threads', String(engineThreads), '--rank-threads', String(rankThreads), ...extra], { token: 'bench' });
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

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

/**
 * Multiply-adds of one request's forward pass as the serving path computes it (shared behaviours:
 * the per-pair work is the attention units' q * k layer and everything after it), counted from
 * the model's config: the bound is this over the GEMM rate.
 */
function forwardMacs(model: DinConfig, vectorDim: number, B: number, m: number): number {
  const attention = (D: number, hidden: readonly number[]) => {
    let macs = (B + m) * D * hidden[0] + B * m * D * hidden[0];
    for (let i = 1; i < hidden.length; i++) macs += B * m * hidden[i - 1] * hidden[i];
    return macs + B * m * hidden[hidden.length - 1] + B * m * D;
  };
  const mlp = (input: number, hidden: readonly number[]) => [...hidden, 1].reduce((acc, w, i) => acc + B * (i === 0 ? input : hidden[i - 1]) * w, 0);
  const d = model.embeddingDim * (1 + model.itemFields.length) + (model.vector ? vectorDim : 0);
  const userDim = model.embeddingDim * ((model.userEmbedding ? 1 : 0) + model.userFields.length);
  let macs = attention(d, model.attentionHidden);
  let input = userDim + 2 * d;
  if (model.simTier) (macs += B * m * vectorDim), (input += model.simTier.tiers);
  if (model.make) {
    macs += attention(vectorDim, model.make.attentionHidden) + mlp(2 * vectorDim, model.make.mlpHidden);
    if (model.make.join.includes('interest')) input += vectorDim;
  }
  return macs + mlp(input, model.mlpHidden);
}

/** GFLOP/s of one core on the pair layer's GEMM shape ([B, D] x [D, lc H]), over about a second. */
function gemmRate(): number {
  const M = nCandidates, K = 128, N = 480;
  const rng = new RandomStream(5);
  const a = rng.normal(M * K), b = rng.normal(K * N), c = new Float32Array(M * N);
  for (let i = 0; i < 20; i++) native.gemm(false, false, M, N, K, 1, a, K, b, N, 0, c, N);
  let iters = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    native.gemm(false, false, M, N, K, 1, a, K, b, N, 0, c, N);
    iters++;
  }
  return (2 * M * N * K * iters) / ((performance.now() - t0) / 1000) / 1e9;
}

/**
 * The forward pass alone, without HTTP: CPU per request of rankCandidates over `bodies`, one
 * thread, in a fresh process (bench/serve-forward.ts), so this process's own heap (the open
 * loops' records) and its garbage collections are not counted.
 */
function forwardCpu(run: string, vectorsFile: string | undefined, bodiesFile: string): number {
  const script = path.join(repoRoot(), 'dist', 'bench', 'serve-forward.js');
  const r = spawnSync(process.execPath, [script, run, vectorsFile ?? '', bodiesFile], { encoding: 'utf8', env: { ...process.env, MMCTR_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`bench/serve-forward.ts failed: ${r.stderr}`);
  return Number(JSON.parse(r.stdout.trim().split('\n').pop()!).cpuMsPerRequest);
}

interface OpenLoopResult {
  sent: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  cpuMsPerRequest: number;
}

/** The open loop against a running service, with the server's CPU over it. */
async function measureOpenLoop(url: string, bodies: string[], durationS: number, label: string): Promise<OpenLoopResult> {
  const requests = bodies.map((body) => ({ method: 'POST', path: '/v1/rank', body, headers: { 'content-type': 'application/json' } }));
  // Warm-up (JIT, first-call costs), not measured.
  await autocannon({ url, requests, connections: 2, duration: 2 });
  const cpuBefore = await metric(url, 'process_cpu_seconds_total');
  const sent = await openLoop(url, '/v1/rank', bodies, rate, durationS);
  const cpuMs = ((await metric(url, 'process_cpu_seconds_total')) - cpuBefore) * 1000;
  const latencies = sent.filter((r) => r.status === 200).map((r) => r.ms);
  const out = { sent: sent.length, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: Math.max(...latencies), errors: sent.length - latencies.length, cpuMsPerRequest: cpuMs / Math.max(1, latencies.length) };
  say(
    `${label}: server CPU ${out.cpuMsPerRequest.toFixed(2)} ms per request (all threads summed); open loop ${rate} req/s for ${durationS} s: ${out.sent} requests, ` +
      `p50 ${out.p50.toFixed(1)} ms, p99 ${out.p99.toFixed(1)} ms, max ${out.max.toFixed(1)} ms, errors ${out.errors}; load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cores`,
  );
  return out;
}

async function closedLoop(url: string, bodies: string[]): Promise<{ rps: number; errors: number; p50: number; p99: number }> {
  const requests = bodies.map((body) => ({ method: 'POST', path: '/v1/rank', body, headers: { 'content-type': 'application/json' } }));
  const r = await autocannon({ url, requests, connections, duration: maxSeconds, timeout: 10 });
  return { rps: r.requests.average, errors: r.errors + r.timeouts + r.non2xx, p50: r.latency.p50, p99: r.latency.p99 };
}

/** Each body's pCTR by candidate id, as the service answers it. */
async function scoresOf(url: string, bodies: string[]): Promise<Map<string, number>[]> {
  const out: Map<string, number>[] = [];
  for (const body of bodies) {
    const r = (await (await fetch(`${url}/v1/rank`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).json()) as { items: { id: string; pctr: number }[] };
    out.push(new Map(r.items.map((x) => [x.id, x.pctr])));
  }
  return out;
}

/** Pins this process (the load generator) to `cores`; returns the previous affinity to restore. */
function pinSelf(cores: string): string | null {
  const before = spawnSync('taskset', ['-p', '-c', String(process.pid)], { encoding: 'utf8' });
  if (before.status !== 0) return null;
  const previous = /:\s*(\S+)\s*$/.exec(before.stdout)?.[1] ?? null;
  return spawnSync('taskset', ['-p', '-c', cores, String(process.pid)]).status === 0 ? previous : null;
}

const manifest = await ensureDefaultModel({ log: say });
const idOnly = await ensureDefaultModel({ dir: path.join(homeDir(), 'runs', 'serve-default-id'), multimodal: false, log: say });
const config = readExperimentConfig(path.join(manifest.run, 'config.json'));
const ids = SampleStore.open(config.data.store!).catalog.ids;
const bodies = rankBodies(ids, 32);
const m = Math.min(nBehaviours, SampleStore.open(config.data.store!).historyLength);
const rateGflops = gemmRate();
const boundOf = (model: ExperimentConfig['model']) => {
  if (model.model !== 'din') throw new Error(`bench:serve counts the FLOPs of a DIN, the default serves a ${model.model}`);
  const flops = 2 * forwardMacs(model, 128, nCandidates, m);
  return { gflop: flops / 1e9, ms: flops / (rateGflops * 1e9) * 1000 };
};
const bound = boundOf(config.model), boundId = boundOf(readExperimentConfig(path.join(idOnly.run, 'config.json')).model);
const blasCore = process.env.OPENBLAS_CORETYPE ? `OpenBLAS core ${process.env.OPENBLAS_CORETYPE}${blasCoreChosen ? ' (chosen by mmctr)' : ' (set in the environment: OPENBLAS_CORETYPE)'}` : 'OpenBLAS core: its own detection';
say(`physical bound: one core's GEMM rate here ${rateGflops.toFixed(1)} GFLOP/s (the pair layer's shape; ${blasCore}); a request of ${nCandidates} x ${m} is ${bound.gflop.toFixed(3)} GFLOP on the default model (${bound.ms.toFixed(2)} ms of one core), ${boundId.gflop.toFixed(3)} GFLOP on the ID-only DIN (${boundId.ms.toFixed(2)} ms)`);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mmctr-bench-serve-'));
const results: Record<string, number | null> = {};
let nativeScores: Map<string, number>[] = [];
const server = await startServer(['--index', path.join(tmp, 'index.safetensors')]);
try {
  say(`service ${server.url}: ${nCandidates} candidates x ${nBehaviours} behaviours per request; ${rankThreads} ranking thread(s) x ${threads} engine thread(s)`);
  const fixed = await measureOpenLoop(server.url, bodies, seconds, 'default model (DIN + SimTier + MAKE), native');
  say(`  bound ${bound.ms.toFixed(2)} ms per request: measured CPU is ${(fixed.cpuMsPerRequest / bound.ms).toFixed(1)} x the bound`);
  nativeScores = await scoresOf(server.url, bodies);
  const closed = await closedLoop(server.url, bodies);
  say(`closed loop, ${connections} connections for ${maxSeconds} s: ${closed.rps.toFixed(1)} req/s (p50 ${closed.p50} ms, p99 ${closed.p99} ms, errors ${closed.errors}); load generator and service share the cores`);
  const ingest = await measureIngest(server.url, ids, 'embedded');
  say(`ingest (embedded): ${nIngest} items, submit -> rankable p50 ${quantile(ingest, 0.5).toFixed(1)} ms, p95 ${quantile(ingest, 0.95).toFixed(1)} ms, max ${Math.max(...ingest).toFixed(1)} ms`);
  Object.assign(results, {
    cpu_ms_per_request: round(fixed.cpuMsPerRequest, 2),
    p50_ms: round(fixed.p50),
    p99_ms: round(fixed.p99),
    max_rps: round(closed.rps),
    errors: fixed.errors + closed.errors,
    ingest_p95_ms: round(quantile(ingest, 0.95)),
    bound_ms: round(bound.ms, 2),
  });
} finally {
  await server.stop();
}

const idServer = await startServer([idOnly.run, '--memory']);
try {
  const r = await measureOpenLoop(idServer.url, bodies, idSeconds, 'ID-only DIN, native');
  say(`  bound ${boundId.ms.toFixed(2)} ms per request: measured CPU is ${(r.cpuMsPerRequest / boundId.ms).toFixed(1)} x the bound`);
  Object.assign(results, { cpu_ms_per_request_id_only: round(r.cpuMsPerRequest, 2), bound_ms_id_only: round(boundId.ms, 2) });
  results.errors! += r.errors;
} finally {
  await idServer.stop();
}

// Where the CPU goes: the forward pass alone (a fresh process, no HTTP) and the HTTP floor (a
// bare fastify server answering the same requests with a response of the same size). The
// service's own is the remainder, measured in other processes at other moments, so on a noisy
// host it can come out negative: printed as it is.
const floor = await startHttpFloor();
try {
  const r = await measureOpenLoop(floor.url, bodies, idSeconds, 'HTTP floor (bare fastify, same requests, same response size, no model)');
  results.http_floor_cpu_ms_per_request = round(r.cpuMsPerRequest, 2);
} finally {
  await floor.stop();
}
const bodiesFile = path.join(tmp, 'bodies.json');
writeFileSync(bodiesFile, JSON.stringify(bodies));
const forwardDefault = forwardCpu(manifest.run, config.data.vectors, bodiesFile);
const forwardId = forwardCpu(idOnly.run, undefined, bodiesFile);
Object.assign(results, { forward_cpu_ms: round(forwardDefault, 2), forward_cpu_ms_id_only: round(forwardId, 2) });
for (const [label, total, forward] of [['default model', results.cpu_ms_per_request!, forwardDefault], ['ID-only DIN', results.cpu_ms_per_request_id_only!, forwardId]] as const) {
  const http = results.http_floor_cpu_ms_per_request!;
  say(`  ${label}: ${total.toFixed(2)} ms per request = forward pass ${forward.toFixed(2)} (a fresh process, one thread, no HTTP) + HTTP floor ${http.toFixed(2)} + the remainder, the service's own ${(total - forward - http).toFixed(2)} (validation, id maps, vector fetch, admission, metrics, cold caches)`);
}

// Pinned: the service on cores 1.., this process (autocannon) on core 0.
const cores = os.availableParallelism();
results.max_rps_pinned = null;
if (cores >= 2 && spawnSync('taskset', ['-V']).status === 0) {
  const serviceCores = `1-${cores - 1}`;
  const pinned = await startChild(['--log-level', 'warn', '--threads', String(cores - 1), '--rank-threads', String(rankThreads), '--index', path.join(tmp, 'pinned.safetensors')], { token: 'bench', prefix: ['taskset', '-c', serviceCores] });
  const previous = pinSelf('0');
  try {
    await autocannon({ url: pinned.url, requests: bodies.map((body) => ({ method: 'POST', path: '/v1/rank', body, headers: { 'content-type': 'application/json' } })), connections: 2, duration: 2 });
    const closed = await closedLoop(pinned.url, bodies);
    say(`closed loop pinned (service on core(s) ${serviceCores} with ${cores - 1} engine thread(s), load generator on core 0): ${closed.rps.toFixed(1)} req/s (p50 ${closed.p50} ms, p99 ${closed.p99} ms, errors ${closed.errors})`);
    results.max_rps_pinned = round(closed.rps);
  } finally {
    if (previous) spawnSync('taskset', ['-p', '-c', previous, String(process.pid)]);
    await pinned.stop();
  }
} else say('closed loop pinned: skipped (one core, or no taskset)');

// The ONNX backend's own latency and errors: `errors` is the native backend's (the service's default).
Object.assign(results, { onnx_cpu_ms_per_request: null, onnx_max_abs_diff: null, onnx_p99_ms: null, onnx_errors: null });
const onnxInstalled = await import('onnxruntime-node').then(() => true, () => false);
if (!args.includes('--no-onnx') && onnxInstalled) {
  const onnx = await startServer(['--index', path.join(tmp, 'onnx.safetensors'), '--backend', 'onnx']);
  try {
    const r = await measureOpenLoop(onnx.url, bodies, idSeconds, 'default model, ONNX backend (onnxruntime-node)');
    const scores = await scoresOf(onnx.url, bodies);
    let worst = 0;
    scores.forEach((byId, k) => byId.forEach((p, id) => (worst = Math.max(worst, Math.abs(p - nativeScores[k].get(id)!)))));
    say(`  ONNX vs native on the same ${bodies.length} requests: max |pCTR diff| ${worst.toExponential(2)}`);
    Object.assign(results, { onnx_cpu_ms_per_request: round(r.cpuMsPerRequest, 2), onnx_max_abs_diff: worst, onnx_p99_ms: round(r.p99), onnx_errors: r.errors });
  } finally {
    await onnx.stop();
  }
} else say(`ONNX backend: skipped (${onnxInstalled ? '--no-onnx' : 'onnxruntime-node is not installed: npm install onnxruntime-node'})`);

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
results.load_avg = round(os.loadavg()[0], 2);
const line = JSON.stringify(results);
if (json) console.log(line);
else say(line);
