/**
 * The ranking service: a fastify app over the model holder, the vector index and the ingestion
 * queue. Routes:
 *
 *   POST /v1/rank                     behaviours (or a user id) + candidates -> pCTR, sorted
 *   POST /v1/items             token  a new item (JSON: id, title, image base64 or vector;
 *                                     or raw image bytes with ?id=&title=) -> queued for encoding
 *   GET  /v1/items/:id                whether the item has a vector / is known to the model
 *   GET  /v1/items/:id/similar        nearest items by cosine (HNSW)
 *   GET  /v1/ingest/:jobId            a job's state (queued, done, failed + reason)
 *   POST /v1/users/:userId/behaviours token  append a user's clicks (kept for rank-by-user-id)
 *   POST /v1/admin/reload      token  load a run (default: the current one again) and swap it in
 *   GET  /healthz /readyz /metrics /v1/info
 *
 * Every request body is validated by JSON schema (unknown fields, wrong types and oversized
 * arrays are 400s naming the field); errors are JSON {error, message[, issues]}.
 */
import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { AnnIndex } from '../index/ann.js';
import type { OpenedIndex } from '../index/index.js';
import { IndexError } from '../index/types.js';
import { MmctrError } from '../util/errors.js';
import { requireToken } from './auth.js';
import { BehaviourStore, MemoryBehaviourStore } from './behaviours.js';
import { startIngestWorkers, waitForJob } from './ingest.js';
import type { ItemEncoder } from './item-encoder.js';
import { ServeMetrics } from './metrics.js';
import { ModelHolder, ServingModel } from './model-state.js';
import { RankPool } from './rank-pool.js';
import { idsToFetch, rankCandidates } from './ranker.js';

export interface ServiceOptions {
  /** The run folder (`mmctr train` layout) to serve. */
  run: string;
  index: OpenedIndex;
  /** How new items are encoded; null: ingestion needs a precomputed vector. */
  encoder: ItemEncoder | null;
  behaviours?: BehaviourStore;
  /** Bearer token of the write endpoints; null disables them. */
  token: string | null;
  /** fastify/pino logging: false, or a level ('info', 'warn', ...). */
  log?: false | string;
  limits?: Partial<Limits>;
  /** Ingestion workers in this process (0: a ranking-only server; workers run elsewhere). */
  ingestWorkers?: number;
  /** Build and maintain the HNSW graph for /similar (default true). */
  ann?: boolean;
  /** Ranking threads (worker_threads, one request each at a time); 0: rank on the main thread. */
  rankThreads?: number;
}

export interface Limits {
  candidates: number;
  behaviours: number;
  /** Bytes of a ranking request / of an ingestion request (image bytes). */
  rankBody: number;
  ingestBody: number;
  idLength: number;
  titleLength: number;
  /** ms to receive a whole request; ms a vector-index or behaviour-store call may take. */
  requestTimeoutMs: number;
  storeTimeoutMs: number;
  /** Longest ?wait on an ingestion. */
  ingestWaitMs: number;
  /**
   * A ranking request that has waited this long (behind others, on an overloaded server) before
   * its scoring starts is answered 503 at once: its client has likely given up, and scoring it
   * would only make every later request later still.
   */
  rankDeadlineMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  candidates: 500,
  behaviours: 1000,
  rankBody: 1 << 20,
  ingestBody: 10 << 20,
  idLength: 128,
  titleLength: 2000,
  requestTimeoutMs: 10_000,
  storeTimeoutMs: 2_000,
  ingestWaitMs: 10_000,
  rankDeadlineMs: 2_000,
};

class ServiceUnavailable extends MmctrError {}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ServiceUnavailable(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]);
}

interface RankBody {
  userId?: string;
  behaviours?: string[];
  candidates: string[];
  topK?: number;
  onUnknown?: 'score' | 'reject';
}

interface ItemBody {
  id: string;
  title?: string;
  image?: string;
  vector?: number[];
}

/** Ajv messages -> "body.candidates[3]: must be string" lines. */
function describeValidation(error: FastifyError): { field: string; message: string }[] {
  const context = (error as FastifyError & { validationContext?: string }).validationContext ?? 'body';
  // allErrors is on (every problem at once), but a 1000-item array of wrong types needs only a sample.
  return (error.validation ?? []).slice(0, 20).map((v) => {
    const params = v.params as Record<string, unknown>;
    let field = context + v.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.');
    if (typeof params.missingProperty === 'string') field += `.${params.missingProperty}`;
    if (typeof params.additionalProperty === 'string') return { field: `${field}.${params.additionalProperty}`, message: 'is not a known field' };
    return { field, message: v.message ?? 'is invalid' };
  });
}

