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
import { InProcessQueue, IngestQueue, RedisStreamQueue } from './queue.js';
import { connectRedis, RedisIndex } from './redis.js';
import type { VectorIndex, VectorPrecision } from './types.js';

export * from './types.js';
export { EmbeddedIndex, INDEX_FORMAT } from './embedded.js';
export { RedisIndex, connectRedis } from './redis.js';
export { AnnIndex } from './ann.js';
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
}

export interface OpenedIndex {
  index: VectorIndex;
  queue: IngestQueue;
  /** The Redis connection both use (closed by closeIndex), if any. */
  redis: Redis | null;
}

/** The index and its matching ingestion queue (in-process for embedded, a Redis stream for redis). */
export async function openIndex(options: IndexOptions): Promise<OpenedIndex> {
  if (options.backend === 'redis') {
    const redis = connectRedis(options.redisUrl ?? 'redis://127.0.0.1:6379');
    try {
      const index = await RedisIndex.open({ client: redis, prefix: options.prefix, dim: options.dim, precision: options.precision });
      return { index, queue: new RedisStreamQueue({ client: redis, prefix: options.prefix }), redis };
    } catch (err) {
      redis.disconnect();
      throw err;
    }
  }
  const index = EmbeddedIndex.open({ file: options.file ?? null, dim: options.dim, precision: options.precision });
  return { index, queue: new InProcessQueue(), redis: null };
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
