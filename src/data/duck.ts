/**
 * A thin wrapper over DuckDB's Node API: the embedded analytical engine that reads the user's
 * files (CSV / TSV / JSONL / Parquet) and does the joins, sorts and window functions.
 */
import { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';

export type Row = Record<string, DuckDBValue>;

export class Duck {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  /** An in-memory database that may spill to a temporary folder for data larger than memory. */
  static async open(options: { threads?: number; tempDir?: string } = {}): Promise<Duck> {
    const config: Record<string, string> = { preserve_insertion_order: 'true' };
    if (options.threads) config.threads = String(options.threads);
    if (options.tempDir) config.temp_directory = options.tempDir;
    const instance = await DuckDBInstance.create(':memory:', config);
    const conn = await instance.connect();
    // Timestamps without an offset are UTC, whatever the machine's time zone.
    await conn.run(`SET TimeZone = 'UTC'`);
    return new Duck(instance, conn);
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
