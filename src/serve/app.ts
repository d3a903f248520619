/**
 * The ranking service: a fastify app over the model holder, the vector index and the ingestion
 * queue. This file owns the service's life (start, hot reload, readiness, graceful stop) and the
 * app's cross-cutting parts (admission control, CPU and latency metrics, errors); the routes live
 * in route groups, each with its own schemas and, for ingestion, its own body parsers:
 *
 *   routes/rank.ts     POST /v1/rank                     behaviours (or a user id) + candidates -> pCTR
 *   routes/items.ts    POST /v1/items (token)            a new item (JSON, image bytes, or a form)
 *                      GET  /v1/ingest/:jobId, /v1/items/:id, /v1/items/:id/similar
 *   routes/users.ts    POST /v1/users/:userId/behaviours (token)
 *   routes/admin.ts    POST /v1/admin/reload (token)     load a run by name and swap it in
 *   routes/health.ts   GET  /healthz /readyz /metrics /v1/info
 *
 * Every body is validated (JSON schema, or by hand where the rules depend on the index); any
 * content type a route does not take is a 415; errors are JSON {error, message[, issues]}.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { weightsSignature } from '../ctr/publication.js';
import { MODEL_FILE } from '../ctr/run.js';
import { native } from '../engine/native.js';
import { AnnIndex } from '../index/ann.js';
import type { OpenedIndex } from '../index/index.js';
import { MmctrError } from '../util/errors.js';
import { packageVersion } from '../util/paths.js';
import { Admission } from './admission.js';
import { requireToken } from './auth.js';
import { BehaviourStore, MemoryBehaviourStore } from './behaviours.js';
import { dependency, installErrorHandling, overloaded } from './http.js';
import { startIngestWorkers } from './ingest.js';
import type { ItemEncoder } from './item-encoder.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { ServeMetrics } from './metrics.js';
import { ModelHolder, ServingBackend, ServingModel } from './model-state.js';
import { RankPool } from './rank-pool.js';
import { warmUp } from './ranker.js';
import { adminRoutes, RUN_NAME } from './routes/admin.js';
import { healthRoutes, UNBOUNDED_ROUTES } from './routes/health.js';
import { itemRoutes } from './routes/items.js';
import { rankRoutes } from './routes/rank.js';
import { userRoutes } from './routes/users.js';

export { DEFAULT_LIMITS, type Limits } from './limits.js';

export interface ServiceOptions {
  /** The run folder (`mmctr train` layout) to serve. */
  run: string;
  /** Runs a reload may name (folders directly under it); default: the folder holding `run`. */
  runsRoot?: string;
  index: OpenedIndex;
  /** How new items are encoded; null: ingestion needs a precomputed vector. */
  encoder: ItemEncoder | null;
  behaviours?: BehaviourStore;
  /** Bearer token of the write endpoints; null disables them. */
  token: string | null;
  /** fastify/pino logging: false, or a level ('info', 'warn', ...). */
  log?: false | string;
  /** Where the JSON log lines go (default stdout). */
  logStream?: { write(line: string): void };
  limits?: Partial<Limits>;
  /** Ingestion workers in this process (0: a ranking-only server; workers run elsewhere). */
  ingestWorkers?: number;
  /** Build and maintain the HNSW graph for /similar (default true). */
  ann?: boolean;
  /** Ranking threads (worker_threads, one request each at a time); 0: rank on the main thread. */
  rankThreads?: number;
  /** What scores a batch (default: the native engine). */
  backend?: ServingBackend;
  /**
   * Seconds between looks at the serving run folder for new weights (a stream trainer's
   * publication, or a run retrained in place), reloaded as `POST /v1/admin/reload` does; 0: never.
   */
  watchSeconds?: number;
}

export interface Readiness {
  ready: boolean;
  /** Why not, when not ready. */
  reason?: string;
  model?: number;
  indexItems?: number;
  queued?: number;
}

/** What the route groups see of the service. */
export interface ServiceContext {
  readonly limits: Limits;
  readonly metrics: ServeMetrics;
  readonly opened: OpenedIndex;
  readonly encoder: ItemEncoder | null;
  readonly behaviours: BehaviourStore;
  readonly ann: AnnIndex | null;
  readonly pool: RankPool | null;
  readonly admission: Admission;
  /** The model to rank with now (a request captures it once). */
  readonly model: ServingModel | null;
  readiness(): Promise<Readiness>;
  /** Loads the run named `runName` under the runs root (default: the current run again) and swaps it in. */
  reload(runName?: string): Promise<ServingModel>;
}

