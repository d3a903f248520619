/**
 * Shared helpers of the stream tests (not a test file itself): a log written as JSON lines, built
 * by `data build` and streamed by `runStream`, and both sample sets as sorted text.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SampleConfig } from '../../src/data/sample-config.js';
import { parseDatasetSpec } from '../../src/data/spec.js';
import { runStream, type StreamReport } from '../../src/stream/run.js';
import { readSamplesFile, SamplesFile } from '../../src/stream/samples-file.js';
import { jsonLinesSource } from '../../src/stream/sources.js';
import { buildStore, prng, readSamples } from '../data/helpers.js';

export type LogEvent = Record<string, string | number | null>;

export const sampleKey = (s: { user: string; item: string; ts: number; label: number; hist: string[] }) => `${s.user} ${s.item} @${s.ts} y=${s.label} [${s.hist.join(' ')}]`;

export function writeJsonLines(file: string, events: readonly LogEvent[]): string {
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  return file;
}

/** The events spec of these logs: canonical names, optional extra settings. */
export const logSpec = (extra: Record<string, unknown> = {}) => ({
  name: 'log',
  events: { path: 'events.jsonl', format: 'jsonl', columns: { user_id: 'user', item_id: 'item', ts: 'ts', type: 'type', request_id: 'rid', clicked: 'clicked' }, ...extra },
});

export interface StreamOptions {
  latenessSeconds?: number;
  /** The order events reach the stream (default: the file's). */
  arrival?: readonly LogEvent[];
  now?: () => number;
}

/** Streams `events` (or their arrival order) with the spec and config; returns the samples as sorted keys and the report. */
export async function streamed(dir: string, rawSpec: { events: Record<string, unknown> } & Record<string, unknown>, config: unknown, events: readonly LogEvent[], o: StreamOptions = {}, name = 'stream'): Promise<{ keys: string[]; report: StreamReport; order: string[] }> {
  const file = writeJsonLines(path.join(dir, `${name}.jsonl`), o.arrival ?? events);
  const spec = parseDatasetSpec(rawSpec, path.join(dir, 'dataset.json'), dir);
  const out = path.join(dir, name);
  const sink = new SamplesFile(path.join(dir, `${name}.samples.jsonl`));
  const sample = SampleConfig.parse(config);
  const report = await runStream({
    events: spec.events!,
    samples: sample,
    latenessSeconds: o.latenessSeconds ?? 0,
    maxFutureSeconds: 86_400,
    checkpointSeconds: 3600,
    source: async (resume) => jsonLinesSource(file, resume),
    sink,
    dir: out,
    now: o.now,
  });
  sink.close();
  const samples = readSamplesFile(sink.file);
  return { keys: samples.map(sampleKey).sort(), report, order: samples.map(sampleKey) };
}

/** `data build` of the same log (written as the spec's events.jsonl): its samples as sorted keys. */
export async function built(dir: string, rawSpec: unknown, config: unknown, events: readonly LogEvent[]): Promise<string[]> {
  writeJsonLines(path.join(dir, 'events.jsonl'), events);
  const { store } = await buildStore(dir, rawSpec, config);
  return readSamples(store).rows.map(sampleKey).sort();
}

/**
 * The order events reach a stream when each timestamp is delayed by up to `maxDelay` seconds
 * (seeded); events of one time keep their file order, so the batch's tie order is the stream's.
 */
export function arrivalOrder(events: readonly LogEvent[], maxDelay: number, seed: number): LogEvent[] {
  const r = prng(seed);
  const delay = new Map<number, number>();
  return events
    .map((e, i) => {
      const ts = Number(e.ts);
      if (!delay.has(ts)) delay.set(ts, Math.floor(r() * maxDelay));
      return { e, at: ts + delay.get(ts)!, i };
    })
    .sort((a, b) => a.at - b.at || a.i - b.i)
    .map((x) => x.e);
}
