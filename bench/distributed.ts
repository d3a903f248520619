/**
 * bench:distributed — data-parallel training over MPI against one process (issue 17). The same
 * DIN, seed and global batch trained by `mmctr train` in one process with one engine thread, and
 * by `mpirun -np <ranks> mmctr train --distributed` with one thread per rank and a local batch of
 * global / ranks; interleaved (single, distributed, single, ...) so both see the same neighbours.
 * Every run is a fresh process under GNU time (bench/measure.ts): its wall, CPU and peak RSS with
 * the load average. Beside them, the machine's ceiling: `ranks` independent trainings of the
 * local batch at once, no communication. Training throughput is the fit's samples per second of training (evaluation
 * and store opening left out: the first run may build the store, which only its wall time shows), the median over the repeats; the quality is the
 * test split's AUC / GAUC (the runs are deterministic: every repeat gives the same numbers).
 *
 * Data: --data movielens (MovieLens-100k, configs/movielens-din.json; the default where the shared
 * data is present) or --data world (an ad world through pipeline/world.ts, --preset small|medium,
 * configs/adworld-din-id.json; the default without the shared data).
 * Options: --ranks <n> (default 2), --batch <n> (the global batch; default the config's),
 * --epochs <n> (default the config's), --repeats <n> (default 2), --batch-statistics global|local
 * (train.batchStatistics of the distributed run; default global), --runs <dir>.
 * Last line with --json: {"ranks", "auc_single", "auc_distributed", "gauc_single",
 * "gauc_distributed", "samples_per_s_single", "samples_per_s_distributed", "bytes_per_step", ...}.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { distributedUnavailable } from '../src/distributed/mpi.js';
import { ensureWorld } from '../src/pipeline/world.js';
import { repoRoot, runsDir, sharedDataDir } from '../src/util/paths.js';
import { Measured, measureCommand, measuredLine } from './measure.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const fail = (message: string): never => {
  console.error(`bench:distributed: ${message}`);
  process.exit(2);
};
const count = (name: string, fallback: number): number => {
  const v = opt(name) === undefined ? fallback : Number(opt(name));
  if (!Number.isInteger(v) || v <= 0) fail(`--${name} must be a positive integer, got '${opt(name)}'`);
  return v;
};
const root = repoRoot();
const hasMovielens = existsSync(path.join(sharedDataDir(), 'movielens-100k'));
const data = opt('data') ?? (hasMovielens ? 'movielens' : 'world');
if (data !== 'movielens' && data !== 'world') fail(`--data must be movielens or world, got '${data}'`);
if (data === 'movielens' && !hasMovielens) fail(`--data movielens needs MovieLens-100k at ${path.join(sharedDataDir(), 'movielens-100k')} (set MMCTR_SHARED_DATA), or use --data world`);
const ranks = count('ranks', 2);
const repeats = count('repeats', 2);
const unavailable = distributedUnavailable();
if (unavailable) {
  console.error(`bench:distributed: MPI is not available here: ${unavailable}`);
  process.exit(1);
}
const runs = path.resolve(opt('runs') ?? runsDir());
const work = path.join(runs, 'bench-distributed');
mkdirSync(work, { recursive: true });
const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(0);

// The experiment config, its data made absolute so the copies below can live in the work folder.
const base = JSON.parse(readFileSync(path.join(root, 'configs', data === 'movielens' ? 'movielens-din.json' : 'adworld-din-id.json'), 'utf8'));
delete base.$schema;
if (data === 'world') {
  const preset = opt('preset') ?? 'small';
  const world = await ensureWorld({ preset, seed: 1, catalog: preset === 'small' ? 'builtin' : 'fashion' }, runs, { log: (l) => console.log(`[${secs()} s] ${l}`) });
  base.data.dataset = world.specFile;
  base.name = `adworld-${preset}-din-id`;
}
const globalBatch = count('batch', base.train.batchSize);
if (globalBatch % ranks !== 0) fail(`--batch ${globalBatch} must divide by --ranks ${ranks} (the local batch is global / ranks)`);
const epochs = count('epochs', base.train.epochs);
const batchStatistics = opt('batch-statistics') ?? 'global';
if (batchStatistics !== 'global' && batchStatistics !== 'local') fail(`--batch-statistics must be global or local, got '${batchStatistics}'`);
const configFile = (kind: string, batchSize: number, extra: Record<string, unknown> = {}) => {
  const file = path.join(work, `${base.name}-${kind}.json`);
  writeFileSync(file, JSON.stringify({ ...base, name: `${base.name}-${kind}`, train: { ...base.train, batchSize, epochs, ...extra } }, null, 2));
  return file;
};
const singleFile = configFile('single', globalBatch);
const distributedFile = configFile(`${ranks}-ranks`, globalBatch / ranks, { batchStatistics });
const localFile = configFile('local-batch', globalBatch / ranks);
const mmctr = path.join(root, 'bin', 'mmctr.js');
const oneThread = { MMCTR_THREADS: '1', OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' };
const mpiEnv = { ...oneThread, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', OMPI_MCA_rmaps_base_oversubscribe: '1' };
const trainRuns = path.join(work, 'runs');

interface TrainOut {
  runs: { test: { auc: number; gauc: number; logloss: number }; samplesPerSecond: number; loopSamplesPerSecond: number; seconds: number; ranks?: number; bytesPerStep?: { dense: number; sparse: number; statistics: number } }[];
}
interface Trial extends Measured {
  run: TrainOut['runs'][number];
}

const single = (): Trial => {
  const m = measureCommand('bench:distributed', 'single-process training', [process.execPath, mmctr, 'train', singleFile, '--runs', trainRuns, '--json'], work, oneThread);
  return { ...m, run: (m.out as TrainOut).runs[0] };
};
// Unbound: a rank bound to one core shares it with its own V8 helper threads (GC, compiler);
// measured here, binding slowed each rank's forward pass by a third.
const distributed = (): Trial => {
  const exported = Object.keys(oneThread).flatMap((k) => ['-x', k]);
  const m = measureCommand('bench:distributed', `${ranks}-rank training`, ['mpirun', '-np', String(ranks), '--bind-to', 'none', ...exported, process.execPath, mmctr, 'train', distributedFile, '--runs', trainRuns, '--json', '--distributed'], work, mpiEnv);
  return { ...m, run: (m.out as TrainOut).runs[0] };
};

// The machine's own ceiling: `ranks` independent single-process trainings of the local batch at
// once (no communication at all); their summed samples/s over one alone is the best any
// data-parallel run could reach here (a shared memory bus, every process's helper threads).
const independent = (): { summed: number } & Measured => {
  const outs = Array.from({ length: ranks }, (_, r) => path.join(work, `independent-${r}.json`));
  const script = outs.map((o) => `"${process.execPath}" "${mmctr}" train "${localFile}" --runs "${trainRuns}" --json > "${o}" &`).join(' ') + ' wait; echo "{}"';
  const m = measureCommand('bench:distributed', `${ranks} independent trainings`, ['bash', '-c', script], work, oneThread);
  const summed = outs.reduce((s, o) => s + (JSON.parse(readFileSync(o, 'utf8')) as TrainOut).runs[0].samplesPerSecond, 0);
  return { ...m, summed };
};

console.log(`bench:distributed: ${base.name}, global batch ${globalBatch} (${ranks} x ${globalBatch / ranks}), ${batchStatistics} batch statistics, ${epochs} epoch${epochs === 1 ? '' : 's'}, ${repeats} repeats interleaved; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.availableParallelism()} cores`);
const singles: Trial[] = [];
const multis: Trial[] = [];
const show = (what: string, t: Trial) =>
  console.log(`[${secs()} s] ${measuredLine(what, t, `test AUC ${t.run.test.auc.toFixed(6)} GAUC ${t.run.test.gauc.toFixed(6)}, ${Math.round(t.run.samplesPerSecond).toLocaleString('en')} samples/s training`)}`);
const ceilings: number[] = [];
for (let i = 0; i < repeats; i++) {
  singles.push(single());
  show('1 process x 1 thread', singles[i]);
  multis.push(distributed());
  show(`${ranks} ranks x 1 thread`, multis[i]);
  const c = independent();
  ceilings.push(c.summed);
  console.log(`[${secs()} s] ${measuredLine(`${ranks} independent processes x 1 thread, local batch ${globalBatch / ranks}`, c, `${Math.round(c.summed).toLocaleString('en')} samples/s summed`)}`);
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const speed = (ts: Trial[]) => median(ts.map((t) => t.run.samplesPerSecond));
const bytes = multis[0].run.bytesPerStep!;
const bytesPerStep = bytes.dense + bytes.sparse + bytes.statistics;
const r6 = (x: number) => +x.toFixed(6);
const result = {
  ranks,
  auc_single: r6(singles[0].run.test.auc),
  auc_distributed: r6(multis[0].run.test.auc),
  gauc_single: r6(singles[0].run.test.gauc),
  gauc_distributed: r6(multis[0].run.test.gauc),
  samples_per_s_single: Math.round(speed(singles)),
  samples_per_s_distributed: Math.round(speed(multis)),
  bytes_per_step: bytesPerStep,
  speedup: +(speed(multis) / speed(singles)).toFixed(3),
  // What `ranks` processes with no communication reach here, against the same single process.
  independent_speedup: +(median(ceilings) / speed(singles)).toFixed(3),
  auc_diff: r6(Math.abs(multis[0].run.test.auc - singles[0].run.test.auc)),
  gauc_diff: r6(Math.abs(multis[0].run.test.gauc - singles[0].run.test.gauc)),
  bytes_dense: bytes.dense,
  bytes_sparse: bytes.sparse,
  bytes_statistics: bytes.statistics,
  // Per process (or per job) CPU: the whole command, startup and evaluation included.
  cpu_s_single: +median(singles.map((t) => t.cpu)).toFixed(1),
  cpu_s_distributed: +median(multis.map((t) => t.cpu)).toFixed(1),
  wall_s_single: +median(singles.map((t) => t.wall)).toFixed(1),
  wall_s_distributed: +median(multis.map((t) => t.wall)).toFixed(1),
  deterministic: singles.every((t) => t.run.test.auc === singles[0].run.test.auc) && multis.every((t) => t.run.test.auc === multis[0].run.test.auc),
  data: base.name,
  global_batch: globalBatch,
  batch_statistics: batchStatistics,
  load_avg: +os.loadavg()[0].toFixed(2),
  seconds: +secs(),
};
console.log(`\n${ranks} ranks / 1 process: ${result.speedup}x samples/s (${ranks} independent processes: ${result.independent_speedup}x); AUC ${result.auc_single} vs ${result.auc_distributed} (|diff| ${result.auc_diff}), GAUC ${result.gauc_single} vs ${result.gauc_distributed} (|diff| ${result.gauc_diff}); ${bytesPerStep.toLocaleString('en')} bytes per rank per step`);
if (args.includes('--json')) console.log(JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
