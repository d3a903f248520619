/**
 * Health and introspection, all unauthenticated: liveness, readiness (the model, the index and
 * the queue), Prometheus metrics, and what is served (names only: no filesystem paths).
 */
import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../app.js';
import { modelAgeSeconds, samplesBehind, type ServingModel } from '../model-state.js';

/** Routes admission control never refuses: a load balancer must always get an answer. */
export const UNBOUNDED_ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json']);

/** A stream-published model's version, what it has trained on and its age (no paths: `from` is left out). */
function publicationOf(m: ServingModel) {
  const p = m.publication;
  return { ageSeconds: Number(modelAgeSeconds(m).toFixed(1)), stream: p && { version: p.version, trained: p.trained, newestEventTs: p.newestEventTs, publishedAt: p.publishedAt, samplesBehind: samplesBehind(m) } };
}

export function healthRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = await ctx.readiness();
    return reply.code(r.ready ? 200 : 503).send(r);
  });
  app.get('/metrics', async (_req, reply) => reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()));
  app.get('/v1/info', async () => {
    const m = ctx.model;
    const { index, queue } = ctx.opened;
    // Reported as null when the index or queue cannot be reached: info must not fail with them.
    const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<null>((r) => setTimeout(r, ctx.limits.storeTimeoutMs, null).unref())]).catch(() => null);
    return {
      model: m && { version: m.version, run: m.runName, loadedAt: m.loadedAt, name: m.config.name, model: m.config.model.model, backend: m.onnx ? 'onnx' : 'native', historyLength: m.historyLength, items: m.itemIndex.size, users: m.userIndex.size, ...publicationOf(m) },
      index: { backend: index.backend, dim: index.dim, precision: index.precision, items: await within(index.size()), queue: queue.kind, queued: await within(queue.depth()) },
      encoder: ctx.encoder?.name ?? null,
      rankThreads: ctx.pool?.size ?? 0,
      limits: ctx.limits,
    };
  });
}
