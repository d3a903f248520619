/**
 * The one owner of item-vector files: their writers (writeEmbeddings: an SCL or other trained
 * export; writeVectorFile: plain vectors such as `mmctr encode`'s frozen backbone features) and the
 * one reader of every vector source that training (`data.vectors`), the service and the index
 * accept, told apart by extension and, for safetensors, by the file's metadata and tensors:
 *
 *   `mmctr pretrain embed` export  .safetensors, metadata format "mmctr.item-embeddings": "embeddings" F32
 *                         [n, dim] and its int8 copy "embeddings_int8" (trunc(127 * clip(v, -1, 1)),
 *                         the public release's format), ids in metadata "ids" (JSON array, row
 *                         order) and in a side file <file>.ids.json
 *   feature cache         the encoders' cache (runs/features/<key>/features.safetensors, cache.ts):
 *                         a backbone's raw frozen features; rows whose image failed are left out
 *                         (those items have no vector)
 *   precomputed           a user's own vectors (CLIP or other):
 *     .jsonl / .ndjson    one object per line: {"id": "123", "vector": [0.1, -0.2, ...]}
 *     .csv / .tsv         id then one column per dimension; a header line is allowed (detected
 *                         when its second field is not a number)
 *     .safetensors        one 2-D F32/F64 tensor (named "vectors", or the only tensor) [n, dim]
 *                         and the ids as a JSON array of strings in metadata key "ids"
 *     .parquet            an id column ("id", else the first) and a FLOAT[] / DOUBLE[] vector
 *                         column, or one numeric column per dimension (parquet-vectors.ts, read
 *                         through DuckDB in a child process so that this API stays synchronous)
 *
 * Text files are streamed line by line over byte chunks (read-lines.ts), so a file larger than a
 * JS string (a 1M x 128 CSV is ~1.2 GB) reads; the hash is taken over the same bytes as they pass.
 *
 * Every file read has a vector space (`VectorSpace`: the encoder that made it when the file says,
 * its width, the hash of its bytes); a run records the space it was trained in and `mmctr serve`
 * asks `vectorSpaceMismatch` whether the vectors it seeds the index with belong to it.
 *
 * Errors name the file, line (or tensor row) and field: a row whose dimension differs from the
 * first, a value that is not a finite number, an id given twice. What a consumer does with items
 * the file has no vector for is the consumer's (ctr/parts/item-vectors.ts, index/index.ts).
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, SafetensorsFile, writeSafetensors } from '../engine/safetensors.js';
import { MmctrError } from '../util/errors.js';
import { featureCacheContents, isFeatureCache } from './cache.js';
import { FeatureFileError } from './errors.js';
import { fileChunks, forEachLineOf } from './read-lines.js';

/** The metadata format of an `mmctr pretrain embed` export (pretrain/export.ts writes it). */
export const EMBEDDING_FORMAT = 'mmctr.item-embeddings';

export type VectorSource = 'embed' | 'feature-cache' | 'precomputed';

export interface VectorFile {
  file: string;
  source: VectorSource;
  dim: number;
  ids: string[];
  /** [ids.length, dim] */
  vectors: Float32Array;
  /** Identity for caches downstream: "<source>/<file name>/<dim>/<sha256 of the bytes, 12 hex>". */
  id: string;
  /** The vector space the file's vectors live in (a run records it; `serve` compares it with the index's). */
  space: VectorSpace;
}

/**
 * Which space a file's vectors live in: the encoder that made them (an `mmctr pretrain embed` export's
 * metadata "encoder", else its "model" file; a feature cache's backbone id; null for a user's
 * precomputed file, which does not say), their width, and the hash of the file's bytes.
 */
export interface VectorSpace {
  encoder: string | null;
  dim: number;
  /** sha256 of the file's bytes, 12 hex. */
  hash: string;
}

/**
 * Why vectors of space `other` do not belong with vectors of space `recorded`, or null when they
 * do: the same file (hash), or the same named encoder at the same width (a re-export of the same
 * encoder over more items). Vectors whose encoder is not named match only the very same file.
 */
