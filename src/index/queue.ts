/**
 * The real-time ingestion queue: a submitted item (id, title, image bytes or a precomputed
 * vector) waits here until an encoder worker turns it into a vector and writes it to the index.
 *
 *   InProcessQueue     the embedded default: an array drained by workers in the same process.
 *   RedisStreamQueue   a Redis stream with one consumer group: any number of workers on any
 *                      number of machines read with XREADGROUP (each job goes to one of them),
 *                      acknowledge with XACK after the vector is written, and claim the jobs of a
 *                      worker that died mid-job (XAUTOCLAIM after `claimIdleMs`).
 *
 * Both keep each job's state (queued, done, failed + reason) so a client can ask what happened.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { IndexError } from './types.js';

export interface IngestRequest {
  /** The item id the vector is stored under. */
  id: string;
  title: string | null;
  /** Image file bytes (JPEG, PNG, ...), if any. */
  image?: Buffer | null;
  /** A precomputed vector, used as it is (no encoder). */
  vector?: number[] | null;
}

export interface IngestJob extends IngestRequest {
  jobId: string;
  /** Epoch ms when the job was submitted (submit -> searchable time is measured from here). */
  submittedAt: number;
}

export type JobState = { state: 'queued' } | { state: 'done'; indexedAt: number } | { state: 'failed'; reason: string };

/** Encodes and writes a batch of jobs; returns the jobs that failed, with a reason each. */
export type IngestHandler = (jobs: IngestJob[]) => Promise<{ jobId: string; reason: string }[]>;

export interface IngestQueue {
  readonly kind: 'in-process' | 'redis-stream';
  submit(request: IngestRequest): Promise<IngestJob>;
  status(jobId: string): Promise<JobState | null>;
  /** Starts a worker draining the queue with `handler` until stop() or close(). */
  startWorker(handler: IngestHandler, options?: { batch?: number; name?: string }): { stop: () => Promise<void> };
  /** Jobs waiting or being encoded. */
  depth(): Promise<number>;
  close(): Promise<void>;
}

function newJob(request: IngestRequest): IngestJob {
  return { ...request, jobId: randomUUID(), submittedAt: Date.now() };
}

/** Job states kept for this long (in-process: this many most recent). */
const KEEP_STATES = 10_000;
const STATE_TTL_SECONDS = 3600;

export class InProcessQueue implements IngestQueue {
  readonly kind = 'in-process' as const;
  private readonly waiting: IngestJob[] = [];
  private readonly states = new Map<string, JobState>();
  private readonly wake = new Set<() => void>();
  private inFlight = 0;
  private closed = false;

  async submit(request: IngestRequest): Promise<IngestJob> {
    if (this.closed) throw new IndexError('the ingestion queue is closed');
    const job = newJob(request);
    this.waiting.push(job);
    this.setState(job.jobId, { state: 'queued' });
    for (const w of this.wake) w();
    return job;
  }

  private setState(jobId: string, s: JobState): void {
    this.states.delete(jobId);
    this.states.set(jobId, s);
    if (this.states.size > KEEP_STATES) this.states.delete(this.states.keys().next().value!);
  }

  async status(jobId: string): Promise<JobState | null> {
    return this.states.get(jobId) ?? null;
  }

  async depth(): Promise<number> {
    return this.waiting.length + this.inFlight;
  }

  startWorker(handler: IngestHandler, { batch = 16 }: { batch?: number } = {}): { stop: () => Promise<void> } {
    let running = true;
    let wakeMe: (() => void) | null = null;
    const loop = (async () => {
      while (running && !this.closed) {
        if (this.waiting.length === 0) {
          await new Promise<void>((resolve) => {
            wakeMe = resolve;
            this.wake.add(resolve);
          });
          this.wake.delete(wakeMe!);
          continue;
        }
        const jobs = this.waiting.splice(0, batch);
        this.inFlight += jobs.length;
        try {
          const failed = await runHandler(handler, jobs);
          const at = Date.now();
          for (const j of jobs) this.setState(j.jobId, failed.has(j.jobId) ? { state: 'failed', reason: failed.get(j.jobId)! } : { state: 'done', indexedAt: at });
        } finally {
          this.inFlight -= jobs.length;
        }
      }
    })();
    return {
      stop: async () => {
        running = false;
        wakeMe?.();
        await loop;
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.wake) w();
  }
}

/** Runs the handler; an exception fails the whole batch (with its message) instead of the worker. */
async function runHandler(handler: IngestHandler, jobs: IngestJob[]): Promise<Map<string, string>> {
  try {
    return new Map((await handler(jobs)).map((f) => [f.jobId, f.reason]));
  } catch (err) {
    return new Map(jobs.map((j) => [j.jobId, (err as Error).message]));
  }
}

export interface RedisQueueOptions {
  client: Redis;
  prefix?: string;
  group?: string;
  /** Stream length cap (approximate trimming on XADD). */
  maxLength?: number;
  /** A job unacknowledged this long belongs to a dead worker and is claimed by a live one. */
  claimIdleMs?: number;
  /** How long one XREADGROUP blocks before checking for stop. */
  blockMs?: number;
}

export class RedisStreamQueue implements IngestQueue {
  readonly kind = 'redis-stream' as const;
  readonly streamKey: string;
  readonly group: string;
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly maxLength: number;
  private readonly claimIdleMs: number;
  private readonly blockMs: number;
  private readonly workers = new Set<{ stop: () => Promise<void> }>();
  private groupReady: Promise<void> | null = null;

