/**
 * The stream loop: events from a source, read by the dataset spec (`events.ts`), into the sample
 * builder, and finished samples to a consumer (`SampleSink`: the samples file of `mmctr stream
 * samples`). On a timer, at the end and on stop it checkpoints: the sink made durable first,
 * then the builder's state, the reader's chosen time unit, the problem report and the source's
 * position written atomically (`checkpoint.json`), and only then the source acknowledged. A run
 * killed at any point restarts from its last checkpoint: the sink is rolled back to it and the
 * events after it are read again, so no sample is made twice or lost.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SampleConfig } from '../data/sample-config.js';
import type { EventsTableSpec, TimeUnit } from '../data/spec.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import { MmctrError } from '../util/errors.js';
import { BuilderState, SampleBuilder, StreamSample } from './builder.js';
import { EventReader, isProblem, Problem } from './events.js';
import type { EventSource } from './sources.js';

export class StreamRunError extends MmctrError {}

/** Where finished samples go. `durable()` returns a JSON mark it can be rolled back to (`restore`). */
export interface SampleSink {
  take(samples: StreamSample[]): void | Promise<void>;
  durable(): unknown | Promise<unknown>;
  /** Back to a mark `durable()` returned (null: nothing taken yet). */
  restore(mark: unknown | null): void | Promise<void>;
  /** A finite source ended: nothing more will come (before the last checkpoint). */
  end?(): void | Promise<void>;
}

/** Problems counted per kind, the first few kept, as ingest's table report. */
export interface ProblemReport {
  counts: Record<string, number>;
  examples: Problem[];
}

export interface StreamReport {
  source: string;
  events: number;
  /** Events that are no event: not JSON, a field unusable (`problems`). */
  bad: number;
  late: number;
  samples: number;
  clicks: number;
  /** Impressions and events still held (windows open, reorder buffer) when the run stopped. */
  pending: { queued: number; open: number };
  timeUnit: Exclude<TimeUnit, 'auto'> | null;
  problems: ProblemReport;
  /** The run went to the end of a finite source (else it was stopped). */
  ended: boolean;
}

interface Checkpoint {
  version: 1;
  position: unknown;
  sink: unknown;
  builder: BuilderState;
  timeUnit: Exclude<TimeUnit, 'auto'> | null;
  bad: number;
  clicks: number;
  problems: ProblemReport;
  ended: boolean;
}

export interface StreamLoopOptions {
  events: EventsTableSpec;
  samples: Pick<SampleConfig, 'historyLength' | 'ties' | 'clickWindowSeconds'>;
  latenessSeconds: number;
  maxFutureSeconds: number;
  /** Seconds between checkpoints (also at the end and on stop). */
  checkpointSeconds: number;
  /** Opens the source at a saved position (undefined: from its start). */
  source(resume?: unknown): Promise<EventSource>;
  sink: SampleSink;
  /** Holds checkpoint.json. */
  dir: string;
  /** Aborting stops the loop after the batch in hand, with a checkpoint. */
  signal?: AbortSignal;
  now?: () => number;
  batch?: number;
  onProgress?: (report: StreamReport) => void;
}

const MAX_EXAMPLES = 20;

export const CHECKPOINT_FILE = 'checkpoint.json';

function readCheckpoint(file: string): Checkpoint | null {
  if (!existsSync(file)) return null;
  const ck = JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
  if (ck.version !== 1 || !ck.builder) throw new StreamRunError(`${file}: not a stream checkpoint of this version (expected version 1 with the builder's state)`);
  return ck;
}

export async function runStream(o: StreamLoopOptions): Promise<StreamReport> {
  mkdirSync(o.dir, { recursive: true });
  const ckFile = path.join(o.dir, CHECKPOINT_FILE);
  const ck = readCheckpoint(ckFile);
  const config = { historyLength: o.samples.historyLength, ties: o.samples.ties, clickWindowSeconds: o.samples.clickWindowSeconds, latenessSeconds: o.latenessSeconds };
  if (ck && JSON.stringify(ck.builder.config) !== JSON.stringify(config))
    throw new StreamRunError(`${ckFile}: was made with ${JSON.stringify(ck.builder.config)}, this run asks for ${JSON.stringify(config)}: use the same sample config and lateness, or another folder`);
  await o.sink.restore(ck?.sink ?? null);
  const problems: ProblemReport = ck?.problems ?? { counts: {}, examples: [] };
  let bad = ck?.bad ?? 0, clicks = ck?.clicks ?? 0;
  const note = (p: Problem) => {
    const kind = `${p.field ?? '(event)'}: ${p.message.replace(/ \d[\d.e+-]* /, ' N ')}`;
    problems.counts[kind] = (problems.counts[kind] ?? 0) + 1;
    if (problems.examples.length < MAX_EXAMPLES) problems.examples.push(p);
  };
  let out: StreamSample[] = [];
  const onSample = (s: StreamSample) => {
    out.push(s);
    clicks += s.label;
  };
  const builder = ck ? SampleBuilder.restore(ck.builder, onSample, note) : new SampleBuilder(config, onSample, note);
  const reader = new EventReader(o.events, { maxFutureSeconds: o.maxFutureSeconds, now: o.now, unit: ck?.timeUnit });
  const source = await o.source(ck?.position);
  let ended = ck?.ended ?? false;
  const report = (): StreamReport => ({
    source: source.name,
    events: builder.counts.events + bad,
    bad,
    late: builder.counts.late,
    samples: builder.counts.samples,
    clicks,
    pending: builder.pending,
    timeUnit: reader.unit,
    problems,
    ended,
  });
  const hand = async () => {
    if (out.length === 0) return;
    const taken = out;
    out = [];
    await o.sink.take(taken);
  };
  const checkpoint = async () => {
    await hand();
    const state: Checkpoint = { version: 1, position: source.position(), sink: await o.sink.durable(), builder: builder.state(), timeUnit: reader.unit, bad, clicks, problems, ended };
    writeTextAtomic(ckFile, JSON.stringify(state));
    await source.commit();
  };
  let last = Date.now();
  try {
    while (!o.signal?.aborted && !ended) {
      const events = await source.next(o.batch ?? 1000);
      if (events === null) {
        builder.end();
        await hand();
        await o.sink.end?.();
        ended = true;
        break;
      }
      for (const e of events) {
        const ev = e.error !== undefined ? ({ at: e.at, message: e.error } satisfies Problem) : reader.read(e.raw, e.at);
        if (isProblem(ev)) {
          bad++;
          note(ev);
        } else builder.push(ev, e.at);
      }
      await hand();
      o.onProgress?.(report());
      if (Date.now() - last >= o.checkpointSeconds * 1000) {
        await checkpoint();
        last = Date.now();
      }
    }
    await checkpoint();
  } finally {
    await source.close();
  }
  const r = report();
  o.onProgress?.(r);
  return r;
}