export function vectorSpaceMismatch(recorded: VectorSpace, other: VectorSpace): string | null {
  if (recorded.hash === other.hash) return null;
  const name = (s: VectorSpace) => `${s.encoder ?? 'an unnamed encoder'}, ${s.dim}-d, file sha256 ${s.hash}`;
  const differ = `(${name(other)}; the run's: ${name(recorded)})`;
  if (recorded.dim !== other.dim) return `the vectors are ${other.dim}-d, the run was trained on ${recorded.dim}-d vectors ${differ}`;
  if (recorded.encoder === null || other.encoder === null) return `the vectors come from another file and their encoder is not named, so nothing says they share the run's space ${differ}`;
  if (recorded.encoder !== other.encoder) return `the vectors come from another encoder ${differ}`;
  return null;
}

/** An `mmctr pretrain embed` export with everything it holds. */
export interface ItemEmbeddings {
  ids: string[];
  dim: number;
  vectors: Float32Array;
  int8: Int8Array;
  meta: Record<string, string>;
}

export function quantizeInt8(v: Float32Array): Int8Array {
  const out = new Int8Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Math.trunc(127 * Math.min(1, Math.max(-1, v[i])));
  return out;
}

export function writeEmbeddings(file: string, ids: readonly string[], vectors: Float32Array, dim: number, meta: Record<string, string> = {}): void {
  if (vectors.length !== ids.length * dim) throw new MmctrError(`embeddings: ${vectors.length} values are not ${ids.length} items x ${dim}`);
  writeSafetensors(
    file,
    { embeddings: { data: vectors, shape: [ids.length, dim] }, embeddings_int8: { data: quantizeInt8(vectors), shape: [ids.length, dim] } },
    { ...meta, format: EMBEDDING_FORMAT, ids: JSON.stringify(ids), dim: String(dim) },
  );
  writeFileSync(`${file}.ids.json`, JSON.stringify(ids));
}

/**
 * Plain vectors as a precomputed file, atomically: safetensors (tensor "vectors" F32 [n, dim], ids
 * in metadata "ids"), or Parquet when `file` ends in .parquet ("id" VARCHAR, "vector" FLOAT[],
 * `meta` as key-value metadata).
 */
export function writeVectorFile(file: string, ids: readonly string[], vectors: Float32Array, dim: number, meta: Record<string, string> = {}): void {
  if (vectors.length !== ids.length * dim) throw new MmctrError(`vectors: ${vectors.length} values are not ${ids.length} items x ${dim}`);
  const tensors = { vectors: { data: vectors, shape: [ids.length, dim] } };
  const metadata = { ...meta, ids: JSON.stringify(ids), dim: String(dim) };
  if (path.extname(file).toLowerCase() !== '.parquet') return writeSafetensors(file, tensors, metadata);
  withScratch((scratch) => {
    writeSafetensors(scratch, tensors, metadata);
    parquetChild(file, 'write', scratch, file);
  });
}

const PARQUET_CHILD = fileURLToPath(new URL('./parquet-child.js', import.meta.url));

