/**
 * bench:scale's measured phases, each in its own process so that its peak RSS is its own
 * (bench/scale.ts runs this under /usr/bin/time). The last stdout line is one JSON object.
 *
 *   node dist/bench/scale-child.js world <recipe.json> <runs dir>   the world through pipeline/world.ts (cached)
 *   node dist/bench/scale-child.js train <store dir> <steps>         DIN + SimTier + MAKE for a fixed number of steps
 *
 * train: vectors for every catalogue item are the hashed n-gram projection of its title
 * (encoders/ngram-projection.ts, 64-d), aligned to the catalogue as a vector file would be; MAKE
 * is built over them untrained and frozen inside the DIN (its own training is more of the same
 * loop); the item and user tables are bounded (minCount 2: ids with one training sample share
 * row 0). Training is the shared trainer (ctr/trainer.ts) with `maxSteps`, shuffled as a run is.
 */
import { readFileSync } from 'node:fs';
import { ExperimentConfig } from '../src/ctr/config.js';
import { featureSpaceOf } from '../src/ctr/feature-space.js';
import { boundedTables, createMake, createModel } from '../src/ctr/models/index.js';
import { alignVectors } from '../src/ctr/parts/item-vectors.js';
import { describeTableRows } from '../src/ctr/parts/table-rows.js';
import { fit } from '../src/ctr/trainer.js';
import { SampleStore } from '../src/data/store.js';
import { ngramVectors } from '../src/encoders/ngram-projection.js';
import { engineSummary } from '../src/engine/info.js';
import { ensureWorld, WorldRecipe } from '../src/pipeline/world.js';

const [mode, a, b] = process.argv.slice(2);
const log = (line: string) => console.log(line);

if (mode === 'world') {
  const t0 = performance.now();
  let generated = true;
  const world = await ensureWorld(JSON.parse(readFileSync(a, 'utf8')) as WorldRecipe, b, {
    log: (line) => {
      if (line.startsWith('ad world reused')) generated = false;
      log(line);
    },
  });
  const summary = (JSON.parse(readFileSync(`${world.dir}/world.json`, 'utf8')) as { summary: { impressions: number; items: number; users: number } }).summary;
  console.log(JSON.stringify({ ...world, impressions: summary.impressions, items: summary.items, users: summary.users, generated, seconds: (performance.now() - t0) / 1000 }));
} else if (mode === 'train') {
  const steps = Number(b);
  console.log(engineSummary());
  const t0 = performance.now();
  const store = SampleStore.open(a);
  const { ids, titles } = store.catalog;
  const dim = 64;
  const vectors = alignVectors('ngram-projection of titles', ids, ngramVectors(titles.map((t) => t ?? ''), dim, 1), dim, ids);
  const config = ExperimentConfig.parse({
    name: 'bench-scale',
    data: { store: a },
    model: {
      model: 'din', embeddingDim: 16, attentionHidden: [80, 40], mlpHidden: [200, 80],
      simTier: { tiers: 20 }, make: { attentionHidden: [64, 32], mlpHidden: [64, 32] },
      embeddingTables: { item: { minCount: 2 }, user: { minCount: 2 } },
    },
    train: { batchSize: 1024, lr: 0.001, epochs: 1, seed: 1 },
  });
  if (config.model.model !== 'din' || !config.model.make) throw new Error('bench:scale trains a DIN with MAKE');
  const make = createMake(config.model.make, vectors, 1);
  const model = createModel(config.model, featureSpaceOf(store), 1, { vectors, make });
  const tables = boundedTables(model);
  for (const t of tables) log(describeTableRows(t));
  const prepSeconds = (performance.now() - t0) / 1000;
  log(`prepared in ${prepSeconds.toFixed(1)} s: ${ids.length} items with ${dim}-d vectors, ${model.parameterCount().toLocaleString('en')} parameters`);
  const cpu0 = process.cpuUsage();
  const r = fit(model, store, config.train, { maxSteps: steps });
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({
    items: ids.length, samples: r.samples, steps, seconds: r.seconds, prepSeconds,
    samplesPerSecond: r.samplesPerSecond, loopSamplesPerSecond: r.loopSamplesPerSecond, cpuSeconds: (cpu.user + cpu.system) / 1e6,
    tables: tables.map((t) => ({ table: t.table, rows: t.rows, ids: t.ids })),
  }));
} else {
  console.error('usage: scale-child.js world <recipe.json> <runs dir> | train <store dir> <steps>');
  process.exit(2);
}
