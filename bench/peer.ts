/**
 * bench:peer — mmctr's DIN and FuxiCTR's DIN (the peer harness in ../shared/peers) on the task of
 * configs/movielens-din.json, 1 epoch each, the same seeds, interleaved (mmctr seed s, FuxiCTR
 * seed s, next seed), so that machine drift hits both alike. Prints a table of test and
 * validation AUC (mean +- sample std over seeds), throughput, CPU time and load average; with
 * --json the last line is {"auc", "auc_std", "peer_auc", "peer_auc_std", "samples_per_s",
 * "peer_samples_per_s", "seeds", ...}.
 *
 * Other logs: --data-dir DIR --dataset NAME (RecBole atomic files NAME.inter / NAME.item, e.g.
 * from `mmctr data export-atomic`), read by both frameworks under the same task.
 * Variants of mmctr: --set model.mlpActivation=dice --set train.clipGradNorm=0 (JSON values).
 * --reuse-peer: take FuxiCTR's result for a seed from an earlier run of this bench on the same
 * data (runs/peer/) instead of training it again (AUC comparisons between mmctr variants only).
 * Skips (exit 0, with a message) where /usr/bin/python3 lacks torch or the data is absent.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { prepareAtomic } from '../src/data/adapters/atomic.js';
import { featureSpaceOf } from '../src/ctr/feature-space.js';
import { createModel } from '../src/ctr/models/index.js';
import { configWithSets } from '../src/ctr/experiment/sweep.js';
import { evaluateSplit, fit } from '../src/ctr/trainer.js';
import { engineSummary } from '../src/engine/info.js';
import { resolveStore } from '../src/pipeline/store.js';
import { repoRoot, sharedDataDir } from '../src/util/paths.js';

const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seeds: { type: 'string', default: '2024,2025,2026' },
    'data-dir': { type: 'string' },
    dataset: { type: 'string', default: 'ml-100k' },
    set: { type: 'string', multiple: true, default: [] },
    'reuse-peer': { type: 'boolean', default: false },
  },
});
const root = repoRoot();
const peers = path.join(path.dirname(sharedDataDir()), 'peers');
const dataDir = path.resolve(opts['data-dir'] ?? path.join(sharedDataDir(), 'movielens-100k'));
const dataset = opts.dataset!;
const seeds = opts.seeds!.split(',').map(Number);
const PYTHON = '/usr/bin/python3';

function skip(why: string): never {
  console.log(`bench:peer skipped: ${why}`);
  process.exit(0);
}
if (!existsSync(path.join(dataDir, `${dataset}.inter`))) skip(`no ${dataset}.inter in ${dataDir} (MovieLens-100k is read from the shared data folder; set MMCTR_SHARED_DATA, or give --data-dir and --dataset)`);
if (!existsSync(path.join(peers, 'run_fuxictr_din.py'))) skip(`the peer harness is not at ${peers} (../shared/peers beside the shared data)`);
const probe = spawnSync(PYTHON, ['-c', 'import torch, sklearn, pandas, yaml'], { encoding: 'utf8' });
if (probe.status !== 0) skip(`${PYTHON} cannot import torch, sklearn, pandas and yaml (apt-get install python3-torch python3-sklearn python3-pandas python3-yaml python3-h5py python3-tqdm, see ../shared/peers/README.md)`);

const config = configWithSets(path.join(root, 'configs', 'movielens-din.json'), opts.set!);
const runs = path.join(root, 'runs');
const workDir = path.join(runs, 'peer', dataset);
mkdirSync(workDir, { recursive: true });
const data = dataset === 'ml-100k' && !opts['data-dir']
  ? config.data
  : await (async () => {
      const prepared = await prepareAtomic({ src: dataDir, name: dataset, out: path.join(workDir, 'dataset') });
      return { dataset: prepared.specFile, samples: prepared.samples };
    })();
const store = await resolveStore(data, path.join(root, 'configs'), runs);
console.log(`${engineSummary()}; ${dataset} from ${dataDir}: ${store.meta.splits.train.count} train samples; seeds ${seeds.join(', ')}${opts.set!.length ? `; mmctr with ${opts.set!.join(' ')}` : ''}`);

interface SeedResult { auc: number; gauc: number; logloss: number; validAuc: number; samplesPerS: number; cpuS: number; reused?: boolean }

/** CPU seconds of this process's waited-for children (/proc/self/stat cutime + cstime, 100 ticks/s). */
function childCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function runMmctr(seed: number): SeedResult {
  const cpu0 = process.cpuUsage();
  const model = createModel(config.model, featureSpaceOf(store), seed);
  const result = fit(model, store, { ...config.train, seed });
  const test = evaluateSplit(model, store, 'test');
  const cpu = process.cpuUsage(cpu0);
  return {
    auc: test.overall.auc, gauc: test.overall.gauc, logloss: test.overall.logloss,
    validAuc: result.epochs.at(-1)!.valid?.overall.auc ?? NaN,
    samplesPerS: result.samplesPerSecond, cpuS: (cpu.user + cpu.system) / 1e6,
  };
}

