/**
 * bench:stream — streaming sample building against `data build` on a generated ad world (preset
 * `small` by default: the built-in catalogue, no downloads). The world's log is replayed as JSON
 * lines, once through `data build` (ingest + buildSamples) and once through `runStream` (the events
 * arriving out of order by up to 30 s, lateness 60 s); the two sample sets must be the same.
 * Then the same DIN (ID features, embedding 16) is trained one epoch in batch on the store's
 * training split (`fit`) and, from that run, streamed three times (`mmctr stream train`'s trainer,
 * events read and put in order included): (1) every sample, unpaced, for throughput; (2) the same,
 * killed twice and restarted, whose weights must equal (1)'s bit for bit; (3) live: the log
 * replayed at a fixed rate (all of it in --pace-seconds, default 60), publications on the default
 * cadence, the frozen base scored beside the streamed model on the samples after its training
 * period. Last line: {"equivalent", "events", "samples", "late", "bad",
 * "stream_build_samples_per_s", "batch_build_samples_per_s", "samples_per_s" (1, end to end),
 * "batch_samples_per_s" (fit), "freshness_p95_s", "freshness_p50_s" (3: a clicked sample taken to
 * the end of the publication that trained on it), "gauc_stream", "gauc_frozen", "gauc_new_stream",
 * "gauc_new_frozen" (3: progressive GAUC, sample-weighted over the windows), "resume_identical",
 * "load1"}. `npm run bench:stream` runs it under `node --single-threaded-gc` (docs/streaming.md:
 * V8's collector threads against the engine's OpenMP threads).
 * Options: --preset <name>, --seed <n>, --out <dir> (default runs/bench-stream), --pace-seconds <s>, --json.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExperimentConfig } from '../src/ctr/config.js';
import { openRun, trainRun } from '../src/ctr/run.js';
import { freshnessSummary, pooledWindows, StreamTrainer, StreamTrainerOptions, WindowMetrics, WindowScores } from '../src/stream/train.js';
import { buildStoreFromSpec } from '../src/data/samples.js';
import { readSampleConfig, SPLITS } from '../src/data/sample-config.js';
import { runStream } from '../src/stream/run.js';
import { csvLogAsJsonLines } from '../src/stream/replay.js';
import { readSamplesFile, SamplesFile } from '../src/stream/samples-file.js';
import { jsonLinesSource, pacedSource } from '../src/stream/sources.js';
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
// The streamed passes: each a fresh trainer from the batch run, over the arrival-ordered log.
const spec = readDatasetSpec(specFile).events!;
class Crash extends Error {}
async function streamTrain(dir: string, options: StreamTrainerOptions, o: { rate?: number; checkpointSeconds?: number; crashAt?: number } = {}) {
  const opened = openRun(runDir);
  const trainer = new StreamTrainer(opened.model, opened.config, opened.store, runDir, dir, options);
  let batches = 0;
  const started = performance.now();
  const report = await runStream({
    events: spec,
    samples: opened.store.meta.config,
    latenessSeconds: 60,
    maxFutureSeconds: 3600,
    checkpointSeconds: o.checkpointSeconds ?? 30,
    source: async (resume) => (o.rate ? pacedSource(jsonLinesSource(arrivalFile, resume), o.rate) : jsonLinesSource(arrivalFile, resume)),
    sink: trainer,
    dir,
    onProgress: () => {
      if (++batches === o.crashAt) throw new Crash();
    },
  });
  return { trainer, report, seconds: (performance.now() - started) / 1000 };
}
const weightsOf = (dir: string) => readFileSync(path.join(dir, 'model', 'model.safetensors'));

// 1. Throughput: every sample trained (the run's own period too, as fit trains it), unpaced.
const throughputDir = path.join(out, 'stream-train');
rmSync(throughputDir, { recursive: true, force: true });
const whole = await streamTrain(throughputDir, { windowSize: 5000, retrainSeen: true });
const trainSeconds = whole.seconds;
console.log(`training: fit ${fitted.fit.samples} samples at ${Math.round(fitted.fit.samplesPerSecond)}/s; stream ${whole.trainer.progress.trained} samples in ${trainSeconds.toFixed(1)} s (steps alone ${whole.trainer.stepSeconds.toFixed(1)} s)`);

// 2. Killed twice (checkpoints after every batch of events) and restarted: the same weights as pass 1.
const resumeDir = path.join(out, 'stream-resume');
rmSync(resumeDir, { recursive: true, force: true });
const resumeOptions = { windowSize: 5000, retrainSeen: true };
for (const crashAt of [7, 5]) await streamTrain(resumeDir, resumeOptions, { checkpointSeconds: 0, crashAt }).catch((err) => { if (!(err instanceof Crash)) throw err; });
const resumed = await streamTrain(resumeDir, resumeOptions, { checkpointSeconds: 0 });
const resumeIdentical = weightsOf(resumeDir).equals(weightsOf(throughputDir)) && resumed.trainer.progress.trained === whole.trainer.progress.trained;
console.log(`resume: killed at batches 7 and 5, restarted: ${resumeIdentical ? 'the same weights, bit for bit' : 'DIFFERENT weights'} (${resumed.trainer.progress.trained} samples)`);

// 3. Live: the log replayed at a fixed rate, publications on the default cadence, the frozen base
// scored beside the streamed model on the days after its training period.
const paceSeconds = Number(opt('pace-seconds') ?? 60);
const rate = events / paceSeconds;
const liveDir = path.join(out, 'stream-live');
rmSync(liveDir, { recursive: true, force: true });
const live = await streamTrain(liveDir, { windowSize: 2000, compareFrozen: true }, { rate });
const fresh = freshnessSummary(live.trainer.freshnessSeconds);
const curve = live.trainer.progress.curve;
const pooledGauc = (scores: (w: WindowMetrics) => WindowScores | null, fresh: boolean) => {
  const m = pooledWindows(curve, scores, fresh);
  return m ? Number(m.gauc.toFixed(4)) : null;
};
const gaucs = {
  stream: pooledGauc((w) => w, false),
  frozen: pooledGauc((w) => w.frozen, false),
  newStream: pooledGauc((w) => w, true),
  newFrozen: pooledGauc((w) => w.frozen, true),
};
console.log(`live: ${events} events at ${Math.round(rate)}/s; ${live.trainer.progress.trained} samples trained after the run's period (${live.trainer.progress.skipped} before it only built histories), ${live.trainer.progress.published} publications; freshness p50 ${fresh.p50_s} s, p95 ${fresh.p95_s} s, max ${fresh.max_s} s over ${fresh.clicks} clicks`);
console.log(`progressive GAUC (sample-weighted over ${curve.length} windows): streamed ${gaucs.stream}, frozen ${gaucs.frozen}; new items: streamed ${gaucs.newStream}, frozen ${gaucs.newFrozen}`);
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
  samples_per_s: Math.round(whole.trainer.progress.trained / trainSeconds),
  batch_samples_per_s: Math.round(fitted.fit.samplesPerSecond),
  freshness_p95_s: fresh.p95_s,
  freshness_p50_s: fresh.p50_s,
  gauc_stream: gaucs.stream,
  gauc_frozen: gaucs.frozen,
  gauc_new_stream: gaucs.newStream,
  gauc_new_frozen: gaucs.newFrozen,
  resume_identical: resumeIdentical,
  load1: Number(load1.toFixed(2)),
};
console.log(args.includes('--json') ? JSON.stringify(result) : result);
if (!equivalent || !resumeIdentical) process.exitCode = 1;
