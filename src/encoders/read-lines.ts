/**
 * Reads text line by line over byte chunks (sync), so files larger than a JS string (~512 MB)
 * work: only one chunk and the line it ends in are ever held as a string.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

const CHUNK = 4 << 20;

/** The bytes of a file in chunks of at most `size` bytes (one reused buffer: use each before the next). */
export function* fileChunks(file: string, size = CHUNK): Generator<Uint8Array> {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(size);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Calls `visit(line, lineNumber)` (1-based, without the newline or a trailing \r) for each line of
 * the text the chunks spell (UTF-8; a character or line may straddle chunks) until it returns false.
 */
export function forEachLineOf(chunks: Iterable<Uint8Array>, visit: (line: string, lineNumber: number) => boolean | void): void {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let lineNo = 0;
  const emit = (text: string, last: boolean): boolean => {
    const parts = text.split('\n');
    rest = last ? '' : parts.pop()!;
    for (const p of parts) if (visit(p.endsWith('\r') ? p.slice(0, -1) : p, ++lineNo) === false) return false;
    return true;
  };
  for (const chunk of chunks) if (!emit(rest + decoder.write(chunk as Buffer), false)) return;
  emit(rest + decoder.end(), true);
}

/** `forEachLineOf` over a file's bytes. */
export function forEachLine(file: string, visit: (line: string, lineNumber: number) => boolean | void): void {
  forEachLineOf(fileChunks(file), visit);
}
