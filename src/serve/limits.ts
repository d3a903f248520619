/** The service's limits and timeouts, with their defaults in one place (`mmctr serve` flags override some). */
export interface Limits {
  candidates: number;
  behaviours: number;
  /**
   * Bytes of a ranking request; of an ingestion request with image bytes (raw or a form: 5 MiB,
   * far more than the 224 x 224 the image model sees, and what one request can take within
   * 100 ms of CPU on a busy 2-core machine); of a JSON ingestion request (a base64 image also
   * costs a JSON parse).
   */
  rankBody: number;
  ingestBody: number;
  ingestJsonBody: number;
  idLength: number;
  titleLength: number;
  /** ms to receive a whole request; ms a vector-index or behaviour-store call may take. */
  requestTimeoutMs: number;
  storeTimeoutMs: number;
  /** Longest ?wait on an ingestion. */
  ingestWaitMs: number;
  /**
   * A ranking request that has waited this long since it arrived (behind others, on an overloaded
   * server) before its scoring starts is answered 503 at once: its client has likely given up,
   * and scoring it would only make every later request later still.
   */
  rankDeadlineMs: number;
  /** Ranking requests waiting for a scoring slot; past it, 503 at once. */
  rankQueue: number;
  /** Requests in flight (all but health, readiness, metrics); past it, 503 at once. */
  inFlight: number;
  /** Ingestion jobs waiting or being encoded, and (in-process queue) the bytes they hold. */
  queueJobs: number;
  queueBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  candidates: 500,
  behaviours: 1000,
  rankBody: 1 << 20,
  ingestBody: 5 << 20,
  ingestJsonBody: 2 << 20,
  idLength: 128,
  titleLength: 2000,
  requestTimeoutMs: 10_000,
  storeTimeoutMs: 2_000,
  ingestWaitMs: 10_000,
  // 32 waiting at ~6 ms each: a request waits ~0.2 s. On a slower machine the queue admits only
  // what it scores within the deadline (admission.ts), and the deadline sheds the rest.
  rankDeadlineMs: 1_000,
  rankQueue: 32,
  inFlight: 1024,
  queueJobs: 10_000,
  queueBytes: 256 << 20,
};
