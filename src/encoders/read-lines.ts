/** Reads a text file line by line in 4 MB chunks (sync), so files larger than a JS string work. */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** Calls `visit(line, lineNumber)` (1-based, without the newline or a trailing \r) until it returns false. */
export function forEachLine(file: string, visit: (line: string, lineNumber: number) => boolean | void): void {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    let lineNo = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      const text = rest + (n > 0 ? decoder.write(buf.subarray(0, n)) : decoder.end());
      const parts = text.split('\n');
      rest = n > 0 ? parts.pop()! : '';
      for (const p of parts) if (visit(p.endsWith('\r') ? p.slice(0, -1) : p, ++lineNo) === false) return;
      if (n === 0) return;
    }
  } finally {
    closeSync(fd);
  }
}
