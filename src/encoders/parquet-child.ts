/**
 * The process `vector-file.ts` runs for Parquet (DuckDB is async, the vector-file API sync):
 * `read <file.parquet> <out.safetensors>` or `write <in.safetensors> <file.parquet>`, the vectors
 * passed through a safetensors file. A problem with the file is printed as one line and exits 1.
 */
import { readSafetensors, writeSafetensors } from '../engine/safetensors.js';
import { ParquetVectorsError, readParquetVectors, writeParquetVectors } from './parquet-vectors.js';

const [mode, from, to] = process.argv.slice(2);
try {
  if (mode === 'read') {
    const v = await readParquetVectors(from);
    writeSafetensors(to, { vectors: { data: v.vectors, shape: [v.ids.length, v.dim] } }, { ids: JSON.stringify(v.ids), label: v.label });
  } else {
    const st = readSafetensors(from);
    const t = st.tensors.get('vectors')!;
    const { ids, ...meta } = st.metadata;
    await writeParquetVectors(to, JSON.parse(ids) as string[], t.data as Float32Array, t.shape[1], meta);
  }
} catch (err) {
  process.stdout.write((err instanceof ParquetVectorsError ? '' : 'cannot read or write Parquet: ') + (err as Error).message.split('\n')[0]);
  process.exitCode = 1;
}
