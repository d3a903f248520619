/**
 * The HTTP floor of bench:serve (started by serve-child.ts's startHttpFloor, not run by hand):
 * fastify with nothing of mmctr's, POST /v1/rank answering every candidate with a made-up pCTR
 * in the response shape of `mmctr serve`. Argument: the port.
 */
import Fastify from 'fastify';

interface Body {
  candidates: string[];
  behaviours?: string[];
}

const app = Fastify({ bodyLimit: 8 << 20 });
app.post<{ Body: Body }>('/v1/rank', async (request) => {
  const { candidates } = request.body;
  const started = performance.now();
  const items = candidates.map((id, i) => ({ id, pctr: 1 / (2 + i) }));
  return { model: 1, items, counts: { unknownCandidates: 0, unknownBehaviours: 0, unknownUser: false, missingCandidateVectors: 0, missingBehaviourVectors: 0, droppedBehaviours: 0 }, tookMs: performance.now() - started };
});
app.get('/readyz', async () => ({ ready: true }));
app.get('/metrics', async (_request, reply) => {
  const used = process.cpuUsage();
  return reply.type('text/plain').send(`process_cpu_seconds_total ${(used.user + used.system) / 1e6}\n`);
});
await app.listen({ port: Number(process.argv[2]), host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
