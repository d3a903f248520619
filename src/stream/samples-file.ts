/**
 * The samples file of `mmctr stream samples`: one JSON line per sample in the order labels became
 * final ({"user", "item", "label", "ts", "hist": [item ids, oldest first], "seq"}). Its durable
 * mark is its byte length after an fsync; restoring a mark cuts what was written after it (samples
 * a killed run made past its last checkpoint, which the restart makes again).
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import type { StreamSample } from './builder.js';
import type { SampleSink } from './run.js';
import { StreamRunError } from './run.js';

export class SamplesFile implements SampleSink {
  private fd: number | null = null;
  private bytes = 0;

  constructor(readonly file: string) {}

  restore(mark: unknown | null): void {
    const bytes = mark === null ? 0 : (mark as { bytes?: unknown }).bytes;
    if (typeof bytes !== 'number') throw new StreamRunError(`the checkpoint's samples mark ${JSON.stringify(mark)} is not a byte length of ${this.file}`);
    const size = existsSync(this.file) ? statSync(this.file).size : 0;
    if (size < bytes) throw new StreamRunError(`${this.file} holds ${size} bytes, fewer than the ${bytes} its checkpoint made durable: it was cut or replaced; start in a new folder`);
    this.fd = openSync(this.file, existsSync(this.file) ? 'r+' : 'w');
    ftruncateSync(this.fd, bytes);
    this.bytes = bytes;
  }

  take(samples: StreamSample[]): void {
    const buf = Buffer.from(samples.map((s) => `${JSON.stringify(s)}\n`).join(''), 'utf8');
    for (let off = 0; off < buf.length; ) off += writeSync(this.fd!, buf, off, buf.length - off, this.bytes + off);
    this.bytes += buf.length;
  }

  durable(): { bytes: number } {
    fsyncSync(this.fd!);
    return { bytes: this.bytes };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** The samples of a samples file. */
export function readSamplesFile(file: string): StreamSample[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as StreamSample);
}
