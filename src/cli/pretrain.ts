/**
 * `mmctr pretrain train | evaluate | embed`, `mmctr encode`: SCL pre-training of item
 * vectors from search -> purchase chains, its retrieval evaluation against the baselines, and a
 * catalogue's vectors (frozen backbone features, or a trained model's float32 + int8 vectors) for
 * the CTR models and the service (pipeline/encode.ts).
 */
import { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BackboneRuntime, withRuntime } from '../encoders/backbone.js';
import { saveModel } from '../engine/checkpoint.js';
import { SclConfig } from '../pretrain/config.js';
import { formatTable } from '../pretrain/evaluate.js';
import { Method, METHODS, prepare, runExperiment } from '../pretrain/pipeline.js';
import { Variant, VARIANTS } from '../pretrain/train.js';
import { MmctrError } from '../util/errors.js';
import { commandWithAlias, existingFile, list, oneOf, seedNumber } from './options.js';
import { encodeDataset, encodeLines, modelDataset } from '../pipeline/encode.js';
import { loadSclConfig, loadSclInputs, worldReferences } from '../pipeline/scl.js';
import { progressBar } from './progress.js';

const sclConfigFile = existingFile('an SCL config (JSON)');
const datasetFile = existingFile('a dataset spec (dataset.json)');
const sclModelFile = existingFile('a trained SCL model (model.safetensors)');

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

const IMAGE_RUNTIME_HELP = "MobileNetV2's runtime: onnx (onnxruntime-node), tfjs (tfjs-wasm) or auto (onnx when onnxruntime-node is installed; the config's model.backbone.runtime)";

/** Registers `mmctr pretrain ...` and `mmctr encode`; returns the `pretrain` command for its other subcommands. */
export function registerPretrain(program: Command): Command {
  const pre = program.command('pretrain').description('SCL: contrastive pre-training of item vectors on search -> purchase pairs');
  pre
    .command('train')
    .argument('<config>', 'SCL config (JSON), e.g. configs/scl-world.json', sclConfigFile)
    .description('train SCL (or an ablation) and save the model; prints held-out retrieval accuracy')
    .requiredOption('--out <dir>', 'folder for model.safetensors and report.json')
    .option('--spec <dataset.json>', 'dataset (default: data.spec of the config)', datasetFile)
    .option('--variant <name>', `${VARIANTS.join(', ')}`, oneOf(VARIANTS), 'scl' as Variant)
    .option('--seed <n>', 'random seed (overrides the config)', seedNumber)
    .option('--image-runtime <runtime>', IMAGE_RUNTIME_HELP, oneOf(BackboneRuntime.options))
    .option('--json', 'print the report as one JSON object')
    .action(async (file: string, opts: { out: string; spec?: string; variant: Variant; seed?: number; imageRuntime?: BackboneRuntime; json?: boolean }) => {
      const c = loadSclConfig(file, opts.seed);
      c.model.backbone = withRuntime(c.model.backbone, opts.imageRuntime);
      const { data, table } = await loadInputs(c, opts.spec);
      const prep = prepare(c, data.items, data.searches, table);
      const bar = trainBar();
      const res = runExperiment(c, prep, [opts.variant], { onProgress: bar.update });
      bar.stop();
      const trained = res.trained[opts.variant]!;
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
    .command('evaluate')
    .argument('<config>', 'SCL config (JSON), e.g. configs/scl-world.json', sclConfigFile)
    .description('train and evaluate SCL, its ablations and the baselines on held-out search -> purchase pairs')
    .option('--spec <dataset.json>', 'dataset (default: data.spec of the config)', datasetFile)
    .option('--methods <list>', `comma-separated: ${METHODS.join(',')}`, list(oneOf(METHODS)), [...METHODS] as Method[])
    .option('--seed <n>', 'random seed (overrides the config)', seedNumber)
    .option('--json', 'print the rows as one JSON object')
    .action(async (file: string, opts: { spec?: string; methods: Method[]; seed?: number; json?: boolean }) => {
      const methods = opts.methods;
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
    .command('encode')
    .argument('<dataset>', 'dataset spec (dataset.json) with an items table', datasetFile)
    .description("every catalogue item of a dataset (dataset.json: an items table, no searches or events needed) as vectors: the frozen image backbone's features, or with --model a trained SCL model's vectors; counts and names the items without an image or a title")
    .requiredOption('--out <file>', 'the .safetensors (or, without --model, .parquet) file to write (read by train data.vectors and serve --vectors)')
    .option('--model <model.safetensors>', 'a trained SCL model (`mmctr pretrain train`): its fused text + image vectors for every item', sclModelFile)
    .option('--cache <dir>', "the image feature cache folder (default: the model config's featureCache, else runs/features)")
    .option('--image-runtime <runtime>', IMAGE_RUNTIME_HELP, oneOf(BackboneRuntime.options))
    .option('--json', 'print the report as one JSON object')
    .action(async (dataset: string, opts: { out: string; model?: string; cache?: string; imageRuntime?: BackboneRuntime; json?: boolean }) => {
      const report = await encodeDataset(dataset, opts.out, { model: opts.model, cacheDir: opts.cache, runtime: opts.imageRuntime, progress: progressBar });
      console.log(opts.json ? JSON.stringify(report) : encodeLines(report).join('\n'));
    });
  commandWithAlias(pre, 'embed', 'embed', (command) =>
    command
      .argument('<model>', 'a trained SCL model (model.safetensors of `mmctr pretrain train`)', sclModelFile)
      .description("export every item's 128-d L2-normalised SCL vector (float32 + int8) with an id index, as safetensors (the same as `mmctr encode <dataset> --model <model>`)")
      .requiredOption('--out <file>', 'the .safetensors file to write (ids also in <file>.ids.json)')
      .option('--spec <dataset.json>', "dataset (default: the model config's data.spec); its catalogue is enough, no searches needed", datasetFile)
      .action(async (modelFile: string, opts: { out: string; spec?: string }) => {
        const spec = opts.spec ? path.resolve(opts.spec) : modelDataset(modelFile);
        if (!spec) throw new MmctrError(`${modelFile}: its config names no dataset (data.spec): pass --spec <dataset.json>`);
        console.log(encodeLines(await encodeDataset(spec, opts.out, { model: modelFile, progress: progressBar })).join('\n'));
      }),
  );
  return pre;
}
