/** `mmctr sweep`: a grid search over an experiment config (ctr/experiment/sweep.ts), then its report. */
import type { Command } from 'commander';
import path from 'node:path';
import { SWEEP_FILE } from '../ctr/experiment/runs.js';
import { planSweep, runSweep } from '../ctr/experiment/sweep.js';
import { resolveStore } from '../pipeline/store.js';
import { consoleSummary } from '../report/render.js';
import { runComparison, writeRunReport } from '../report/run-report.js';
import { readJsonFile } from '../util/config-file.js';
import { UsageError } from '../util/errors.js';
import { each, existingFile, list, RUNS_FLAG, runsFolder, seedNumber } from './options.js';
import { progressBar } from './progress.js';

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('grid search: one run per point of the --set grid and seed, in one sweep folder; points ranked on validation (never test), with sweep.json and a report')
    .argument('<config>', 'experiment config (JSON), e.g. configs/movielens-din.json', existingFile('an experiment config (JSON)'))
    .option('--set <path=values>', 'a config field (dotted path) and the values it takes, comma-separated; repeat for more fields. Values are JSON when they read as JSON, else text; commas inside [...], {...} or "..." do not split: model.embeddingDim=16,32  \'model.make.join=["logit"],["interest","logit"]\'', each((v) => v), [] as string[])
    .option('--seeds <list>', "train each point once per seed (comma-separated; default the config's train.seed)", list(seedNumber))
    .option(...RUNS_FLAG)
    .option('--name <name>', 'the sweep folder in the runs folder (default <config name>-sweep-<time>); the same name again resumes the sweep: finished runs are skipped')
    .option('--json', 'print the sweep summary as one JSON object')
    .action(async (file: string, opts: { set: string[]; seeds?: number[]; runs?: string; name?: string; json?: boolean }) => {
      const plan = planSweep(file, readJsonFile(file), opts.set, opts.seeds);
      if (opts.name !== undefined && (opts.name === '' || opts.name !== path.basename(opts.name) || opts.name.startsWith('.'))) throw new UsageError(`--name ${opts.name}: expected a folder name (no path), made under --runs`);
      const runs = runsFolder(opts.runs);
      const dir = path.join(runs, opts.name ?? `${plan.name}-sweep-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      const log = opts.json ? undefined : (line: string) => console.error(line);
      let bar: ReturnType<typeof progressBar> | null = null;
      const result = await runSweep(plan, dir, {
        storeOf: (data) => resolveStore(data, path.dirname(path.resolve(file)), runs, { progress: progressBar }),
        makeCacheDir: path.join(runs, 'make-cache'),
        onStart: (run, k, total) => {
          log?.(`run ${k} of ${total}: ${run.point} seed ${run.seed}`);
          const b = (bar = progressBar(`${k}/${total}`));
          return { log, onProgress: (p) => b.update(p.done, p.total, p.phase === 'train' ? `epoch ${p.epoch} loss ${p.loss?.toFixed(4)}` : `epoch ${p.epoch} evaluating`) };
        },
        onEnd: (run, status) => {
          bar?.stop();
          bar = null;
          if (status === 'skipped') log?.(`skipped (finished earlier): ${run.dir}`);
        },
      });
      const files = await writeRunReport(result.comparison, path.join(dir, 'report'));
      if (opts.json) {
        console.log(JSON.stringify({ dir, trained: result.trained, skipped: result.skipped, report: files.html, ...result.summary }));
        return;
      }
      console.log(consoleSummary(runComparison(result.comparison)));
      for (const note of result.comparison.notes) console.log(`note: ${note}`);
      console.log(`sweep folder: ${dir} (${result.trained} run${result.trained === 1 ? '' : 's'} trained, ${result.skipped} skipped); summary ${path.join(dir, SWEEP_FILE)}`);
      console.log(`report: ${files.html} (also ${path.basename(files.markdown)}, ${path.basename(files.json)}); \`mmctr report ${dir}\` draws it again`);
    });
}
