/**
 * Real-time ingestion, the worker side: drain the queue, encode each item (or take its
 * precomputed vector), write the vectors to the index, add them to the ANN graph. The same code
 * runs inside `mmctr serve` (embedded default: in-process queue) and in any number of worker
 * processes beside a Redis index (`mmctr serve --role worker`).
 */
import type { AnnIndex } from '../index/ann.js';
import type { IngestJob, IngestQueue, JobState } from '../index/queue.js';
import { IndexError, normalized, type VectorIndex } from '../index/types.js';
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

/**
 * Starts `workers` queue consumers; returns a stop function that waits for their current batch
 * (a memory-only queue is drained first). Items fail one by one: an item that cannot be encoded
 * or whose vector is unusable fails alone, never its batch. A write the index refuses for a
 * reason other than the item (the index unreachable) throws, and the queue retries the batch.
 */
export function startIngestWorkers({ index, queue, encoder, ann = null, onIndexed, onFailed, workers = 1, batch = 16 }: IngestWorkerOptions): () => Promise<void> {
  const handler = async (jobs: IngestJob[]) => {
    const failed: { jobId: string; reason: string }[] = [];
    const fail = (job: IngestJob, reason: string) => {
      failed.push({ jobId: job.jobId, reason });
      onFailed?.(job, reason);
    };
    const ready: { job: IngestJob; vector: Float32Array }[] = [];
    const accept = (job: IngestJob, v: ArrayLike<number>, what: string) => {
      try {
        ready.push({ job, vector: normalized(v, index.dim, `${what} of "${job.id}"`) });
      } catch (err) {
        fail(job, (err as Error).message);
      }
    };
    const toEncode: IngestJob[] = [];
    for (const job of jobs) {
      if (job.vector) accept(job, job.vector, 'vector');
      else if (!encoder) fail(job, 'this server has no item encoder configured: send a precomputed "vector"');
      else toEncode.push(job);
    }
    if (toEncode.length && encoder) {
      const input = (j: IngestJob) => ({ title: j.title, image: j.image ?? null });
      let vectors: Float32Array[] | null = null;
      try {
        vectors = await encoder.encode(toEncode.map(input));
      } catch {
        // One undecodable image must not fail the others: encode them one at a time to find it.
      }
      for (const [k, job] of toEncode.entries()) {
        if (vectors) {
          accept(job, vectors[k], 'encoded vector');
          continue;
        }
        try {
          accept(job, (await encoder.encode([input(job)]))[0], 'encoded vector');
        } catch (err) {
          fail(job, `encoding failed: ${(err as Error).message}`);
        }
      }
    }
    const indexed = (written: typeof ready) => {
      const now = Date.now();
      for (const { job, vector } of written) {
        ann?.add(job.id, vector);
        onIndexed?.(job, now - job.submittedAt);
      }
    };
    if (ready.length === 0) return failed;
    const put = (items: typeof ready) => index.putMany(items.map(({ job, vector }) => ({ id: job.id, vector })));
    try {
      await put(ready);
      indexed(ready);
    } catch (err) {
      if (!(err instanceof IndexError)) throw err;
      // The index refused an item of the batch: write them one by one, failing only the refused ones.
      for (const item of ready) {
        try {
          await put([item]);
          indexed([item]);
        } catch (e) {
          if (!(e instanceof IndexError)) throw e;
          fail(item.job, e.message);
        }
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
