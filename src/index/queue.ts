/**
 * The real-time ingestion queue: a submitted item (id, title, image bytes or a precomputed
 * vector) waits here until an encoder worker turns it into a vector and writes it to the index.
 *
 *   InProcessQueue     the embedded default: an array drained by workers in the same process.
 *                      With a file, every job is journaled (journal.ts) before its submission is
 *                      acknowledged and replayed on the next start until it is settled, so a
 *                      killed server loses no accepted item and a graceful stop leaves waiting
 *                      jobs for the next start; without one, a graceful stop drains the queue.
 *   RedisStreamQueue   a Redis stream with one consumer group: any number of workers on any
 *                      number of machines read with XREADGROUP (each job goes to one of them),
 *                      acknowledge with XACK after the vector is written, and claim the jobs of a
 *                      worker that died mid-job (XAUTOCLAIM after `claimIdleMs`).
 *
 * Both are bounded (a submission past the bound is a QueueFullError, which the service answers
 * 503 + Retry-After) and keep each job's state (queued, done, failed + reason) so a client can ask
 * what happened. A handler that throws (the index unreachable, the disk full) leaves its jobs
 * queued to be retried; a job that cannot be indexed is failed by the handler, alone.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { MmctrError } from '../util/errors.js';
import { FsyncPolicy, Journal, JournalRecovery, SkippedLine } from './journal.js';
import { blockingReader } from './redis.js';

/** The queue holds as many jobs (or bytes) as it may, or is stopping: retry later. */
export class QueueFullError extends MmctrError {}

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

/**
 * Encodes and writes a batch of jobs; returns the jobs that failed, with a reason each. Throwing
 * means nothing could be written (a dependency is down): the jobs stay queued and are retried.
 */
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

export interface InProcessQueueOptions {
  /** Journal of the jobs not yet settled; null: memory only (a graceful stop drains the queue). */
  file?: string | null;
  fsync?: FsyncPolicy;
  /** Most jobs waiting or being encoded. */
  maxJobs?: number;
  /** Most bytes (images and vectors) they may hold together. */
  maxBytes?: number;
  onJournalSkip?: (line: SkippedLine, file: string) => void;
}

/**
 * A journal line: a submitted job (with the name of its image file, beside the journal in
 * `<journal>.images/`: megabytes of image through JSON would cost a base64 string and its garbage
 * collection on every upload), or the jobs a batch settled.
 */
type QueueRecord = { add: Omit<IngestJob, 'image'>; image?: string } | { settled: string[] };

/** Tries before a job whose batch keeps failing as a whole is failed. */
const MAX_ATTEMPTS = 5;
/** A journal this large is rewritten with only the unsettled jobs. */
const COMPACT_BYTES = 64 << 20;

const jobBytes = (j: IngestRequest) => (j.image?.length ?? 0) + 8 * (j.vector?.length ?? 0) + 2 * ((j.title?.length ?? 0) + j.id.length);

function addRecord(job: IngestJob): QueueRecord {
  const { image, ...rest } = job;
  return image ? { add: rest, image: job.jobId } : { add: rest };
}

export class InProcessQueue implements IngestQueue {
  readonly kind = 'in-process' as const;
  /** What replaying the journal found (null: memory only). */
  readonly recovery: JournalRecovery | null = null;
  private readonly waiting: IngestJob[] = [];
  private readonly active = new Set<IngestJob>();
  private readonly attempts = new Map<string, number>();
  private readonly states = new Map<string, JobState>();
  private readonly wake = new Set<() => void>();
  private readonly journal: Journal | null = null;
  /** Where journaled jobs keep their image bytes, one file per job (named by job id). */
  private readonly imagesDir: string | null = null;
  private readonly fsync: FsyncPolicy;
  private readonly maxJobs: number;
  private readonly maxBytes: number;
  private bytes = 0;
  private closed = false;

