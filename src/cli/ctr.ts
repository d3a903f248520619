/** `mmctr train | evaluate | predict`: experiments on sample stores, each run in its own folder. */
import { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { SPLITS, SplitName } from '../data/sample-config.js';
import { samplingNote } from '../data/store.js';
import type { Spread } from '../ctr/experiment/result.js';
import { spread } from '../ctr/experiment/summary.js';
import { BUCKETS, Evaluation } from '../ctr/metrics.js';
import { openRun, readExperimentConfig, resumeRun, trainRun } from '../ctr/run.js';
import { evaluateSplit, predictSplit } from '../ctr/trainer.js';
import { resolveStore } from '../pipeline/store.js';
import { TrainConfig } from '../ctr/config.js';
import { joinMpiJob } from '../distributed/data-parallel.js';
import { mpiWorld } from '../distributed/mpi.js';
import { existingDir, existingFile, list, number, oneOf, RUNS_FLAG, runsFolder, seedNumber, text } from './options.js';
import { progressBar, quietBar } from './progress.js';

const fmt = (x: number) => (Number.isNaN(x) ? '   -  ' : x.toFixed(4));

export function evaluationTable(e: Evaluation): string {
  const rows = [['slice', 'count', 'clicks', 'AUC', 'GAUC', 'logloss'].join('\t')];
  const line = (name: string, m: Evaluation['overall']) => [name, m.count, m.clicks, fmt(m.auc), fmt(m.gauc), fmt(m.logloss)].join('\t');
  rows.push(line('all', e.overall));
  for (const b of BUCKETS) rows.push(line(b, e.buckets[b]));
  // Simulated data: the true click probabilities scored the same way (the best reachable).
  if (e.oracle) {
    rows.push(line('oracle', e.oracle.overall));
    for (const b of BUCKETS) rows.push(line(`oracle ${b}`, e.oracle.buckets[b]));
  }
  return rows.join('\n');
}

/** Mean and (sample) standard deviation of each test metric over seeds. */
function summarizeSeeds(tests: Evaluation[]): Record<'auc' | 'gauc' | 'logloss', Spread> {
  return { auc: spread(tests.map((t) => t.overall.auc)), gauc: spread(tests.map((t) => t.overall.gauc)), logloss: spread(tests.map((t) => t.overall.logloss)) };
}

function seedTable(s: ReturnType<typeof summarizeSeeds>, n: number): string {
  return [`test metrics over ${n} seeds (mean ± std)`, ...(['auc', 'gauc', 'logloss'] as const).map((k) => `${k.padEnd(8)} ${s[k].mean.toFixed(4)} ± ${s[k].std.toFixed(4)}`)].join('\n');
}

const splitOption = oneOf(SPLITS);
const runStamp = () => new Date().toISOString().replace(/[:.]/g, '-');
const runFolder = existingDir('a run folder written by `mmctr train`');

export function registerCtr(program: Command): void {
  program
    .command('train')
    .description('train the model an experiment config names; writes a run folder')
    .argument('<config>', 'experiment config (JSON), e.g. configs/movielens-din.json', existingFile('an experiment config (JSON)'))
    .option(...RUNS_FLAG)
    .option('--seeds <list>', 'train once per seed (comma-separated) and report mean and spread', list(seedNumber))
    .option('--epochs <n>', 'override train.epochs', number(TrainConfig.shape.epochs))
    .option('--keep <which>', 'the model kept: best (the best validation epoch, with early stopping; the default) or last (all --epochs trained)', text(TrainConfig.shape.keep.unwrap()))
    .option('--json', 'print the result as one JSON object')
    .option('--distributed', 'data-parallel over the ranks of an MPI job: `mpirun -np <ranks> mmctr train <config> --distributed` (global batch = train.batchSize x ranks; docs/distributed.md)')
    .action(async (file: string, opts: { runs?: string; seeds?: number[]; epochs?: number; keep?: TrainConfig['keep']; json?: boolean; distributed?: boolean }) => {
      const config = readExperimentConfig(file);
      if (opts.epochs !== undefined) config.train.epochs = opts.epochs;
      if (opts.keep !== undefined) config.train.keep = opts.keep;
      const seeds = opts.seeds ?? [config.train.seed];
      const runs = runsFolder(opts.runs);
      const parallel = opts.distributed ? joinMpiJob() : undefined;
      // Rank 0 alone builds the store (or finds it cached); the others open it after.
      const speaks = parallel?.writes ?? true;
      const progress = speaks ? progressBar : quietBar;
      const resolve = () => resolveStore(config.data, path.dirname(path.resolve(file)), runs, { progress });
      let store = parallel && !speaks ? null : await resolve();
      if (parallel) {
        mpiWorld().barrier();
        store ??= await resolve();
      }
      // Every rank names the run folder as rank 0 does.
      const stamp = parallel ? mpiWorld().broadcastText(runStamp()) : runStamp();
      const trained = seeds.map((seed) => {
        const runConfig = { ...config, train: { ...config.train, seed } };
        const bar = progress(`seed ${seed}`);
        const result = trainRun(runConfig, store!, path.join(runs, `${config.name}-seed${seed}-${stamp}`), {
          onProgress: (p) => bar.update(p.done, p.total, p.phase === 'train' ? `epoch ${p.epoch} loss ${p.loss?.toFixed(4)}` : `epoch ${p.epoch} evaluating`),
          log: opts.json ? undefined : (line) => console.error(line),
          parallel,
        });
        bar.stop();
        return result;
      });
      if (parallel) mpiWorld().finalize();
      if (!speaks) return;
      const summary = summarizeSeeds(trained.map((r) => r.test));
      if (opts.json) {
        console.log(JSON.stringify({ runs: trained.map((r) => ({ run: r.dir, seed: r.seed, test: r.test.overall, samplesPerSecond: r.fit.samplesPerSecond, loopSamplesPerSecond: r.fit.loopSamplesPerSecond, seconds: r.fit.seconds, ...(parallel ? { ranks: parallel.size, bytesPerStep: parallel.lastStep } : {}) })), summary }));
        return;
      }
      for (const r of trained) console.log(`run folder: ${r.dir}`);
      if (trained.length === 1) console.log(evaluationTable(trained[0].test));
      else console.log(seedTable(summary, seeds.length));
    });

  program
    .command('resume')
    .description('continue a run that stopped (killed, crashed) from its newest checkpoint (written at every epoch end, every train.checkpointMinutes of training (5 by default), and every train.checkpointEvery steps when set)')
    .argument('<run>', 'run folder written by `mmctr train`', runFolder)
    .option('--distributed', 'continue a distributed run over the ranks of an MPI job (`mpirun -np <ranks> mmctr resume <run> --distributed`)')
    .action((runDir: string, opts: { distributed?: boolean }) => {
      const parallel = opts.distributed ? joinMpiJob() : undefined;
      const speaks = parallel?.writes ?? true;
      const bar = (speaks ? progressBar : quietBar)('train');
      const result = resumeRun(runDir, {
        onProgress: (p) => bar.update(p.done, p.total, p.phase === 'train' ? `epoch ${p.epoch} loss ${p.loss?.toFixed(4)}` : `epoch ${p.epoch} evaluating`),
        log: (line) => console.error(line),
        parallel,
      });
      bar.stop();
      if (parallel) mpiWorld().finalize();
      if (!speaks) return;
      console.log(`run folder: ${result.dir}`);
      console.log(evaluationTable(result.test));
    });

  program
    .command('evaluate')
    .description('evaluate a trained run on a split (AUC, GAUC, logloss; by item frequency bucket)')
    .argument('<run>', 'run folder written by `mmctr train`', runFolder)
    .option('--split <name>', 'train, valid or test', splitOption, 'test' as SplitName)
    .option('--json', 'machine-readable output')
    .action((runDir: string, opts: { split: SplitName; json?: boolean }) => {
      const { model, store } = openRun(runDir);
      const bar = progressBar('evaluate');
      const e = evaluateSplit(model, store, opts.split, (d, t) => bar.update(d, t));
      bar.stop();
      const note = samplingNote(store.meta);
      console.log(opts.json ? JSON.stringify({ ...e, notes: note ? [note] : [] }) : evaluationTable(e) + (note ? `\nnote: ${note}` : ''));
    });

  program
    .command('predict')
    .description('write pCTR for every sample of a split as CSV (user_id, item_id, label, pctr)')
    .argument('<run>', 'run folder written by `mmctr train`', runFolder)
    .option('--split <name>', 'train, valid or test', splitOption, 'test' as SplitName)
    .requiredOption('--out <file>', 'CSV file to write')
    .action(async (runDir: string, opts: { split: SplitName; out: string }) => {
      const { model, store } = openRun(runDir);
      const { probs, reader } = predictSplit(model, store, opts.split);
      const all = reader.readRange(0, reader.count);
      reader.close();
      const { catalog, users } = store;
      const out = createWriteStream(opts.out);
      out.write('user_id,item_id,label,pctr\n');
      for (let i = 0; i < probs.length; i++) out.write(`${users[all.user[i] - 1]},${catalog.ids[all.item[i] - 1]},${all.label[i]},${probs[i].toFixed(6)}\n`);
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      console.error(`wrote ${probs.length} predictions to ${opts.out}`);
    });
}
