/**
 * `mmctr experiment paper <config>`: the paper's comparison from one command. It builds what the
 * config asks for first (an ad world, its store, SCL vectors pre-trained on it: src/pipeline,
 * cached under runs/),
 * then trains and evaluates ID, Vector, SimScore, SimTier, MAKE and SimTier + MAKE over the
 * seeds and writes the report (HTML with charts, Markdown, JSON).
 * `mmctr experiment stream <config>`: the streaming replay (src/stream/experiment.ts) on the
 * config's dataset, with its report (src/report/stream-report.ts).
 */
import { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PaperExperimentConfig, readPaperConfig, runPaperExperiment } from '../ctr/experiment/paper.js';
import { PAPER_VARIANTS, PaperVariant } from '../ctr/experiment/result.js';
import { preparePaperInputs } from '../pipeline/paper.js';
import { paperSummaryTable, writePaperReport } from '../report/paper-report.js';
import { existingFile, list, number, oneOf, RUNS_FLAG, runsFolder, seedNumber } from './options.js';
import { progressBar } from './progress.js';
import type { ExperimentConfig } from '../ctr/config.js';
import { readExperimentConfig } from '../ctr/run.js';
import { DataError } from '../data/errors.js';
import { formatOf, readDatasetSpec, type EventsTableSpec } from '../data/spec.js';
import { resolveStore } from '../pipeline/store.js';
import { formatGain, formatSpread } from '../report/comparison.js';
import { writeStreamReport } from '../report/stream-report.js';
import { runStreamExperiment } from '../stream/experiment.js';
import { csvLogAsJsonLines } from '../stream/replay.js';
import { UsageError } from '../util/errors.js';


/** The dataset's events log as JSON lines for a replay: a jsonl log as it is, a CSV one rewritten into the experiment folder. */
function replayableEvents(config: ExperimentConfig, configFile: string, out: string): { spec: EventsTableSpec; file: string } {
  if (!config.data.dataset) throw new UsageError(`${configFile}: the replay streams the dataset's events log: give data.dataset (a dataset spec with an events table), not only a built store`);
  const specFile = path.resolve(path.dirname(path.resolve(configFile)), config.data.dataset);
  const events = readDatasetSpec(specFile).events;
  if (!events) throw new DataError({ file: specFile, field: 'events' }, 'the dataset spec has no events table: the replay streams it');
  const format = formatOf(events);
  if (format === 'jsonl') return { spec: events, file: events.path };
  if (format !== 'csv') throw new DataError({ file: specFile, field: 'events.format' }, `the replay reads csv or jsonl events, not ${format}: export the events as JSON lines`);
  mkdirSync(out, { recursive: true });
  const file = path.join(out, 'events.jsonl');
  csvLogAsJsonLines(events.path, file);
  return { spec: { ...events, path: file, format: 'jsonl' }, file };
}

export function registerExperiment(program: Command): void {
  const experiment = program.command('experiment').description('experiments that compare models end to end, with a report');
  experiment
    .command('stream')
    .argument('<config>', 'experiment config (JSON, as `mmctr train` takes) whose data.dataset has an events table, e.g. one over `mmctr world generate` output', existingFile('an experiment config (JSON)'))
    .description("the paper's streaming claim on your log: per seed, the model trained in batch on the training split, then the whole log streamed from it; the streamed model against the frozen one on the same later samples (progressive), overall and for new items; writes report.html/.md/.json")
    .option(...RUNS_FLAG)
    .option('--out <dir>', 'the experiment folder (default: <runs>/experiments/<name>-stream-<time>)')
    .option('--seeds <list>', 'seeds (comma-separated)', list(seedNumber), [1, 2, 3])
    .option('--window <n>', 'samples per progressive window', number(z.number().int().positive()), 10_000)
    .option('--json', 'print the result as one JSON object')
    .action(async (file: string, opts: { runs?: string; out?: string; seeds: number[]; window: number; json?: boolean }) => {
      const config = readExperimentConfig(file);
      const log = opts.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
      const runs = runsFolder(opts.runs);
      const out = opts.out ?? path.join(runs, 'experiments', `${config.name}-stream-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      const events = replayableEvents(config, file, out);
      const store = await resolveStore(config.data, path.dirname(path.resolve(file)), runs, { progress: progressBar });
      const result = await runStreamExperiment({ config, store, events, seeds: opts.seeds, out, windowSize: opts.window, log });
      const files = await writeStreamReport(result, out);
      if (opts.json) {
        console.log(JSON.stringify(result));
        return;
      }
      const [overall, fresh] = result.slices;
      for (const s of [overall, fresh])
        console.log(`${s.slice.padEnd(8)} frozen GAUC ${formatSpread(s.summary.frozen.gauc)}, streamed ${formatSpread(s.summary.streamed.gauc)} (${formatGain(s.summary.streamed.gain.gauc)}); AUC ${formatSpread(s.summary.frozen.auc)} -> ${formatSpread(s.summary.streamed.auc)}`);
      for (const n of result.notes) console.log(`- ${n}`);
      console.log(`report: ${files.html} (also ${path.basename(files.markdown)}, ${path.basename(files.json)})`);
    });
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
