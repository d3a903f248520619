/**
 * The safetensors format (https://github.com/huggingface/safetensors), which parameter files,
 * checkpoints and served models use, so that other tools (Python's `safetensors`, PyTorch,
 * numpy) read ours and we read theirs:
 *
 *   u64 little-endian N | N bytes of UTF-8 JSON header, space-padded | raw little-endian data
 *
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets into
 * the data section) and may hold "__metadata__", a flat string-to-string map. The data section
 * must be covered exactly: tensors contiguous, no holes, no overlaps, nothing after the last.
 *
 * Typed arrays are little-endian on every platform Node runs on in practice; a big-endian host
 * is refused rather than silently byte-swapped.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { writeFileAtomic } from '../util/atomic-write.js';
import { EngineError, ParameterFileError } from './errors.js';

export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U32' | 'U16' | 'U8' | 'BOOL';

export type TensorData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array;

type TypedArrayCtor = {
  new (length: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  readonly BYTES_PER_ELEMENT: number;
};

/**
 * F16 and BF16 are carried as raw 16-bit patterns (the engine computes in F32 only); BOOL as one
 * byte per value, as the reference implementation stores it.
 */
const DTYPES: Record<DType, TypedArrayCtor> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

export function bytesPerElement(dtype: DType): number {
  return DTYPES[dtype].BYTES_PER_ELEMENT;
}

/** The default dtype of a typed array (Uint16Array -> U16, Uint8Array -> U8). */
function dtypeOf(data: TensorData): DType {
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Uint32Array) return 'U32';
  if (data instanceof Uint16Array) return 'U16';
  if (data instanceof Uint8Array) return 'U8';
  throw new EngineError(`safetensors: unsupported array type ${(data as object).constructor?.name}`);
}

/** A tensor to write: dtype defaults from the array type; shape defaults to [data.length]. */
export interface TensorInput {
  data: TensorData;
  shape?: readonly number[];
  dtype?: DType;
}

/** A tensor read back. */
export interface StoredTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** One header entry; begin/end are offsets into the data section. */
export interface HeaderEntry {
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** In data-section order. */
  entries: Map<string, HeaderEntry>;
  /** Absolute offset of the data section (8 + header length). */
  dataStart: number;
  /** Total size the header implies (dataStart + data section length). */
  totalBytes: number;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, StoredTensor>;
}

/** The reference implementation's limit: a larger header is a corrupt length, not a real header. */
const MAX_HEADER_BYTES = 100_000_000;
/** fs.writeSync / readSync take at most 2 GiB - 1 per call; stay well below. */
const IO_CHUNK = 1 << 30;

