/** POST /v1/users/:userId/behaviours (token): a user's clicks, kept for ranking by user id. */
import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../app.js';
import type { requireToken } from '../auth.js';
import { dependency, idSchema } from '../http.js';

export function userRoutes(app: FastifyInstance, ctx: ServiceContext, auth: ReturnType<typeof requireToken>): void {
  const L = ctx.limits;
  app.post<{ Params: { userId: string }; Body: { items: string[] } }>(
    '/v1/users/:userId/behaviours',
    {
      onRequest: auth,
      schema: {
        params: { type: 'object', properties: { userId: idSchema(L.idLength) } },
        body: { type: 'object', additionalProperties: false, required: ['items'], properties: { items: { type: 'array', minItems: 1, maxItems: L.behaviours, items: idSchema(L.idLength) } } },
      },
    },
    async (request) => {
      await dependency(ctx.behaviours.append(request.params.userId, request.body.items), L.storeTimeoutMs, 'the behaviour store');
      return { userId: request.params.userId, appended: request.body.items.length };
    },
  );
}
