/**
 * The inputs of the paper's comparison (`mmctr experiment paper`, bench:paper, the demo's last
 * step): the config's ad world (ensureWorld) becomes its dataset, the dataset its sample store
 * (resolveStore), and SCL pre-trained on the dataset's searches its item vectors
 * (ensureSclVectors), each built once and cached under the runs folder.
 */
import type { PaperExperimentConfig } from '../ctr/experiment/paper.js';
import { readSampleConfig } from '../data/sample-config.js';
import type { SampleStore } from '../data/store.js';
import { MmctrError } from '../util/errors.js';
import { PipelineOptions } from './options.js';
import { ensureSclVectors, loadSclConfig } from './scl.js';
import { resolveStore } from './store.js';
import { ensureWorld } from './world.js';

/** Resolves the config's data (world, store) and vectors (pretrain) in place; returns the store and a description of the data. */
export async function preparePaperInputs(config: PaperExperimentConfig, runsDir: string, options: PipelineOptions = {}): Promise<{ store: SampleStore; description: string }> {
  let description = config.description ?? '';
  if (config.world) {
    const world = await ensureWorld(config.world, runsDir, options);
    config.data.dataset ??= world.specFile;
    config.data.samples ??= readSampleConfig(world.sampleConfigFile);
    description ||= `ad world (${config.world.catalog ?? 'preset'} catalogue, ${config.world.preset} preset, seed ${config.world.seed})`;
  }
  const store = await resolveStore(config.data, process.cwd(), runsDir, options);
  if (!config.data.vectors) {
    if (!config.data.dataset) throw new MmctrError('pretrain needs a dataset with searches (data.dataset or a world); or give data.vectors');
    config.data.vectors = await ensureSclVectors(loadSclConfig(config.pretrain!.config, config.pretrain!.seed), config.data.dataset, runsDir, options);
  }
  return { store, description: description || config.data.dataset || config.data.adapter || store.dir };
}