  constructor({ file = null, fsync = 'always', maxJobs = 10_000, maxBytes = 256 << 20, onJournalSkip }: InProcessQueueOptions = {}) {
    this.maxJobs = maxJobs;
    this.maxBytes = maxBytes;
    this.fsync = fsync;
    if (!file) return;
    const opened = Journal.open<QueueRecord>(file, { fsync, validate: validRecord, onSkip: (line) => onJournalSkip?.(line, file) });
    this.journal = opened.journal;
    this.recovery = opened.recovery;
    this.imagesDir = `${file}.images`;
    const pending = new Map<string, { job: Omit<IngestJob, 'image'>; image?: string }>();
    for (const r of opened.records) {
      if ('settled' in r) for (const id of r.settled) pending.delete(id);
      else pending.set(r.add.jobId, { job: r.add, image: r.image });
    }
    for (const { job, image } of pending.values()) {
      let bytes: Buffer | null = null;
      if (image !== undefined) {
        try {
          bytes = readFileSync(path.join(this.imagesDir, image));
        } catch (err) {
          // Only someone deleting it loses it: the file is written before the job is journaled.
          onJournalSkip?.({ offset: -1, reason: `job ${job.jobId} (item "${job.id}"): its image file cannot be read (${(err as Error).message}): failed` }, file);
          this.setState(job.jobId, { state: 'failed', reason: 'its image file was lost while the server was down' });
          continue;
        }
      }
      this.enqueue({ ...job, image: bytes });
    }
    // Image files of no pending job: settled ones not yet deleted, or written by a submission that crashed before it was journaled.
    if (existsSync(this.imagesDir)) {
      const keep = new Set([...pending.values()].map((p) => p.image).filter((x): x is string => x !== undefined));
      for (const name of readdirSync(this.imagesDir)) if (!keep.has(name)) rmSync(path.join(this.imagesDir, name), { force: true });
    }
  }