export class RankingService {
  readonly holder = new ModelHolder();
  readonly metrics: ServeMetrics;
  readonly app: FastifyInstance;
  readonly ann: AnnIndex | null;
  private readonly pool: RankPool | null;
  private readonly limits: Limits;
  private readonly behaviours: BehaviourStore;
  private stopWorkers: () => Promise<void> = async () => {};
  private ready = false;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly options: ServiceOptions,
    ann: AnnIndex | null,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.behaviours = options.behaviours ?? new MemoryBehaviourStore();
    this.ann = ann;
    this.pool = options.rankThreads ? RankPool.start(options.rankThreads) : null;
    this.metrics = new ServeMetrics(() => options.index.index.size());
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
      await service.reload(options.run);
    } catch (err) {
      await service.pool?.close();
      await ann?.close();
      throw err;
    }
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
    return service;
  }

  get model(): ServingModel | null {
    return this.holder.current;
  }

  /** Loads a run (default: the current one again), warms it up, swaps it in. */
  async reload(runDir?: string): Promise<ServingModel> {
    try {
      const m = await this.holder.reload(runDir, async (next) => {
        this.warmUp(next);
        await this.pool?.load(next.runDir, next.version, this.options.index.index.dim);
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

  /** One forward pass before the swap, so the first real request pays no first-call costs. */
  private warmUp(m: ServingModel): void {
    const ids = [...m.itemIndex.keys()].slice(0, 4);
    rankCandidates(m, { behaviours: ids.slice(0, 2), candidates: ids.length ? ids : ['warm-up'] }, [], [], this.options.index.index.dim);
  }

  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    return this.app.listen({ port, host });
  }

  /** Graceful stop: readiness off, finish in-flight requests, stop workers, flush the index. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.ready = false;
      await this.app.close();
      await this.pool?.close();
      await this.stopWorkers();
      await this.ann?.close();
      await this.options.encoder?.close();
    })();
    return this.closing;
  }

  private buildApp(): FastifyInstance {
    const L = this.limits;
    const app = Fastify({
      logger: this.options.log ? { level: this.options.log } : false,
      bodyLimit: L.rankBody,
      requestTimeout: L.requestTimeoutMs,
      connectionTimeout: L.requestTimeoutMs + 5000,
      keepAliveTimeout: 65_000,
      return503OnClosing: true,
      // Strict validation: no silent coercion ("3" is not 3) and no silently dropped fields.
      ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    });
    const idSchema = { type: 'string', minLength: 1, maxLength: L.idLength };
    const auth = requireToken(this.options.token);

    app.addContentTypeParser(/^image\/|^application\/octet-stream/, { parseAs: 'buffer', bodyLimit: L.ingestBody }, (_req, body, done) => done(null, body));
    // multipart/form-data (curl -F id=... -F title=... -F image=@photo.jpg), read in the handler.
    void app.register(multipart, { limits: { fileSize: L.ingestBody, files: 1, fields: 8, fieldSize: L.titleLength * 4 } });

    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error.validation) {
        const issues = describeValidation(error);
        return reply.code(400).send({ error: 'bad_request', message: issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues });
      }
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: 'payload_too_large', message: `the request body is larger than this endpoint accepts (${error.message})` });
      if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ error: 'unsupported_media_type', message: `${error.message}: send application/json (or image bytes to POST /v1/items)` });
      if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (error.statusCode === 400 && error instanceof SyntaxError))
        return reply.code(400).send({ error: 'bad_request', message: `the body is not valid JSON: ${error.message}` });
      if (error instanceof ServiceUnavailable) return reply.code(503).send({ error: 'unavailable', message: error.message });
      if (error instanceof IndexError) return reply.code(400).send({ error: 'bad_request', message: error.message });
      if (error instanceof MmctrError) return reply.code(422).send({ error: 'unprocessable', message: error.message });
      if (error.statusCode && error.statusCode < 500) return reply.code(error.statusCode).send({ error: 'bad_request', message: error.message });
      request.log.error({ err: error }, 'unhandled error');
      return reply.code(500).send({ error: 'internal', message: `internal error (request ${request.id}); the server log has the details` });
    });
    app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }));

    app.addHook('onResponse', async (request, reply) => {
      this.metrics.http.observe({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });

    // While closing, every response ends its connection: keep-alive clients reconnect elsewhere
    // instead of holding the server open until their idle timeout.
    app.addHook('onSend', async (_request, reply, payload) => {
      if (this.closing) reply.header('connection', 'close');
      return payload;
    });

    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      const m = this.model;
      if (!this.ready || !m) return reply.code(503).send({ ready: false, reason: this.closing ? 'shutting down' : 'loading the model' });
      return { ready: true, model: m.version };
    });
    app.get('/metrics', async (_req, reply) => reply.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics()));
    app.get('/v1/info', async () => {
      const m = this.model;
      const { index, queue } = this.options.index;
      return {
        model: m && { version: m.version, run: m.runDir, loadedAt: m.loadedAt, name: m.config.name, model: m.config.model.model, historyLength: m.historyLength, items: m.itemIndex.size, users: m.userIndex.size },
        index: { backend: index.backend, dim: index.dim, precision: index.precision, items: await index.size(), queue: queue.kind, queued: await queue.depth() },
        encoder: this.options.encoder?.name ?? null,
        rankThreads: this.pool?.size ?? 0,
        limits: this.limits,
      };
    });

    app.post<{ Body: RankBody }>(
      '/v1/rank',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['candidates'],
            properties: {
              userId: idSchema,
              behaviours: { type: 'array', maxItems: L.behaviours, items: idSchema },
              candidates: { type: 'array', minItems: 1, maxItems: L.candidates, items: idSchema },
              topK: { type: 'integer', minimum: 1 },
              onUnknown: { type: 'string', enum: ['score', 'reject'] },
            },
          },
        },
      },
      async (request, reply) => {
        const started = performance.now();
        // Captured once: a reload during this request does not change the model it uses.
        const m = this.model;
        if (!m) return reply.code(503).send({ error: 'unavailable', message: 'the model is still loading' });
        const body = request.body;
        const { index } = this.options.index;
        let behaviours = body.behaviours;
        if (!behaviours) behaviours = body.userId ? await withTimeout(this.behaviours.recent(body.userId, m.historyLength), L.storeTimeoutMs, 'the behaviour store') : [];
        const input = { behaviours, candidates: body.candidates, userId: body.userId };
        const { unique } = idsToFetch(m, input);
        const vectors = await withTimeout(index.getMany(unique), L.storeTimeoutMs, `the ${index.backend} vector index`);
        if (reply.elapsedTime > L.rankDeadlineMs) {
          this.metrics.shed.inc();
          return reply
            .code(503)
            .header('retry-after', '1')
            .send({ error: 'overloaded', message: `the request waited ${Math.round(reply.elapsedTime)} ms before scoring (deadline ${L.rankDeadlineMs} ms): the server is overloaded, retry later` });
        }
        if (body.onUnknown === 'reject') {
          const has = new Map(unique.map((id, k) => [id, vectors[k] !== null]));
          const unknown = body.candidates.filter((id) => !m.itemIndex.has(id) && !has.get(id));
          if (unknown.length)
            return reply.code(422).send({ error: 'unknown_ids', message: `${unknown.length} candidate(s) are unknown to the model and have no vector: ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', ...' : ''}`, ids: unknown });
        }
        const out = this.pool ? await this.pool.rank(m.version, input, unique, vectors, index.dim) : rankCandidates(m, input, unique, vectors, index.dim);
        const M = this.metrics;
        M.candidates.inc(body.candidates.length);
        if (out.unknownCandidates) M.unknownIds.inc({ kind: 'candidate' }, out.unknownCandidates);
        if (out.unknownBehaviours) M.unknownIds.inc({ kind: 'behaviour' }, out.unknownBehaviours);
        if (out.unknownUser) M.unknownIds.inc({ kind: 'user' });
        if (out.missingCandidateVectors) M.missingVectors.inc({ kind: 'candidate' }, out.missingCandidateVectors);
        if (out.missingBehaviourVectors) M.missingVectors.inc({ kind: 'behaviour' }, out.missingBehaviourVectors);
        const tookMs = performance.now() - started;
        M.rank.observe(tookMs / 1000);
        const { items, ...counts } = out;
        return { model: m.version, items: body.topK ? items.slice(0, body.topK) : items, counts, tookMs: Math.round(tookMs * 1000) / 1000 };
      },
    );

    app.post<{ Body: ItemBody | Buffer; Querystring: { id?: string; title?: string; wait?: string } }>(
      '/v1/items',
      {
        bodyLimit: L.ingestBody,
        onRequest: auth,
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { id: idSchema, title: { type: 'string', maxLength: L.titleLength }, wait: { type: 'string', enum: ['0', '1', 'true', 'false'] } },
          },
        },
      },
      async (request, reply) => {
        const q = request.query;
        let item: { id: string; title: string | null; image: Buffer | null; vector: number[] | null };
        if (request.isMultipart()) {
          const form = await readItemForm(request, L.titleLength);
          if ('error' in form) return reply.code(400).send({ error: 'bad_request', message: form.error, issues: [{ field: form.field, message: form.error }] });
          item = form;
        } else if (Buffer.isBuffer(request.body)) {
          if (!q.id) return reply.code(400).send({ error: 'bad_request', message: 'querystring.id: an image upload needs ?id=<item id> (and usually &title=...)', issues: [{ field: 'querystring.id', message: 'is required with an image body' }] });
          if (request.body.length === 0) return reply.code(400).send({ error: 'bad_request', message: 'body: the image is empty' });
          item = { id: q.id, title: q.title ?? null, image: request.body, vector: null };
        } else {
          const issues = validateItemBody(request.body, L, this.options.index.index.dim);
          if (issues.length) return reply.code(400).send({ error: 'bad_request', message: issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues });
          const b = request.body as ItemBody;
          item = { id: b.id, title: b.title ?? null, image: b.image ? Buffer.from(b.image, 'base64') : null, vector: b.vector ?? null };
        }
        if (!item.vector && !this.options.encoder)
          return reply.code(400).send({ error: 'bad_request', message: 'body.vector: this server has no item encoder, so a new item needs a precomputed "vector"' });
        const { queue } = this.options.index;
        const job = await withTimeout(queue.submit(item), L.storeTimeoutMs, 'the ingestion queue');
        this.metrics.ingests.inc({ result: 'queued' });
        const statusUrl = `/v1/ingest/${job.jobId}`;
        if (q.wait === '1' || q.wait === 'true') {
          const s = await waitForJob(queue, job.jobId, L.ingestWaitMs);
          if (s?.state === 'done') return reply.code(201).send({ jobId: job.jobId, id: item.id, state: 'done', ms: s.indexedAt - job.submittedAt });
          if (s?.state === 'failed') return reply.code(422).send({ error: 'ingest_failed', message: s.reason, jobId: job.jobId, id: item.id });
        }
        return reply.code(202).header('location', statusUrl).send({ jobId: job.jobId, id: item.id, state: 'queued', statusUrl });
      },
    );

    app.get<{ Params: { jobId: string } }>('/v1/ingest/:jobId', async (request, reply) => {
      const s = await this.options.index.queue.status(request.params.jobId);
      if (!s) return reply.code(404).send({ error: 'not_found', message: `no ingestion job ${request.params.jobId} (unknown, or older than an hour)` });
      return { jobId: request.params.jobId, ...s };
    });

    app.get<{ Params: { id: string } }>('/v1/items/:id', async (request, reply) => {
      const id = request.params.id;
      const [v] = await withTimeout(this.options.index.index.getMany([id]), L.storeTimeoutMs, 'the vector index');
      const known = this.model?.itemIndex.has(id) ?? false;
      if (!v && !known) return reply.code(404).send({ error: 'not_found', message: `item ${id} has no vector and is unknown to the model` });
      return { id, hasVector: v !== null, knownToModel: known };
    });

    app.get<{ Params: { id: string }; Querystring: { k?: string } }>(
      '/v1/items/:id/similar',
      { schema: { querystring: { type: 'object', additionalProperties: false, properties: { k: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' } } } } },
      async (request, reply) => {
        if (!this.ann) return reply.code(404).send({ error: 'not_found', message: 'similar-item search is off on this server (started with --no-ann)' });
        const id = request.params.id;
        const [v] = await withTimeout(this.options.index.index.getMany([id]), L.storeTimeoutMs, 'the vector index');
        if (!v) return reply.code(404).send({ error: 'not_found', message: `item ${id} has no vector` });
        const k = Number(request.query.k ?? 10);
        return { id, similar: this.ann.nearest(v, k, id) };
      },
    );

    app.post<{ Params: { userId: string }; Body: { items: string[] } }>(
      '/v1/users/:userId/behaviours',
      {
        onRequest: auth,
        schema: { body: { type: 'object', additionalProperties: false, required: ['items'], properties: { items: { type: 'array', minItems: 1, maxItems: L.behaviours, items: idSchema } } } },
      },
      async (request) => {
        await withTimeout(this.behaviours.append(request.params.userId, request.body.items), L.storeTimeoutMs, 'the behaviour store');
        return { userId: request.params.userId, appended: request.body.items.length };
      },
    );

    app.post<{ Body: { run?: string } | undefined }>(
      '/v1/admin/reload',
      { onRequest: auth, schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { run: { type: 'string', minLength: 1 } } } } },
      async (request, reply) => {
        const started = performance.now();
        try {
          const m = await this.reload(request.body?.run);
          return { version: m.version, run: m.runDir, loadMs: Math.round(performance.now() - started) };
        } catch (err) {
          request.log.warn({ err }, 'reload failed; the previous model stays');
          return reply.code(422).send({ error: 'reload_failed', message: `${(err as Error).message} (the previous model is still serving)` });
        }
      },
    );
    return app;
  }
}

/** The JSON ingestion body, checked by hand: its rules depend on the index (vector width). */
function validateItemBody(body: unknown, L: Limits, dim: number): { field: string; message: string }[] {
  const issues: { field: string; message: string }[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [{ field: 'body', message: 'must be a JSON object {id, title?, image? (base64), vector?}' }];
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['id', 'title', 'image', 'vector'].includes(k)) issues.push({ field: `body.${k}`, message: 'is not a known field (id, title, image, vector)' });
  if (typeof b.id !== 'string' || b.id.length === 0 || b.id.length > L.idLength) issues.push({ field: 'body.id', message: `must be a string of 1 to ${L.idLength} characters` });
  if (b.title !== undefined && (typeof b.title !== 'string' || b.title.length > L.titleLength)) issues.push({ field: 'body.title', message: `must be a string of at most ${L.titleLength} characters` });
  if (b.image !== undefined && (typeof b.image !== 'string' || !/^[A-Za-z0-9+/=\r\n]*$/.test(b.image) || b.image.length === 0))
    issues.push({ field: 'body.image', message: 'must be the image file as a non-empty base64 string' });
  if (b.vector !== undefined) {
    if (!Array.isArray(b.vector) || b.vector.length !== dim) issues.push({ field: 'body.vector', message: `must be an array of ${dim} numbers (the index's width)` });
    else if (!b.vector.every((x) => typeof x === 'number' && Number.isFinite(x))) issues.push({ field: 'body.vector', message: 'must hold only finite numbers' });
  }
  if (b.title === undefined && b.image === undefined && b.vector === undefined) issues.push({ field: 'body', message: 'needs a title, an image or a vector' });
  return issues;
}

/**
 * An item from a multipart form: fields `id` (required) and `title`, file field `image`. Size
 * limits are the multipart plugin's (a too large file is a 413 through the error handler).
 */
async function readItemForm(request: FastifyRequest, titleLength: number): Promise<{ id: string; title: string | null; image: Buffer | null; vector: null } | { error: string; field: string }> {
  let id: string | null = null, title: string | null = null, image: Buffer | null = null;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image') return { field: `form.${part.fieldname}`, error: `unknown file field '${part.fieldname}': send the picture as 'image'` };
      image = await part.toBuffer();
    } else if (part.fieldname === 'id' || part.fieldname === 'title') {
      const value = String(part.value ?? '');
      if (part.fieldname === 'id') id = value;
      else title = value;
    } else return { field: `form.${part.fieldname}`, error: `unknown field '${part.fieldname}': expected id, title and image` };
  }
  if (!id) return { field: 'form.id', error: 'a multipart item needs an id field' };
  if (title !== null && title.length > titleLength) return { field: 'form.title', error: `longer than ${titleLength} characters` };
  if (image && image.length === 0) return { field: 'form.image', error: 'the image is empty' };
  return { id, title, image, vector: null };
}