function runPeer(seed: number): SeedResult {
  const out = path.join(workDir, `fuxictr-seed${seed}.json`);
  let reused = false;
  let cpuS = NaN;
  if (opts['reuse-peer'] && existsSync(out)) reused = true;
  else {
    const cpu0 = childCpuSeconds();
    const r = spawnSync(PYTHON, [path.join(peers, 'run_fuxictr_din.py'), '--seed', String(seed), '--epochs', '1', '--threads', '1', '--num-workers', '1',
      '--dataset', dataset, '--data-dir', dataDir, '--work-dir', path.join(workDir, 'fuxictr'), '--out', out], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    if (r.status !== 0) throw new Error(`FuxiCTR seed ${seed} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    cpuS = childCpuSeconds() - cpu0;
  }
  const j = JSON.parse(readFileSync(out, 'utf8'));
  const e = j.epochs[0];
  return { auc: e.test.AUC, gauc: e.test.GAUC, logloss: e.test.logloss, validAuc: e.valid.AUC, samplesPerS: e.e2e_samples_per_s, cpuS, reused };
}

const ours: SeedResult[] = [], peer: SeedResult[] = [];
for (const seed of seeds) {
  ours.push(runMmctr(seed));
  peer.push(runPeer(seed));
  const [a, b] = [ours.at(-1)!, peer.at(-1)!];
  console.log(`seed ${seed}: mmctr test AUC ${a.auc.toFixed(4)} (valid ${a.validAuc.toFixed(4)}), FuxiCTR ${b.auc.toFixed(4)} (valid ${b.validAuc.toFixed(4)})${b.reused ? ' [reused]' : ''}`);
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const std = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const pm = (xs: number[], d = 4) => `${mean(xs).toFixed(d)} +- ${std(xs).toFixed(d)}`;
const col = (rs: SeedResult[], k: keyof SeedResult) => rs.map((r) => r[k] as number);
const rows: [string, SeedResult[]][] = [['mmctr DIN', ours], ['FuxiCTR DIN', peer]];
console.log(`\n${dataset}, 1 epoch, ${seeds.length} seeds (mean +- sample std)`);
console.log('| | test AUC | GAUC | logloss | valid AUC | samples/s | CPU s |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, rs] of rows)
  console.log(`| ${name} | ${pm(col(rs, 'auc'))} | ${pm(col(rs, 'gauc'))} | ${pm(col(rs, 'logloss'))} | ${pm(col(rs, 'validAuc'))} | ${Math.round(mean(col(rs, 'samplesPerS')))} | ${mean(col(rs, 'cpuS')).toFixed(1)} |`);
const load = loadavg().map((x) => +x.toFixed(2));
console.log(`load average ${load.join(' ')}`);
const r5 = (x: number) => +x.toFixed(5);
if (opts.json)
  console.log(JSON.stringify({
    auc: r5(mean(col(ours, 'auc'))), auc_std: r5(std(col(ours, 'auc'))),
    peer_auc: r5(mean(col(peer, 'auc'))), peer_auc_std: r5(std(col(peer, 'auc'))),
    samples_per_s: Math.round(mean(col(ours, 'samplesPerS'))), peer_samples_per_s: Math.round(mean(col(peer, 'samplesPerS'))),
    seeds: seeds.length, dataset, cpu_s: r5(mean(col(ours, 'cpuS'))), peer_cpu_s: r5(mean(col(peer, 'cpuS'))), load_average: load,
  }));
