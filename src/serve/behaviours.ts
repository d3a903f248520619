/**
 * Users' recent behaviours kept by the service, so a ranking request may send only a user id.
 * Clients append clicks with POST /v1/users/:userId/behaviours; a rank request without
 * `behaviours` reads the most recent ones. Memory (embedded default: an LRU over users) or Redis
 * lists (shared by every server: RPUSH + LTRIM, expiring after `ttlSeconds` without activity).
 */
import type { Redis } from 'ioredis';

export interface BehaviourStore {
  /** The user's most recent behaviours, oldest first, at most `limit`. */
  recent(userId: string, limit: number): Promise<string[]>;
  append(userId: string, items: readonly string[]): Promise<void>;
}

export class MemoryBehaviourStore implements BehaviourStore {
  private readonly users = new Map<string, string[]>();

  constructor(
    private readonly keep = 200,
    private readonly maxUsers = 100_000,
  ) {}

  async recent(userId: string, limit: number): Promise<string[]> {
    const h = this.users.get(userId);
    return h ? h.slice(-limit) : [];
  }

  async append(userId: string, items: readonly string[]): Promise<void> {
    const h = this.users.get(userId) ?? [];
    h.push(...items);
    if (h.length > this.keep) h.splice(0, h.length - this.keep);
    // Map order is insertion order: re-inserting marks the user most recently active.
    this.users.delete(userId);
    this.users.set(userId, h);
    if (this.users.size > this.maxUsers) this.users.delete(this.users.keys().next().value!);
  }
}

export class RedisBehaviourStore implements BehaviourStore {
  constructor(
    private readonly client: Redis,
    private readonly prefix = 'mmctr:',
    private readonly keep = 200,
    private readonly ttlSeconds = 30 * 86_400,
  ) {}

  private key(userId: string): string {
    return `${this.prefix}user:${userId}`;
  }

  async recent(userId: string, limit: number): Promise<string[]> {
    return this.client.lrange(this.key(userId), -limit, -1);
  }

  async append(userId: string, items: readonly string[]): Promise<void> {
    if (items.length === 0) return;
    const k = this.key(userId);
    await this.client.multi().rpush(k, ...items).ltrim(k, -this.keep, -1).expire(k, this.ttlSeconds).exec();
  }
}
