/**
 * Item routes: ingestion (POST /v1/items: JSON, raw image bytes, or a multipart form), a job's
 * state, an item's presence, similar items. The binary and multipart body parsers are registered
 * in this group only, with the ingestion size limit: every other route takes JSON alone.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { normalized } from '../../index/types.js';
import type { ServiceContext } from '../app.js';
import type { requireToken } from '../auth.js';
import { BadRequest, badRequest, clip, dependency, idProblem, idSchema, Issue, MAX_ISSUES } from '../http.js';
import { waitForJob } from '../ingest.js';
import type { Limits } from '../limits.js';

interface ItemBody {
  id: string;
  title?: string;
  image?: string;
  vector?: number[];
}

type NewItem = { id: string; title: string | null; image: Buffer | null; vector: number[] | null };

const ITEM_FIELDS = ['id', 'title', 'image', 'vector'];

/** The JSON ingestion body, checked by hand (its rules depend on the index's width); stops after MAX_ISSUES problems. */
function validateItemBody(body: unknown, L: Limits, dim: number): Issue[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [{ field: 'body', message: 'must be a JSON object {id, title?, image? (base64), vector?}' }];
  const issues: Issue[] = [];
  const b = body as Record<string, unknown>;
  for (const k in b) {
    if (issues.length >= MAX_ISSUES) return issues;
    if (!ITEM_FIELDS.includes(k)) issues.push({ field: clip(`body.${k}`), message: 'is not a known field (id, title, image, vector)' });
  }
  const id = idProblem(b.id, L.idLength);
  if (id) issues.push({ field: 'body.id', message: id });
  if (b.title !== undefined && (typeof b.title !== 'string' || b.title.length > L.titleLength)) issues.push({ field: 'body.title', message: `must be a string of at most ${L.titleLength} characters` });
  if (b.image !== undefined && (typeof b.image !== 'string' || b.image.length === 0 || !/^[A-Za-z0-9+/=\r\n]*$/.test(b.image)))
    issues.push({ field: 'body.image', message: 'must be the image file as a non-empty base64 string' });
  if (b.vector !== undefined) {
    if (!Array.isArray(b.vector) || b.vector.length !== dim) issues.push({ field: 'body.vector', message: `must be an array of ${dim} numbers (the index's width)` });
    else if (!b.vector.every((x) => typeof x === 'number' && Number.isFinite(x))) issues.push({ field: 'body.vector', message: 'must hold only finite numbers' });
    else {
      try {
        normalized(b.vector as number[], dim, 'the vector');
      } catch (err) {
        issues.push({ field: 'body.vector', message: (err as Error).message });
      }
    }
  }
  if (b.title === undefined && b.image === undefined && b.vector === undefined) issues.push({ field: 'body', message: 'needs a title, an image or a vector' });
  return issues;
}

/**
 * What becomes of a sent image: used by an encoder that reads images, else not used and why (said
 * in the response and the log, never dropped in silence). null when no image was sent.
 */
function imageUse(item: NewItem, encoder: ServiceContext['encoder']): { imageUsed: boolean; warning?: string } | null {
  if (!item.image) return null;
  if (item.vector) return { imageUsed: false, warning: 'the image was not used: the precomputed vector is indexed as sent' };
  if (encoder && !encoder.usesImages) return { imageUsed: false, warning: `the image was not used: this server's item encoder (${encoder.name}) reads titles only, so the item is indexed from its title alone` };
  return { imageUsed: true };
}

/** Whether `body` holds more than `max` of the bytes , : [ { (found natively, stopping at the bound). */
function moreStructureThan(body: Buffer, max: number): boolean {
  let n = 0;
  for (const byte of [0x2c, 0x3a, 0x5b, 0x7b]) for (let i = body.indexOf(byte); i >= 0; i = body.indexOf(byte, i + 1)) if (++n > max) return true;
  return false;
}

