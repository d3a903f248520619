/**
 * index/: what the rest of the project imports. This file owns choosing a backend from options
 * and seeding an index from a vector file (any source encoders/vector-file.ts reads).
 */
import { readVectorFile, type VectorFile } from '../encoders/vector-file.js';
import type { Redis } from 'ioredis';
import { EmbeddedIndex } from './embedded.js';
import type { FsyncPolicy, JournalRecovery, SkippedLine } from './journal.js';
import { InProcessQueue, IngestQueue, RedisStreamQueue } from './queue.js';
import { connectRedis, RedisIndex } from './redis.js';
import type { VectorIndex, VectorPrecision } from './types.js';

export * from './types.js';
export { EmbeddedIndex, INDEX_FORMAT } from './embedded.js';
export { RedisIndex, connectRedis } from './redis.js';
export { AnnIndex } from './ann.js';
export { FSYNC_POLICIES, type FsyncPolicy, type JournalRecovery, type SkippedLine } from './journal.js';
export * from './queue.js';

export interface IndexOptions {
  /** 'embedded' (default): a snapshot file; 'redis': a shared server. */
  backend: 'embedded' | 'redis';
  /** Embedded: the snapshot file (null: memory only). */
  file?: string | null;
  /** Redis: redis://host:port/db and the key prefix. */
  redisUrl?: string;
  prefix?: string;
  dim?: number;
  precision?: VectorPrecision;
  /** Embedded: when the journals (vectors, queued jobs) reach the disk; default 'always'. */
  fsync?: FsyncPolicy;
  /** Most ingestion jobs waiting (and, in-process, the bytes they hold). */
  queueJobs?: number;
  queueBytes?: number;
  /** Told about each journal line skipped on open (embedded). */
  onJournalSkip?: (line: SkippedLine, file: string) => void;
}

export interface OpenedIndex {
  index: VectorIndex;
  queue: IngestQueue;
  /** The Redis connection both use (closed by closeIndex), if any. */
  redis: Redis | null;
  /** What replaying the embedded journals found (vectors, then queued jobs); empty for Redis or memory only. */
  recoveries: JournalRecovery[];
}

/** The index and its matching ingestion queue (in-process for embedded, a Redis stream for redis). */
export async function openIndex(options: IndexOptions): Promise<OpenedIndex> {
  if (options.backend === 'redis') {
    const redis = connectRedis(options.redisUrl ?? 'redis://127.0.0.1:6379');
    try {
      const index = await RedisIndex.open({ client: redis, prefix: options.prefix, dim: options.dim, precision: options.precision });
      return { index, queue: new RedisStreamQueue({ client: redis, prefix: options.prefix, maxLength: options.queueJobs }), redis, recoveries: [] };
    } catch (err) {
      redis.disconnect();
      throw err;
    }
  }
  const file = options.file ?? null;
  const index = EmbeddedIndex.open({ file, dim: options.dim, precision: options.precision, fsync: options.fsync, onJournalSkip: options.onJournalSkip });
  // Jobs accepted but not yet indexed live beside the index's own files.
  const queue = new InProcessQueue({ file: file && `${file}.queue`, fsync: options.fsync, maxJobs: options.queueJobs, maxBytes: options.queueBytes, onJournalSkip: options.onJournalSkip });
  return { index, queue, redis: null, recoveries: [index.recovery, queue.recovery].filter((r): r is JournalRecovery => r !== null) };
}

export async function closeIndex({ index, queue, redis }: OpenedIndex): Promise<void> {
  await queue.close();
  await index.close();
  if (redis) await redis.quit().catch(() => redis.disconnect());
}

/**
 * Writes the vectors of a file into the index (in batches); returns how many. An all-zero row is
 * an item without a vector (as training counts it: ctr/parts/item-vectors.ts), left out, never an error.
 */
export async function loadVectorsInto(index: VectorIndex, file: string | VectorFile, batch = 2048): Promise<number> {
  const { ids, dim, vectors } = typeof file === 'string' ? readVectorFile(file) : file;
  const rows = ids.flatMap((id, i) => {
    const vector = vectors.subarray(i * dim, (i + 1) * dim);
    return vector.some((x) => x !== 0) ? [{ id, vector }] : [];
  });
  for (let s = 0; s < rows.length; s += batch) await index.putMany(rows.slice(s, s + batch));
  return rows.length;
}
