/**
 * Line numbers for problems. DuckDB reads a file without telling where each row came from, and
 * it skips blank lines and lets a quoted field span lines, so "header + row index" is wrong as
 * soon as a file has either. This scans the file itself (only when a problem needs a line, and
 * only as far as the last row asked for) and maps row indices to physical 1-based lines.
 *
 * A logical line is what DuckDB's CSV reader calls a line (its rejects table numbers them this
 * way): a record ended by a newline outside quotes; blank lines count, a quoted newline does not.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export interface LogicalLine {
  /** 1-based physical line where it starts. */
  start: number;
  blank: boolean;
}

const NL = 10;
const CR = 13;
const QUOTE = 34;
const SPACE = 32;
const TAB = 9;

/**
 * Calls `visit` for each logical line in order until it returns false. `quotes`: whether `"`
 * quotes may hide newlines (csv/tsv); `blankIfWhitespace`: whitespace-only lines are blank (jsonl).
 */
export function scanLines(file: string, options: { quotes: boolean; blankIfWhitespace: boolean }, visit: (line: LogicalLine, index: number) => boolean): void {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let physical = 1;
  let start = 1;
  let length = 0;
  let nonSpace = 0;
  let inQuote = false;
  let index = 0;
  let prevCR = false;
  const finish = (): boolean => {
    const blank = options.blankIfWhitespace ? nonSpace === 0 : length === 0;
    const go = visit({ start, blank }, index++);
    length = 0;
    nonSpace = 0;
    return go;
  };
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        const b = buf[i];
        if (b === NL && prevCR) {
          // The \n of a \r\n: the newline was counted at the \r.
          prevCR = false;
          continue;
        }
        prevCR = b === CR;
        if (b === NL || b === CR) {
          physical++;
          if (!inQuote) {
            if (!finish()) return;
            start = physical;
            continue;
          }
        } else {
          if (options.quotes && b === QUOTE) inQuote = !inQuote;
          if (b !== SPACE && b !== TAB) nonSpace++;
        }
        length++;
      }
    }
    if (length > 0) finish();
  } finally {
    closeSync(fd);
  }
}

/**
 * Physical lines of the rows DuckDB kept, for the given row indices (0-based, file order).
 * `headerLines`: logical lines before the data (1 for csv/tsv, 0 for jsonl); `skipped`: logical
 * lines DuckDB rejected (1-based), which are not rows. Unknown indices map to undefined.
 */
export function rowLines(
  file: string,
  format: 'csv' | 'tsv' | 'jsonl',
  rowIndices: number[],
  skipped: ReadonlySet<number> = new Set(),
): Map<number, number> {
  const out = new Map<number, number>();
  if (rowIndices.length === 0) return out;
  const wanted = new Set(rowIndices);
  const last = Math.max(...rowIndices);
  const headerLines = format === 'jsonl' ? 0 : 1;
  let row = 0;
  scanLines(file, { quotes: format !== 'jsonl', blankIfWhitespace: format === 'jsonl' }, (line, index) => {
    if (index < headerLines || line.blank || skipped.has(index + 1)) return true;
    if (wanted.has(row)) out.set(row, line.start);
    row++;
    return row <= last;
  });
  return out;
}

/** Physical start lines of the given logical lines (1-based). */
export function physicalLines(file: string, format: 'csv' | 'tsv' | 'jsonl', logical: number[]): Map<number, number> {
  const out = new Map<number, number>();
  if (logical.length === 0) return out;
  const wanted = new Set(logical);
  const last = Math.max(...logical);
  scanLines(file, { quotes: format !== 'jsonl', blankIfWhitespace: format === 'jsonl' }, (line, index) => {
    if (wanted.has(index + 1)) out.set(index + 1, line.start);
    return index + 1 < last;
  });
  return out;
}
