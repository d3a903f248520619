/**
 * index/: what the rest of the project imports. This file owns choosing a backend from options
 * and loading item vectors from the files the project writes (`mmctr embed`, precomputed files).
 */
import path from 'node:path';
import { readSafetensorsHeader } from '../engine/safetensors.js';
import { readVectorFile } from '../encoders/precomputed.js';
import { EMBEDDING_FORMAT, readEmbeddings } from '../pretrain/export.js';
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

/** Item vectors from an `mmctr embed` file or any precomputed vector file (jsonl, csv, tsv, safetensors). */
export function readItemVectors(file: string): { ids: string[]; dim: number; vectors: Float32Array } {
  if (path.extname(file).toLowerCase() === '.safetensors' && readSafetensorsHeader(file).metadata?.format === EMBEDDING_FORMAT) {
    const e = readEmbeddings(file);
    return { ids: e.ids, dim: e.dim, vectors: e.vectors };
  }
  const f = readVectorFile(file);
  return { ids: f.ids, dim: f.dim, vectors: f.vectors };
}

/** Writes every vector of a file into the index (in batches); returns how many. */
export async function loadVectorsInto(index: VectorIndex, file: string, batch = 2048): Promise<number> {
  const { ids, dim, vectors } = readItemVectors(file);
  for (let s = 0; s < ids.length; s += batch) {
    const items = ids.slice(s, s + batch).map((id, k) => ({ id, vector: vectors.subarray((s + k) * dim, (s + k + 1) * dim) }));
    await index.putMany(items);
  }
  return ids.length;
}
