/**
 * The embedded vector index (the default backend): every vector in one in-process array, so a
 * ranking request reads its few hundred rows with no I/O. Durable in two files:
 *
 *   <file>            a snapshot (safetensors: "vectors" F32 or I8 [n, dim], ids in metadata),
 *                     written atomically (temp file + fsync + rename);
 *   <file>.journal    vectors added since the snapshot, one JSON line each (journal.ts), appended
 *                     before a write is acknowledged and synced by the fsync policy, so an
 *                     ingested item survives a crash without rewriting the snapshot.
 *
 * Opening reads the snapshot and replays the journal (replays are idempotent puts; a torn last
 * line is cut off, an invalid line is skipped and reported in `recovery`); flush() and close()
 * fold the journal into a new snapshot. Loading 100k x 128 float32 is one read and one JSON parse
 * of the ids: well under a second.
 */
import { existsSync } from 'node:fs';
import { encodeSafetensors, readSafetensors } from '../engine/safetensors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { FsyncPolicy, Journal, JournalRecovery, SkippedLine } from './journal.js';
import { fromInt8, IndexError, normalized, quantizeInt8, VectorIndex, VectorPrecision } from './types.js';

export const INDEX_FORMAT = 'mmctr.vector-index';

export interface EmbeddedIndexOptions {
  /** Snapshot file; null keeps the index in memory only (tests, throwaway servers). */
  file: string | null;
  /** Vector width; required for a new index, checked against an existing one. */
  dim?: number;
  precision?: VectorPrecision;
  /** Journal lines after which a write folds them into a new snapshot. */
  snapshotEvery?: number;
  /** When journal writes reach the disk (journal.ts); default 'always'. */
  fsync?: FsyncPolicy;
  /** Told about each journal line skipped on open (the service logs them). */
  onJournalSkip?: (line: SkippedLine, file: string) => void;
}

export class EmbeddedIndex implements VectorIndex {
  readonly backend = 'embedded' as const;
  private readonly rowOf = new Map<string, number>();
  private readonly ids: string[] = [];
  private rows: Float32Array | Int8Array;
  private journalLines = 0;
  private journal: Journal | null = null;
  /** What replaying the journal found (null: memory only). */
  recovery: JournalRecovery | null = null;
  private closed = false;

  private constructor(
    readonly file: string | null,
    readonly dim: number,
    readonly precision: VectorPrecision,
    private readonly snapshotEvery: number,
  ) {
    this.rows = precision === 'int8' ? new Int8Array(1024 * dim) : new Float32Array(1024 * dim);
  }

  /** Opens (or creates) an index: the snapshot, then the journal on top. */
  static open(options: EmbeddedIndexOptions): EmbeddedIndex {
    const index = EmbeddedIndex.openSnapshot(options);
    index.replayJournal(options.fsync ?? 'always', options.onJournalSkip);
    return index;
  }

  private static openSnapshot({ file, dim, precision, snapshotEvery = 10_000 }: EmbeddedIndexOptions): EmbeddedIndex {
    if (file && existsSync(file)) {
      const f = readSafetensors(file);
      const meta = f.metadata ?? {};
      if (meta.format !== INDEX_FORMAT) throw new IndexError(`${file} is not a vector index snapshot (format '${meta.format ?? ''}')`);
      const stored = f.tensors.get('vectors');
      if (!stored) throw new IndexError(`${file}: no "vectors" tensor`);
      const fileDim = stored.shape[1], filePrecision = meta.precision as VectorPrecision;
      if (dim !== undefined && dim !== fileDim) throw new IndexError(`${file} holds ${fileDim}-d vectors, ${dim} were asked for`);
      if (precision !== undefined && precision !== filePrecision) throw new IndexError(`${file} stores ${filePrecision} vectors, ${precision} were asked for`);
      const index = new EmbeddedIndex(file, fileDim, filePrecision, snapshotEvery);
      const ids = JSON.parse(meta.ids ?? '[]') as string[];
      index.reserve(ids.length);
      index.rows.set(stored.data as Float32Array | Int8Array);
      ids.forEach((id, r) => {
        index.rowOf.set(id, r);
        index.ids.push(id);
      });
      return index;
    }
    if (dim === undefined) throw new IndexError(`${file ?? 'in-memory index'}: a new index needs its vector width (dim)`);
    return new EmbeddedIndex(file, dim, precision ?? 'float32', snapshotEvery);
  }

