/**
 * What the built-in adapters share: reading a delimited source file line by line with its line
 * numbers, writing canonical CSV files, and the result every adapter returns.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { writeFileAtomic, writeTextAtomic } from '../../util/atomic-write.js';
import { DataError } from '../errors.js';
import { csvField, splitCsvLine } from '../csv.js';
import { SampleConfig } from '../sample-config.js';

/** A canonical dataset written by an adapter. */
export interface PreparedDataset {
  name: string;
  outDir: string;
  /** dataset.json: the spec `mmctr data check / build` read. */
  specFile: string;
  /** sample-config.json: the sample settings the adapter defines (also returned as `samples`). */
  sampleConfigFile: string;
  samples: SampleConfig;
  /** What the adapter did that a user should know (skipped rows, shifted times, ...). */
  notes: string[];
  counts: Record<string, number>;
}

/** Source rows that could not be used: counted, and the first few kept with file:line field. */
export class SkipLog {
  count = 0;
  readonly examples: string[] = [];

  add(file: string, line: number, field: string, message: string): void {
    this.count++;
    if (this.examples.length < 5) this.examples.push(`${path.basename(file)}:${line} field '${field}': ${message}`);
  }

  /** "N <what>s skipped (first: ...)", or null when none were. */
  note(what: string): string | null {
    if (this.count === 0) return null;
    return `${this.count} ${what}${this.count === 1 ? '' : 's'} skipped (first: ${this.examples.join('; ')})`;
  }
}

export function requireFile(file: string): void {
  if (!existsSync(file)) throw new DataError({ file }, 'does not exist');
  if (statSync(file).isDirectory()) throw new DataError({ file }, 'is a folder, not a data file');
  if (statSync(file).size === 0) throw new DataError({ file }, 'is empty: expected a header line and data rows');
}

/**
 * The folder a built-in adapter reads: `src` when given, else its folder in the shared data; a
 * missing shared folder is named with both ways to point elsewhere (the adapter is reached from
 * `mmctr data prepare` and from a config's data.adapter alike).
 */
export function adapterSource(adapter: string, src: string | undefined, sharedFolder: string): string {
  if (src !== undefined) return src;
  if (!existsSync(sharedFolder))
    throw new DataError(
      { file: sharedFolder },
      `does not exist: the built-in '${adapter}' data is read from the shared data folder (set MMCTR_SHARED_DATA to the folder holding it), or from another folder with \`mmctr data prepare ${adapter} --src <folder> --out <dataset>\` (then point the config's data.dataset at <dataset>/dataset.json)`,
    );
  return sharedFolder;
}

export interface SourceRow {
  line: number;
  fields: string[];
}

/**
 * Reads a delimited file with a header. `header` gets the header's names (a ':type' suffix, as in
 * RecBole's typed headers, removed). Blank lines are skipped; a row with the wrong number of
 * fields goes to `skip`.
 */
export async function* readDelimited(file: string, delimiter: string, skip: SkipLog, header: (names: string[]) => void, quoted = false): AsyncGenerator<SourceRow> {
  requireFile(file);
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  let width = -1;
  for await (const raw of lines) {
    n++;
    const text = n === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (text.trim() === '') continue;
    const fields = quoted ? splitCsvLine(text, delimiter) : text.split(delimiter);
    if (width < 0) {
      width = fields.length;
      header(fields.map((f) => f.trim().replace(/:[a-z_]+$/i, '')));
      continue;
    }
    if (fields.length !== width) {
      skip.add(file, n, '(row)', `has ${fields.length} fields, the header has ${width}`);
      continue;
    }
    yield { line: n, fields };
  }
  if (width < 0) throw new DataError({ file }, 'has no header line');
}

/** Index of each wanted column in a header; a missing one is a DataError listing the header. */
export function columnIndex<K extends string>(file: string, names: string[], wanted: readonly K[]): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const w of wanted) {
    const i = names.indexOf(w);
    if (i < 0) throw new DataError({ file, field: w }, `column not found; the file has columns: ${names.join(', ')}`);
    out[w] = i;
  }
  return out;
}

/** Collects CSV rows and writes them atomically. */
export class CsvOut {
  private readonly parts: Buffer[] = [];
  private pending: string[] = [];
  rows = 0;

  constructor(
    readonly file: string,
    header: string[],
  ) {
    this.pending.push(header.map(csvField).join(','));
  }

  add(values: (string | number | null | undefined)[]): void {
    this.pending.push(values.map(csvField).join(','));
    this.rows++;
    if (this.pending.length >= 8192) this.flush();
  }

  private flush(): void {
    if (this.pending.length) this.parts.push(Buffer.from(this.pending.join('\n') + '\n', 'utf8'));
    this.pending = [];
  }

  close(): void {
    this.flush();
    writeFileAtomic(this.file, this.parts);
  }
}

/** Writes dataset.json and sample-config.json beside the data files. */
export function writeDatasetFiles(outDir: string, spec: object, samples: SampleConfig): { specFile: string; sampleConfigFile: string } {
  const specFile = path.join(outDir, 'dataset.json');
  const sampleConfigFile = path.join(outDir, 'sample-config.json');
  writeTextAtomic(specFile, JSON.stringify(spec, null, 2) + '\n');
  writeTextAtomic(sampleConfigFile, JSON.stringify(samples, null, 2) + '\n');
  return { specFile, sampleConfigFile };
}
