/**
 * Where events come from, behind one interface (`EventSource`), so the sample builder and the
 * trainer never know: a JSON-lines file or stdin (replaying a log without Redis), and a Redis
 * Stream read through a consumer group (`index/redis.ts`'s connection and blocking reader). A
 * Kafka reader is one more implementation: it reads a batch, says where it stands as a JSON value
 * (its partition offsets), and commits them when told that everything read is durable.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import { MmctrError } from '../util/errors.js';
import { blockingReader } from '../index/redis.js';

export class StreamSourceError extends MmctrError {}

/** One event as read: `raw` is its parsed object; `error` when the bytes are not one. */
export interface SourceEvent {
  /** Where it came from, for reports: "file:line", or "stream entry-id". */
  at: string;
  raw?: unknown;
  error?: string;
}

export interface EventSource {
  readonly name: string;
  /** Up to `max` events; [] when a live source had none within its wait; null at the end of a finite one. */
  next(max: number): Promise<SourceEvent[] | null>;
  /** Where the source stands after the events returned so far: JSON, saved with a checkpoint and given back on resume. */
  position(): unknown;
  /** Everything returned so far is durable downstream (samples written, state checkpointed): acknowledge it. */
  commit(): Promise<void>;
  close(): Promise<void>;
}

interface LinesPosition {
  kind: 'lines';
  name: string;
  /** Byte offset of the next unread line, and its 1-based number. */
  offset: number;
  line: number;
}

function parseLine(text: string, at: string): SourceEvent {
  try {
    return { at, raw: JSON.parse(text) };
  } catch (err) {
    return { at, error: `is not JSON (${(err as Error).message})` };
  }
}

/**
 * A JSON-lines file, or stdin when `file` is '-': one event object per line, blank lines skipped.
 * A file resumes at the byte offset of its saved position; stdin cannot be resumed.
 */
export function jsonLinesSource(file: string, resume?: unknown): EventSource {
  const name = file === '-' ? 'stdin' : file;
  let offset = 0, line = 0;
  if (resume !== undefined) {
    const p = resume as Partial<LinesPosition>;
    if (p.kind !== 'lines' || p.name !== name || typeof p.offset !== 'number' || typeof p.line !== 'number')
      throw new StreamSourceError(`the checkpoint's stream position ${JSON.stringify(resume)} is not a position in ${name}: resume from the same events file`);
    if (file === '-') throw new StreamSourceError('a stream read from stdin cannot resume from a checkpoint: give the events file, or start without one');
    ({ offset, line } = p as LinesPosition);
  }
  const input: Readable = file === '-' ? process.stdin : createReadStream(file, { start: offset });
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let rest: Buffer = Buffer.alloc(0);
  let done = false;
  let opened: Promise<void> | null = null;
  if (file !== '-')
    opened = new Promise((resolve, reject) => {
      input.once('open', () => resolve());
      input.once('error', (err) => reject(new StreamSourceError(`${file}: cannot be read (${err.message})`)));
    });
  return {
    name,
    async next(max) {
      await opened;
      const out: SourceEvent[] = [];
      while (out.length < max) {
        const nl = rest.indexOf(10);
        if (nl < 0) {
          if (done) {
            if (rest.length === 0) break;
            // A last line without a newline.
            const text = rest.toString('utf8');
            offset += rest.length;
            rest = Buffer.alloc(0);
            line++;
            if (text.trim()) out.push(parseLine(text, `${name}:${line}`));
            continue;
          }
          if (out.length) break;
          const r = await chunks.next();
          if (r.done) done = true;
          else rest = rest.length ? Buffer.concat([rest, r.value]) : r.value;
          continue;
        }
        const text = rest.subarray(0, nl).toString('utf8');
        rest = rest.subarray(nl + 1);
        offset += nl + 1;
        line++;
        if (text.trim()) out.push(parseLine(text.endsWith('\r') ? text.slice(0, -1) : text, `${name}:${line}`));
      }
      return out.length === 0 && done ? null : out;
    },
    position: (): LinesPosition => ({ kind: 'lines', name, offset, line }),
    commit: async () => {},
    close: async () => {
      if (file !== '-') input.destroy();
    },
  };
}

/**
 * A source replayed at a fixed rate (events per second of wall time, from the first read), as a
 * live stream would deliver it: a log replayed to measure freshness, or to watch a service follow
 * the trainer (`mmctr stream --rate`). Between events it answers [] after a short wait, as a live
 * source with nothing new does, so checkpoints and publications keep their timers.
 */
