/**
 * `mmctr pretrain train | evaluate` and `mmctr embed`: SCL pre-training of item vectors from
 * search -> purchase chains, its retrieval evaluation against the baselines, and the export of
 * every item's vector (float32 + int8) for the CTR models and the service.
 */
import { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadModel, readModelConfig, saveModel } from '../engine/checkpoint.js';
import { RandomStream } from '../engine/random.js';
import { parseSclConfig, SclConfig } from '../pretrain/config.js';
import { formatTable } from '../pretrain/evaluate.js';
import { embedItems } from '../pretrain/export.js';
import { writeEmbeddings } from '../encoders/vector-file.js';
import { SclModel } from '../pretrain/model.js';
import { Method, METHODS, prepare, runExperiment } from '../pretrain/pipeline.js';
import { Variant, VARIANTS } from '../pretrain/train.js';
import { MmctrError } from '../util/errors.js';
import { loadSclConfig, loadSclInputs, worldReferences } from '../pipeline/scl.js';
import { progressBar } from './progress.js';

function specOf(c: SclConfig, specOverride?: string): string {
  const spec = specOverride ? path.resolve(specOverride) : c.data.spec;
  if (!spec) throw new MmctrError('no dataset: set data.spec in the config or pass --spec <dataset.json>');
  return spec;
}

/** SCL's inputs (items, searches, image features) for a config, with a progress bar. */
function loadInputs(c: SclConfig, specOverride?: string) {
  return loadSclInputs(c, specOf(c, specOverride), { progress: progressBar });
}

function trainBar(): { update: (m: string, p: { step: number; steps: number; loss: number; pairsPerSec: number }) => void; stop: () => void } {
  const bar = progressBar('pretrain');
  return { update: (m, p) => bar.update(p.step, p.steps, `${m} loss ${p.loss.toFixed(4)} | ${p.pairsPerSec.toFixed(0)} pairs/s`), stop: () => bar.stop() };
}

export function registerPretrain(program: Command): void {
  const pre = program.command('pretrain').description('SCL: contrastive pre-training of item vectors on search -> purchase pairs');
  pre
    .command('train <config>')
    .description('train SCL (or an ablation) and save the model; prints held-out retrieval accuracy')
    .requiredOption('--out <dir>', 'folder for model.safetensors and report.json')
    .option('--spec <dataset.json>', 'dataset (default: data.spec of the config)')
    .option('--variant <name>', `${VARIANTS.join(', ')}`, 'scl')
    .option('--seed <n>', 'random seed (overrides the config)')
    .option('--json', 'print the report as one JSON object')
    .action(async (file: string, opts: { out: string; spec?: string; variant: string; seed?: string; json?: boolean }) => {
      if (!VARIANTS.includes(opts.variant as Variant)) throw new MmctrError(`--variant must be one of ${VARIANTS.join(', ')}, got '${opts.variant}'`);
      const c = loadSclConfig(file, opts.seed);
      const { data, table } = await loadInputs(c, opts.spec);
      const prep = prepare(c, data.items, data.searches, table);
      const bar = trainBar();
      const res = runExperiment(c, prep, [opts.variant as Variant], { onProgress: bar.update });
      bar.stop();
      const trained = res.trained[opts.variant as Variant]!;
      mkdirSync(opts.out, { recursive: true });
      const modelFile = path.join(opts.out, 'model.safetensors');
      saveModel(modelFile, trained.model, { scl: c, featureDim: table.dim, backbone: table.backbone, variant: opts.variant });
      const report = { model: modelFile, variant: opts.variant, pairs: prep.mined.stats, train: prep.mined.train.length, heldOut: prep.mined.heldOut.length, pairsPerSec: trained.pairsPerSec, seconds: trained.seconds, retrieval: res.rows[0] };
      writeFileSync(path.join(opts.out, 'report.json'), JSON.stringify(report, null, 2));
      if (opts.json) console.log(JSON.stringify(report));
      else {
        console.log(`SCL (${opts.variant}) trained on ${prep.mined.train.length} pairs in ${trained.seconds.toFixed(1)} s (${trained.pairsPerSec.toFixed(0)} pairs/s); model: ${modelFile}`);
        console.log(formatTable(res.rows, c.eval.topK));
      }
    });
  pre
    .command('evaluate <config>')
    .description('train and evaluate SCL, its ablations and the baselines on held-out search -> purchase pairs')
    .option('--spec <dataset.json>', 'dataset (default: data.spec of the config)')
    .option('--methods <list>', `comma-separated: ${METHODS.join(',')}`, METHODS.join(','))
    .option('--seed <n>', 'random seed (overrides the config)')
    .option('--json', 'print the rows as one JSON object')
    .action(async (file: string, opts: { spec?: string; methods: string; seed?: string; json?: boolean }) => {
      const methods = opts.methods.split(',').map((m) => m.trim()) as Method[];
      for (const m of methods) if (!METHODS.includes(m)) throw new MmctrError(`--methods: unknown method '${m}' (known: ${METHODS.join(', ')})`);
      const c = loadSclConfig(file, opts.seed);
      const { data, table } = await loadInputs(c, opts.spec);
      const prep = prepare(c, data.items, data.searches, table);
      const references = await worldReferences(specOf(c, opts.spec), data, prep.mined.heldOut, (line) => console.error(line));
      const bar = trainBar();
      const res = runExperiment(c, prep, methods, { onProgress: bar.update, references });
      bar.stop();
      const pairsPerSec = Object.fromEntries(Object.entries(res.trained).map(([k, v]) => [k, v.pairsPerSec]));
      if (opts.json) console.log(JSON.stringify({ rows: res.rows, pairsPerSec }));
      else console.log(formatTable(res.rows, c.eval.topK));
    });
  program
    .command('embed <model>')
    .description("export every item's 128-d L2-normalised SCL vector (float32 + int8) with an id index, as safetensors")
    .requiredOption('--out <file>', 'the .safetensors file to write (ids also in <file>.ids.json)')
    .option('--spec <dataset.json>', "dataset (default: the model config's data.spec)")
    .action(async (modelFile: string, opts: { out: string; spec?: string }) => {
      const saved = readModelConfig(modelFile) as { scl?: unknown; featureDim?: number } | null;
      if (!saved?.scl || !saved.featureDim) throw new MmctrError(`${modelFile} is not an SCL model file (no SCL config in its metadata)`);
      const c = parseSclConfig(saved.scl, `${modelFile} (config)`);
      const { data, table } = await loadInputs(c, opts.spec);
      if (table.dim !== saved.featureDim) throw new MmctrError(`${modelFile} was trained on ${saved.featureDim}-d image features, the backbone gives ${table.dim}`);
      const model = new SclModel(c.model, table.dim, new RandomStream(c.seed));
      loadModel(modelFile, model);
      const vectors = embedItems(model, data.items, table);
      mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
      writeEmbeddings(opts.out, data.items.map((it) => it.id), vectors, c.model.outDim, { model: path.resolve(modelFile), backbone: table.backbone });
      console.log(`${data.items.length} item vectors (${c.model.outDim}-d, float32 + int8) written to ${opts.out}`);
    });
}