function requireLittleEndian(): void {
  if (endianness() !== 'LE') throw new EngineError('safetensors: this host is big-endian; typed-array views over the file would be byte-swapped');
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function byteView(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Writing

type TensorsArg = ReadonlyMap<string, TensorInput> | Readonly<Record<string, TensorInput>>;

function entriesOf(tensors: TensorsArg): [string, TensorInput][] {
  return tensors instanceof Map ? [...tensors] : Object.entries(tensors as Record<string, TensorInput>);
}

/**
 * The file as a list of chunks: the header, then views over the callers' arrays (no copies, so a
 * 400 MB table costs no extra memory). Tensors are laid out widest dtype first, then by name, as
 * the reference writer does: every tensor then starts at a multiple of its element size, which is
 * what lets the reader hand out views instead of copies.
 */
export function encodeSafetensors(tensors: TensorsArg, metadata: Readonly<Record<string, string>> = {}): Uint8Array[] {
  requireLittleEndian();
  const list = entriesOf(tensors).map(([name, t]) => {
    if (name === '__metadata__') throw new EngineError(`safetensors: '__metadata__' cannot be a tensor name`);
    if (!t || !ArrayBuffer.isView(t.data)) throw new EngineError(`safetensors: tensor '${name}' has no typed-array data`);
    const natural = dtypeOf(t.data);
    const dtype = t.dtype ?? natural;
    if (!isDType(dtype)) throw new EngineError(`safetensors: tensor '${name}' has unknown dtype '${String(dtype)}'`);
    if (!(t.data instanceof DTYPES[dtype]))
      throw new EngineError(`safetensors: tensor '${name}' is declared ${dtype}, which needs a ${DTYPES[dtype].name}, got a ${t.data.constructor.name}`);
    const shape = [...(t.shape ?? [t.data.length])];
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new EngineError(`safetensors: tensor '${name}' has shape ${shapeText(shape)}; dimensions must be non-negative integers`);
    if (numel(shape) !== t.data.length)
      throw new EngineError(`safetensors: tensor '${name}' has shape ${shapeText(shape)} (${numel(shape)} values) but ${t.data.length} values`);
    return { name, dtype, shape, data: t.data };
  });
  const seen = new Set<string>();
  for (const t of list) {
    if (seen.has(t.name)) throw new EngineError(`safetensors: tensor '${t.name}' is given twice`);
    seen.add(t.name);
  }
  for (const [k, v] of Object.entries(metadata))
    if (typeof v !== 'string') throw new EngineError(`safetensors: metadata '${k}' must be a string, got ${typeof v}`);
  list.sort((a, b) => bytesPerElement(b.dtype) - bytesPerElement(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const t of list) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);

  const chunks: Uint8Array[] = [head];
  for (const t of list) {
    const bytes = byteView(t.data);
    for (let at = 0; at < bytes.length; at += IO_CHUNK) chunks.push(bytes.subarray(at, Math.min(bytes.length, at + IO_CHUNK)));
  }
  return chunks;
}

/** Writes a safetensors file atomically: the target is either the old file or the complete new one. */
export function writeSafetensors(file: string, tensors: TensorsArg, metadata: Readonly<Record<string, string>> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Validates a header against the size of the data section that follows it. `source` names the
 * file in errors.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataBytes: number, source: string): SafetensorsHeader {
  const fail = (detail: string): never => {
    throw new ParameterFileError(source, detail);
  };
  const text = Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength).toString('utf8');
  if (!text.startsWith('{')) fail(`the safetensors header does not start with '{' (is this a safetensors file?)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    fail(`the safetensors header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('the safetensors header is not a JSON object');

  const metadata: Record<string, string> = {};
  const raw = parsed as Record<string, unknown>;
  if ('__metadata__' in raw) {
    const m = raw.__metadata__;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) fail(`"__metadata__" must be an object of strings`);
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`"__metadata__"."${k}" must be a string, got ${JSON.stringify(v)}`);
      metadata[k] = v as string;
    }
  }

  const list: (HeaderEntry & { name: string })[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name === '__metadata__') continue;
    const where = `tensor '${name}'`;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${where}: the entry is not an object`);
    const e = value as Record<string, unknown>;
    if (!isDType(e.dtype)) fail(`${where}: dtype ${JSON.stringify(e.dtype)} is not one of ${Object.keys(DTYPES).join(', ')}`);
    const dtype = e.dtype as DType;
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0))
      fail(`${where}: data_offsets ${JSON.stringify(offs)} is not a pair of non-negative integers`);
    const [begin, end] = offs as [number, number];
    if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    const need = numel(shape as number[]) * bytesPerElement(dtype);
    if (end - begin !== need)
      fail(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} ${shapeText(shape as number[])} needs ${need}`);
    if (end > dataBytes)
      fail(`${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataBytes} bytes; the file is truncated?)`);
    list.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // Contiguity: sorted by begin, each tensor starts where the previous ended. Empty tensors may
  // share an offset with their neighbour.
  list.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev = '';
  for (const t of list) {
    if (t.begin < at) fail(`tensor '${t.name}': data_offsets [${t.begin}, ${t.end}] overlap tensor '${prev}' (which ends at ${at})`);
    if (t.begin > at) fail(`tensor '${t.name}': data_offsets [${t.begin}, ${t.end}] leave a gap of ${t.begin - at} bytes after ${prev ? `tensor '${prev}'` : 'the header'}`);
    at = t.end;
    prev = t.name;
  }
  if (at !== dataBytes)
    fail(`the data section has ${dataBytes} bytes but the tensors cover ${at}: ${dataBytes - at} unexpected trailing bytes`);

  const entries = new Map<string, HeaderEntry>();
  for (const { name, ...entry } of list) entries.set(name, entry);
  const dataStart = 8 + headerBytes.byteLength;
  return { metadata, entries, dataStart, totalBytes: dataStart + dataBytes };
}

function headerLength(prefix: Uint8Array, fileBytes: number, source: string): number {
  if (fileBytes < 8) throw new ParameterFileError(source, `the file is ${fileBytes} bytes, too short for the 8-byte safetensors header length`);
  const n = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw new ParameterFileError(source, `the safetensors header length is ${n} bytes (over the ${MAX_HEADER_BYTES}-byte limit; not a safetensors file, or corrupt)`);
  if (n > BigInt(fileBytes - 8))
    throw new ParameterFileError(source, `the safetensors header length is ${n} bytes but only ${fileBytes - 8} bytes follow it (the file is truncated?)`);
  return Number(n);
}

