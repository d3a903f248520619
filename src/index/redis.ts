/**
 * The Redis vector index: one table shared by any number of ranking servers and encoder workers.
 * Layout under a key prefix (default "mmctr:"):
 *
 *   <prefix>vectors   hash: item id -> raw little-endian row (float32: 4 x dim bytes; int8: dim bytes)
 *   <prefix>meta      hash: dim, precision (written by the first opener, checked by every later one)
 *   <prefix>changes   stream: the ids of each write (fields "0", "1", ...), written in the same
 *                     transaction as the vectors; servers follow it to keep their ANN graphs
 *                     current with items other processes ingest. Trimmed to about 100k entries.
 *
 * A ranking request reads its few hundred rows with one HMGET (one round trip, binary replies).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { ChangeFeed, fromInt8, IndexError, normalized, quantizeInt8, VectorIndex, VectorPrecision } from './types.js';

/**
 * Entries kept in the change stream (approximate trimming): a live follower reads within
 * milliseconds; at 100 ingests/s this holds 17 minutes of writes in a few to tens of MB. A follower
 * that fell further behind sees it and reads the whole index again.
 */
const CHANGES_KEPT = 100_000;

export interface RedisIndexOptions {
  /** redis://host:port/db, or an existing connection (not closed by close()). */
  url?: string;
  client?: Redis;
  prefix?: string;
  /** Vector width; required unless the server already holds an index under the prefix. */
  dim?: number;
  precision?: VectorPrecision;
}

/** A connection that fails fast (no offline queue growth) when the server is down. */
export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  return quiet(new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false, ...options }));
}

/**
 * A connection whose errors are left to the commands they fail (503s, readiness): without a
 * listener ioredis prints every failed reconnect while the server is down.
 */
export function quiet(conn: Redis): Redis {
  conn.on('error', () => {});
  return conn;
}

/**
 * A connection of its own for blocking reads (XREAD / XREADGROUP BLOCK hold it), and a stop that
 * always ends them. `read` races each command against the stop: ioredis's disconnect() while it is
 * reconnecting (the server went away) leaves queued commands pending forever, and a loop awaiting
 * one would never see the stop (a service then hung on shutdown after Redis restarted).
 */
export function blockingReader(client: Redis): { read<T>(command: (conn: Redis) => Promise<T>): Promise<T | null>; stop(): void } {
  const conn = quiet(client.duplicate());
  let stop!: () => void;
  const stopped = new Promise<null>((resolve) => (stop = () => resolve(null)));
  return {
    read: (command) => Promise.race([command(conn), stopped]),
    stop: () => {
      stop();
      conn.disconnect();
    },
  };
}

export class RedisIndex implements VectorIndex {
  readonly backend = 'redis' as const;

  private constructor(
    readonly client: Redis,
    private readonly ownsClient: boolean,
    readonly prefix: string,
    readonly dim: number,
    readonly precision: VectorPrecision,
  ) {}

  get vectorsKey(): string {
    return `${this.prefix}vectors`;
  }

  get changesKey(): string {
    return `${this.prefix}changes`;
  }

  static async open({ url, client, prefix = 'mmctr:', dim, precision }: RedisIndexOptions): Promise<RedisIndex> {
    if (!client && !url) throw new IndexError('redis index: give a url (redis://host:port) or a client');
    const conn = client ?? connectRedis(url!);
    try {
      const metaKey = `${prefix}meta`;
      const meta = await conn.hgetall(metaKey);
      if (meta.dim) {
        const storedDim = Number(meta.dim), storedPrecision = meta.precision as VectorPrecision;
        if (dim !== undefined && dim !== storedDim) throw new IndexError(`redis index ${metaKey} holds ${storedDim}-d vectors, ${dim} were asked for`);
        if (precision !== undefined && precision !== storedPrecision) throw new IndexError(`redis index ${metaKey} stores ${storedPrecision} vectors, ${precision} were asked for`);
        return new RedisIndex(conn, !client, prefix, storedDim, storedPrecision);
      }
      if (dim === undefined) throw new IndexError(`redis index ${metaKey} is empty: a new index needs its vector width (dim)`);
      const p = precision ?? 'float32';
      // HSETNX: two servers creating the index at once agree on the first one's settings.
      await conn.hsetnx(metaKey, 'dim', String(dim));
      await conn.hsetnx(metaKey, 'precision', p);
      const settled = await conn.hgetall(metaKey);
      if (Number(settled.dim) !== dim || settled.precision !== p) throw new IndexError(`redis index ${metaKey} was just created with ${settled.dim}-d ${settled.precision} vectors by another process`);
      return new RedisIndex(conn, !client, prefix, dim, p);
    } catch (err) {
      if (!client) conn.disconnect();
      throw err;
    }
  }