  constructor({ client, prefix = 'mmctr:', group = 'encoders', maxLength = 100_000, claimIdleMs = 30_000, blockMs = 1000 }: RedisQueueOptions) {
    this.client = client;
    this.prefix = prefix;
    this.streamKey = `${prefix}ingest`;
    this.group = group;
    this.maxLength = maxLength;
    this.claimIdleMs = claimIdleMs;
    this.blockMs = blockMs;
  }

  private ensureGroup(): Promise<void> {
    this.groupReady ??= this.client.xgroup('CREATE', this.streamKey, this.group, '0', 'MKSTREAM').then(
      () => {},
      (err: Error) => {
        if (!err.message.includes('BUSYGROUP')) throw err;
      },
    );
    return this.groupReady;
  }

  private stateKey(jobId: string): string {
    return `${this.prefix}job:${jobId}`;
  }

  async submit(request: IngestRequest): Promise<IngestJob> {
    await this.ensureGroup();
    const job = newJob(request);
    const { image, ...rest } = job;
    const fields: (string | Buffer)[] = ['job', JSON.stringify(rest)];
    if (image) fields.push('image', image);
    await this.client
      .multi()
      .set(this.stateKey(job.jobId), JSON.stringify({ state: 'queued' }), 'EX', STATE_TTL_SECONDS)
      .xadd(this.streamKey, 'MAXLEN', '~', String(this.maxLength), '*', ...fields)
      .exec();
    return job;
  }

  async status(jobId: string): Promise<JobState | null> {
    const raw = await this.client.get(this.stateKey(jobId));
    return raw ? (JSON.parse(raw) as JobState) : null;
  }

  async depth(): Promise<number> {
    await this.ensureGroup();
    // Entries not yet delivered to the group plus those delivered and not acknowledged.
    const groups = (await this.client.xinfo('GROUPS', this.streamKey)) as unknown[][];
    for (const g of groups) {
      const info = new Map<string, unknown>();
      for (let i = 0; i < g.length; i += 2) info.set(String(g[i]), g[i + 1]);
      if (info.get('name') === this.group) return Number(info.get('lag') ?? 0) + Number(info.get('pending') ?? 0);
    }
    return 0;
  }

  private parse(entries: [Buffer, Buffer[]][]): { ids: string[]; jobs: IngestJob[] } {
    const ids: string[] = [], jobs: IngestJob[] = [];
    for (const [entryId, flat] of entries) {
      ids.push(entryId.toString());
      // A claimed entry that was trimmed away arrives with no fields: acknowledge it, nothing to do.
      if (!flat || flat.length === 0) continue;
      const fields = new Map<string, Buffer>();
      for (let i = 0; i < flat.length; i += 2) fields.set(flat[i].toString(), flat[i + 1]);
      const job = JSON.parse(fields.get('job')!.toString('utf8')) as IngestJob;
      job.image = fields.get('image') ?? null;
      jobs.push(job);
    }
    return { ids, jobs };
  }

  startWorker(handler: IngestHandler, { batch = 16, name = `worker-${randomUUID().slice(0, 8)}` }: { batch?: number; name?: string } = {}): { stop: () => Promise<void> } {
    // Blocking reads hold their connection: each worker gets its own.
    const reader = this.client.duplicate();
    let running = true;
    let lastClaim = 0;
    const settle = async (entryIds: string[], jobs: IngestJob[]) => {
      if (entryIds.length === 0) return;
      const failed = await runHandler(handler, jobs);
      const at = Date.now();
      const m = this.client.multi();
      for (const j of jobs) {
        const s: JobState = failed.has(j.jobId) ? { state: 'failed', reason: failed.get(j.jobId)! } : { state: 'done', indexedAt: at };
        m.set(this.stateKey(j.jobId), JSON.stringify(s), 'EX', STATE_TTL_SECONDS);
      }
      m.xack(this.streamKey, this.group, ...entryIds);
      m.xdel(this.streamKey, ...entryIds);
      await m.exec();
    };
    const loop = (async () => {
      await this.ensureGroup();
      while (running) {
        try {
          if (Date.now() - lastClaim > this.claimIdleMs / 2) {
            lastClaim = Date.now();
            const claimed = (await this.client.callBuffer('XAUTOCLAIM', this.streamKey, this.group, name, this.claimIdleMs, '0-0', 'COUNT', batch)) as [Buffer, [Buffer, Buffer[]][]];
            const c = this.parse(claimed[1] ?? []);
            await settle(c.ids, c.jobs);
          }
          const reply = (await reader.xreadgroupBuffer('GROUP', this.group, name, 'COUNT', batch, 'BLOCK', this.blockMs, 'STREAMS', this.streamKey, '>')) as [Buffer, [Buffer, Buffer[]][]][] | null;
          if (!reply) continue;
          const { ids, jobs } = this.parse(reply[0][1]);
          await settle(ids, jobs);
        } catch (err) {
          if (!running) break;
          // The server went away or restarted: wait and retry rather than lose the worker.
          await new Promise((r) => setTimeout(r, 500));
          if ((err as Error).message.includes('NOGROUP')) this.groupReady = null, await this.ensureGroup().catch(() => {});
        }
      }
    })();
    const worker = {
      stop: async () => {
        running = false;
        reader.disconnect();
        await loop;
        this.workers.delete(worker);
      },
    };
    this.workers.add(worker);
    return worker;
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.stop()));
  }
}