/** Runs parquet-child.ts (DuckDB is async; this module's API is sync); its one-line problem becomes `file`'s error. */
function parquetChild(file: string, mode: 'read' | 'write', from: string, to: string): void {
  try {
    execFileSync(process.execPath, [PARQUET_CHILD, mode, from, to], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new FeatureFileError(file, null, e.stdout?.trim() || `cannot ${mode} Parquet: ${(e.stderr?.trim() || e.message).split('\n')[0]}`);
  }
}

/** `f` with the path of a scratch file in the temporary folder, removed after. */
function withScratch<T>(f: (scratch: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'mmctr-vectors-'));
  try {
    return f(path.join(dir, 'vectors.safetensors'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parquetVectors(file: string): { ids: string[]; dim: number; vectors: Float32Array } {
  return withScratch((scratch) => {
    parquetChild(file, 'read', file, scratch);
    const st = parse(file, readBytes(scratch));
    const t = st.tensors.get('vectors')!;
    return tensorRows(file, st.metadata.label, JSON.parse(st.metadata.ids) as string[], t.data as Float32Array, t.shape[1]);
  });
}

/** Reads and validates a vector file of any accepted source (see the module comment). */
export function readVectorFile(file: string, expectDim?: number): VectorFile {
  const ext = path.extname(file).toLowerCase();
  let read: Omit<VectorFile, 'file' | 'id' | 'space'> & { encoder?: string | null };
  let hash: string;
  if (ext === '.safetensors') {
    const bytes = readBytes(file);
    read = safetensorsVectors(file, parse(file, bytes));
    hash = sha256([bytes]);
  } else if (TEXT_FORMATS[ext] || ext === '.parquet') {
    try {
      closeSync(openSync(file, 'r'));
    } catch (err) {
      throw new FeatureFileError(file, null, `cannot read: ${(err as Error).message}`);
    }
    const format = TEXT_FORMATS[ext];
    if (format) {
      const text = readTextVectors(file, format, fileChunks(file), expectDim);
      read = { source: 'precomputed', ids: text.ids, dim: text.dim, vectors: text.vectors };
      hash = text.hash;
    } else {
      read = { source: 'precomputed', ...parquetVectors(file) };
      hash = sha256(fileChunks(file));
    }
  } else throw new FeatureFileError(file, null, `unknown vector file type "${ext}" (use .jsonl, .csv, .tsv, .parquet or .safetensors: a precomputed file, an \`mmctr pretrain embed\` export or a feature cache)`);
  if (!read.ids.length) throw new FeatureFileError(file, null, 'no vectors');
  if (expectDim != null && read.dim !== expectDim) throw new FeatureFileError(file, null, `has ${read.dim}-dimensional vectors, expected ${expectDim}`);
  const { encoder = null, ...rest } = read;
  return { file, ...rest, id: `${read.source}/${path.basename(file)}/${read.dim}/${hash}`, space: { encoder, dim: read.dim, hash } };
}

/** The identity hash of a file's bytes (`VectorSpace.hash`): sha256, 12 hex. */
function sha256(chunks: Iterable<Uint8Array>): string {
  const hasher = createHash('sha256');
  for (const c of chunks) hasher.update(c);
  return hasher.digest('hex').slice(0, 12);
}

type TextFormat = 'jsonl' | 'csv' | 'tsv';
const TEXT_FORMATS: Record<string, TextFormat | undefined> = { '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.csv': 'csv', '.tsv': 'tsv' };

/**
 * A precomputed text file's vectors from its bytes in chunks, streamed line by line (memory: one
 * chunk, the ids and the vectors), and the sha256 of those bytes, hashed as they pass: the same
 * value as hashing the whole file, so a file read before streaming keeps its identity.
 * `file` names the file in errors.
 */
export function readTextVectors(file: string, format: TextFormat, chunks: Iterable<Uint8Array>, expectDim?: number): { ids: string[]; dim: number; vectors: Float32Array; hash: string } {
  const hasher = createHash('sha256');
  function* hashed(): Generator<Uint8Array> {
    for (const c of chunks) {
      hasher.update(c);
      yield c;
    }
  }
  const rows = new RowCollector(file, expectDim);
  const line = format === 'jsonl' ? jsonlLine(rows) : delimitedLine(rows, format === 'tsv' ? '\t' : ',');
  forEachLineOf(hashed(), (raw, n) => void line(raw, n));
  return { ...rows.packed(), hash: hasher.digest('hex').slice(0, 12) };
}
/** An `mmctr pretrain embed` export, with its int8 copy and metadata. */
export function readEmbeddings(file: string): ItemEmbeddings {
  const st = parse(file, readBytes(file));
  if (st.metadata.format !== EMBEDDING_FORMAT) throw new FeatureFileError(file, null, `is not an item embedding file (format '${st.metadata.format ?? ''}')`);
  return embeddings(file, st);
}

function readBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new FeatureFileError(file, null, `cannot read: ${(err as Error).message}`);
  }
}

function parse(file: string, bytes: Buffer): SafetensorsFile {
  try {
    // A fresh copy: tensors are typed-array views that need the buffer 8-byte aligned.
    return parseSafetensors(new Uint8Array(bytes), file);
  } catch (err) {
    throw new FeatureFileError(file, null, `cannot read: ${(err as Error).message}`);
  }
}

function safetensorsVectors(file: string, st: SafetensorsFile): Omit<VectorFile, 'file' | 'id' | 'space'> & { encoder: string | null } {
  if (st.metadata.format === EMBEDDING_FORMAT) {
    const e = embeddings(file, st);
    return { source: 'embed', ids: e.ids, dim: e.dim, vectors: e.vectors, encoder: e.meta.encoder ?? (e.meta.model ? `scl-model:${e.meta.model}` : null) };
  }
  if (isFeatureCache(st)) {
    const cache = featureCacheContents(file, st);
    const keep = cache.ids.flatMap((_, i) => (cache.missing[i] ? [] : [i]));
    return { source: 'feature-cache', ...tensorRows(file, 'tensor "features"', keep.map((i) => cache.ids[i]), cache.features, cache.dim, keep), encoder: cache.backbone };
  }
  const name = st.tensors.has('vectors') ? 'vectors' : st.tensors.size === 1 ? [...st.tensors.keys()][0] : null;
  if (!name) throw new FeatureFileError(file, null, `expected a tensor named "vectors" (or exactly one tensor), found ${[...st.tensors.keys()].join(', ')}; or an \`mmctr pretrain embed\` export or a feature cache`);
  const t = st.tensors.get(name)!;
  if (t.shape.length !== 2 || (t.dtype !== 'F32' && t.dtype !== 'F64')) throw new FeatureFileError(file, null, `tensor "${name}" must be 2-D F32 or F64, got ${t.dtype} [${t.shape.join(', ')}]`);
  const ids = idList(file, st, name, t.shape[0]);
  return { source: 'precomputed', ...tensorRows(file, `tensor "${name}"`, ids, t.data as Float32Array | Float64Array, t.shape[1]), encoder: st.metadata.encoder ?? null };
}

function embeddings(file: string, st: SafetensorsFile): ItemEmbeddings {
  const e = st.tensors.get('embeddings'), q = st.tensors.get('embeddings_int8');
  if (!e || !q) throw new FeatureFileError(file, null, 'missing the embeddings tensors ("embeddings" and "embeddings_int8")');
  if (e.shape.length !== 2 || e.dtype !== 'F32') throw new FeatureFileError(file, null, `tensor "embeddings" must be 2-D F32, got ${e.dtype} [${e.shape.join(', ')}]`);
  const ids = idList(file, st, 'embeddings', e.shape[0]);
  const { vectors } = tensorRows(file, 'tensor "embeddings"', ids, e.data as Float32Array, e.shape[1]);
  return { ids, dim: e.shape[1], vectors, int8: q.data as Int8Array, meta: st.metadata };
}

/** The metadata "ids" of a file whose tensor `name` has `rows` rows. */
function idList(file: string, st: SafetensorsFile, name: string, rows: number): string[] {
  let list: unknown;
  try {
    list = JSON.parse(st.metadata.ids ?? 'null');
  } catch {
    list = null;
  }
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' || typeof x === 'number'))
    throw new FeatureFileError(file, null, `metadata "ids" must be a JSON array of ids (strings), one per row of "${name}"`);
  if (list.length !== rows) throw new FeatureFileError(file, null, `metadata "ids" has ${list.length} ids but tensor "${name}" has ${rows} rows`);
  return list.map(String);
}

/** Rows `keep` (default: all) of a [rows, dim] tensor, checked: each id once, every value finite. */
function tensorRows(file: string, what: string, ids: string[], data: Float32Array | Float64Array, dim: number, keep?: readonly number[]): { ids: string[]; dim: number; vectors: Float32Array } {
  const vectors = new Float32Array(ids.length * dim);
  const seen = new Map<string, number>();
  ids.forEach((id, k) => {
    const row = keep ? keep[k] : k;
    const prev = seen.get(id);
    if (prev !== undefined) throw new FeatureFileError(file, null, `row ${row}: id "${id}" is duplicated (first at row ${prev})`);
    seen.set(id, row);
    for (let j = 0; j < dim; j++) {
      const x = data[row * dim + j];
      if (!Number.isFinite(x)) throw new FeatureFileError(file, null, `${what} row ${row} (id "${id}"), dimension ${j}: not a finite number (${x})`);
      vectors[k * dim + j] = x;
    }
  });
  return { ids, dim, vectors };
}

/** Collects text rows: each id once, every row as wide as the first (or as `expectDim`), packed as they come. */
class RowCollector {
  readonly ids: string[] = [];
  private readonly seen = new Map<string, number>();
  private dim: number;
  // Grown by doubling: the row count is known only at the end of a stream.
  private data = new Float32Array(0);

  constructor(
    readonly file: string,
    private readonly expectDim?: number,
  ) {
    this.dim = expectDim ?? -1;
  }

  add(id: string, line: number, values: number[], where: string): void {
    if (!id) throw new FeatureFileError(this.file, line, `${where}: empty id`);
    const prev = this.seen.get(id);
    if (prev !== undefined) throw new FeatureFileError(this.file, line, `${where}: id "${id}" is duplicated (first at line ${prev})`);
    if (this.dim < 0) this.dim = values.length;
    if (values.length !== this.dim)
      throw new FeatureFileError(this.file, line, `${where}: vector of id "${id}" has ${values.length} dimensions, expected ${this.dim}${this.expectDim != null ? '' : ' (as the first row)'}`);
    this.seen.set(id, line);
    const at = this.ids.length * this.dim;
    if (at + this.dim > this.data.length) {
      const grown = new Float32Array(Math.max(2 * this.data.length, 1024 * Math.max(1, this.dim)));
      grown.set(this.data);
      this.data = grown;
    }
    this.data.set(values, at);
    this.ids.push(id);
  }

  packed(): { ids: string[]; dim: number; vectors: Float32Array } {
    const used = this.ids.length * this.dim;
    // A view when the doubling's slack is small (no copy at the peak), else a copy that gives it back.
    return { ids: this.ids, dim: this.dim, vectors: used >= this.data.length * 0.9 ? this.data.subarray(0, used) : this.data.slice(0, used) };
  }
}

function jsonlLine(rows: RowCollector): (raw: string, line: number) => void {
  const { file } = rows;
  return (raw, line) => {
    if (!raw.trim()) return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (err) {
      throw new FeatureFileError(file, line, `not valid JSON: ${(err as Error).message}`);
    }
    const o = obj as { id?: unknown; vector?: unknown };
    if (typeof o !== 'object' || o === null || (typeof o.id !== 'string' && typeof o.id !== 'number')) throw new FeatureFileError(file, line, `field "id" must be a string or number`);
    if (!Array.isArray(o.vector)) throw new FeatureFileError(file, line, `field "vector" must be an array of numbers`);
    const values = o.vector.map((x, j) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new FeatureFileError(file, line, `field "vector"[${j}] is not a finite number: ${JSON.stringify(x)}`);
      return x;
    });
    rows.add(String(o.id), line, values, 'field "vector"');
  };
}

function delimitedLine(rows: RowCollector, sep: string): (raw: string, line: number) => void {
  const { file } = rows;
  return (raw, line) => {
    if (!raw.trim()) return;
    const parts = raw.split(sep);
    if (line === 1 && parts.length > 1 && !Number.isFinite(Number(parts[1]))) return; // header
    const id = parts[0].trim().replace(/^"(.*)"$/, '$1');
    const values = parts.slice(1).map((v, j) => {
      const x = v.trim() === '' ? NaN : Number(v);
      if (!Number.isFinite(x)) throw new FeatureFileError(file, line, `column ${j + 2} is not a finite number: "${v}"`);
      return x;
    });
    rows.add(id, line, values, 'row');
  };
}