  private encode(v: Float32Array): Buffer {
    if (this.precision === 'int8') {
      const q = quantizeInt8(v);
      return Buffer.from(q.buffer, q.byteOffset, q.byteLength);
    }
    return Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  }

  private decode(b: Buffer, id: string): Float32Array {
    const width = this.precision === 'int8' ? this.dim : 4 * this.dim;
    if (b.length !== width) throw new IndexError(`redis index: the vector of "${id}" has ${b.length} bytes, expected ${width}`);
    if (this.precision === 'int8') return fromInt8(new Int8Array(b.buffer, b.byteOffset, b.length), this.dim);
    // Copy: a Buffer from the reply parser may not be 4-byte aligned.
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  }

  async getMany(ids: readonly string[]): Promise<(Float32Array | null)[]> {
    if (ids.length === 0) return [];
    const raw = await this.client.hmgetBuffer(this.vectorsKey, ...ids);
    return raw.map((b, i) => (b ? this.decode(b, ids[i]) : null));
  }

  async putMany(items: readonly { id: string; vector: Float32Array }[]): Promise<void> {
    if (items.length === 0) return;
    const args: (string | Buffer)[] = [];
    for (const { id, vector } of items) args.push(id, this.encode(normalized(vector, this.dim, `vector of "${id}"`)));
    const fields = items.flatMap(({ id }, k) => [String(k), id]);
    const replies = await this.client.multi().hset(this.vectorsKey, ...args).xadd(this.changesKey, 'MAXLEN', '~', CHANGES_KEPT, '*', ...fields).exec();
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw new Error(`redis index: writing ${items.length} vectors failed: ${failed?.[0]?.message ?? 'transaction aborted'}`);
  }

  /** Whether the change stream's oldest entry is newer than `cursor`: entries after it may be gone. */
  private async trimmedPast(cursor: string): Promise<boolean> {
    // A feed that opened on an empty stream reads from its first entry on.
    if (cursor === '0-0') return false;
    const [oldest] = await this.client.xrange(this.changesKey, '-', '+', 'COUNT', 1);
    if (!oldest) return false;
    const [ms, seq] = oldest[0].split('-').map(Number), [cms, cseq] = cursor.split('-').map(Number);
    return ms > cms || (ms === cms && seq > cseq + 1);
  }

  async changes(): Promise<ChangeFeed> {
    const [newest] = await this.client.xrevrange(this.changesKey, '+', '-', 'COUNT', 1);
    let cursor = newest ? newest[0] : '0-0';
    const reader = blockingReader(this.client);
    let stopped = false;
    let loop: Promise<void> = Promise.resolve();
    return {
      follow: (onItems, onError) => {
        loop = (async () => {
          while (!stopped) {
            try {
              const reply = await reader.read((c) => c.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', this.changesKey, cursor));
              if (stopped) break;
              if (reply && (await this.trimmedPast(cursor))) {
                // Entries after ours were trimmed (a follower far behind): everything again, idempotently.
                for await (const batch of this.scan()) onItems(batch);
              }
              for (const [, entries] of reply ?? []) {
                const ids: string[] = [];
                for (const [entryId, fields] of entries) {
                  cursor = entryId;
                  for (let f = 1; f < fields.length; f += 2) ids.push(fields[f]);
                }
                const vectors = await this.getMany(ids);
                onItems(ids.flatMap((id, k) => (vectors[k] ? [{ id, vector: vectors[k]! }] : [])));
              }
            } catch (err) {
              if (stopped) break;
              onError?.(err as Error);
              await new Promise((r) => setTimeout(r, 500));
            }
          }
        })();
      },
      stop: async () => {
        stopped = true;
        reader.stop();
        await loop;
      },
    };
  }

  async size(): Promise<number> {
    return this.client.hlen(this.vectorsKey);
  }

  async *scan(batch = 1000): AsyncIterable<{ id: string; vector: Float32Array }[]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.client.hscanBuffer(this.vectorsKey, cursor, 'COUNT', batch);
      cursor = next.toString();
      const out: { id: string; vector: Float32Array }[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const id = flat[i].toString('utf8');
        out.push({ id, vector: this.decode(flat[i + 1], id) });
      }
      if (out.length) yield out;
    } while (cursor !== '0');
  }

  /** Redis persists on its own schedule (RDB/AOF, the operator's choice). */
  async ping(): Promise<void> {
    await this.client.ping();
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.quit().catch(() => this.client.disconnect());
  }
}
