/**
 * Fixed-width binary column files: a sample split is a folder of them (one per field), written
 * in append order and read back by record range, so batches stream from disk and a split need
 * not fit in memory.
 */
import { closeSync, openSync, readSync, writeSync, fstatSync } from 'node:fs';
import { DataError } from './errors.js';

export type ColumnArray = Int32Array | Float32Array | Float64Array | Uint8Array;
export type ColumnType = 'i32' | 'f32' | 'f64' | 'u8';

const BYTES: Record<ColumnType, number> = { i32: 4, f32: 4, f64: 8, u8: 1 };

export function allocate(type: ColumnType, n: number): ColumnArray {
  switch (type) {
    case 'i32': return new Int32Array(n);
    case 'f32': return new Float32Array(n);
    case 'f64': return new Float64Array(n);
    default: return new Uint8Array(n);
  }
}

/** Appends values through a buffer; `width` values make one record. */
export class ColumnWriter {
  private readonly fd: number;
  private readonly buf: ColumnArray;
  private used = 0;
  records = 0;

  constructor(
    readonly file: string,
    readonly type: ColumnType,
    readonly width = 1,
    bufferRecords = 8192,
  ) {
    this.fd = openSync(file, 'w');
    this.buf = allocate(type, bufferRecords * width);
  }

  /** Appends one record (width values). */
  push(values: ArrayLike<number> | number): void {
    if (this.used + this.width > this.buf.length) this.flush();
    if (typeof values === 'number') this.buf[this.used] = values;
    else for (let i = 0; i < this.width; i++) this.buf[this.used + i] = values[i];
    this.used += this.width;
    this.records++;
  }

  private flush(): void {
    if (this.used === 0) return;
    const bytes = new Uint8Array(this.buf.buffer, 0, this.used * BYTES[this.type]);
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Random access by record range. */
export class ColumnReader {
  private readonly fd: number;
  readonly records: number;

  constructor(
    readonly file: string,
    readonly type: ColumnType,
    readonly width = 1,
  ) {
    try {
      this.fd = openSync(file, 'r');
    } catch (err) {
      throw new DataError({ file }, `cannot be opened (${(err as NodeJS.ErrnoException).code}): the sample store is incomplete; rebuild it with \`mmctr data build\``);
    }
    const size = fstatSync(this.fd).size;
    const record = BYTES[type] * width;
    if (size % record !== 0) {
      closeSync(this.fd);
      throw new DataError({ file }, `has ${size} bytes, not a whole number of ${record}-byte records: the sample store is damaged; rebuild it with \`mmctr data build\``);
    }
    this.records = size / record;
  }

  /** Records [start, start + count) into `out` (allocated when absent). */
  read(start: number, count: number, out?: ColumnArray): ColumnArray {
    const arr = out ?? allocate(this.type, count * this.width);
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, count * this.width * BYTES[this.type]);
    let off = 0;
    const pos = start * this.width * BYTES[this.type];
    while (off < bytes.length) {
      const n = readSync(this.fd, bytes, off, bytes.length - off, pos + off);
      if (n === 0) throw new DataError({ file: this.file }, `ends before record ${start + count}: the sample store is damaged; rebuild it with \`mmctr data build\``);
      off += n;
    }
    return arr;
  }

  readAll(): ColumnArray {
    return this.read(0, this.records);
  }

  close(): void {
    closeSync(this.fd);
  }
}
