/**
 * A thin wrapper over DuckDB's Node API: the embedded analytical engine that reads the user's
 * files (CSV / TSV / JSONL / Parquet) and does the joins, sorts and window functions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';

export type Row = Record<string, DuckDBValue>;

/** DuckDB's working memory before it spills to disk; the rest of a process's budget is the JS side's. */
export const DEFAULT_MEMORY_LIMIT = '1GB';

export class Duck {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    private readonly spillDir: string | null,
  ) {}

  /**
   * An in-memory database that spills to a temporary folder beyond `memoryLimit` (default
   * DEFAULT_MEMORY_LIMIT). DuckDB's own default is 80 % of the machine's memory, which it fills
   * before it spills: a 3M-impression build held 3 GB that way. The folder is `tempDir`, else a
   * fresh one under the OS's temporary folder, removed at close.
   */
  static async open(options: { threads?: number; tempDir?: string; memoryLimit?: string } = {}): Promise<Duck> {
    const spillDir = options.tempDir ? null : mkdtempSync(path.join(os.tmpdir(), 'mmctr-duckdb-'));
    const config: Record<string, string> = {
      preserve_insertion_order: 'true',
      memory_limit: options.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
      temp_directory: options.tempDir ?? spillDir!,
    };
    if (options.threads) config.threads = String(options.threads);
    try {
      const instance = await DuckDBInstance.create(':memory:', config);
      const conn = await instance.connect();
      // Timestamps without an offset are UTC, whatever the machine's time zone.
      await conn.run(`SET TimeZone = 'UTC'`);
      return new Duck(instance, conn, spillDir);
    } catch (err) {
      if (spillDir) rmSync(spillDir, { recursive: true, force: true });
      throw err;
    }
  }

  async run(sql: string, params?: DuckDBValue[]): Promise<void> {
    await this.conn.run(sql, params);
  }

  async all(sql: string, params?: DuckDBValue[]): Promise<Row[]> {
    const reader = await this.conn.runAndReadAll(sql, params);
    return reader.getRowObjectsJS() as Row[];
  }

  async scalar<T = DuckDBValue>(sql: string, params?: DuckDBValue[]): Promise<T> {
    const reader = await this.conn.runAndReadAll(sql, params);
    return reader.getRowsJS()[0]?.[0] as T;
  }

  /** Streams a result chunk by chunk (columns as JS arrays), for results larger than memory. */
  async *chunks(sql: string): AsyncGenerator<{ rows: number; columns: unknown[][] }> {
    const result = await this.conn.stream(sql);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      yield { rows: chunk.rowCount, columns: chunk.getColumns() as unknown[][] };
    }
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
    if (this.spillDir) rmSync(this.spillDir, { recursive: true, force: true });
  }
}

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** A quoted SQL identifier. */
export function sqlIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}