/** A multipart error -> its status: the plugin's limits are 413s, anything malformed a 400. */
function formError(err: unknown): { status: number; message: string } {
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.statusCode === 413) return { status: 413, message: `the form is larger than this endpoint accepts (${e.message})` };
  return { status: 400, message: `the multipart form cannot be read: ${clip(e.message ?? String(err), 200)}` };
}

/**
 * An item from a multipart form: fields `id` (required) and `title`, file field `image`. Size
 * limits are the multipart plugin's; a broken form is a 400, never a 500.
 */
async function readItemForm(request: FastifyRequest, L: Limits): Promise<NewItem | { error: string; field: string; status: number }> {
  let id: string | null = null, title: string | null = null, image: Buffer | null = null;
  try {
    for await (const part of request.parts()) {
      const name = clip(part.fieldname);
      if (part.type === 'file') {
        if (part.fieldname !== 'image') return { status: 400, field: `form.${name}`, error: `unknown file field '${name}': send the picture as 'image'` };
        image = await part.toBuffer();
      } else if (part.fieldname === 'id' || part.fieldname === 'title') {
        if (part.valueTruncated) return { status: 413, field: `form.${part.fieldname}`, error: `is longer than the form's field limit` };
        const value = String(part.value ?? '');
        if (part.fieldname === 'id') id = value;
        else title = value;
      } else return { status: 400, field: `form.${name}`, error: `unknown field '${name}': expected id, title and image` };
    }
  } catch (err) {
    const { status, message } = formError(err);
    return { status, field: 'form', error: message };
  }
  if (!id) return { status: 400, field: 'form.id', error: 'a multipart item needs an id field' };
  const bad = idProblem(id, L.idLength);
  if (bad) return { status: 400, field: 'form.id', error: bad };
  if (title !== null && title.length > L.titleLength) return { status: 400, field: 'form.title', error: `longer than ${L.titleLength} characters` };
  if (image && image.length === 0) return { status: 400, field: 'form.image', error: 'the image is empty' };
  return { id, title, image, vector: null };
}

