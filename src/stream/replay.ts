/**
 * A CSV events log (an ad world's events.csv, or any headed CSV) rewritten as the JSON lines a
 * stream replays: one object per row, named by the header, empty fields null, numeric `ts` a
 * number. A world's dataset spec then reads the copy with `"format": "jsonl"`.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { splitCsvLine } from '../data/csv.js';
import { forEachLine } from '../encoders/read-lines.js';

/** Writes `csvFile` as JSON lines to `outFile`; returns the number of events. */
export function csvLogAsJsonLines(csvFile: string, outFile: string): number {
  const fd = openSync(outFile, 'w');
  let names: string[] | null = null;
  let n = 0;
  const lines: string[] = [];
  const flush = () => {
    writeSync(fd, lines.join(''));
    lines.length = 0;
  };
  try {
    forEachLine(csvFile, (line) => {
      if (!line) return;
      const fields = splitCsvLine(line, ',');
      if (!names) {
        names = fields;
        return;
      }
      const row = Object.fromEntries(fields.map((v, k) => [names![k], v === '' ? null : names![k] === 'ts' && Number.isFinite(Number(v)) ? Number(v) : v]));
      lines.push(`${JSON.stringify(row)}\n`);
      if (++n % 10_000 === 0) flush();
    });
    flush();
  } finally {
    closeSync(fd);
  }
  return n;
}
