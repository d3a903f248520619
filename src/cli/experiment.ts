/**
 * `mmctr experiment paper <config>`: the paper's comparison from one command. It builds what the
 * config asks for first (an ad world, its store, SCL vectors pre-trained on it: src/pipeline,
 * cached under runs/),
 * then trains and evaluates ID, Vector, SimScore, SimTier, MAKE and SimTier + MAKE over the
 * seeds and writes the report (HTML with charts, Markdown, JSON).
 */
import { Command } from 'commander';
import path from 'node:path';
import { PaperExperimentConfig, readPaperConfig, runPaperExperiment } from '../ctr/experiment/paper.js';
import { PAPER_VARIANTS, PaperVariant } from '../ctr/experiment/result.js';
import { preparePaperInputs } from '../pipeline/paper.js';
import { paperSummaryTable, writePaperReport } from '../report/paper-report.js';
import { existingFile, list, number, oneOf, RUNS_FLAG, runsFolder, seedNumber } from './options.js';
import { progressBar } from './progress.js';


export function registerExperiment(program: Command): void {
  const experiment = program.command('experiment').description('experiments that compare models end to end, with a report');
  experiment
    .command('paper')
    .argument('<config>', 'paper experiment config (JSON), e.g. configs/paper-movielens.json', existingFile('a paper experiment config (JSON)'))
    .description('ID, Vector, SimScore, SimTier, MAKE, SimTier + MAKE on the same data and seeds; writes report.html/.md/.json')
    .option(...RUNS_FLAG)
    .option('--out <dir>', 'the experiment folder (default: <runs>/experiments/<name>-<time>)')
    .option('--seeds <list>', 'override the seeds (comma-separated)', list(seedNumber))
    .option('--variants <list>', `a subset of ${PAPER_VARIANTS.join(',')}`, list(oneOf(PAPER_VARIANTS)))
    .option('--curve-epochs <n>', 'epochs of the ID model for the one-epoch curve (0: skip)', number(PaperExperimentConfig.shape.curveEpochs))
    .option('--json', 'print the result as one JSON object')
    .action(async (file: string, opts: { runs?: string; out?: string; seeds?: number[]; variants?: PaperVariant[]; curveEpochs?: number; json?: boolean }) => {
      const config = readPaperConfig(file);
      if (opts.seeds) config.seeds = opts.seeds;
      if (opts.variants) config.variants = opts.variants;
      if (opts.curveEpochs !== undefined) config.curveEpochs = opts.curveEpochs;
      const log = opts.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
      const runs = runsFolder(opts.runs);
      const { store, description } = await preparePaperInputs(config, runs, { log, progress: progressBar });
      const out = opts.out ?? path.join(runs, 'experiments', `${config.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      let bar = progressBar('runs');
      const result = runPaperExperiment(config, store, out, {
        dataDescription: description,
        onRun: (p) => {
          bar.stop();
          log(`[${p.index + 1}/${p.total}] seed ${p.seed}: ${p.variant}`);
          bar = progressBar(p.variant);
        },
        onProgress: (p) => bar.update(p.done, p.total, p.phase === 'train' ? `epoch ${p.epoch} loss ${p.loss?.toFixed(4)}` : `epoch ${p.epoch} evaluating`),
      });
      bar.stop();
      const files = await writePaperReport(result, out);
      if (opts.json) {
        console.log(JSON.stringify(result));
        return;
      }
      console.log(paperSummaryTable(result));
      for (const n of result.notes) console.log(`- ${n}`);
      console.log(`report: ${files.html} (also ${path.basename(files.markdown)}, ${path.basename(files.json)})`);
    });
}
