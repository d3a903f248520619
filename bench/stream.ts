/**
 * bench:stream — streaming sample building against `data build` on a generated ad world (preset
 * `small` by default: the built-in catalogue, no downloads). The world's log is replayed as JSON
 * lines, once through `data build` (ingest + buildSamples) and once through `runStream` (the events
 * arriving out of order by up to 30 s, lateness 60 s); the two sample sets must be the same.
 * Then the same DIN (ID features, embedding 16) is trained one epoch in batch on the store's
 * training split (`fit`) and, from that run, streamed once over the whole log (`mmctr stream
 * train`'s trainer, events read and put in order included). Last line: {"equivalent", "events",
 * "samples", "late", "bad", "stream_build_samples_per_s", "batch_build_samples_per_s",
 * "samples_per_s" (streaming training, end to end), "batch_samples_per_s" (fit), "gauc_stream"
 * (progressive validation over the last window), "load1"}. Freshness, the frozen model's GAUC and
 * resume are not measured here (resume: test/stream/train.test.ts).
 * Options: --preset <name>, --seed <n>, --out <dir> (default runs/bench-stream), --json.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExperimentConfig } from '../src/ctr/config.js';
import { openRun, trainRun } from '../src/ctr/run.js';
import { StreamTrainer } from '../src/stream/train.js';
import { buildStoreFromSpec } from '../src/data/samples.js';
import { readSampleConfig, SPLITS } from '../src/data/sample-config.js';
import { runStream } from '../src/stream/run.js';
import { csvLogAsJsonLines } from '../src/stream/replay.js';
import { readSamplesFile, SamplesFile } from '../src/stream/samples-file.js';
import { jsonLinesSource } from '../src/stream/sources.js';
import { readDatasetSpec } from '../src/data/spec.js';
import { repoRoot } from '../src/util/paths.js';
import { generateWorld } from '../src/world/generate.js';
import { PRESET_NAMES, PresetName, worldParams } from '../src/world/params.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const preset = (opt('preset') ?? 'small') as PresetName;
if (!PRESET_NAMES.includes(preset)) {
  console.error(`--preset must be one of ${PRESET_NAMES.join(', ')}`);
  process.exit(2);
}
const out = path.resolve(opt('out') ?? path.join(repoRoot(), 'runs', 'bench-stream'));
const world = await generateWorld(worldParams(preset, { seed: opt('seed') === undefined ? undefined : Number(opt('seed')) }), path.join(out, 'world'));
const events = csvLogAsJsonLines(path.join(world.dir, 'events.csv'), path.join(world.dir, 'events.jsonl'));
const rawSpec = JSON.parse(readFileSync(world.specFile, 'utf8'));
rawSpec.events = { ...rawSpec.events, path: 'events.jsonl', format: 'jsonl' };
const specFile = path.join(world.dir, 'dataset-jsonl.json');
writeFileSync(specFile, JSON.stringify(rawSpec, null, 2));
const config = readSampleConfig(world.sampleConfigFile);

// Arrival order: each second of the log delayed by up to 30 s (events of one time keep their order).
const lines = readFileSync(path.join(world.dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean);
let seed = 7;
const delay = new Map<number, number>();
const arrival = lines
  .map((l, i) => {
    const ts = (JSON.parse(l) as { ts: number }).ts;
    if (!delay.has(ts)) delay.set(ts, ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % 30);
    return { l, at: ts + delay.get(ts)!, i };
  })
  .sort((a, b) => a.at - b.at || a.i - b.i);
const arrivalFile = path.join(out, 'arrival.jsonl');
writeFileSync(arrivalFile, arrival.map((x) => x.l).join('\n') + '\n');

const key = (s: { user: string; item: string; ts: number; label: number; hist: string[] }) => `${s.user} ${s.item} ${s.ts} ${s.label} ${s.hist.join(' ')}`;

let t = performance.now();
const { store } = await buildStoreFromSpec(specFile, config, path.join(out, 'store'));
const batchSeconds = (performance.now() - t) / 1000;
const batchKeys: string[] = [];
for (const split of SPLITS) {
  const reader = store.split(split);
  const b = reader.readRange(0, reader.count);
  const L = reader.historyLength;
  const users = store.users;
  for (let i = 0; i < b.size; i++) {
    const hist: string[] = [];
    for (let k = 0; k < b.histLen[i]; k++) hist.push(store.catalog.ids[b.hist[i * L + k] - 1]);
    batchKeys.push(key({ user: users[b.user[i] - 1], item: store.catalog.ids[b.item[i] - 1], ts: b.ts[i], label: b.label[i], hist }));
  }
  reader.close();
}

const streamDir = path.join(out, 'stream');
rmSync(streamDir, { recursive: true, force: true });
const sink = new SamplesFile(path.join(streamDir, 'samples.jsonl'));
t = performance.now();
const report = await runStream({
  events: readDatasetSpec(specFile).events!,
  samples: config,
  latenessSeconds: 60,
  maxFutureSeconds: 3600,
  checkpointSeconds: 30,
  source: async (resume) => jsonLinesSource(arrivalFile, resume),
  sink,
  dir: streamDir,
});
const streamSeconds = (performance.now() - t) / 1000;
sink.close();
const streamKeys = readSamplesFile(sink.file).map(key);
const sorted = (a: string[]) => [...a].sort();
const equivalent = JSON.stringify(sorted(streamKeys)) === JSON.stringify(sorted(batchKeys));
// Training: batch one epoch, then one streamed pass from that run.
const runDir = path.join(out, 'run');
const trainConfig = ExperimentConfig.parse({ name: 'bench-stream', data: { store: path.join(out, 'store') }, model: { model: 'din', embeddingDim: 16, mlpHidden: [64, 32] }, train: { batchSize: 256, lr: 0.002, epochs: 1 } });
const fitted = trainRun(trainConfig, store, runDir);
const trainDir = path.join(out, 'stream-train');
rmSync(trainDir, { recursive: true, force: true });
const opened = openRun(runDir);
const trainer = new StreamTrainer(opened.model, opened.config, opened.store, runDir, trainDir, { windowSize: 5000 });
t = performance.now();
const trained = await runStream({
  events: readDatasetSpec(specFile).events!,
  samples: opened.store.meta.config,
  latenessSeconds: 60,
  maxFutureSeconds: 3600,
  checkpointSeconds: 30,
  source: async (resume) => jsonLinesSource(arrivalFile, resume),
  sink: trainer,
  dir: trainDir,
});
const trainSeconds = (performance.now() - t) / 1000;
const curve = trainer.progress.curve;
console.log(`training: fit ${fitted.fit.samples} samples at ${Math.round(fitted.fit.samplesPerSecond)}/s; stream ${trainer.progress.trained} samples in ${trainSeconds.toFixed(1)} s (steps alone ${trainer.stepSeconds.toFixed(1)} s); last window GAUC ${curve[curve.length - 1]?.gauc.toFixed(4)}`);
const load1 = os.loadavg()[0];
console.log(`world ${preset}: ${events} events; data build ${batchKeys.length} samples in ${batchSeconds.toFixed(2)} s; stream ${report.samples} samples in ${streamSeconds.toFixed(2)} s (${report.late} late, ${report.bad} bad); same samples: ${equivalent}; load ${load1.toFixed(2)} on ${os.cpus().length} cores`);
const result = {
  equivalent,
  events,
  samples: report.samples,
  late: report.late,
  bad: report.bad,
  stream_build_samples_per_s: Math.round(report.samples / streamSeconds),
  batch_build_samples_per_s: Math.round(batchKeys.length / batchSeconds),
  samples_per_s: Math.round(trained.samples / trainSeconds),
  batch_samples_per_s: Math.round(fitted.fit.samplesPerSecond),
  gauc_stream: Number(curve[curve.length - 1]?.gauc.toFixed(4)),
  load1: Number(load1.toFixed(2)),
};
console.log(args.includes('--json') ? JSON.stringify(result) : result);
if (!equivalent) process.exitCode = 1;