  private replayJournal(fsync: FsyncPolicy, onSkip?: (line: SkippedLine, file: string) => void): void {
    if (!this.file) return;
    const file = `${this.file}.journal`;
    const opened = Journal.open(file, {
      fsync,
      onSkip: (line) => onSkip?.(line, file),
      validate: (rec) => {
        if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return 'not a record {id, v}';
        const { id, v } = rec as { id?: unknown; v?: unknown };
        if (typeof id !== 'string' || id.length === 0) return 'has no item id';
        if (!Array.isArray(v)) return `item "${id}": has no vector`;
        try {
          return { id, vector: normalized(v as number[], this.dim, `item "${id}"`) };
        } catch (err) {
          return (err as Error).message;
        }
      },
    });
    for (const { id, vector } of opened.records) this.set(id, vector);
    this.journal = opened.journal;
    this.journalLines = opened.records.length;
    this.recovery = opened.recovery;
  }

  private reserve(n: number): void {
    if (n * this.dim <= this.rows.length) return;
    const grown = new (this.rows.constructor as Float32ArrayConstructor | Int8ArrayConstructor)(Math.max(n, 2 * (this.rows.length / this.dim)) * this.dim);
    grown.set(this.rows);
    this.rows = grown;
  }

  /** Writes one normalised vector into its row (a new row for a new id). */
  private set(id: string, v: Float32Array): void {
    let r = this.rowOf.get(id);
    if (r === undefined) {
      r = this.ids.length;
      this.reserve(r + 1);
      this.rowOf.set(id, r);
      this.ids.push(id);
    }
    this.rows.set(this.precision === 'int8' ? quantizeInt8(v) : v, r * this.dim);
  }

  /** Synchronous read for the ranking hot path (no promise per request). */
  getSync(id: string): Float32Array | null {
    const r = this.rowOf.get(id);
    if (r === undefined) return null;
    const row = this.rows.subarray(r * this.dim, (r + 1) * this.dim);
    return row instanceof Int8Array ? fromInt8(row, this.dim) : row.slice();
  }

  has(id: string): boolean {
    return this.rowOf.has(id);
  }

  async getMany(ids: readonly string[]): Promise<(Float32Array | null)[]> {
    return ids.map((id) => this.getSync(id));
  }

  async putMany(items: readonly { id: string; vector: Float32Array }[]): Promise<void> {
    this.checkOpen();
    const clean = items.map(({ id, vector }) => {
      if (typeof id !== 'string' || id.length === 0) throw new IndexError('an item id must be a non-empty string');
      return { id, vector: normalized(vector, this.dim, `vector of "${id}"`) };
    });
    if (clean.length === 0) return;
    // Journal first, memory at once after (a snapshot taken while this write waits for its fsync
    // includes it), acknowledged when the fsync policy says the write is durable.
    const durable = this.journal?.append(clean.map(({ id, vector }) => ({ id, v: Array.from(vector) })));
    this.journalLines += clean.length;
    for (const { id, vector } of clean) this.set(id, vector);
    await durable;
    if (this.journalLines >= this.snapshotEvery) await this.flush();
  }

  async ping(): Promise<void> {
    this.checkOpen();
  }

  async size(): Promise<number> {
    return this.ids.length;
  }

  async *scan(batch = 4096): AsyncIterable<{ id: string; vector: Float32Array }[]> {
    for (let s = 0; s < this.ids.length; s += batch) {
      yield this.ids.slice(s, s + batch).map((id) => ({ id, vector: this.getSync(id)! }));
    }
  }

  async flush(): Promise<void> {
    if (!this.file) return;
    const n = this.ids.length;
    const data = this.rows.slice(0, n * this.dim);
    writeFileAtomic(
      this.file,
      encodeSafetensors({ vectors: { data, shape: [n, this.dim] } }, { format: INDEX_FORMAT, precision: this.precision, dim: String(this.dim), ids: JSON.stringify(this.ids) }),
    );
    // The snapshot now holds every journal line; a crash before this only replays them again.
    this.journal?.clear();
    this.journalLines = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.journalLines > 0) await this.flush();
    await this.journal?.close();
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new IndexError('the index is closed');
  }
}
