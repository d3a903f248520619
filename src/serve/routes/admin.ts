/**
 * POST /v1/admin/reload (token): load a run and swap it in. A run is named, not given as a path:
 * a folder directly under the service's runs root (default: the folder that holds the run it
 * started with), so a token holder cannot make the server read arbitrary files.
 */
import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../app.js';
import type { requireToken } from '../auth.js';

/** A run folder's name: no separators, no dot-only names. */
export const RUN_NAME = '^(?!\\.{1,2}$)[A-Za-z0-9._-]{1,200}$';

export function adminRoutes(app: FastifyInstance, ctx: ServiceContext, auth: ReturnType<typeof requireToken>): void {
  app.post<{ Body: { run?: string } | undefined }>(
    '/v1/admin/reload',
    {
      onRequest: auth,
      schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { run: { type: 'string', pattern: RUN_NAME } } } },
    },
    async (request, reply) => {
      const started = performance.now();
      try {
        const m = await ctx.reload(request.body?.run);
        return { version: m.version, run: m.runName, loadMs: Math.round(performance.now() - started) };
      } catch (err) {
        request.log.warn({ err }, 'reload failed; the previous model stays');
        return reply.code(422).send({ error: 'reload_failed', message: `${(err as Error).message} (the previous model is still serving)` });
      }
    },
  );
}
