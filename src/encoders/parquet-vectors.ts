/**
 * Parquet item vectors through DuckDB, for `vector-file.ts` (the owner of vector files; it runs
 * these in `parquet-child.ts` so that its readers and writers stay synchronous for their callers).
 *
 * A file holds an id column ("id", else the first column; text or integer) and either one list
 * column of numbers (FLOAT[] / DOUBLE[] or a fixed-size array) or one numeric column per
 * dimension, in order. The writer writes the first layout: "id" VARCHAR, "vector" FLOAT[].
 */
import { renameSync, rmSync } from 'node:fs';
import { Duck, sqlIdent, sqlString } from '../data/duck.js';

/** A problem with the file's columns or values (the child reports it as the file's error). */
export class ParquetVectorsError extends Error {}

export interface ParquetVectors {
  ids: string[];
  dim: number;
  vectors: Float32Array;
  /** What the vectors were read from, for errors downstream: `column "vector"` or `columns "d0".."d127"`. */
  label: string;
}

const NUMERIC = /^(FLOAT|DOUBLE|REAL|DECIMAL.*|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/;
const NUMERIC_LIST = /^(FLOAT|DOUBLE|REAL|DECIMAL.*)(\[\]|\[\d+\])$/;
const ID = /^(VARCHAR|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/;

export async function readParquetVectors(file: string): Promise<ParquetVectors> {
  const duck = await Duck.open({ threads: 1 });
  try {
    const from = `read_parquet(${sqlString(file)})`;
    let columns: { name: string; type: string }[];
    try {
      columns = (await duck.all(`DESCRIBE SELECT * FROM ${from}`)).map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
    } catch (err) {
      throw new ParquetVectorsError(`cannot read as Parquet: ${(err as Error).message.split('\n')[0]}`);
    }
    const described = columns.map((c) => `"${c.name}" ${c.type}`).join(', ');
    const idCol = columns.find((c) => c.name === 'id') ?? columns[0];
    if (!idCol || columns.length < 2) throw new ParquetVectorsError(`expected an id column and a vector column (FLOAT[] / DOUBLE[]) or one numeric column per dimension; found ${described || 'no columns'}`);
    if (!ID.test(idCol.type)) throw new ParquetVectorsError(`column "${idCol.name}" (the ids) must be text or an integer, got ${idCol.type}`);
    const rest = columns.filter((c) => c !== idCol);
    const list = rest.length === 1 && !NUMERIC.test(rest[0].type);
    if (list && !NUMERIC_LIST.test(rest[0].type)) throw new ParquetVectorsError(`column "${rest[0].name}" must be a list of numbers (FLOAT[] or DOUBLE[]), got ${rest[0].type}`);
    const bad = list ? undefined : rest.find((c) => !NUMERIC.test(c.type));
    if (bad) throw new ParquetVectorsError(`column "${bad.name}" must be numeric (one column per dimension) or the file's only vector column a FLOAT[] / DOUBLE[] list, got ${bad.type}; columns: ${described}`);
    const label = list ? `column "${rest[0].name}"` : `columns "${rest[0].name}".."${rest[rest.length - 1].name}"`;
    const values = list ? `CAST(${sqlIdent(rest[0].name)} AS DOUBLE[])` : rest.map((c) => `CAST(${sqlIdent(c.name)} AS DOUBLE)`).join(', ');
    const ids: string[] = [];
    let dim = list ? -1 : rest.length;
    let data = new Float32Array(0);
    const put = (row: number, id: string, v: readonly unknown[]) => {
      if (dim < 0) dim = v.length;
      if (v.length !== dim) throw new ParquetVectorsError(`${label} row ${row} (id "${id}"): ${v.length} dimensions, expected ${dim} (as the first row)`);
      if (data.length < (row + 1) * dim) {
        const grown = new Float32Array(Math.max(2 * data.length, 1024 * Math.max(1, dim)));
        grown.set(data);
        data = grown;
      }
      for (let j = 0; j < dim; j++) {
        const x = v[j];
        if (x === null) throw new ParquetVectorsError(`${label} row ${row} (id "${id}"), dimension ${j}: null`);
        data[row * dim + j] = x as number;
      }
    };
    for await (const chunk of duck.chunks(`SELECT CAST(${sqlIdent(idCol.name)} AS VARCHAR), ${values} FROM ${from}`)) {
      for (let r = 0; r < chunk.rows; r++) {
        const row = ids.length;
        const id = chunk.columns[0][r] as string | null;
        if (id === null) throw new ParquetVectorsError(`column "${idCol.name}" row ${row}: null id`);
        if (list) {
          const v = chunk.columns[1][r] as { items: readonly unknown[] } | null;
          if (v === null) throw new ParquetVectorsError(`${label} row ${row} (id "${id}"): null`);
          put(row, id, v.items);
        } else put(row, id, chunk.columns.slice(1).map((c) => c[r]));
        ids.push(id);
      }
    }
    return { ids, dim: Math.max(dim, 0), vectors: data.slice(0, ids.length * Math.max(dim, 0)), label };
  } finally {
    duck.close();
  }
}

/** Writes "id" VARCHAR, "vector" FLOAT[] (and `meta` as the file's key-value metadata), atomically. */
export async function writeParquetVectors(file: string, ids: readonly string[], vectors: Float32Array, dim: number, meta: Record<string, string>): Promise<void> {
  const duck = await Duck.open({ threads: 1 });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const cols = Array.from({ length: dim }, (_, j) => `d${j}`);
    await duck.run(`CREATE TABLE v (id VARCHAR, ${cols.map((c) => `${c} FLOAT`).join(', ')})`);
    // One scalar per dimension: appending a list value per row is ~10x slower.
    const appender = await duck.conn.createAppender('v');
    ids.forEach((id, i) => {
      appender.appendVarchar(id);
      for (let j = 0; j < dim; j++) appender.appendFloat(vectors[i * dim + j]);
      appender.endRow();
    });
    appender.closeSync();
    const kv = Object.entries(meta).map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(', ');
    await duck.run(`COPY (SELECT id, [${cols.join(', ')}]::FLOAT[] AS vector FROM v) TO ${sqlString(tmp)} (FORMAT parquet${kv ? `, KV_METADATA {${kv}}` : ''})`);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
    duck.close();
  }
}