export function pacedSource(source: EventSource, eventsPerSecond: number, now: () => number = () => performance.now()): EventSource {
  if (!(eventsPerSecond > 0)) throw new StreamSourceError(`a paced source needs a rate above 0 events per second, got ${eventsPerSecond}`);
  let start: number | null = null;
  let delivered = 0;
  return {
    name: source.name,
    async next(max) {
      start ??= now();
      const due = Math.floor(((now() - start) / 1000) * eventsPerSecond) - delivered;
      if (due <= 0) {
        await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, ((1 - due) / eventsPerSecond) * 1000))));
        return [];
      }
      const events = await source.next(Math.min(max, due));
      if (events) delivered += events.length;
      return events;
    },
    position: () => source.position(),
    commit: () => source.commit(),
    close: () => source.close(),
  };
}

export interface RedisSourceOptions {
  client: Redis;
  /** The stream key, e.g. "mmctr:events". */
  stream: string;
  group: string;
  /** This reader's name in the group; a restart under the same name gets its unacknowledged entries again first. */
  consumer: string;
  /** How long one read blocks before returning none. */
  blockMs?: number;
}

/** The fields of an entry as an event: one field "event" holding JSON, or the fields themselves. */
function entryEvent(stream: string, id: string, flat: string[]): SourceEvent {
  const at = `${stream} ${id}`;
  if (flat.length === 2 && flat[0] === 'event') return parseLine(flat[1], at);
  const raw: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) raw[flat[i]] = flat[i + 1];
  return { at, raw };
}

/** Whether entry id `a` comes after `b` ("ms-seq"). */
function entryAfter(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number), [bm, bs] = b.split('-').map(Number);
  return am > bm || (am === bm && as > bs);
}

/**
 * A Redis Stream read with a consumer group (created at the stream's start if absent). Entries are
 * acknowledged (XACK) only on `commit`, after what they produced is durable; a reader restarted
 * under the same consumer name first reads its own entries delivered and never acknowledged
 * (XREADGROUP from 0), in stream order, then new ones. Those up to the saved position were in the
 * checkpoint already (the process died between writing it and acknowledging): they are
 * acknowledged, not read twice.
 */
export async function redisSource({ client, stream, group, consumer, blockMs = 1000 }: RedisSourceOptions, resume?: unknown): Promise<EventSource> {
  let last: string | null = null;
  if (resume !== undefined) {
    const p = resume as { kind?: string; stream?: string; group?: string; last?: unknown };
    if (p.kind !== 'redis' || p.stream !== stream || p.group !== group || !(p.last === null || typeof p.last === 'string'))
      throw new StreamSourceError(`the checkpoint's stream position ${JSON.stringify(resume)} is not a position of redis stream ${stream} group ${group}: resume from the same stream and group`);
    last = p.last as string | null;
  }
  const seen = last;
  try {
    await client.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!(err as Error).message.includes('BUSYGROUP')) throw new StreamSourceError(`redis stream ${stream}: cannot create consumer group ${group} (${(err as Error).message})`);
  }
  const reader = blockingReader(client);
  /** The cursor over our own pending entries; null once they are all read again. */
  let pendingCursor: string | null = '0';
  let unacked: string[] = [];
  return {
    name: `redis ${stream} (group ${group}, consumer ${consumer})`,
    async next(max) {
      const id = pendingCursor ?? '>';
      const reply = (await reader.read((c) =>
        pendingCursor !== null
          ? c.xreadgroup('GROUP', group, consumer, 'COUNT', max, 'STREAMS', stream, id)
          : c.xreadgroup('GROUP', group, consumer, 'COUNT', max, 'BLOCK', blockMs, 'STREAMS', stream, id),
      )) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (pendingCursor !== null) {
        if (entries.length === 0) pendingCursor = null;
        else pendingCursor = entries[entries.length - 1][0];
      }
      const out: SourceEvent[] = [];
      for (const [entryId, flat] of entries) {
        unacked.push(entryId);
        if (seen !== null && !entryAfter(entryId, seen)) continue;
        last = entryId;
        // A pending entry deleted from the stream arrives without fields: nothing to read.
        if (flat && flat.length) out.push(entryEvent(stream, entryId, flat));
      }
      return out;
    },
    position: () => ({ kind: 'redis', stream, group, consumer, last }),
    async commit() {
      if (unacked.length === 0) return;
      const ids = unacked;
      unacked = [];
      for (let i = 0; i < ids.length; i += 1000) await client.xack(stream, group, ...ids.slice(i, i + 1000));
    },
    close: async () => reader.stop(),
  };
}
