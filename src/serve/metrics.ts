/**
 * The service's Prometheus metrics (prom-client), one registry per service instance so that
 * several services in one process (tests) keep separate counts. GET /metrics serves it.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ServeMetrics {
  readonly registry = new Registry();
  /** Every HTTP request by route and status (latency as the server sees it, body parsing included). */
  readonly http = new Histogram({
    name: 'mmctr_http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  /** The ranking work alone (vector fetch + forward pass), per request. */
  readonly rank = new Histogram({
    name: 'mmctr_rank_duration_seconds',
    help: 'Time to score one ranking request (vector fetch and model forward pass)',
    buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });
  readonly shed = new Counter({ name: 'mmctr_rank_shed_total', help: 'Ranking requests answered 503 because they waited past the deadline (overload)', registers: [this.registry] });
  readonly candidates = new Counter({ name: 'mmctr_rank_candidates_total', help: 'Candidates scored', registers: [this.registry] });
  readonly unknownIds = new Counter({
    name: 'mmctr_unknown_ids_total',
    help: 'Ids the ID model does not know (scored with the out-of-vocabulary row), by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly missingVectors = new Counter({
    name: 'mmctr_missing_vectors_total',
    help: 'Items ranked without a vector in the index (not encoded yet), by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly ingests = new Counter({
    name: 'mmctr_ingest_total',
    help: 'Ingestion jobs by outcome (queued, done, failed)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly ingestLatency = new Histogram({
    name: 'mmctr_ingest_to_indexed_seconds',
    help: 'Time from an item submission to its vector being in the index (searchable)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly reloads = new Counter({ name: 'mmctr_model_reloads_total', help: 'Model reloads by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly modelVersion = new Gauge({ name: 'mmctr_model_version', help: 'Version (load count) of the model being served', registers: [this.registry] });
  readonly indexItems: Gauge;

  constructor(indexSize: () => Promise<number>) {
    collectDefaultMetrics({ register: this.registry });
    this.indexItems = new Gauge({
      name: 'mmctr_index_items',
      help: 'Items with a vector in the index',
      registers: [this.registry],
      async collect() {
        this.set(await indexSize().catch(() => -1));
      },
    });
  }
}