export function itemRoutes(app: FastifyInstance, ctx: ServiceContext, auth: ReturnType<typeof requireToken>): void {
  const L = ctx.limits;
  const { index, queue } = ctx.opened;

  app.addContentTypeParser(/^image\/|^application\/octet-stream/, { parseAs: 'buffer', bodyLimit: L.ingestBody }, (_req, body, done) => done(null, body));
  // JSON items may be large (a base64 image), but never have many values: a body with more
  // structure than an item can hold is refused before JSON.parse spends 100 ms on 200k keys.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const bound = index.dim + L.titleLength + L.idLength + 32;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: L.ingestJsonBody }, (request, body, done) => {
    if (moreStructureThan(body as Buffer, bound))
      return done(new BadRequest([{ field: 'body', message: `holds more values than an item has (id, title, image, a vector of ${index.dim}): send one item per request` }]), undefined);
    parseJson(request, (body as Buffer).toString('utf8'), done);
  });
  // multipart/form-data (curl -F id=... -F title=... -F image=@photo.jpg), read in the handler.
  void app.register(multipart, { limits: { fileSize: L.ingestBody, files: 1, fields: 8, parts: 10, fieldSize: L.titleLength * 4, fieldNameSize: 100, headerPairs: 50 } });

  app.post<{ Body: ItemBody | Buffer; Querystring: { id?: string; title?: string; wait?: string } }>(
    '/v1/items',
    {
      // No route-wide bodyLimit: each parser above has its own (images 5 MiB, JSON 2 MiB).
      onRequest: auth,
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { id: idSchema(L.idLength), title: { type: 'string', maxLength: L.titleLength }, wait: { type: 'string', enum: ['0', '1', 'true', 'false'] } },
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      let item: NewItem;
      if (request.isMultipart()) {
        const form = await readItemForm(request, L);
        if ('error' in form) return reply.code(form.status).send({ error: form.status === 413 ? 'payload_too_large' : 'bad_request', message: `${form.field}: ${form.error}`, issues: [{ field: form.field, message: form.error }] });
        item = form;
      } else if (Buffer.isBuffer(request.body)) {
        if (!q.id) return badRequest(reply, [{ field: 'querystring.id', message: 'an image upload needs ?id=<item id> (and usually &title=...)' }]);
        if (request.body.length === 0) return badRequest(reply, [{ field: 'body', message: 'the image is empty' }]);
        item = { id: q.id, title: q.title ?? null, image: request.body, vector: null };
      } else {
        const issues = validateItemBody(request.body, L, index.dim);
        if (issues.length) return badRequest(reply, issues);
        const b = request.body as ItemBody;
        item = { id: b.id, title: b.title ?? null, image: b.image ? Buffer.from(b.image, 'base64') : null, vector: b.vector ?? null };
      }
      if (!item.vector && !ctx.encoder) return badRequest(reply, [{ field: 'body.vector', message: 'this server has no item encoder, so a new item needs a precomputed "vector"' }]);
      const image = imageUse(item, ctx.encoder);
      const job = await dependency(queue.submit(item), L.storeTimeoutMs, 'the ingestion queue');
      ctx.metrics.ingests.inc({ result: 'queued' });
      if (image?.warning) request.log.warn({ item: clip(item.id), jobId: job.jobId }, image.warning);
      const statusUrl = `/v1/ingest/${job.jobId}`;
      if (q.wait === '1' || q.wait === 'true') {
        const s = await waitForJob(queue, job.jobId, L.ingestWaitMs);
        if (s?.state === 'done') return reply.code(201).send({ jobId: job.jobId, id: item.id, state: 'done', ms: s.indexedAt - job.submittedAt, ...image });
        if (s?.state === 'failed') return reply.code(422).send({ error: 'ingest_failed', message: s.reason, jobId: job.jobId, id: item.id });
      }
      return reply.code(202).header('location', statusUrl).send({ jobId: job.jobId, id: item.id, state: 'queued', statusUrl, ...image });
    },
  );

  app.get<{ Params: { jobId: string } }>(
    '/v1/ingest/:jobId',
    { schema: { params: { type: 'object', properties: { jobId: { type: 'string', maxLength: 64 } } } } },
    async (request, reply) => {
      const s = await dependency(queue.status(request.params.jobId), L.storeTimeoutMs, 'the ingestion queue');
      if (!s) return reply.code(404).send({ error: 'not_found', message: `no ingestion job ${clip(request.params.jobId)} (unknown, older than an hour, or from before a restart)` });
      return { jobId: request.params.jobId, ...s };
    },
  );

  const idParams = { type: 'object', properties: { id: idSchema(L.idLength) } };
  app.get<{ Params: { id: string } }>('/v1/items/:id', { schema: { params: idParams } }, async (request, reply) => {
    const id = request.params.id;
    const [v] = await dependency(index.getMany([id]), L.storeTimeoutMs, 'the vector index');
    const known = ctx.model?.itemIndex.has(id) ?? false;
    if (!v && !known) return reply.code(404).send({ error: 'not_found', message: `item ${clip(id)} has no vector and is unknown to the model` });
    return { id, hasVector: v !== null, knownToModel: known };
  });

  app.get<{ Params: { id: string }; Querystring: { k?: string } }>(
    '/v1/items/:id/similar',
    { schema: { params: idParams, querystring: { type: 'object', additionalProperties: false, properties: { k: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' } } } } },
    async (request, reply) => {
      if (!ctx.ann) return reply.code(404).send({ error: 'not_found', message: 'similar-item search is off on this server (started with --no-ann)' });
      const id = request.params.id;
      const [v] = await dependency(index.getMany([id]), L.storeTimeoutMs, 'the vector index');
      if (!v) return reply.code(404).send({ error: 'not_found', message: `item ${clip(id)} has no vector` });
      return { id, similar: ctx.ann.nearest(v, Number(request.query.k ?? 10), id) };
    },
  );
}
