/**
 * An append-only journal of JSON lines: what the embedded index (vectors since its snapshot) and
 * the in-process ingestion queue (jobs not yet indexed) write before they acknowledge anything.
 *
 * Opening replays it and repairs it: a last line without its newline is a write a crash cut short
 * (never acknowledged: acknowledgements come after the write returns) and is cut off, so the next
 * append starts on a clean line instead of gluing itself onto the torn one; every complete line is
 * parsed and validated by the owner, and one that is unreadable or invalid is skipped, logged with
 * its byte offset and counted (`JournalRecovery`), never dropped silently.
 *
 * Durability follows an fsync policy, as Redis's append-only file does:
 *   always    an append resolves once the bytes are on disk (fdatasync; concurrent appends share
 *             one sync). Survives a power loss. Costs a disk flush per acknowledged write.
 *   everysec  appends are synced once a second in the background: a power loss may lose the last
 *             second; a killed process loses nothing (the bytes are in the kernel's page cache).
 *   no        the kernel writes back when it likes (typically within 30 s).
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { IndexError } from './types.js';

export const FSYNC_POLICIES = ['always', 'everysec', 'no'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

/** Skipped lines listed in a recovery report (the rest are counted). */
const MAX_LISTED = 20;

export interface SkippedLine {
  /** Byte offset of the line's first byte in the journal. */
  offset: number;
  reason: string;
}

export interface JournalRecovery {
  file: string;
  /** Records replayed. */
  records: number;
  /** Complete lines skipped as unreadable or invalid (the first ones listed). */
  skipped: number;
  skippedLines: SkippedLine[];
  /** Bytes of a torn last line cut off (0 when the journal ended cleanly), and where it began. */
  tornBytes: number;
  tornOffset: number | null;
}

export interface JournalOptions<T> {
  fsync: FsyncPolicy;
  /** A parsed line -> its record, or a string saying why it is invalid. */
  validate: (value: unknown) => T | string;
  /** Called for each skipped line and for a torn tail (the owner logs it). */
  onSkip?: (line: SkippedLine) => void;
}

export class Journal {
  private fd: number;
  private bytes: number;
  /** Appends so far, and the last append known to be on disk. */
  private appended = 0;
  private synced = 0;
  private syncing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    readonly file: string,
    readonly fsync: FsyncPolicy,
  ) {
    this.fd = openSync(file, 'a+');
    this.bytes = fstatSync(this.fd).size;
    if (fsync === 'everysec') {
      this.timer = setInterval(() => void this.sync().catch(() => {}), 1000);
      this.timer.unref();
    }
  }

  /** Opens (or creates) the journal, repairs a torn tail, and returns the valid records in order. */
  static open<T>(file: string, { fsync, validate, onSkip }: JournalOptions<T>): { journal: Journal; records: T[]; recovery: JournalRecovery } {
    if (!FSYNC_POLICIES.includes(fsync)) throw new IndexError(`fsync policy must be one of ${FSYNC_POLICIES.join(', ')}, got '${fsync}'`);
    const recovery: JournalRecovery = { file, records: 0, skipped: 0, skippedLines: [], tornBytes: 0, tornOffset: null };
    const records: T[] = [];
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      data = Buffer.alloc(0);
    }
    const skip = (offset: number, reason: string) => {
      recovery.skipped++;
      if (recovery.skippedLines.length < MAX_LISTED) recovery.skippedLines.push({ offset, reason });
      onSkip?.({ offset, reason });
    };
    let pos = 0;
    while (pos < data.length) {
      const nl = data.indexOf(10, pos);
      if (nl < 0) {
        recovery.tornBytes = data.length - pos;
        recovery.tornOffset = pos;
        onSkip?.({ offset: pos, reason: `a torn last line of ${data.length - pos} bytes (a write cut short by a crash, never acknowledged): cut off` });
        break;
      }
      const text = data.toString('utf8', pos, nl);
      if (text.trim() !== '') {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (err) {
          skip(pos, `not valid JSON (${(err as Error).message})`);
          pos = nl + 1;
          continue;
        }
        const rec = validate(value);
        if (typeof rec === 'string') skip(pos, rec);
        else {
          records.push(rec);
          recovery.records++;
        }
      }
      pos = nl + 1;
    }
    if (recovery.tornOffset !== null) {
      // Cut before any append: otherwise the next record would continue the torn line and be lost with it.
      const fd = openSync(file, 'r+');
      try {
        ftruncateSync(fd, recovery.tornOffset);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    return { journal: new Journal(file, fsync), records, recovery };
  }

  /** Bytes in the journal now. */
  get size(): number {
    return this.bytes;
  }

  /**
   * Appends records (one JSON line each). The bytes are written before this returns; the promise
   * resolves when they are as durable as the policy makes them. A failed write (disk full) is cut
   * back out, so the journal never keeps half a line.
   */
  append(records: readonly unknown[]): Promise<void> {
    this.checkOpen();
    if (records.length === 0) return Promise.resolve();
    const buf = Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(''), 'utf8');
    const before = this.bytes;
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (err) {
      try {
        ftruncateSync(this.fd, before);
      } catch {
        // The write error is the one to report.
      }
      throw new IndexError(`${this.file}: the journal write failed (${(err as Error).message}); nothing was acknowledged`);
    }
    this.bytes += buf.length;
    this.appended++;
    return this.fsync === 'always' ? this.durable() : Promise.resolve();
  }

  /** Resolves when every append made before the call is on disk (one fdatasync serves every waiter). */
  private async durable(): Promise<void> {
    const target = this.appended;
    while (this.synced < target && !this.closed) await this.sync();
  }

  private sync(): Promise<void> {
    if (this.syncing) return this.syncing;
    if (this.synced === this.appended || this.closed) return Promise.resolve();
    const upTo = this.appended;
    this.syncing = new Promise<void>((resolve, reject) => {
      fdatasync(this.fd, (err) => {
        this.syncing = null;
        if (err) return reject(new IndexError(`${this.file}: fdatasync failed (${err.message})`));
        this.synced = Math.max(this.synced, upTo);
        resolve();
      });
    });
    return this.syncing;
  }

  /** Empties the journal (its records are in a snapshot now, or every queued job is settled). */
  clear(): void {
    this.checkOpen();
    ftruncateSync(this.fd, 0);
    this.bytes = 0;
  }

  /**
   * Replaces the journal with these records, atomically (temp file, fsync, rename): how the queue
   * drops settled jobs from a journal that never empties under steady load.
   */
  rewrite(records: readonly unknown[]): void {
    this.checkOpen();
    const temp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}.rewrite`);
    const fd = openSync(temp, 'w');
    const buf = Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(''), 'utf8');
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.file);
    closeSync(this.fd);
    this.fd = openSync(this.file, 'a+');
    this.bytes = buf.length;
    this.synced = this.appended;
  }

  /** Syncs what was appended (unless the policy is 'no') and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    if (this.fsync !== 'no') await this.durable().catch(() => {});
    else await this.syncing?.catch(() => {});
    this.closed = true;
    closeSync(this.fd);
  }

  private checkOpen(): void {
    if (this.closed) throw new IndexError(`${this.file}: the journal is closed`);
  }
}
