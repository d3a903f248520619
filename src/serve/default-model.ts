/**
 * The embedded default behind `mmctr serve` with no arguments: built once, then cached.
 * ensureDefaultModel() is the one place that decides what the default serves:
 *   a small ad world (built-in drawn catalogue, history length 100), its sample store, every
 *   catalogue item's vector (hashed-title encoder, the same one ingestion uses, so new items land
 *   in the same space), and a DIN with SimTier and MAKE over those vectors trained on it.
 * Swap in SCL vectors (`mmctr embed`) here and the service needs no other change: the
 * ranker always hands the model the index's vectors.
 *
 * The folder is complete when its manifest (serve.json) exists; it is written last, so an
 * interrupted build is redone from scratch on the next start.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ExperimentConfig } from '../ctr/config.js';
import { trainRun } from '../ctr/run.js';
import { buildStoreFromSpec } from '../data/resolve.js';
import { readSampleConfig } from '../data/sample-config.js';
import { readCatalog } from '../data/samples.js';
import { writeEmbeddings } from '../pretrain/export.js';
import { normalized } from '../index/types.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import { repoRoot } from '../util/paths.js';
import { generateWorld } from '../world/generate.js';
import { worldParams } from '../world/params.js';
import { HashedTitleEncoder } from './item-encoder.js';

export const DEFAULT_DIR = 'runs/serve-default';
/** Bumped when the default's recipe changes, so a folder built by older code is rebuilt, not served. */
const RECIPE = 3;
const MANIFEST = 'serve.json';

export interface ServeManifest {
  /** The recipe version the folder was built with. */
  recipe?: number;
  /** The run folder (`mmctr train` layout) the service loads. */
  run: string;
  /** Item vectors to seed the index with (`mmctr embed` format). */
  vectors: string;
  /** How new items are encoded: the hashed-title encoder's settings, or an SCL model file. */
  encoder: { kind: 'hashed-title'; dim: number; seed: number } | { kind: 'scl'; model: string };
}

export interface DefaultModelOptions {
  /** Where to build (default runs/serve-default under the repository). */
  dir?: string;
  seed?: number;
  /** World size and training length (tests shrink them). */
  users?: number;
  days?: number;
  epochs?: number;
  historyLength?: number;
  /** SimTier and MAKE over the item vectors beside the ID features (default); false: ID-only DIN. */
  multimodal?: boolean;
  log?: (line: string) => void;
}

/** The manifest of a built default (building it first if needed). */
export async function ensureDefaultModel(options: DefaultModelOptions = {}): Promise<ServeManifest> {
  const dir = path.resolve(options.dir ?? path.join(repoRoot(), DEFAULT_DIR));
  const manifestFile = path.join(dir, MANIFEST);
  if (existsSync(manifestFile)) {
    const built = JSON.parse(readFileSync(manifestFile, 'utf8')) as ServeManifest;
    if (built.recipe === RECIPE) return built;
  }
  const { seed = 1, users = 200, days = 10, epochs = 2, historyLength = 100, multimodal = true, log = () => {} } = options;
  rmSync(dir, { recursive: true, force: true });

  const started = Date.now();
  log(`building the default model in ${dir} (once; about a minute)`);
  const world = await generateWorld(worldParams('small', { seed, users, days, historyLength }), path.join(dir, 'world'));
  log(`  world: ${world.items} items, ${world.users} users, ${world.impressions} impressions`);
  const storeDir = path.join(dir, 'store');
  const { meta } = await buildStoreFromSpec(world.specFile, readSampleConfig(world.sampleConfigFile), storeDir);
  log(`  samples: train ${meta.splits.train.count}, test ${meta.splits.test.count}`);

  // Item vectors first: the model trains with them (SimTier reads them), and the index serves them.
  const encoder = new HashedTitleEncoder(128, seed);
  const catalog = readCatalog(storeDir);
  const vectors = new Float32Array(catalog.ids.length * encoder.dim);
  catalog.ids.forEach((id, i) => vectors.set(normalized(encoder.encodeTitle(catalog.titles[i] ?? id), encoder.dim), i * encoder.dim));
  const vectorsFile = path.join(dir, 'vectors.safetensors');
  writeEmbeddings(vectorsFile, catalog.ids, vectors, encoder.dim, { encoder: encoder.name });

  const config = ExperimentConfig.parse({
    name: 'serve-default',
    description: 'the built-in default of `mmctr serve`: DIN (ID features) + SimTier + MAKE over the item vectors, on the small ad world',
    data: { store: storeDir, ...(multimodal ? { vectors: vectorsFile } : {}) },
    model: { model: 'din', embeddingDim: 16, itemFields: ['category'], attentionHidden: [32, 16], mlpHidden: [64, 32], ...(multimodal ? { simTier: { tiers: 20 }, make: { attentionHidden: [16], mlpHidden: [32, 16], epochs: 4, batchSize: 256, lr: 0.005 } } : {}) },
    train: { batchSize: 256, lr: 0.005, seed, epochs, earlyStoppingPatience: 1 },
  });
  const runDir = path.join(dir, 'run');
  const run = trainRun(config, storeDir, runDir, { makeCacheDir: path.join(dir, 'make-cache') });
  log(`  model: DIN${multimodal ? ' + SimTier + MAKE' : ''}, test AUC ${run.test.overall.auc.toFixed(4)}`);

  const manifest: ServeManifest = { recipe: RECIPE, run: runDir, vectors: vectorsFile, encoder: { kind: 'hashed-title', dim: encoder.dim, seed } };
  writeTextAtomic(manifestFile, JSON.stringify(manifest, null, 2));
  log(`  built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return manifest;
}
