/**
 * String tables: a list of strings in one binary file (UTF-8 bytes end to end, an offset per
 * string) with, for id lists, an open-addressing hash index, so a store's item and user id maps
 * and its catalogue's texts are read as a few typed arrays instead of one JSON document and a JS
 * Map of a million strings. Opening reads the file once into one buffer (no object per string);
 * `indexOf` is O(1) (one hash of the id's bytes, a short linear probe); `at` decodes one string.
 *
 * Layout (little-endian): magic "MMSTRT01", u32 count, u32 slots (0 = no hash index, else a
 * power of two at least twice count), u32 flags (bit 0: nullable), u32 blob bytes; then
 * (count + 1) u32 offsets into the blob, `slots` i32 (1-based index, 0 = empty), count u8 null
 * flags when nullable, and the blob.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { DataError } from './errors.js';

const MAGIC = Buffer.from('MMSTRT01', 'latin1');
const HEADER = 24;
const NULLABLE = 1;
const REBUILD = 'rebuild the store with `mmctr data build`';

/** FNV-1a over the bytes, then MurmurHash3's finaliser so nearby ids spread over the slots. */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Appends strings (or nulls, when nullable) and writes the file at `close`. */
export class StringTableWriter {
  private readonly encoder = new TextEncoder();
  private chunks: Uint8Array[] = [];
  private chunk = new Uint8Array(1 << 20);
  private used = 0;
  private bytes = 0;
  private offsets = new Uint32Array(1024);
  private nulls: Uint8Array | null;
  count = 0;

  constructor(
    readonly file: string,
    readonly options: { index?: boolean; nullable?: boolean } = {},
  ) {
    this.nulls = options.nullable ? new Uint8Array(1024) : null;
  }

  push(value: string | null): void {
    if (value === null && !this.nulls) throw new TypeError(`${this.file}: a null in a table that is not nullable`);
    if (this.count + 2 > this.offsets.length) {
      this.offsets = grow(this.offsets, this.offsets.length * 2);
      if (this.nulls) this.nulls = grow(this.nulls, this.offsets.length);
    }
    if (value !== null) {
      // A UTF-8 string is at most 3 bytes per UTF-16 code unit.
      if (this.used + value.length * 3 > this.chunk.length) {
        this.chunks.push(this.chunk.subarray(0, this.used));
        this.chunk = new Uint8Array(Math.max(1 << 20, value.length * 3));
        this.used = 0;
      }
      const { written } = this.encoder.encodeInto(value, this.chunk.subarray(this.used));
      this.used += written;
      this.bytes += written;
      if (this.bytes > 0xffffffff) throw new DataError({ file: this.file }, 'would hold more than 4 GiB of text: more than one string table can address');
    } else this.nulls![this.count] = 1;
    this.count++;
    this.offsets[this.count] = this.bytes;
  }

  close(): void {
    this.chunks.push(this.chunk.subarray(0, this.used));
    const blob = new Uint8Array(this.bytes);
    let at = 0;
    for (const c of this.chunks) {
      blob.set(c, at);
      at += c.length;
    }
    this.chunks = [];
    const n = this.count;
    const offsets = this.offsets.subarray(0, n + 1);
    let slots = new Int32Array(0);
    if (this.options.index) {
      let size = 2;
      while (size < 2 * n) size *= 2;
      slots = new Int32Array(size);
      const mask = size - 1;
      for (let i = 0; i < n; i++) {
        if (this.nulls?.[i]) continue;
        const start = offsets[i], end = offsets[i + 1];
        for (let s = hashBytes(blob, start, end) & mask; ; s = (s + 1) & mask) {
          const other = slots[s];
          if (other === 0) {
            slots[s] = i + 1;
            break;
          }
          if (sameBytes(blob, offsets[other - 1], offsets[other], blob, start, end))
            throw new DataError({ file: this.file }, `lists ${JSON.stringify(Buffer.from(blob.subarray(start, end)).toString('utf8'))} twice (indices ${other} and ${i + 1}): an id map needs distinct ids`);
        }
      }
    }
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(n, 8);
    header.writeUInt32LE(slots.length, 12);
    header.writeUInt32LE(this.nulls ? NULLABLE : 0, 16);
    header.writeUInt32LE(this.bytes, 20);
    const parts: Uint8Array[] = [header, bytesOf(offsets), bytesOf(slots)];
    if (this.nulls) parts.push(this.nulls.subarray(0, n));
    parts.push(blob);
    const fd = openSync(this.file, 'w');
    try {
      for (const p of parts) for (let off = 0; off < p.length; ) off += writeSync(fd, p, off, p.length - off);
    } finally {
      closeSync(fd);
    }
  }
}

