/**
 * `mmctr serve [run]`: the ranking service. With no run it serves the built-in default (built
 * once under runs/serve-default/, about half a minute) on the embedded index: one command, no
 * server to start by hand. `--redis` shares the index, the ingestion queue and user histories
 * through a Redis server; `--role worker` runs only encoder workers draining that queue.
 */
import { Command, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { native } from '../engine/native.js';
import { UsageError } from '../util/errors.js';
import { startIngestWorkers } from '../serve/ingest.js';
import { openEncoder, startService, stopService } from '../serve/start.js';
import { closeIndex, FSYNC_POLICIES, openIndex, type FsyncPolicy } from '../index/index.js';
import { DEFAULT_LIMITS } from '../serve/limits.js';
import { countNumber, existingDir, existingFile, number, oneOf, positiveNumber } from './options.js';
import { z } from 'zod';

/** How often `--watch` looks for new weights when no interval is given. */
const DEFAULT_WATCH_SECONDS = 2;

interface ServeOpts {
  port: number;
  host: string;
  vectors?: string;
  allowVectorSpaceMismatch?: boolean;
  index?: string;
  memory?: boolean;
  redis?: string;
  prefix: string;
  precision: 'float32' | 'int8';
  encoder?: string;
  token?: string;
  threads: number;
  rankThreads: number;
  /** `--watch` alone: true. */
  watch?: number | true;
  backend: 'native' | 'onnx';
  workers: number;
  role: 'server' | 'worker';
  logLevel: string;
  maxCandidates: number;
  ann: boolean;
  fsync: FsyncPolicy;
  runsRoot?: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug'] as const;

export function registerServe(program: Command): void {
  program
    .command('serve')
    .argument('[run]', 'a run folder written by `mmctr train`', existingDir('a run folder written by `mmctr train`'))
    .description('serve pCTR ranking over HTTP (POST /v1/rank) with real-time item ingestion; no run = the built-in default')
    .option('--port <n>', 'port to listen on (0: any free port)', number(z.number().int().min(0).max(65535)), 8080)
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--vectors <file>', 'item vectors to seed an empty index with (mmctr pretrain embed output, the feature cache, or jsonl/csv/tsv/parquet/safetensors); must be in the run\'s vector space', existingFile('an item vectors file'))
    .option('--allow-vector-space-mismatch', 'serve --vectors that are not in the vector space the run was trained in (refused otherwise; warned loudly)')
    .addOption(new Option('--index <file>', 'embedded index snapshot file (default: <run>/index.safetensors)').conflicts(['memory', 'redis']))
    .addOption(new Option('--memory', 'keep the embedded index in memory only (nothing written)').conflicts('redis'))
    .option('--redis <url>', 'use a Redis server for the index, the ingestion queue and user histories (redis://host:port/db)')
    .option('--prefix <p>', 'Redis key prefix', 'mmctr:')
    .option('--precision <p>', 'vector storage: float32 or int8', oneOf(['float32', 'int8']), 'float32' as const)
    .option('--encoder <spec>', 'how new items are encoded: title-colour[:seed] (the default\'s: hashed title + the photo\'s colour histogram), hashed-title[:seed] (titles only: images are not used), none (vectors only), or an SCL model file (mmctr pretrain train)')
    .option('--token <secret>', 'bearer token of the write endpoints (default: $MMCTR_TOKEN; none = writes disabled)')
    .option('--threads <n>', 'engine threads per forward pass (MMCTR_THREADS; default 1: the least CPU per request, measured; more cores serve more requests with --rank-threads)', positiveNumber, Number(process.env.MMCTR_THREADS ?? 1) || 1)
    .option('--rank-threads <n>', `ranking threads, each scoring one request at a time (0: the main thread; up to ${availableParallelism()} cores here)`, countNumber, 0)
    .option('--backend <b>', 'what scores a ranking batch: native (mmctr\'s engine) or onnx (onnxruntime-node over the graph `mmctr export onnx` writes, exported at load; needs `npm install onnxruntime-node`)', oneOf(['native', 'onnx']), 'native' as const)
    .option('--workers <n>', 'ingestion workers in this process (0: none; the queue waits for workers elsewhere)', countNumber, 1)
    .option('--role <role>', 'server (HTTP + workers) or worker (encoder workers only; needs --redis)', oneOf(['server', 'worker']), 'server' as const)
    .option('--log-level <level>', `structured (JSON) log level: ${LOG_LEVELS.join(', ')}`, oneOf(LOG_LEVELS), 'info')
    .option('--max-candidates <n>', 'most candidates per ranking request', positiveNumber, DEFAULT_LIMITS.candidates)
    .option('--no-ann', 'skip the HNSW graph (no /similar)')
    .option('--fsync <policy>', `embedded index: when journal writes reach the disk before they are acknowledged: ${FSYNC_POLICIES.join(', ')} (like Redis's appendfsync; docs/serving.md has the costs)`, oneOf(FSYNC_POLICIES), 'always' as FsyncPolicy)
    .option('--watch [seconds]', 'reload the run folder\'s weights when they change, looked at every this many seconds (default 2): a model `mmctr stream train` publishes, or a run retrained in place', number(z.number().positive()))
    .option('--runs-root <dir>', 'the folder whose runs POST /v1/admin/reload may name (default: the folder holding the served run)')
    .action(async (run: string | undefined, opts: ServeOpts) => {
      // Every check before anything is built or opened.
      if (opts.role === 'worker' && !opts.redis) throw new UsageError('--role worker drains a shared queue: give --redis <url>');
      if (opts.role === 'worker' && run) throw new UsageError(`--role worker serves no model: leave out the run (${run}) or use --role server`);
      // A long-running service gives large freed blocks back (training keeps them mapped for speed).
      native.keepFreedMemory(false);
      // Read by the native addon on its first kernel call, which has not happened yet.
      process.env.MMCTR_THREADS = String(opts.threads);
      const token = opts.token ?? process.env.MMCTR_TOKEN ?? null;
      const say = (line: string) => console.error(line);

      if (opts.role === 'worker') {
        const opened = await openIndex({ backend: 'redis', redisUrl: opts.redis!, prefix: opts.prefix });
        const encoder = await openEncoder(opts.encoder ?? 'title-colour', opened.index.dim);
        const stop = startIngestWorkers({ index: opened.index, queue: opened.queue, encoder, workers: opts.workers || 1, onFailed: (job, reason) => say(`ingest ${job.id} failed: ${reason}`) });
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

      const started = await startService({
        run,
        vectors: opts.vectors,
        allowVectorSpaceMismatch: opts.allowVectorSpaceMismatch,
        indexFile: opts.memory ? null : opts.index,
        redis: opts.redis,
        prefix: opts.prefix,
        precision: opts.precision,
        encoder: opts.encoder,
        token,
        log: opts.logLevel,
        ingestWorkers: opts.workers,
        ann: opts.ann,
        rankThreads: opts.rankThreads,
        backend: opts.backend === 'onnx' ? { kind: 'onnx', threads: opts.threads } : { kind: 'native' },
        limits: { candidates: opts.maxCandidates },
        fsync: opts.fsync,
        runsRoot: opts.runsRoot,
        watchSeconds: opts.watch === undefined ? 0 : opts.watch === true ? DEFAULT_WATCH_SECONDS : opts.watch,
        say,
      });
      const address = await started.service.listen(opts.port, opts.host);
      say(`serving ${started.run} on ${address} (${opts.backend} backend, ${opts.rankThreads} ranking thread(s) x ${process.env.MMCTR_THREADS} engine thread(s); writes ${token ? 'need the bearer token' : 'disabled: set MMCTR_TOKEN'}${opts.watch !== undefined ? '; reloads new weights in the run folder' : ''})`);
      const items = started.service.model?.itemIndex;
      const [a, b, c] = items && items.size >= 3 ? [0, 1, 2].map((i) => items.at(i)) : [];
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
