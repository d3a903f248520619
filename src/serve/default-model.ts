/**
 * The embedded default behind `mmctr serve` with no arguments: built once, then cached.
 * ensureDefaultModel() is the one place that decides what the default serves:
 *   a small ad world (built-in drawn catalogue, history length 100), its sample store, every
 *   catalogue item's vector from its title and its photo (the title-colour encoder, the same one
 *   ingestion uses, so new items land in the same space and an uploaded photo shapes the vector),
 *   and a DIN with SimTier and MAKE over those vectors trained on it.
 * Swap in SCL vectors (`mmctr pretrain embed`) here and the service needs no other change: the
 * ranker always hands the model the index's vectors.
 *
 * The folder is complete when its manifest (serve.json) exists; it is written last, so an
 * interrupted build is redone from scratch on the next start. The manifest records the cache key
 * of the recipe (util/cache-key.ts: the options and RECIPE); a folder built for another recipe
 * is rebuilt. The world and its store come through the pipeline (src/pipeline), cached inside it.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ExperimentConfig } from '../ctr/config.js';
import { trainRun } from '../ctr/run.js';
import { readSampleConfig } from '../data/sample-config.js';
import { readDatasetSpec } from '../data/spec.js';
import { writeEmbeddings } from '../encoders/vector-file.js';
import { normalized } from '../index/types.js';
import { resolveStore } from '../pipeline/store.js';
import { ensureWorld } from '../pipeline/world.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import { cacheKey } from '../util/cache-key.js';
import { homeDir } from '../util/paths.js';
import { TitleColourEncoder } from './item-encoder.js';

export const DEFAULT_DIR = 'runs/serve-default';
/** Bumped when the default's recipe changes (what it builds from the same options), so a folder built by older code is rebuilt, not served. */
const RECIPE = 4;
const MANIFEST = 'serve.json';

export interface ServeManifest {
  /** The cache key of the recipe the folder was built with. */
  recipe?: string;
  /** The run folder (`mmctr train` layout) the service loads. */
  run: string;
  /** Item vectors to seed the index with (`mmctr pretrain embed` format). */
  vectors: string;
  /** How new items are encoded: the title-colour encoder's settings, or an SCL model file. */
  encoder: { kind: 'title-colour'; dim: number; seed: number } | { kind: 'scl'; model: string };
}

export interface DefaultModelOptions {
  /** Where to build (default runs/serve-default under the home folder: util/paths.ts homeDir()). */
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
  const dir = path.resolve(options.dir ?? path.join(homeDir(), DEFAULT_DIR));
  const manifestFile = path.join(dir, MANIFEST);
  const { seed = 1, users = 200, days = 10, epochs = 2, historyLength = 100, multimodal = true, log = () => {} } = options;
  const recipe = cacheKey({ stage: 'serve-default', version: RECIPE, recipe: { seed, users, days, epochs, historyLength, multimodal } });
  if (existsSync(manifestFile)) {
    const built = JSON.parse(readFileSync(manifestFile, 'utf8')) as ServeManifest;
    if (built.recipe === recipe) return built;
  }
  rmSync(dir, { recursive: true, force: true });

  const started = Date.now();
  log(`building the default model in ${dir} (once; about a minute)`);
  const world = await ensureWorld({ preset: 'small', seed, overrides: { users, days, historyLength } }, dir, { log: (line) => log(`  ${line}`) });
  const store = await resolveStore({ dataset: world.specFile, samples: readSampleConfig(world.sampleConfigFile) }, dir, dir);
  log(`  samples: train ${store.meta.splits.train.count}, test ${store.meta.splits.test.count}`);

  // Item vectors first: the model trains with them (SimTier reads them), and the index serves them.
  const encoder = new TitleColourEncoder(128, seed);
  const { catalog } = store;
  const imageRoot = readDatasetSpec(world.specFile).items?.imageRoot ?? world.dir;
  const encoded = await encoder.encodeFiles(catalog.ids.map((id, i) => ({ title: catalog.titles[i] ?? id, image: catalog.images[i] ? path.resolve(imageRoot, catalog.images[i]!) : null })));
  const vectors = new Float32Array(catalog.ids.length * encoder.dim);
  encoded.vectors.forEach((v, i) => vectors.set(normalized(v, encoder.dim), i * encoder.dim));
  const first = encoded.withoutImage[0];
  log(`  item vectors: ${catalog.ids.length} (${encoder.name}); ${encoded.withoutImage.length} without a usable image (title only)${first ? `, e.g. ${catalog.ids[first.index]}: ${first.reason}` : ''}`);
  const vectorsFile = path.join(dir, 'vectors.safetensors');
  writeEmbeddings(vectorsFile, catalog.ids, vectors, encoder.dim, { encoder: encoder.name });

  const config = ExperimentConfig.parse({
    name: 'serve-default',
    description: 'the built-in default of `mmctr serve`: DIN (ID features) + SimTier + MAKE over the item vectors, on the small ad world',
    data: { store: store.dir, ...(multimodal ? { vectors: vectorsFile } : {}) },
    model: { model: 'din', embeddingDim: 16, itemFields: ['category'], attentionHidden: [32, 16], mlpHidden: [64, 32], ...(multimodal ? { simTier: { tiers: 20 }, make: { attentionHidden: [16], mlpHidden: [32, 16], epochs: 4, batchSize: 256, lr: 0.005 } } : {}) },
    train: { batchSize: 256, lr: 0.005, seed, epochs, earlyStoppingPatience: 1 },
  });
  const runDir = path.join(dir, 'run');
  const run = trainRun(config, store, runDir, { makeCacheDir: path.join(dir, 'make-cache') });
  log(`  model: DIN${multimodal ? ' + SimTier + MAKE' : ''}, test AUC ${run.test.overall.auc.toFixed(4)}`);

  const manifest: ServeManifest = { recipe, run: runDir, vectors: vectorsFile, encoder: { kind: 'title-colour', dim: encoder.dim, seed } };
  writeTextAtomic(manifestFile, JSON.stringify(manifest, null, 2));
  log(`  built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return manifest;
}
