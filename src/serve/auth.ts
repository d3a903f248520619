/**
 * Bearer-token auth for the write endpoints (ingest, behaviours, reload). The token comes from
 * MMCTR_TOKEN or --token; with none configured the write endpoints are refused outright, so a
 * server started without thinking about auth is read-only rather than open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** A fastify preHandler that admits only `Authorization: Bearer <token>`. */
export function requireToken(token: string | null) {
  const want = token ? digest(token) : null;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!want) {
      return reply.code(403).send({ error: 'writes_disabled', message: 'this server has no write token: start it with MMCTR_TOKEN=<secret> (or --token) to enable ingest and reload' });
    }
    const header = request.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    // Compare digests in constant time: equal lengths, and no early exit on the first wrong byte.
    if (!m || !timingSafeEqual(digest(m[1].trim()), want)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: m ? 'the bearer token is wrong' : 'this endpoint needs an "Authorization: Bearer <token>" header' });
    }
  };
}
