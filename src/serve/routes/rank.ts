/**
 * POST /v1/rank: a user's behaviours (or a user id whose behaviours the service keeps) and
 * candidate ads -> candidates by pCTR. Vectors are fetched first (I/O, concurrent); scoring then
 * waits its turn in the admission queue, which sheds a request past its deadline (admission.ts).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServingModel } from '../model-state.js';
import { idsToFetch, rankCandidates } from '../ranker.js';
import type { ServiceContext } from '../app.js';
import { dependency, idSchema } from '../http.js';

interface RankBody {
  userId?: string;
  behaviours?: string[];
  candidates: string[];
  topK?: number;
  onUnknown?: 'score' | 'reject';
}

/** Whether the model reads item vectors at all (else a missing vector changes nothing). */
function readsVectors(m: ServingModel): boolean {
  const c = m.config.model;
  return c.model === 'din' && (c.vector || c.simScore || c.simTier !== undefined || c.make !== undefined);
}

export function rankRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const L = ctx.limits;
  const id = idSchema(L.idLength);
  app.post<{ Body: RankBody }>(
    '/v1/rank',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['candidates'],
          properties: {
            userId: id,
            behaviours: { type: 'array', maxItems: L.behaviours, items: id },
            candidates: { type: 'array', minItems: 1, maxItems: L.candidates, items: id },
            topK: { type: 'integer', minimum: 1 },
            onUnknown: { type: 'string', enum: ['score', 'reject'] },
          },
        },
      },
    },
    async (request, reply) => {
      // Captured once: a reload during this request does not change the model it uses.
      const m = ctx.model;
      if (!m) return reply.code(503).header('retry-after', '1').send({ error: 'unavailable', message: 'the model is still loading' });
      // Ranking threads keep this version loaded until the request is done, however long it queues.
      const release = ctx.pool?.hold(m.version);
      try {
        return await score(request.body, m, reply);
      } finally {
        release?.();
      }
    },
  );

  /** Scores one request on model `m`: vectors fetched first, then a turn in the admission queue. */
  async function score(body: RankBody, m: ServingModel, reply: FastifyReply) {
    const { index } = ctx.opened;
    let behaviours = body.behaviours;
    if (!behaviours) behaviours = body.userId ? await dependency(ctx.behaviours.recent(body.userId, m.historyLength), L.storeTimeoutMs, 'the behaviour store') : [];
    const input = { behaviours, candidates: body.candidates, userId: body.userId };
    const { unique } = idsToFetch(m, input);
    const vectors = await dependency(index.getMany(unique), L.storeTimeoutMs, `the ${index.backend} vector index`);
    if (body.onUnknown === 'reject') {
      const has = new Map(unique.map((id, k) => [id, vectors[k] !== null]));
      const unknown = body.candidates.filter((id) => !m.itemIndex.has(id) && !has.get(id));
      if (unknown.length)
        return reply.code(422).send({ error: 'unknown_ids', message: `${unknown.length} candidate(s) are unknown to the model and have no vector: ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', ...' : ''}`, ids: unknown });
    }
    const out = await ctx.admission.schedule(
      () => reply.elapsedTime,
      () => {
        const started = performance.now();
        const pending = ctx.pool ? ctx.pool.rank(m.version, input, unique, vectors, index.dim) : rankCandidates(m, input, unique, vectors, index.dim);
        return Promise.resolve(pending).then((r) => ({ ...r, scoreMs: performance.now() - started }));
      },
    );
    const M = ctx.metrics;
    M.candidates.inc(body.candidates.length);
    if (out.unknownCandidates) M.unknownIds.inc({ kind: 'candidate' }, out.unknownCandidates);
    if (out.unknownBehaviours) M.unknownIds.inc({ kind: 'behaviour' }, out.unknownBehaviours);
    if (out.unknownUser) M.unknownIds.inc({ kind: 'user' });
    if (out.missingCandidateVectors) M.missingVectors.inc({ kind: 'candidate' }, out.missingCandidateVectors);
    if (out.missingBehaviourVectors) M.missingVectors.inc({ kind: 'behaviour' }, out.missingBehaviourVectors);
    if (out.missingCandidateVectors === body.candidates.length && readsVectors(m)) M.degraded.inc();
    const tookMs = reply.elapsedTime;
    M.rank.observe(out.scoreMs / 1000);
    const { items, scoreMs: _scored, ...counts } = out;
    return { model: m.version, items: body.topK ? items.slice(0, body.topK) : items, counts, tookMs: Math.round(tookMs * 1000) / 1000 };
  }
}
