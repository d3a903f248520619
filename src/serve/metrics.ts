/**
 * The service's Prometheus metrics (prom-client), one registry per service instance so that
 * several services in one process (tests) keep separate counts. GET /metrics serves it.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { modelAgeSeconds, samplesBehind, type ServingModel } from './model-state.js';

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
  /** Server CPU (user + system, every thread of the process) from a request's arrival to its response. */
  readonly cpu = new Histogram({
    name: 'mmctr_http_request_cpu_seconds',
    help: 'Process CPU time between a request arriving and its response, by route (exact when requests do not overlap; overlapping requests share it)',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly cpuMax = new Gauge({ name: 'mmctr_http_request_cpu_max_seconds', help: 'The most process CPU time one request has taken (as mmctr_http_request_cpu_seconds)', registers: [this.registry] });
  readonly shed = new Counter({ name: 'mmctr_rank_shed_total', help: 'Ranking requests answered 503 because they waited past the deadline (overload)', registers: [this.registry] });
  readonly refused = new Counter({
    name: 'mmctr_admission_refused_total',
    help: 'Requests answered 503 at once because the server was full: too many in flight, or the ranking queue full',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({ name: 'mmctr_requests_in_flight', help: 'Requests being received or handled (health, readiness and metrics excluded)', registers: [this.registry] });
  readonly rankQueue = new Gauge({ name: 'mmctr_rank_queue_length', help: 'Ranking requests waiting for a scoring slot', registers: [this.registry] });
  readonly dependencyErrors = new Counter({
    name: 'mmctr_dependency_errors_total',
    help: 'Requests answered 503 because the index, the queue or the behaviour store failed or timed out',
    registers: [this.registry],
  });
  readonly degraded = new Counter({
    name: 'mmctr_rank_degraded_total',
    help: 'Ranking requests in which no candidate had a vector in the index (degraded: ranked on IDs alone; an empty or lost index looks like this)',
    registers: [this.registry],
  });
  readonly journalSkipped = new Counter({
    name: 'mmctr_journal_skipped_lines_total',
    help: 'Journal lines skipped when the embedded index and queue were opened: invalid records, and torn last lines cut off (each is logged with its byte offset)',
    labelNames: ['journal', 'reason'] as const,
    registers: [this.registry],
  });
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
  readonly modelAge: Gauge;
  readonly modelTrained: Gauge;
  readonly modelBehind: Gauge;

  constructor(indexSize: () => Promise<number>, model: () => ServingModel | null) {
    collectDefaultMetrics({ register: this.registry });
    const modelGauge = (name: string, help: string, pick: (m: ServingModel) => number | null) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const m = model();
          const v = m && pick(m);
          if (v !== null) this.set(v);
        },
      });
    this.modelAge = modelGauge('mmctr_model_age_seconds', 'Seconds since the serving weights were written (published by the stream trainer, or trained)', (m) => modelAgeSeconds(m));
    this.modelTrained = modelGauge('mmctr_model_stream_trained_samples', 'Streamed samples the serving weights have trained on (a model `mmctr stream train` publishes)', (m) => m.publication?.trained ?? null);
    this.modelBehind = modelGauge('mmctr_model_samples_behind', 'Samples the stream trainer has trained on since it published the serving weights (the next publication brings them)', samplesBehind);
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
