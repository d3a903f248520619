/**
 * Real-time ingestion, the worker side: drain the queue, encode each item (or take its
 * precomputed vector), write the vectors to the index, add them to the ANN graph. The same code
 * runs inside `mmctr serve` (embedded default: in-process queue) and in any number of worker
 * processes beside a Redis index (`mmctr serve --role worker`).
 */
import type { AnnIndex } from '../index/ann.js';
import type { IngestJob, IngestQueue, JobState } from '../index/queue.js';
import { normalized, type VectorIndex } from '../index/types.js';
import type { ItemEncoder } from './item-encoder.js';

export interface IngestWorkerOptions {
  index: VectorIndex;
  queue: IngestQueue;
  /** null: only jobs with a precomputed vector can be served. */
  encoder: ItemEncoder | null;
  ann?: AnnIndex | null;
  /** Called per written item with the submit -> indexed time in ms. */
  onIndexed?: (job: IngestJob, ms: number) => void;
  onFailed?: (job: IngestJob, reason: string) => void;
  workers?: number;
  batch?: number;
}

/** Starts `workers` queue consumers; returns a stop function that waits for their current batch. */
export function startIngestWorkers({ index, queue, encoder, ann = null, onIndexed, onFailed, workers = 1, batch = 16 }: IngestWorkerOptions): () => Promise<void> {
  const handler = async (jobs: IngestJob[]) => {
    const failed: { jobId: string; reason: string }[] = [];
    const fail = (job: IngestJob, reason: string) => {
      failed.push({ jobId: job.jobId, reason });
      onFailed?.(job, reason);
    };
    const ready: { job: IngestJob; vector: Float32Array }[] = [];
    const toEncode: IngestJob[] = [];
    for (const job of jobs) {
      if (job.vector) {
        try {
          ready.push({ job, vector: normalized(job.vector, index.dim, `vector of "${job.id}"`) });
        } catch (err) {
          fail(job, (err as Error).message);
        }
      } else if (!encoder) fail(job, 'this server has no item encoder configured: send a precomputed "vector"');
      else toEncode.push(job);
    }
    if (toEncode.length && encoder) {
      try {
        const vectors = await encoder.encode(toEncode.map((j) => ({ title: j.title, image: j.image ?? null })));
        toEncode.forEach((job, k) => {
          try {
            ready.push({ job, vector: normalized(vectors[k], index.dim, `encoded vector of "${job.id}"`) });
          } catch (err) {
            fail(job, (err as Error).message);
          }
        });
      } catch (err) {
        for (const job of toEncode) fail(job, `encoding failed: ${(err as Error).message}`);
      }
    }
    if (ready.length) {
      await index.putMany(ready.map(({ job, vector }) => ({ id: job.id, vector })));
      const now = Date.now();
      for (const { job, vector } of ready) {
        ann?.add(job.id, vector);
        onIndexed?.(job, now - job.submittedAt);
      }
    }
    return failed;
  };
  const running = Array.from({ length: workers }, (_, i) => queue.startWorker(handler, { batch, name: `${process.pid}-${i}` }));
  return async () => {
    await Promise.all(running.map((w) => w.stop()));
  };
}

/** Polls a job until it is done or failed, or `timeoutMs` passes (then its last state). */
export async function waitForJob(queue: IngestQueue, jobId: string, timeoutMs: number, pollMs = 5): Promise<JobState | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await queue.status(jobId);
    if (!s || s.state !== 'queued' || Date.now() >= deadline) return s;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