  /** Writes a journaled job's image before the job line that names it (synced unless the policy is 'no'). */
  private async writeImage(jobId: string, image: Buffer): Promise<void> {
    await mkdir(this.imagesDir!, { recursive: true });
    const fh = await open(path.join(this.imagesDir!, jobId), 'w');
    try {
      await fh.writeFile(image);
      if (this.fsync !== 'no') await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  /** Whether waiting jobs outlive the process (a journal), or must be drained before it stops. */
  get durable(): boolean {
    return this.journal !== null;
  }

  private enqueue(job: IngestJob): void {
    this.waiting.push(job);
    this.bytes += jobBytes(job);
    this.setState(job.jobId, { state: 'queued' });
  }

  async submit(request: IngestRequest): Promise<IngestJob> {
    if (this.closed) throw new QueueFullError('the ingestion queue is closed (the server is stopping)');
    const size = jobBytes(request);
    const jobs = this.waiting.length + this.active.size;
    if (jobs >= this.maxJobs || this.bytes + size > this.maxBytes)
      throw new QueueFullError(`the ingestion queue is full (${jobs} jobs, ${(this.bytes / 2 ** 20).toFixed(1)} MiB; at most ${this.maxJobs} jobs and ${this.maxBytes / 2 ** 20} MiB)`);
    const job = newJob(request);
    // Journaled before it is queued; the caller acknowledges the job only once this resolves.
    if (this.journal && job.image) await this.writeImage(job.jobId, job.image);
    const durable = this.journal?.append([addRecord(job)]);
    this.enqueue(job);
    for (const w of this.wake) w();
    await durable;
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
    return this.waiting.length + this.active.size;
  }

  /** Records the outcome of a batch: states, the journal's settled line, compaction. */
  private settle(jobs: IngestJob[], failed: Map<string, string>): void {
    const at = Date.now();
    for (const j of jobs) {
      this.active.delete(j);
      this.attempts.delete(j.jobId);
      this.bytes -= jobBytes(j);
      this.setState(j.jobId, failed.has(j.jobId) ? { state: 'failed', reason: failed.get(j.jobId)! } : { state: 'done', indexedAt: at });
    }
    if (!this.journal) return;
    // A lost settled line only replays jobs whose vectors are already in the index: no sync needed.
    if (this.waiting.length === 0 && this.active.size === 0) this.journal.clear();
    else if (this.journal.size > COMPACT_BYTES) this.journal.rewrite([...this.active, ...this.waiting].map(addRecord));
    else void this.journal.append([{ settled: jobs.map((j) => j.jobId) }]).catch(() => {});
    // Only once the journal no longer needs them.
    for (const j of jobs) if (j.image) void rm(path.join(this.imagesDir!, j.jobId), { force: true }).catch(() => {});
  }

  /** After a handler threw: the jobs go back to the front of the queue, unless they keep failing. */
  private retry(jobs: IngestJob[], err: Error): number {
    const again: IngestJob[] = [], given: IngestJob[] = [];
    let tries = 0;
    for (const j of jobs) {
      const n = (this.attempts.get(j.jobId) ?? 0) + 1;
      tries = Math.max(tries, n);
      this.attempts.set(j.jobId, n);
      (n < MAX_ATTEMPTS ? again : given).push(j);
    }
    for (const j of again) this.active.delete(j);
    this.waiting.unshift(...again);
    if (given.length) this.settle(given, new Map(given.map((j) => [j.jobId, `not indexed after ${MAX_ATTEMPTS} tries: ${err.message}`])));
    return tries;
  }

  startWorker(handler: IngestHandler, { batch = 16 }: { batch?: number } = {}): { stop: () => Promise<void> } {
    let running = true;
    let wakeMe: (() => void) | null = null;
    const loop = (async () => {
      // A stopping worker of a memory-only queue finishes what is waiting: nothing else would.
      while (!this.closed && (running || (!this.durable && this.waiting.length > 0))) {
        if (this.waiting.length === 0) {
          await new Promise<void>((resolve) => {
            wakeMe = resolve;
            this.wake.add(resolve);
          });
          this.wake.delete(wakeMe!);
          continue;
        }
        const jobs = this.waiting.splice(0, batch);
        for (const j of jobs) this.active.add(j);
        try {
          this.settle(jobs, new Map((await handler(jobs)).map((f) => [f.jobId, f.reason])));
        } catch (err) {
          const tries = this.retry(jobs, err as Error);
          await new Promise((r) => setTimeout(r, 100 * tries));
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
    await this.journal?.close();
  }
}

function validRecord(rec: unknown): QueueRecord | string {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return 'not a queue record';
  const r = rec as Record<string, unknown>;
  if (Array.isArray(r.settled)) return r.settled.every((x) => typeof x === 'string') ? { settled: r.settled as string[] } : 'a settled record with a non-string job id';
  const add = r.add as Record<string, unknown> | undefined;
  if (typeof add !== 'object' || add === null) return 'neither a submitted job nor a settled one';
  if (typeof add.jobId !== 'string' || typeof add.id !== 'string' || add.id.length === 0 || typeof add.submittedAt !== 'number') return 'a submitted job without its job id, item id or time';
  if (r.image !== undefined && (typeof r.image !== 'string' || !/^[A-Za-z0-9-]+$/.test(r.image))) return `job ${add.jobId}: the image file name is not a job id`;
  const job = { jobId: add.jobId, id: add.id, submittedAt: add.submittedAt, title: typeof add.title === 'string' ? add.title : null, vector: Array.isArray(add.vector) ? (add.vector as number[]) : null };
  return r.image === undefined ? { add: job } : { add: job, image: r.image as string };
}

export interface RedisQueueOptions {
  client: Redis;
  prefix?: string;
  group?: string;
  /** Most jobs in the stream (waiting or being encoded); a submission past it is refused, never trimmed away. */
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
    // Settled entries are deleted, so the stream's length is the backlog. No MAXLEN: trimming
    // would drop accepted jobs nobody had encoded yet.
    const backlog = await this.client.xlen(this.streamKey);
    if (backlog >= this.maxLength) throw new QueueFullError(`the ingestion queue is full (${backlog} jobs waiting in ${this.streamKey}; at most ${this.maxLength})`);
    const replies = await this.client
      .multi()
      .set(this.stateKey(job.jobId), JSON.stringify({ state: 'queued' }), 'EX', STATE_TTL_SECONDS)
      .xadd(this.streamKey, '*', ...fields)
      .exec();
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw new Error(`the ingestion queue did not take the job: ${failed?.[0]?.message ?? 'the transaction was aborted'}`);
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
    const reader = blockingReader(this.client);
    let running = true;
    let lastClaim = 0;
    const settle = async (entryIds: string[], jobs: IngestJob[]) => {
      if (entryIds.length === 0) return;
      // A throwing handler leaves the entries pending: a worker claims them again after claimIdleMs.
      const failed = new Map((jobs.length ? await handler(jobs) : []).map((f) => [f.jobId, f.reason]));
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
          const reply = (await reader.read((c) => c.xreadgroupBuffer('GROUP', this.group, name, 'COUNT', batch, 'BLOCK', this.blockMs, 'STREAMS', this.streamKey, '>'))) as [Buffer, [Buffer, Buffer[]][]][] | null;
          if (!running) break;
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
        reader.stop();
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
