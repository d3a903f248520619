/**
 * `mmctr serve [run]`: the ranking service. With no run it serves the built-in default (built
 * once under runs/serve-default/, about half a minute) on the embedded index: one command, no
 * server to start by hand. `--redis` shares the index, the ingestion queue and user histories
 * through a Redis server; `--role worker` runs only encoder workers draining that queue.
 */
import { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { native } from '../engine/native.js';
import { MmctrError } from '../util/errors.js';
import { startIngestWorkers } from '../serve/ingest.js';
import { openEncoder, startService, stopService } from '../serve/start.js';
import { closeIndex, FSYNC_POLICIES, openIndex, type FsyncPolicy } from '../index/index.js';

interface ServeOpts {
  port: string;
  host: string;
  vectors?: string;
  allowVectorSpaceMismatch?: boolean;
  index?: string;
  memory?: boolean;
  redis?: string;
  prefix: string;
  precision: string;
  encoder?: string;
  token?: string;
  threads: string;
  rankThreads: string;
  workers: string;
  role: string;
  logLevel: string;
  maxCandidates?: string;
  ann: boolean;
  fsync: string;
  runsRoot?: string;
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new MmctrError(`${name} must be a non-negative integer, got '${v}'`);
  return n;
}

export function registerServe(program: Command): void {
  program
    .command('serve [run]')
    .description('serve pCTR ranking over HTTP (POST /v1/rank) with real-time item ingestion; no run = the built-in default')
    .option('--port <n>', 'port to listen on', '8080')
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--vectors <file>', 'item vectors to seed an empty index with (mmctr embed output, the feature cache, or jsonl/csv/tsv/safetensors); must be in the run\'s vector space')
    .option('--allow-vector-space-mismatch', 'serve --vectors that are not in the vector space the run was trained in (refused otherwise; warned loudly)')
    .option('--index <file>', 'embedded index snapshot file (default: <run>/index.safetensors)')
    .option('--memory', 'keep the embedded index in memory only (nothing written)')
    .option('--redis <url>', 'use a Redis server for the index, the ingestion queue and user histories (redis://host:port/db)')
    .option('--prefix <p>', 'Redis key prefix', 'mmctr:')
    .option('--precision <p>', 'vector storage: float32 or int8', 'float32')
    .option('--encoder <spec>', 'how new items are encoded: title-colour[:seed] (the default\'s: hashed title + the photo\'s colour histogram), hashed-title[:seed] (titles only: images are not used), none (vectors only), or an SCL model file (mmctr pretrain train)')
    .option('--token <secret>', 'bearer token of the write endpoints (default: $MMCTR_TOKEN; none = writes disabled)')
    .option('--threads <n>', 'engine threads per forward pass (MMCTR_THREADS; default: every core, measured best with --rank-threads 0); with --rank-threads, use 1', process.env.MMCTR_THREADS ?? String(availableParallelism()))
    .option('--rank-threads <n>', `ranking threads, each scoring one request at a time (0: the main thread; up to ${availableParallelism()} cores here)`, '0')
    .option('--workers <n>', 'ingestion workers in this process', '1')
    .option('--role <role>', 'server (HTTP + workers) or worker (encoder workers only; needs --redis)', 'server')
    .option('--log-level <level>', 'structured (JSON) log level: fatal, error, warn, info, debug', 'info')
    .option('--max-candidates <n>', 'most candidates per ranking request', '500')
    .option('--no-ann', 'skip the HNSW graph (no /similar)')
    .option('--fsync <policy>', `embedded index: when journal writes reach the disk before they are acknowledged: ${FSYNC_POLICIES.join(', ')} (like Redis's appendfsync; docs/serving.md has the costs)`, 'always')
    .option('--runs-root <dir>', 'the folder whose runs POST /v1/admin/reload may name (default: the folder holding the served run)')
    .action(async (run: string | undefined, opts: ServeOpts) => {
      const rankThreads = positiveInt('--rank-threads', opts.rankThreads);
      // A long-running service gives large freed blocks back (training keeps them mapped for speed).
      native.keepFreedMemory(false);
      // Read by the native addon on its first kernel call, which has not happened yet.
      process.env.MMCTR_THREADS = String(positiveInt('--threads', opts.threads) || 1);
      if (!['float32', 'int8'].includes(opts.precision)) throw new MmctrError(`--precision must be float32 or int8, got '${opts.precision}'`);
      if (!(FSYNC_POLICIES as readonly string[]).includes(opts.fsync)) throw new MmctrError(`--fsync must be one of ${FSYNC_POLICIES.join(', ')}, got '${opts.fsync}'`);
      const token = opts.token ?? process.env.MMCTR_TOKEN ?? null;
      const say = (line: string) => console.error(line);

      if (opts.role === 'worker') {
        if (!opts.redis) throw new MmctrError('--role worker drains a shared queue: give --redis <url>');
        const opened = await openIndex({ backend: 'redis', redisUrl: opts.redis, prefix: opts.prefix });
        const encoder = await openEncoder(opts.encoder ?? 'title-colour', opened.index.dim);
        const stop = startIngestWorkers({ index: opened.index, queue: opened.queue, encoder, workers: positiveInt('--workers', opts.workers) || 1, onFailed: (job, reason) => say(`ingest ${job.id} failed: ${reason}`) });
        say(`encoder worker(s) draining ${opts.redis} (${encoder?.name ?? 'vectors only'}); Ctrl-C to stop`);
        await new Promise<void>((resolve) => {
          const shutdown = () => resolve();
          process.once('SIGINT', shutdown);
          process.once('SIGTERM', shutdown);
        });
        await stop();
        await encoder?.close();
        await closeIndex(opened);
        return;
      }
      if (opts.role !== 'server') throw new MmctrError(`--role must be server or worker, got '${opts.role}'`);

      const started = await startService({
        run,
        vectors: opts.vectors,
        allowVectorSpaceMismatch: opts.allowVectorSpaceMismatch,
        indexFile: opts.memory ? null : opts.index,
        redis: opts.redis,
        prefix: opts.prefix,
        precision: opts.precision as 'float32' | 'int8',
        encoder: opts.encoder,
        token,
        log: opts.logLevel,
        ingestWorkers: positiveInt('--workers', opts.workers),
        ann: opts.ann,
        rankThreads,
        limits: { candidates: positiveInt('--max-candidates', opts.maxCandidates ?? '500') || 500 },
        fsync: opts.fsync as FsyncPolicy,
        runsRoot: opts.runsRoot,
        say,
      });
      const address = await started.service.listen(positiveInt('--port', opts.port), opts.host);
      say(`serving ${started.run} on ${address} (${opts.rankThreads} ranking thread(s) x ${process.env.MMCTR_THREADS} engine thread(s); writes ${token ? 'need the bearer token' : 'disabled: set MMCTR_TOKEN'})`);
      const [a, b, c] = [...(started.service.model?.itemIndex.keys() ?? [])];
      if (c) say(`try: curl -s ${address}/v1/rank -H 'content-type: application/json' -d '${JSON.stringify({ behaviours: [a], candidates: [b, c] })}'`);
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        say(`${signal}: finishing in-flight requests and stopping`);
        stopService(started).then(
          () => process.exit(0),
          (err) => {
            console.error(err);
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    });
}
