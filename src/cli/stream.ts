/**
 * `mmctr stream samples | train`: events from a JSON-lines file, stdin or a Redis Stream, made into
 * samples with `data build`'s rules as they arrive (src/stream/), written to <out>/samples.jsonl,
 * or trained on once each from a trained run (<out>/model, <out>/checkpoints), with checkpoints
 * beside them. Run again on the same --out to resume; SIGTERM / Ctrl-C stop it after a checkpoint.
 */
import { Command, Option } from 'commander';
import path from 'node:path';
import { z } from 'zod';
import { readSampleConfig, SampleConfig } from '../data/sample-config.js';
import { readDatasetSpec } from '../data/spec.js';
import { DataError } from '../data/errors.js';
import { connectRedis } from '../index/redis.js';
import { openRun } from '../ctr/run.js';
import { runStream, SampleSink, StreamReport } from '../stream/run.js';
import { freshnessSummary, StreamTrainer } from '../stream/train.js';
import { SamplesFile } from '../stream/samples-file.js';
import { EventSource, jsonLinesSource, pacedSource, redisSource } from '../stream/sources.js';
import { UsageError } from '../util/errors.js';
import { existingDir, existingFile, number } from './options.js';

const seconds = number(z.number().nonnegative());

interface Opts {
  out: string;
  config?: string;
  from?: string;
  events?: string;
  redis?: string;
  key: string;
  group: string;
  consumer: string;
  lateness: number;
  maxFuture: number;
  checkpointSeconds: number;
  rate?: number;
  publishSeconds: number;
  publishSamples: number;
  compareFrozen?: boolean;
  retrainSeen?: boolean;
  json?: boolean;
}

function reportLines(out: string, r: StreamReport): string[] {
  const lines = [
    `samples      ${path.join(out, 'samples.jsonl')}: ${r.samples} samples (${r.clicks} clicked) from ${r.events} events of ${r.source}${r.ended ? '' : ' (stopped; run again to go on)'}`,
    `left out     ${r.bad} bad events, ${r.late} late ones`,
  ];
  if (!r.ended) lines.push(`pending      ${r.pending.queued} events waiting to be put in order, ${r.pending.open} impressions with an open click window`);
  if (r.timeUnit) lines.push(`time         numbers read as epoch ${r.timeUnit}`);
  for (const [kind, n] of Object.entries(r.problems.counts)) lines.push(`  ${String(n).padStart(7)} x ${kind}`);
  for (const p of r.problems.examples.slice(0, 10)) lines.push(`  ${p.at}${p.field ? ` field '${p.field}'` : ''}: ${p.message}${p.value !== undefined ? ` (value '${p.value}')` : ''}`);
  return lines;
}

/** The options every stream command takes: where events come from, lateness, checkpoints. */
function sourceOptions(command: Command): Command {
  return command
    .argument('<dataset>', 'dataset spec (dataset.json): its events table says which field of an event is what', existingFile('a dataset spec (dataset.json)'))
    .requiredOption('--out <dir>', 'the output folder, with checkpoint.json (an existing one is resumed)')
    .addOption(new Option('--events <file>', "a JSON-lines events file, or '-' for stdin").conflicts('redis'))
    .option('--redis <url>', 'read a Redis Stream with a consumer group (redis://host:port/db)')
    .option('--key <key>', 'the Redis Stream key', 'mmctr:events')
    .option('--group <name>', 'the consumer group', 'mmctr-stream')
    .option('--consumer <name>', "this reader's name in the group (a restart under it reads its unacknowledged entries again)", 'stream-1')
    .option('--lateness <s>', 'events up to this many seconds older than the newest seen are put in order; older ones are late (counted)', seconds, 60)
    .option('--max-future <s>', 'events more than this many seconds past the wall clock are bad (counted)', seconds, 3600)
    .option('--checkpoint-seconds <s>', 'seconds between checkpoints (also at the end and on stop)', seconds, 30)
    .option('--rate <events/s>', 'replay at most this many events per second of wall time (a log replayed as a live stream would arrive)', number(z.number().positive()))
    .option('--json', 'print the report as JSON');
}

