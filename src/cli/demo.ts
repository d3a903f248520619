/**
 * `mmctr demo`: the main job end to end on built-in data, with nothing to download or start:
 * generate a small ad world (built-in catalogue, `small` preset), validate it, build samples,
 * train the sum-pooling baseline and DIN, and compare them on the test split (overall, by item
 * frequency, and beside the oracle that knows the true click probabilities); then the method
 * itself: SCL pre-training of item vectors on the world's search -> purchase chains (the drawn
 * product images through MobileNetV2, the titles through the text tower) and the paper's
 * comparison (ID, Vector, SimScore, SimTier, MAKE, SimTier + MAKE) with its report.
 */
import { Command } from 'commander';
import path from 'node:path';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { runsDir } from '../util/paths.js';
import { ExperimentConfig } from '../ctr/config.js';
import { PaperExperimentConfig, runPaperExperiment } from '../ctr/experiment/paper.js';
import { sclConfig } from '../pretrain/config.js';
import { paperSummaryTable, writePaperReport } from '../report/paper-report.js';
import { ensureSclVectors } from '../pipeline/scl.js';
import { trainRun } from '../ctr/run.js';
import { buildStoreFromSpec } from '../data/samples.js';
import { readSampleConfig } from '../data/sample-config.js';
import { generateWorld } from '../world/generate.js';
import { worldParams } from '../world/params.js';
import { evaluationTable } from './ctr.js';
import { seedNumber } from './options.js';
import { progressBar } from './progress.js';

/** The marker of a folder the demo wrote: only such a folder (or an empty one) is cleared for a new demo. */
const DEMO_MARKER = '.mmctr-demo';

function clearDemoFolder(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(path.join(dir, DEMO_MARKER)))
    throw new UsageError(`--out ${dir} is not empty and was not written by \`mmctr demo\`: give an empty or new folder (the demo replaces its folder)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, DEMO_MARKER), 'written by mmctr demo; the next demo with this --out replaces this folder\n');
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the pipeline end to end on built-in demo data (no downloads, no servers)')
    .option('--out <dir>', 'where the demo writes its data and runs (default: demo/ in the runs folder of the home, see --home)')
    .option('--seed <n>', 'seed of the data and the models', seedNumber, 1)
    .option('--json', 'print the results as one JSON object')
    .action(async (flags: { out?: string; seed: number; json?: boolean }) => {
      const opts = { ...flags, out: flags.out ?? path.join(runsDir(), 'demo') };
      const say = opts.json ? () => {} : (line: string) => console.log(line);
      clearDemoFolder(opts.out);
      const world = await generateWorld(worldParams('small', { seed: opts.seed }), path.join(opts.out, 'world'));
      say(`1. generated a small ad world (${world.items} drawn products, ${world.users} users, ${world.impressions} ad impressions, ${world.searches} searches): ${world.specFile}`);
      const bar = progressBar('samples');
      const storeDir = path.join(opts.out, 'store');
      const { store, report } = await buildStoreFromSpec(world.specFile, readSampleConfig(world.sampleConfigFile), storeDir, (d, t) => bar.update(d, t));
      bar.stop();
      const { meta } = store;
      const ev = report.tables.events;
      say(`2. validated ${ev.rows} event rows (${ev.rowsDropped} dropped) and built samples: train ${meta.splits.train.count}, valid ${meta.splits.valid.count}, test ${meta.splits.test.count}`);
      const results: Record<string, unknown> = {};
      for (const model of ['sum-pooling', 'din'] as const) {
        const config = ExperimentConfig.parse({
          name: `demo-${model}`,
          data: { store: storeDir },
          model: { model, embeddingDim: 16, mlpHidden: [64, 32], ...(model === 'din' ? { attentionHidden: [32, 16] } : {}) },
          train: { batchSize: 256, lr: 0.005, seed: opts.seed, epochs: 4, earlyStoppingPatience: 1 },
        });
        const tb = progressBar(model);
        const run = trainRun(config, store, path.join(opts.out, 'runs', model), { onProgress: (p) => tb.update(p.done, p.total) });
        tb.stop();
        results[model] = { auc: run.test.overall.auc, gauc: run.test.overall.gauc, logloss: run.test.overall.logloss, run: run.dir };
        if (run.test.oracle) results.oracle = { auc: run.test.oracle.overall.auc, gauc: run.test.oracle.overall.gauc, logloss: run.test.oracle.overall.logloss };
        say(`3. ${model}: trained in ${run.fit.seconds.toFixed(1)} s (${Math.round(run.fit.samplesPerSecond)} samples/s); test metrics:`);
        say(evaluationTable(run.test).replace(/^/gm, '   '));
      }
      const scl = sclConfig({ seed: opts.seed, featureCache: path.join(opts.out, 'features'), model: { hidden: 128, tokenDim: 32 }, loss: { queueSize: 1024 }, train: { epochs: 6, batchSize: 128 } });
      const vectors = await ensureSclVectors(scl, world.specFile, opts.out, { log: say, progress: progressBar });
      say(`4. SCL item vectors (image + title, 128-d) for every product: ${vectors}`);
      const paper = PaperExperimentConfig.parse({
        name: 'demo-paper',
        data: { store: storeDir, vectors },
        model: { model: 'din', embeddingDim: 16, attentionHidden: [32, 16], mlpHidden: [64, 32] },
        simTier: { tiers: 20 },
        make: { attentionHidden: [32, 16], mlpHidden: [32, 16], epochs: 6, batchSize: 256, lr: 0.005 },
        train: { batchSize: 256, lr: 0.005 },
        seeds: [opts.seed],
        curveEpochs: 3,
      });
      const pb = progressBar('paper');
      const result = runPaperExperiment(paper, store, path.join(opts.out, 'paper'), {
        dataDescription: `the demo's small ad world (built-in drawn catalogue, seed ${opts.seed})`,
        onRun: (p) => pb.update(p.index, p.total, `${p.variant}`),
      });
      pb.stop();
      const files = await writePaperReport(result, path.join(opts.out, 'paper'));
      results.paper = Object.fromEntries(result.variants.map((v) => [v, result.slices[0].summary[v].gauc.mean]));
      say(`5. the paper's comparison on this world (test GAUC; one seed, so small gaps are noise):`);
      say(paperSummaryTable(result).replace(/^/gm, '   '));
      say(`   report: ${files.html}`);
      if (opts.json) console.log(JSON.stringify(results));
      else say(`runs written under ${path.join(opts.out, 'runs')}; reopen them with \`mmctr evaluate <run>\` or \`mmctr predict <run> --out preds.csv\`, compare them with \`mmctr report ${opts.out}\`; next: \`mmctr serve\``);
    });
}
