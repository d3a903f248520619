/**
 * Precomputed item vectors from a file (a user's own CLIP or other embeddings), read instead of
 * running a backbone. Formats, by extension:
 *
 *   .jsonl         one object per line: {"id": "123", "vector": [0.1, -0.2, ...]}
 *   .csv / .tsv    id then one column per dimension; a header line is allowed (detected when its
 *                  second field is not a number)
 *   .safetensors   one 2-D F32/F64/F16-free float tensor (named "vectors", or the only tensor)
 *                  [n, dim] and the ids as a JSON array of strings in metadata key "ids"
 *
 * Errors name the file, line (or tensor row) and field: a row whose dimension differs from the
 * first, a value that is not a finite number, an id given twice. Items without a vector are not
 * an error: they become missing rows (zero, missing = 1), counted in the report; vectors for ids
 * that are not in the catalogue are counted as unused.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readSafetensors } from '../engine/safetensors.js';
import { EncoderError, FeatureFileError } from './errors.js';
import type { FeatureTable, ItemContent } from './types.js';

export interface VectorFile {
  file: string;
  dim: number;
  ids: string[];
  /** [ids.length, dim] */
  vectors: Float32Array;
  /** Identity for caches downstream: "precomputed/<file name>/<dim>/<sha256 of the bytes, 12 hex>". */
  id: string;
}

function parseNumber(file: string, line: number, field: string, raw: string): number {
  const x = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(x)) throw new FeatureFileError(file, line, `${field} is not a finite number: "${raw}"`);
  return x;
}

/** Reads and validates a vector file (see the module comment for formats). */
export function readVectorFile(file: string, expectDim?: number): VectorFile {
  const ext = path.extname(file).toLowerCase();
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new FeatureFileError(file, null, `cannot read: ${(err as Error).message}`);
  }
  const ids: string[] = [];
  const rows: number[][] = [];
  const lines: number[] = [];
  let dim = expectDim ?? -1;
  const seen = new Map<string, number>();
  const add = (id: string, line: number, values: number[], where: string) => {
    if (!id) throw new FeatureFileError(file, line, `${where}: empty id`);
    const prev = seen.get(id);
    if (prev !== undefined) throw new FeatureFileError(file, line, `${where}: id "${id}" is duplicated (first at ${ext === '.safetensors' ? 'row' : 'line'} ${prev})`);
    if (dim < 0) dim = values.length;
    if (values.length !== dim)
      throw new FeatureFileError(file, line, `${where}: vector of id "${id}" has ${values.length} dimensions, expected ${dim}${expectDim != null ? '' : ' (as the first row)'}`);
    seen.set(id, line);
    ids.push(id);
    rows.push(values);
    lines.push(line);
  };
  let result: { dim: number; vectors: Float32Array };
  if (ext === '.safetensors') {
    const st = readSafetensors(file);
    const name = st.tensors.has('vectors') ? 'vectors' : st.tensors.size === 1 ? [...st.tensors.keys()][0] : null;
    if (!name) throw new FeatureFileError(file, null, `expected a tensor named "vectors" (or exactly one tensor), found ${[...st.tensors.keys()].join(', ')}`);
    const t = st.tensors.get(name)!;
    if (t.shape.length !== 2 || (t.dtype !== 'F32' && t.dtype !== 'F64')) throw new FeatureFileError(file, null, `tensor "${name}" must be 2-D F32 or F64, got ${t.dtype} [${t.shape.join(', ')}]`);
    const [n, d] = t.shape;
    if (expectDim != null && d !== expectDim) throw new FeatureFileError(file, null, `tensor "${name}" has ${d} dimensions, expected ${expectDim}`);
    let list: unknown;
    try {
      list = JSON.parse(st.metadata.ids ?? 'null');
    } catch {
      list = null;
    }
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' || typeof x === 'number'))
      throw new FeatureFileError(file, null, `metadata "ids" must be a JSON array of ids (strings), one per row of "${name}"`);
    if (list.length !== n) throw new FeatureFileError(file, null, `metadata "ids" has ${list.length} ids but tensor "${name}" has ${n} rows`);
    const data = t.data as Float32Array | Float64Array;
    const vectors = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const id = String(list[i]);
      const prev = seen.get(id);
      if (prev !== undefined) throw new FeatureFileError(file, null, `row ${i}: id "${id}" is duplicated (first at row ${prev})`);
      seen.set(id, i);
      ids.push(id);
      for (let j = 0; j < d; j++) {
        const x = data[i * d + j];
        if (!Number.isFinite(x)) throw new FeatureFileError(file, null, `row ${i} (id "${id}"), dimension ${j}: not a finite number (${x})`);
        vectors[i * d + j] = x;
      }
    }
    result = { dim: d, vectors };
  } else if (ext === '.jsonl' || ext === '.ndjson') {
    const text = bytes.toString('utf8').split('\n');
    text.forEach((raw, i) => {
      const line = i + 1;
      if (!raw.trim()) return;
      let obj: unknown;
      try {
        obj = JSON.parse(raw);
      } catch (err) {
        throw new FeatureFileError(file, line, `not valid JSON: ${(err as Error).message}`);
      }
      const o = obj as { id?: unknown; vector?: unknown };
      if (typeof o !== 'object' || o === null || (typeof o.id !== 'string' && typeof o.id !== 'number'))
        throw new FeatureFileError(file, line, `field "id" must be a string or number`);
      if (!Array.isArray(o.vector)) throw new FeatureFileError(file, line, `field "vector" must be an array of numbers`);
      const values = o.vector.map((x, j) => {
        if (typeof x !== 'number' || !Number.isFinite(x)) throw new FeatureFileError(file, line, `field "vector"[${j}] is not a finite number: ${JSON.stringify(x)}`);
        return x;
      });
      add(String(o.id), line, values, 'field "vector"');
    });
    result = pack();
  } else if (ext === '.csv' || ext === '.tsv') {
    const sep = ext === '.tsv' ? '\t' : ',';
    const text = bytes.toString('utf8').split('\n');
    text.forEach((raw0, i) => {
      const line = i + 1;
      const raw = raw0.replace(/\r$/, '');
      if (!raw.trim()) return;
      const parts = raw.split(sep);
      if (i === 0 && parts.length > 1 && !Number.isFinite(Number(parts[1])) ) return; // header
      const id = parts[0].trim().replace(/^"(.*)"$/, '$1');
      const values = parts.slice(1).map((v, j) => parseNumber(file, line, `column ${j + 2}`, v));
      add(id, line, values, `row`);
    });
    result = pack();
  } else {
    throw new FeatureFileError(file, null, `unknown vector file type "${ext}" (use .jsonl, .csv, .tsv or .safetensors)`);
  }
  if (!ids.length) throw new FeatureFileError(file, null, 'no vectors');
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  return { file, dim: result.dim, ids, vectors: result.vectors, id: `precomputed/${path.basename(file)}/${result.dim}/${hash}` };

  function pack(): { dim: number; vectors: Float32Array } {
    const vectors = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => vectors.set(r, i * dim));
    return { dim, vectors };
  }
}

