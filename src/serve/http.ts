/**
 * The HTTP conventions every route group shares: errors as JSON {error, message[, issues]}, the
 * error handler that maps each failure to its status (400 / 413 / 415 / 422 / 503, a 500 only for
 * a bug), the id schema, and `dependency()`, which bounds a call to the index, the queue or the
 * behaviour store in time and turns its failure into a 503 (retry later), never a 500.
 *
 * Nothing a client sends is echoed back at length: at most MAX_ISSUES problems are listed, and
 * every echoed name or value is clipped.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { QueueFullError } from '../index/queue.js';
import { IndexError } from '../index/types.js';
import { MmctrError } from '../util/errors.js';

/** Problems listed in one 400 (validation stops at the first for schema routes). */
export const MAX_ISSUES = 5;
const MAX_ECHO = 80;

/** A dependency (index, queue, behaviour store) failed or is too slow: 503, retry later. */
export class ServiceUnavailable extends MmctrError {}

/** The server has as much work as it takes: 503 + Retry-After. */
export class Overloaded extends MmctrError {}

/** A request refused before a handler saw it (a body parser's verdict): 400 with its issues. */
export class BadRequest extends MmctrError {
  constructor(readonly issues: Issue[]) {
    super(issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  }
}

export interface Issue {
  field: string;
  message: string;
}

/** Text from a request, shortened for an error message. */
export function clip(text: string, max = MAX_ECHO): string {
  const safe = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return safe.length > max ? `${safe.slice(0, max)}... (${text.length} characters)` : safe;
}

/** Item / user ids: 1 to `max` characters, no control characters (they would make a new id that looks like an old one). */
export function idSchema(max: number): Record<string, unknown> {
  return { type: 'string', minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u001f\\u007f]*$' };
}

/** The reason an id is unusable, or null. */
export function idProblem(id: unknown, max: number): string | null {
  if (typeof id !== 'string' || id.length === 0 || id.length > max) return `must be a string of 1 to ${max} characters`;
  if (/[\u0000-\u001f\u007f]/.test(id)) return 'must not contain control characters';
  return null;
}

export function badRequest(reply: FastifyReply, issues: Issue[]): FastifyReply {
  const listed = issues.slice(0, MAX_ISSUES);
  const more = issues.length > MAX_ISSUES ? ` (and more: fix these first)` : '';
  return reply.code(400).send({ error: 'bad_request', message: listed.map((i) => `${i.field}: ${i.message}`).join('; ') + more, issues: listed });
}

export function overloaded(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(503).header('retry-after', '1').send({ error: 'overloaded', message });
}

/**
 * `p`, bounded by `ms`; a failure or a timeout becomes a ServiceUnavailable naming `what`. The
 * dependency's own verdicts on the request (IndexError: a bad vector; QueueFullError) pass
 * through, and the error handler maps them to 400 and 503.
 */
export function dependency<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)).catch((err: Error) => {
      if (err instanceof IndexError || err instanceof QueueFullError || err instanceof ServiceUnavailable) throw err;
      throw new ServiceUnavailable(`${what} failed: ${err.message}`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ServiceUnavailable(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]);
}

/** Ajv messages -> "body.candidates[3]: must be string" lines, names clipped. */
function describeValidation(error: FastifyError): Issue[] {
  const context = (error as FastifyError & { validationContext?: string }).validationContext ?? 'body';
  return (error.validation ?? []).slice(0, MAX_ISSUES).map((v) => {
    const params = v.params as Record<string, unknown>;
    let field = context + v.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.');
    if (typeof params.missingProperty === 'string') field += `.${params.missingProperty}`;
    if (typeof params.additionalProperty === 'string') return { field: clip(`${field}.${params.additionalProperty}`), message: 'is not a known field' };
    if (params.pattern === idSchema(1).pattern) return { field: clip(field), message: 'must not contain control characters' };
    return { field: clip(field), message: v.message ?? 'is invalid' };
  });
}

/** The error handler and the 404 of the app (inherited by every route group); `onUnavailable` counts dependency failures. */
export function installErrorHandling(app: FastifyInstance, onUnavailable: () => void = () => {}): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) return badRequest(reply, describeValidation(error));
    if (error instanceof BadRequest) return badRequest(reply, error.issues);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413)
      return reply.code(413).send({ error: 'payload_too_large', message: `the request body is larger than this endpoint accepts (${error.message})` });
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.statusCode === 415)
      return reply.code(415).send({ error: 'unsupported_media_type', message: `${clip(error.message, 200)}: send application/json (or image bytes / a multipart form to POST /v1/items)` });
    if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (error.statusCode === 400 && error instanceof SyntaxError))
      return reply.code(400).send({ error: 'bad_request', message: `the body is not valid JSON: ${clip(error.message, 200)}` });
    if (error instanceof Overloaded || error instanceof QueueFullError) return reply.code(503).header('retry-after', '1').send({ error: 'overloaded', message: error.message });
    if (error instanceof ServiceUnavailable) {
      onUnavailable();
      return reply.code(503).header('retry-after', '1').send({ error: 'unavailable', message: error.message });
    }
    if (error instanceof IndexError) return reply.code(400).send({ error: 'bad_request', message: error.message });
    if (error instanceof MmctrError) return reply.code(422).send({ error: 'unprocessable', message: error.message });
    if (error.statusCode && error.statusCode < 500) return reply.code(error.statusCode).send({ error: 'bad_request', message: clip(error.message, 200) });
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: 'internal', message: `internal error (request ${request.id}); the server log has the details` });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${clip(request.url.split('?')[0], 200)}` }));
}