/** Writes `values` as one string table. */
export function writeStringTable(file: string, values: Iterable<string | null>, options: { index?: boolean; nullable?: boolean } = {}): void {
  const w = new StringTableWriter(file, options);
  for (const v of values) w.push(v);
  w.close();
}

/** A string table read back: `at(i)` (0-based), `indexOf(id)` (1-based, 0 = unknown) when it has an index. */
export class StringTable {
  private readonly decoder = new TextDecoder();
  private readonly encoder = new TextEncoder();
  private scratch = new Uint8Array(256);
  private readonly offsets: Uint32Array;
  private readonly slots: Int32Array;
  private readonly nulls: Uint8Array | null;
  private readonly blob: Uint8Array;
  readonly size: number;

  private constructor(readonly file: string, buf: Uint8Array) {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const damaged = (what: string) => new DataError({ file }, `${what}: the sample store is damaged; ${REBUILD}`);
    if (buf.length < HEADER || !MAGIC.equals(buf.subarray(0, 8))) throw damaged('is not a string table (no MMSTRT01 header)');
    const n = view.getUint32(8, true), slots = view.getUint32(12, true), flags = view.getUint32(16, true), bytes = view.getUint32(20, true);
    const nullBytes = flags & NULLABLE ? n : 0;
    const expected = HEADER + 4 * (n + 1) + 4 * slots + nullBytes + bytes;
    if (buf.length !== expected) throw damaged(`has ${buf.length} bytes where its header promises ${expected} (${n} strings, ${slots} index slots, ${bytes} bytes of text)${buf.length < expected ? ': it is truncated' : ''}`);
    let at = HEADER;
    this.offsets = new Uint32Array(buf.buffer, buf.byteOffset + at, n + 1);
    at += 4 * (n + 1);
    this.slots = new Int32Array(buf.buffer, buf.byteOffset + at, slots);
    at += 4 * slots;
    this.nulls = nullBytes ? buf.subarray(at, at + n) : null;
    at += nullBytes;
    this.blob = buf.subarray(at);
    if (this.offsets[n] !== bytes) throw damaged(`ends its text at byte ${this.offsets[n]}, not at ${bytes}`);
    this.size = n;
  }

  /** Reads `file` (one read into one buffer); a missing, short or foreign file is a DataError naming it. */
  static open(file: string): StringTable {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (err) {
      throw new DataError({ file }, `cannot be opened (${(err as NodeJS.ErrnoException).code}): the sample store is incomplete; ${REBUILD}`);
    }
    try {
      // A fresh ArrayBuffer: offset 0, so the typed views inside it are aligned.
      const buf = new Uint8Array(fstatSync(fd).size);
      for (let off = 0; off < buf.length; ) {
        const got = readSync(fd, buf, off, buf.length - off, off);
        if (got === 0) break;
        off += got;
      }
      return new StringTable(file, buf);
    } finally {
      closeSync(fd);
    }
  }

  /** Whether `indexOf` can look ids up. */
  get indexed(): boolean {
    return this.slots.length > 0;
  }

  /** The string at 0-based position i (null for a null of a nullable table). */
  at(i: number): string | null {
    if (!(i >= 0 && i < this.size)) throw new RangeError(`${this.file}: position ${i} is outside 0..${this.size - 1}`);
    if (this.nulls?.[i]) return null;
    return this.decoder.decode(this.blob.subarray(this.offsets[i], this.offsets[i + 1]));
  }

  /** Every string, in order. */
  toArray(): (string | null)[] {
    const out = new Array<string | null>(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.at(i);
    return out;
  }

  /** Whether the table holds `id`. */
  has(id: string): boolean {
    return this.indexOf(id) > 0;
  }

  /** The strings in order, one decoded at a time. */
  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.size; i++) yield this.at(i) ?? '';
  }

  /** The 1-based index of `id`, or 0 when the table does not hold it. */
  indexOf(id: string): number {
    if (!this.indexed) throw new TypeError(`${this.file}: a string table without an index has no lookups`);
    if (id.length * 3 > this.scratch.length) this.scratch = new Uint8Array(id.length * 3);
    const len = this.encoder.encodeInto(id, this.scratch).written;
    const mask = this.slots.length - 1;
    for (let s = hashBytes(this.scratch, 0, len) & mask; ; s = (s + 1) & mask) {
      const i = this.slots[s];
      if (i === 0) return 0;
      if (sameBytes(this.blob, this.offsets[i - 1], this.offsets[i], this.scratch, 0, len)) return i;
    }
  }
}

function sameBytes(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let k = 0; k < aEnd - aStart; k++) if (a[aStart + k] !== b[bStart + k]) return false;
  return true;
}

function bytesOf(a: Uint32Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function grow<T extends Uint32Array | Uint8Array>(a: T, n: number): T {
  const out = new (a.constructor as new (n: number) => T)(n);
  out.set(a);
  return out;
}