/**
 * The feature table of `items` from a vector file: rows in item order; items without a vector are
 * zero rows with missing = 1 (reason "no precomputed vector"). `report.unused` counts vectors for
 * ids not among the items.
 */
export function precomputedFeatures(file: string, items: readonly ItemContent[], expectDim?: number): FeatureTable & { report: { unused: number } } {
  const vf = readVectorFile(file, expectDim);
  const index = new Map<string, number>();
  vf.ids.forEach((id, i) => index.set(id, i));
  const n = items.length;
  const features = new Float32Array(n * vf.dim);
  const missing = new Uint8Array(n);
  const problems: { id: string; reason: string }[] = [];
  const used = new Set<number>();
  const seen = new Set<string>();
  items.forEach((it, i) => {
    if (seen.has(it.id)) throw new EncoderError(`precomputedFeatures: item id "${it.id}" is listed twice`);
    seen.add(it.id);
    const k = index.get(it.id);
    if (k === undefined) {
      missing[i] = 1;
      problems.push({ id: it.id, reason: `no precomputed vector in ${path.basename(file)}` });
      return;
    }
    used.add(k);
    features.set(vf.vectors.subarray(k * vf.dim, (k + 1) * vf.dim), i * vf.dim);
  });
  return {
    backbone: vf.id,
    dim: vf.dim,
    ids: items.map((it) => it.id),
    features,
    missing,
    report: { computed: 0, cached: n - problems.length, missing: problems.length, corrupt: 0, problems, unused: vf.ids.length - used.size },
  };
}