/** Per-request bookkeeping of the app's hooks. */
interface Tracked {
  cpuAtArrival?: NodeJS.CpuUsage;
  admitted?: boolean;
}
const tracked = (request: FastifyRequest) => request as FastifyRequest & Tracked;

export class RankingService implements ServiceContext {
  readonly holder: ModelHolder;
  readonly metrics: ServeMetrics;
  readonly app: FastifyInstance;
  readonly ann: AnnIndex | null;
  readonly pool: RankPool | null;
  readonly limits: Limits;
  readonly behaviours: BehaviourStore;
  readonly admission: Admission;
  readonly opened: OpenedIndex;
  readonly encoder: ItemEncoder | null;
  private readonly runsRoot: string;
  private stopWorkers: () => Promise<void> = async () => {};
  /** Items in the index when the service started: an index found empty later was lost (Redis restarted empty). */
  private startItems = 0;
  private ready = false;
  private closing: Promise<void> | null = null;
  private maxCpuSeconds = 0;
  private trimTimer: NodeJS.Timeout | null = null;
  private watchTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly options: ServiceOptions,
    ann: AnnIndex | null,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.holder = new ModelHolder(options.backend);
    this.opened = options.index;
    this.encoder = options.encoder;
    this.behaviours = options.behaviours ?? new MemoryBehaviourStore();
    this.runsRoot = path.resolve(options.runsRoot ?? path.dirname(path.resolve(options.run)));
    this.ann = ann;
    this.pool = options.rankThreads ? RankPool.start(options.rankThreads) : null;
    this.metrics = new ServeMetrics(() => options.index.index.size(), () => this.model);
    this.admission = new Admission({ inFlight: this.limits.inFlight, rankQueue: this.limits.rankQueue, rankDeadlineMs: this.limits.rankDeadlineMs }, this.pool?.size ?? 1, {
      onRefused: (reason) => this.metrics.refused.inc({ reason }),
      onShed: () => this.metrics.shed.inc(),
    });
    this.app = this.buildApp();
  }

  /** Loads the model (fully, warmed up), builds the ANN graph, starts the ingestion workers. */
  static async create(options: ServiceOptions): Promise<RankingService> {
    const { index } = options.index;
    if (options.encoder && options.encoder.dim !== index.dim) throw new MmctrError(`the item encoder gives ${options.encoder.dim}-d vectors, the index holds ${index.dim}-d`);
    let service: RankingService | null = null;
    const ann = options.ann === false ? null : await AnnIndex.build(index, {}, (err) => service?.app.log.warn({ err: err.message }, 'following the index changes failed; retrying'));
    service = new RankingService(options, ann);
    try {
      await service.load(options.run);
      service.startItems = await index.size();
    } catch (err) {
      await service.pool?.close();
      await ann?.close();
      throw err;
    }
    service.reportRecoveries();
    service.stopWorkers = startIngestWorkers({
      index,
      queue: options.index.queue,
      encoder: options.encoder,
      ann,
      workers: options.ingestWorkers ?? 1,
      onIndexed: (_job, ms) => {
        service.metrics.ingests.inc({ result: 'done' });
        service.metrics.ingestLatency.observe(ms / 1000);
      },
      onFailed: (job, reason) => {
        service.metrics.ingests.inc({ result: 'failed' });
        service.app.log.warn({ item: job.id, jobId: job.jobId, reason }, 'ingestion failed');
      },
    });
    service.ready = true;
    if (options.watchSeconds) service.watch(options.watchSeconds);
    return service;
  }

  /** Reloads the serving run folder whenever its weights change (checked every `seconds`). */
  private watch(seconds: number): void {
    let checking = false;
    let failed: string | null = null;
    this.watchTimer = setInterval(() => {
      const m = this.model;
      if (checking || !m || this.closing) return;
      const now = weightsSignature(m.runDir);
      if (now === m.signature || now === failed) return;
      checking = true;
      this.load(m.runDir)
        .then((next) => {
          failed = null;
          this.app.log.info({ version: next.version, weights: next.signature }, 'new weights in the run folder: reloaded');
        })
        .catch((err) => {
          // Tried once per change: a folder left broken is not reloaded over and over.
          failed = now;
          this.app.log.warn({ err: (err as Error).message }, 'new weights in the run folder could not be loaded; the previous model is still serving');
        })
        .finally(() => (checking = false));
    }, seconds * 1000);
    this.watchTimer.unref();
  }

  /** Journal lines skipped while the index and queue were opened: counted, and logged once more. */
  private reportRecoveries(): void {
    for (const r of this.opened.recoveries) {
      const journal = path.basename(r.file);
      if (r.skipped) this.metrics.journalSkipped.inc({ journal, reason: 'invalid' }, r.skipped);
      if (r.tornBytes) this.metrics.journalSkipped.inc({ journal, reason: 'torn-tail' });
      if (r.skipped || r.tornBytes)
        this.app.log.warn({ journal, replayed: r.records, skipped: r.skipped, lines: r.skippedLines, tornBytes: r.tornBytes, tornOffset: r.tornOffset }, 'journal repaired on open');
    }
  }

  get model(): ServingModel | null {
    return this.holder.current;
  }

  async reload(runName?: string): Promise<ServingModel> {
    if (runName === undefined) return this.load();
    if (!new RegExp(RUN_NAME).test(runName)) throw new MmctrError(`'${runName}' is not a run name (a folder name under the service's runs folder)`);
    const dir = path.join(this.runsRoot, runName);
    let isRun = false;
    try {
      isRun = statSync(dir).isDirectory() && statSync(path.join(dir, MODEL_FILE)).isFile();
    } catch {
      // reported below
    }
    if (!isRun) throw new MmctrError(`there is no trained run named '${runName}' in the service's runs folder`);
    return this.load(dir);
  }

  /** Loads a run folder (default: the current one again), warms it up, swaps it in. */
  private async load(runDir?: string): Promise<ServingModel> {
    try {
      const m = await this.holder.reload(runDir, async (next) => {
        await warmUp(next, this.opened.index.dim);
        await this.pool?.load(next.runDir, next.version, this.opened.index.dim, this.holder.backend);
      });
      // Requests already sent to a thread carry their version; anything older is finished.
      this.pool?.drop(m.version - 1);
      this.metrics.reloads.inc({ result: 'ok' });
      this.metrics.modelVersion.set(m.version);
      return m;
    } catch (err) {
      this.metrics.reloads.inc({ result: 'failed' });
      throw err;
    }
  }

  /** Ready when the model is loaded, the index answers and still holds its items, and the queue answers with room. */
  async readiness(): Promise<Readiness> {
    const m = this.model;
    if (!this.ready || !m) return { ready: false, reason: this.closing ? 'shutting down' : 'loading the model' };
    const { index, queue } = this.opened;
    const ms = Math.min(1000, this.limits.storeTimeoutMs);
    try {
      await dependency(index.ping(), ms, `the ${index.backend} vector index`);
      const indexItems = await dependency(index.size(), ms, `the ${index.backend} vector index`);
      if (this.startItems > 0 && indexItems === 0)
        return { ready: false, reason: `the vector index is empty but held ${this.startItems} items when the service started (lost, e.g. Redis restarted without its data): every candidate would rank without a vector; seed it again (mmctr serve --vectors) or restore it`, model: m.version, indexItems };
      const queued = await dependency(queue.depth(), ms, 'the ingestion queue');
      if (queued >= this.limits.queueJobs) return { ready: false, reason: `the ingestion queue is full (${queued} jobs)`, model: m.version, indexItems, queued };
      return { ready: true, model: m.version, indexItems, queued };
    } catch (err) {
      return { ready: false, reason: (err as Error).message, model: m.version };
    }
  }

  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    return this.app.listen({ port, host });
  }

  /**
   * Graceful stop: readiness off, finish in-flight requests, stop the ingestion workers (a
   * journaled queue keeps its waiting jobs for the next start, a memory-only one is drained).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.ready = false;
      if (this.watchTimer) clearInterval(this.watchTimer);
      await this.app.close();
      await this.pool?.close();
      await this.holder.current?.onnx?.close();
      await this.stopWorkers();
      await this.ann?.close();
      await this.options.encoder?.close();
    })();
    return this.closing;
  }

  private buildApp(): FastifyInstance {
    const L = this.limits;
    const app = Fastify({
      logger: this.options.log ? { level: this.options.log, ...(this.options.logStream ? { stream: this.options.logStream } : {}) } : false,
      bodyLimit: L.rankBody,
      requestTimeout: L.requestTimeoutMs,
      connectionTimeout: L.requestTimeoutMs + 5000,
      keepAliveTimeout: 65_000,
      return503OnClosing: true,
      // Percent-encoded ids of up to idLength characters (4-byte UTF-8: 12 characters each) reach
      // the routes, whose schemas then hold them to idLength.
      routerOptions: { maxParamLength: L.idLength * 12 },
      // Strict validation: no silent coercion ("3" is not 3), no silently dropped fields, and it
      // stops at the first problem (a body of 200k unknown keys costs one error, not 200k).
      ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    });
    // JSON only, unless a route group adds a parser of its own (ingestion: images, forms).
    app.removeContentTypeParser('text/plain');
    installErrorHandling(app, () => this.metrics.dependencyErrors.inc());
    this.installAdmission(app);

    // While closing, every response ends its connection: keep-alive clients reconnect elsewhere
    // instead of holding the server open until their idle timeout.
    app.addHook('onSend', async (_request, reply, payload) => {
      if (this.closing) reply.header('connection', 'close');
      return payload;
    });

    // The OpenAPI description is generated from the routes' own JSON schemas, so it cannot drift
    // from what the service validates (GET /openapi.json; docs/api.md).
    void app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'mmctr ranking service', version: packageVersion(), description: 'pCTR ranking of candidate ads, real-time item ingestion, user behaviours (docs/serving.md)' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the write endpoints: serve --token or MMCTR_TOKEN' } } },
      },
    });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

    const auth = requireToken(this.options.token);
    // Each group is its own plugin scope: parsers registered in one do not leak into the others.
    void app.register(async (scope) => healthRoutes(scope, this));
    void app.register(async (scope) => rankRoutes(scope, this));
    void app.register(async (scope) => itemRoutes(scope, this, auth));
    void app.register(async (scope) => userRoutes(scope, this, auth));
    void app.register(async (scope) => adminRoutes(scope, this, auth));
    return app;
  }

  /** Admission at arrival (before the body is read), and per-request latency and CPU. */
  private installAdmission(app: FastifyInstance): void {
    const release = (request: FastifyRequest) => {
      const t = tracked(request);
      if (!t.admitted) return;
      t.admitted = false;
      this.admission.leave();
      this.metrics.inFlight.set(this.admission.requestsInFlight);
    };
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const t = tracked(request);
      t.cpuAtArrival = process.cpuUsage();
      const route = request.routeOptions.url;
      if (route !== undefined && UNBOUNDED_ROUTES.has(route)) return;
      if (!this.admission.enter()) return overloaded(reply, `the server has ${this.admission.requestsInFlight} requests in flight (at most ${this.limits.inFlight}): retry later`);
      t.admitted = true;
      this.metrics.inFlight.set(this.admission.requestsInFlight);
      if (route === '/v1/rank' && !this.admission.roomForRanking())
        return overloaded(reply, `the ranking queue is full (${this.admission.rankQueueLength} requests waiting): the server is overloaded, retry later`);
    });
    app.addHook('onRequestAbort', async (request) => release(request));
    app.addHook('onResponse', async (request, reply) => {
      release(request);
      this.metrics.rankQueue.set(this.admission.rankQueueLength);
      const route = request.routeOptions.url ?? 'unmatched';
      this.metrics.http.observe({ route, method: request.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
      if (Number(request.headers['content-length'] ?? 0) > LARGE_BODY) this.releaseMemorySoon();
      const since = tracked(request).cpuAtArrival;
      if (since) {
        const used = process.cpuUsage(since);
        const seconds = (used.user + used.system) / 1e6;
        this.metrics.cpu.observe({ route }, seconds);
        if (seconds > this.maxCpuSeconds) this.metrics.cpuMax.set((this.maxCpuSeconds = seconds));
      }
    });
  }

  /** After large requests, freed heap memory goes back to the OS (once the burst is over), so RSS returns to its level. */
  private releaseMemorySoon(): void {
    if (this.trimTimer) clearTimeout(this.trimTimer);
    this.trimTimer = setTimeout(() => {
      this.trimTimer = null;
      native.trimFreedMemory();
    }, RELEASE_AFTER_MS);
    this.trimTimer.unref();
  }
}

/** A request body this large leaves megabytes of freed memory behind (bytes). */
const LARGE_BODY = 1 << 20;
/** Quiet time after the last large request before its memory is given back. */
const RELEASE_AFTER_MS = 1000;
