/**
 * bench:train-din — trains and evaluates DIN once (seed 1) on the MovieLens-100k task
 * (configs/movielens-din.json) and, in the same run, the same model in plain PyTorch
 * (bench/torch_din.py, where Debian's python3-torch is installed) for the AUC and throughput
 * comparison. Last line: {"auc", "gauc", "logloss", "samples_per_s", "seconds", ...}.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readExperimentConfig } from '../src/ctr/run.js';
import { featureSpaceOf } from '../src/ctr/feature-space.js';
import { createModel } from '../src/ctr/models/index.js';
import { evaluateSplit, fit } from '../src/ctr/trainer.js';
import { engineSummary } from '../src/engine/info.js';
import { resolveStore } from '../src/pipeline/store.js';
import { repoRoot, sharedDataDir } from '../src/util/paths.js';

const root = repoRoot();
if (!existsSync(path.join(sharedDataDir(), 'movielens-100k'))) {
  console.error(`bench:train-din needs MovieLens-100k at ${path.join(sharedDataDir(), 'movielens-100k')} (set MMCTR_SHARED_DATA)`);
  process.exit(2);
}
const config = readExperimentConfig(path.join(root, 'configs', 'movielens-din.json'));
const store = await resolveStore(config.data, path.join(root, 'configs'), path.join(root, 'runs'));
console.log(engineSummary());
const model = createModel(config.model, featureSpaceOf(store), config.train.seed);
const result = fit(model, store, config.train, { log: (l) => console.log(l) });
const test = evaluateSplit(model, store, 'test');
const ours = {
  auc: +test.overall.auc.toFixed(5),
  gauc: +test.overall.gauc.toFixed(5),
  logloss: +test.overall.logloss.toFixed(5),
  samples_per_s: Math.round(result.samplesPerSecond),
  loop_samples_per_s: Math.round(result.loopSamplesPerSecond),
  seconds: +result.seconds.toFixed(2),
};
console.log(`mmctr DIN: test AUC ${ours.auc} GAUC ${ours.gauc} logloss ${ours.logloss}; ${ours.samples_per_s} samples/s end to end (${ours.loop_samples_per_s} in the loop), ${ours.seconds} s`);

const out: Record<string, unknown> = { ...ours };
const torch = spawnSync('/usr/bin/python3', [path.join(root, 'bench', 'torch_din.py'), store.dir, '--seed', String(config.train.seed)], {
  encoding: 'utf8',
  env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
});
if (torch.status === 0) {
  const ref = JSON.parse(torch.stdout.trim().split('\n').at(-1)!);
  console.log(`PyTorch ${ref.torch} DIN (same model and data): test AUC ${ref.auc} GAUC ${ref.gauc}; ${ref.samples_per_s} samples/s end to end`);
  out.torch_auc = ref.auc;
  out.torch_gauc = ref.gauc;
  out.torch_samples_per_s = ref.samples_per_s;
  out.speedup_vs_torch = +(ours.samples_per_s / ref.samples_per_s).toFixed(2);
} else {
  console.log(`PyTorch reference not run (${torch.error?.message ?? torch.stderr.trim().split('\n').at(-1)}); install python3-torch for the comparison`);
}
console.log(JSON.stringify(out));