/** Runs the stream into `sink` until the source ends or a signal stops it; prints progress to stderr. */
async function stream(file: string, opts: Opts, config: SampleConfig, sink: SampleSink, status: () => string = () => ''): Promise<StreamReport> {
  if (!opts.events && !opts.redis) throw new UsageError('give --events <file|-> or --redis <url>: where the events come from');
  const spec = readDatasetSpec(file);
  if (!spec.events) throw new DataError({ file, field: 'events' }, 'the dataset spec has no events table: it says which field of an event is what');
  const client = opts.redis ? connectRedis(opts.redis) : null;
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  let shown = Date.now();
  try {
    return await runStream({
      events: spec.events,
      samples: config,
      latenessSeconds: opts.lateness,
      maxFutureSeconds: opts.maxFuture,
      checkpointSeconds: opts.checkpointSeconds,
      source: async (resume): Promise<EventSource> => {
        const source = client ? await redisSource({ client, stream: opts.key, group: opts.group, consumer: opts.consumer }, resume) : jsonLinesSource(opts.events!, resume);
        return opts.rate ? pacedSource(source, opts.rate) : source;
      },
      sink,
      dir: opts.out,
      signal: abort.signal,
      onProgress: (r) => {
        if (opts.json || Date.now() - shown < 5000) return;
        shown = Date.now();
        console.error(`stream: ${r.events} events, ${r.samples} samples, ${r.bad} bad, ${r.late} late, ${r.pending.open} open${status()}`);
      },
    });
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    client?.disconnect();
  }
}

export function registerStream(program: Command): void {
  const command = program.command('stream').description('live events (a JSON-lines file, stdin or a Redis Stream) into samples with the rules of `data build`, or into one-pass training');
  sourceOptions(command.command('samples'))
    .description('stream events into samples (label final at its click, or as a negative once the click window closes; history = earlier clicks) in <out>/samples.jsonl')
    .option('--config <file>', 'sample config JSON (history length, ties, click window)', existingFile('a sample config (JSON)'))
    .action(async (file: string, opts: Opts) => {
      const config = opts.config ? readSampleConfig(opts.config) : SampleConfig.parse({});
      const sink = new SamplesFile(path.join(opts.out, 'samples.jsonl'));
      try {
        const report = await stream(file, opts, config, sink);
        if (opts.json) console.log(JSON.stringify({ out: path.resolve(opts.out), ...report }));
        else console.log(reportLines(opts.out, report).join('\n'));
      } finally {
        sink.close();
      }
    });
  sourceOptions(command.command('train'))
    .description("train a run's model once on each streamed sample as its label becomes final (progressive validation: predicted before trained); publishes <out>/model, a run folder `mmctr serve` opens")
    .requiredOption('--from <run>', "a trained run folder: its model, and its store's id maps and sample config", existingDir('a run folder (`mmctr train`)'))
    .option('--publish-seconds <s>', 'publish <out>/model after this many seconds of training since the last publication (0: at checkpoints only)', seconds, 10)
    .option('--publish-samples <n>', 'also publish after this many samples trained (0: by time only)', number(z.number().int().nonnegative()), 0)
    .option('--compare-frozen', 'also score every sample with the starting model held fixed: each window shows what streaming gained')
    .option('--retrain-seen', "train again on samples at or before the end of the run's training period (default: a replay of the run's own log only builds histories there)")
    .action(async (file: string, opts: Opts) => {
      const { config, store, model } = openRun(opts.from!);
      const trainer = new StreamTrainer(model, config, store, opts.from!, opts.out, { publishSeconds: opts.publishSeconds, publishSamples: opts.publishSamples, compareFrozen: opts.compareFrozen, retrainSeen: opts.retrainSeen });
      const status = () => `, ${trainer.progress.trained} trained`;
      const report = await stream(file, opts, store.meta.config, trainer, status);
      const p = trainer.progress;
      const fresh = freshnessSummary(trainer.freshnessSeconds);
      const result = { out: path.resolve(opts.out), ...report, trained: p.trained, skipped: p.skipped, published: p.published, freshness: fresh, unknownUsers: p.unknownUsers, unknownItems: p.unknownItems, windows: p.curve };
      if (opts.json) console.log(JSON.stringify(result));
      else {
        console.log(reportLines(opts.out, report).slice(1).join('\n'));
        console.log(`trained      ${p.trained} samples once each (${p.unknownUsers} of unknown users, ${p.unknownItems} of unknown items: row 0; ${p.skipped} the run had trained on, not again); model in ${path.join(opts.out, 'model')}`);
        console.log(`published    ${p.published} versions; freshness (a click taken to a published model trained on it) p50 ${fresh.p50_s ?? '-'} s, p95 ${fresh.p95_s ?? '-'} s over ${fresh.clicks} clicks`);
        const g = (v: number | null) => (v === null ? '-' : v.toFixed(4));
        for (const w of p.curve)
          console.log(`  after ${String(w.samples).padStart(8)}: AUC ${w.auc.toFixed(4)} GAUC ${w.gauc.toFixed(4)} logloss ${w.logloss.toFixed(4)}; new items (${w.newCount}) GAUC ${g(w.newGauc)}${w.frozen ? `; frozen: GAUC ${g(w.frozen.gauc)}, new ${g(w.frozen.newGauc)}` : ''}`);
      }
    });
}