/** A view when the absolute offset is aligned for the dtype, else a copy. */
function tensorFrom(bytes: Uint8Array, e: HeaderEntry, dataStart: number): TensorData {
  const Ctor = DTYPES[e.dtype];
  const abs = bytes.byteOffset + dataStart + e.begin;
  const count = (e.end - e.begin) / Ctor.BYTES_PER_ELEMENT;
  if (abs % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer, abs, count);
  const out = new Ctor(count);
  byteView(out).set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
  return out;
}

/** Parses a whole file held in memory; tensors are views over `bytes` where alignment allows. */
export function parseSafetensors(bytes: Uint8Array, source = '<bytes>'): SafetensorsFile {
  requireLittleEndian();
  const n = headerLength(bytes, bytes.byteLength, source);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.byteLength - 8 - n, source);
  const tensors = new Map<string, StoredTensor>();
  for (const [name, e] of header.entries) tensors.set(name, { dtype: e.dtype, shape: e.shape, data: tensorFrom(bytes, e, header.dataStart) });
  return { metadata: header.metadata, tensors };
}

function readFully(fd: number, target: Uint8Array, position: number, source: string): void {
  let done = 0;
  while (done < target.byteLength) {
    const n = readSync(fd, target, done, Math.min(IO_CHUNK, target.byteLength - done), position + done);
    if (n === 0) throw new ParameterFileError(source, `the file ended at byte ${position + done}, expected ${target.byteLength - done} more (it shrank while being read?)`);
    done += n;
  }
}

function openForRead(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (err) {
    throw new ParameterFileError(file, `cannot open: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Reads a whole file into one fresh (so 8-byte aligned) buffer; tensors are views over it. For
 * loading into existing arrays without holding the file in memory, use SafetensorsReader.
 */
export function readSafetensors(file: string): SafetensorsFile {
  requireLittleEndian();
  const fd = openForRead(file);
  try {
    const size = fstatSync(fd).size;
    const bytes = new Uint8Array(size);
    readFully(fd, bytes, 0, file);
    return parseSafetensors(bytes, file);
  } finally {
    closeSync(fd);
  }
}

/** Reads and validates only the header (metadata, names, shapes, offsets) and the file size. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const reader = SafetensorsReader.open(file);
  reader.close();
  return reader.header;
}

/**
 * An open file whose header has been validated; tensors are read one at a time, either into new
 * arrays or straight into the caller's (a model's live weights), so loading a large checkpoint
 * never holds a second copy of it in memory.
 */
export class SafetensorsReader {
  private fd: number | null;

  private constructor(
    readonly file: string,
    fd: number,
    readonly header: SafetensorsHeader,
  ) {
    this.fd = fd;
  }

  static open(file: string): SafetensorsReader {
    requireLittleEndian();
    const fd = openForRead(file);
    try {
      const size = fstatSync(fd).size;
      const prefix = new Uint8Array(Math.min(8, size));
      readFully(fd, prefix, 0, file);
      const n = headerLength(prefix, size, file);
      const headerBytes = new Uint8Array(n);
      readFully(fd, headerBytes, 8, file);
      return new SafetensorsReader(file, fd, parseSafetensorsHeader(headerBytes, size - 8 - n, file));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  private entry(name: string): HeaderEntry {
    const e = this.header.entries.get(name);
    if (!e) throw new ParameterFileError(this.file, `has no tensor '${name}'`);
    return e;
  }

  private handle(): number {
    if (this.fd === null) throw new EngineError(`safetensors: ${this.file} was read after close()`);
    return this.fd;
  }

  read(name: string): StoredTensor {
    const e = this.entry(name);
    const data = new DTYPES[e.dtype]((e.end - e.begin) / bytesPerElement(e.dtype));
    readFully(this.handle(), byteView(data), this.header.dataStart + e.begin, this.file);
    return { dtype: e.dtype, shape: [...e.shape], data };
  }

  /** Reads tensor `name` into `dest`, which must have its dtype's array type and its length. */
  readInto(name: string, dest: TensorData): void {
    const e = this.entry(name);
    if (!(dest instanceof DTYPES[e.dtype]) || dest.byteLength !== e.end - e.begin)
      throw new ParameterFileError(this.file, `tensor '${name}' is ${e.dtype} ${shapeText(e.shape)} and does not fit a ${dest.constructor.name} of ${dest.length} values`);
    readFully(this.handle(), byteView(dest), this.header.dataStart + e.begin, this.file);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
