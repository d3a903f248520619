/**
 * Line numbers for problems. DuckDB reads a file without telling where each row came from, and
 * it skips blank lines and lets a quoted field span lines, so "header + row index" is wrong as
 * soon as a file has either. This scans the file itself (only when a problem needs a line, and
 * only as far as the last row asked for) and maps row indices to physical 1-based lines.
 *
 * A logical line is what DuckDB's CSV reader calls a line (its rejects table numbers them this
 * way): a record ended by a newline outside quotes; blank lines count, a quoted newline does not.
 *
 * It also owns what DuckDB cannot say itself: where in the file an error of its CSV reader is
 * (`locateCsvError`: the line and the field), and a JSONL file checked line by line
 * (`cleanJsonLines`: a BOM dropped, each line that is not a JSON object reported with its line,
 * the rest kept with their line numbers) when DuckDB refuses the whole file for one bad line.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

export interface LogicalLine {
  /** 1-based physical line where it starts. */
  start: number;
  blank: boolean;
  /** Byte offset of its first byte, and its length in bytes (newlines excluded). */
  offset: number;
  bytes: number;
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
  let pos = 0;
  let lineOffset = 0;
  const finish = (): boolean => {
    const blank = options.blankIfWhitespace ? nonSpace === 0 : length === 0;
    const go = visit({ start, blank, offset: lineOffset, bytes: length }, index++);
    length = 0;
    nonSpace = 0;
    return go;
  };
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      for (let i = 0; i < n; i++, pos++) {
        const b = buf[i];
        if (b === NL && prevCR) {
          // The \n of a \r\n: the newline was counted at the \r.
          prevCR = false;
          lineOffset = pos + 1;
          continue;
        }
        prevCR = b === CR;
        if (b === NL || b === CR) {
          physical++;
          if (!inQuote) {
            if (!finish()) return;
            start = physical;
            lineOffset = pos + 1;
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

/** Bytes of an open file at [offset, offset + length). */
function readBytes(fd: number, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, out, got, length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return out.subarray(0, got);
}

/** `f` with the file open for reading. */
function withFile<T>(file: string, f: (fd: number) => T): T {
  const fd = openSync(file, 'r');
  try {
    return f(fd);
  } finally {
    closeSync(fd);
  }
}

/** Lengths in bytes of a CSV line's fields (quotes respected). */
function fieldLengths(line: Buffer, delim: number): number[] {
  const out: number[] = [];
  let start = 0, inQuote = false;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || (line[i] === delim && !inQuote)) {
      out.push(i - start);
      start = i + 1;
    } else if (line[i] === QUOTE) inQuote = !inQuote;
  }
  return out;
}

/** The header's column names (the first logical line, split on the delimiter, quotes dropped). */
function headerNames(file: string, delim: string): string[] {
  let names: string[] = [];
  scanLines(file, { quotes: true, blankIfWhitespace: false }, (line) => {
    names = withFile(file, (fd) => readBytes(fd, line.offset, Math.min(line.bytes, 1 << 16))).toString('utf8').split(delim).map((n) => n.trim().replace(/^"|"$/g, ''));
    return false;
  });
  return names;
}

export interface CsvErrorLocation {
  line?: number;
  field?: string;
  detail: string;
}

/**
 * Where an error DuckDB's CSV reader raised (instead of rejecting one row) is: its messages
 * number lines within the chunk a thread read ("CSV Error on Line: 1" for line 6) and name no
 * field. A line over the reader's size limit is found by its length, its longest field named;
 * any other error by the line text the message quotes.
 */
export function locateCsvError(file: string, delim: string, message: string): CsvErrorLocation {
  const first = message.split('\n').find((l) => l.trim() && !/^CSV Error on Line/i.test(l.trim()) && !/^Original Line/i.test(l.trim())) ?? message.split('\n')[0];
  const limit = /Maximum line size of (\d+) bytes exceeded/i.exec(message);
  if (limit) {
    const max = Number(limit[1]);
    let found: LogicalLine | null = null;
    scanLines(file, { quotes: true, blankIfWhitespace: false }, (line) => {
      if (line.bytes > max) found = line;
      return found === null;
    });
    if (!found) return { detail: first.trim() };
    const at = found as LogicalLine;
    const lengths = fieldLengths(withFile(file, (fd) => readBytes(fd, at.offset, at.bytes)), delim.charCodeAt(0));
    const longest = lengths.indexOf(Math.max(...lengths));
    const field = headerNames(file, delim)[longest] ?? `column ${longest + 1}`;
    return {
      line: at.start,
      field,
      detail: `the line is ${at.bytes} bytes, more than the CSV reader's limit of ${max} bytes (this field alone is ${lengths[longest]} bytes): is a closing quote missing, or is the file not text?`,
    };
  }
  const quoted = /Original Line:\s*(.*)/i.exec(message)?.[1]?.slice(0, 200);
  if (quoted) {
    const want = Buffer.from(quoted, 'utf8');
    let line: number | undefined;
    withFile(file, (fd) =>
      scanLines(file, { quotes: true, blankIfWhitespace: false }, (l) => {
        if (l.bytes >= want.length && readBytes(fd, l.offset, want.length).equals(want)) line = l.start;
        return line === undefined;
      }),
    );
    return { line, detail: first.trim() };
  }
  return { detail: first.trim() };
}

export interface CleanedJsonLines {
  /** Physical line of each kept row, in order. */
  lines: number[];
  /** Lines that are not a JSON object (line, why), in order; the first `keepRejected` of them. */
  rejected: { line: number; reason: string }[];
  rejectedCount: number;
}

/** JSON objects larger than this are refused (DuckDB's read_json limit). */
const MAX_JSON_LINE = 16 << 20;

/**
 * Copies the JSON-object lines of a JSONL file to `out` (a leading BOM dropped, blank lines
 * skipped) and reports every other line with its physical line number, so one bad line costs one
 * row, as in a CSV file, instead of the whole file.
 */
export function cleanJsonLines(file: string, out: string, keepRejected = 20): CleanedJsonLines {
  const result: CleanedJsonLines = { lines: [], rejected: [], rejectedCount: 0 };
  const reject = (line: number, reason: string) => {
    result.rejectedCount++;
    if (result.rejected.length < keepRejected) result.rejected.push({ line, reason });
  };
  const ofd = openSync(out, 'w');
  const ifd = openSync(file, 'r');
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = () => {
    const b = Buffer.concat(pending);
    for (let off = 0; off < b.length; ) off += writeSync(ofd, b, off, b.length - off);
    pending.length = 0;
    pendingBytes = 0;
  };
  try {
    scanLines(file, { quotes: false, blankIfWhitespace: true }, (line) => {
      if (line.blank) return true;
      if (line.bytes > MAX_JSON_LINE) {
        reject(line.start, `the line is ${line.bytes} bytes, more than the ${MAX_JSON_LINE} a JSON row may have`);
        return true;
      }
      let bytes = readBytes(ifd, line.offset, line.bytes);
      if (line.offset === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch (err) {
        reject(line.start, `not valid JSON (${(err as Error).message})`);
        return true;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        reject(line.start, `a JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not an object of fields`);
        return true;
      }
      pending.push(bytes, Buffer.from('\n'));
      pendingBytes += bytes.length + 1;
      result.lines.push(line.start);
      if (pendingBytes > 1 << 20) flush();
      return true;
    });
    flush();
  } finally {
    closeSync(ofd);
    closeSync(ifd);
  }
  return result;
}
