/**
 * bench:adworld — how much room the ad world leaves for content. Generates the world from the
 * real fashion catalogue (preset `medium`, seed 1; needs ../shared/data/fashion-products),
 * builds its sample store, trains the ID-only DIN (configs/adworld-din-id.json) and the
 * attribute oracle (configs/adworld-din-attr.json: the same DIN given the items' true
 * attributes, a calibration point no deployable model reaches), and evaluates both on the test
 * split beside the oracle (the true click probabilities). Last line:
 * {"oracle_gauc", "id_gauc", "id_gauc_new", "id_gauc_head", "attr_gauc", "attr_gauc_new"}.
 * Options: --preset <name> (default medium), --seed <n>, --out <dir> (default runs/adworld).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { featureSpaceOf } from '../src/ctr/feature-space.js';
import { Bucket, BUCKETS, Evaluation, MetricSet } from '../src/ctr/metrics.js';
import { createModel } from '../src/ctr/models/index.js';
import { readExperimentConfig } from '../src/ctr/run.js';
import { evaluateSplit, fit } from '../src/ctr/trainer.js';
import { buildStoreFromSpec } from '../src/data/samples.js';
import { readSampleConfig } from '../src/data/sample-config.js';
import { engineSummary } from '../src/engine/info.js';
import { repoRoot, sharedDataDir } from '../src/util/paths.js';
import { generateWorld } from '../src/world/generate.js';
import { PRESET_NAMES, PresetName, worldParams } from '../src/world/params.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const preset = (opt('preset') ?? 'medium') as PresetName;
if (!PRESET_NAMES.includes(preset)) {
  console.error(`--preset must be one of ${PRESET_NAMES.join(', ')}`);
  process.exit(2);
}
const root = repoRoot();
const params = worldParams(preset, { seed: opt('seed') === undefined ? undefined : Number(opt('seed')) });
if (params.catalog === 'fashion' && !existsSync(path.join(sharedDataDir(), 'fashion-products', 'items.csv'))) {
  console.error(`bench:adworld needs the fashion catalogue at ${path.join(sharedDataDir(), 'fashion-products')} (set MMCTR_SHARED_DATA)`);
  process.exit(2);
}
const out = path.resolve(opt('out') ?? path.join(root, 'runs', 'adworld'));
const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
console.log(engineSummary());

const world = await generateWorld(params, path.join(out, 'world'));
console.log(`[${secs()} s] world (${preset}, seed ${params.seed}): ${world.items} items (${world.newItems} new), ${world.users} users, ${world.impressions} impressions, CTR ${world.ctr.toFixed(4)}, ${world.searches} searches, ${world.purchases} purchases`);
const { store } = await buildStoreFromSpec(world.specFile, readSampleConfig(world.sampleConfigFile), path.join(out, 'store'));
const { meta } = store;
console.log(`[${secs()} s] store: train ${meta.splits.train.count}, valid ${meta.splits.valid.count}, test ${meta.splits.test.count}`);

const fmt = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '   -  ' : x.toFixed(4));
function table(name: string, e: { overall: MetricSet; buckets: Record<Bucket, MetricSet> }): string {
  const cells = (m: MetricSet) => `${fmt(m.auc)} ${fmt(m.gauc)}`;
  return `${name.padEnd(16)} ${cells(e.overall)}   ${BUCKETS.map((b) => cells(e.buckets[b])).join('   ')}`;
}

const results: Record<string, Evaluation> = {};
for (const [key, file] of [['id', 'adworld-din-id.json'], ['attr', 'adworld-din-attr.json']] as const) {
  const config = readExperimentConfig(path.join(root, 'configs', file));
  const model = createModel(config.model, featureSpaceOf(store), config.train.seed);
  const r = fit(model, store, config.train);
  results[key] = evaluateSplit(model, store, 'test');
  console.log(`[${secs()} s] ${config.name}: trained ${r.samples} samples in ${r.seconds.toFixed(1)} s (${Math.round(r.samplesPerSecond)} samples/s); test AUC ${fmt(results[key].overall.auc)} GAUC ${fmt(results[key].overall.gauc)}`);
}

const test = meta.splits.test;
const counts = results.id.buckets;
console.log(`\ntest split: ${test.count} impressions, ${test.clicks} clicks; by item frequency in training: new ${counts.new.count}, rare ${counts.rare.count}, mid ${counts.mid.count}, head ${counts.head.count}`);
console.log(`${'AUC GAUC'.padStart(30)}  all | new | rare | mid | head`);
console.log(table('oracle (p_true)', results.id.oracle!));
console.log(table('ID DIN', results.id));
console.log(table('attribute oracle', results.attr));
const r5 = (x: number) => +x.toFixed(5);
const o = results.id.oracle!;
console.log(JSON.stringify({
  preset, seed: params.seed, impressions: world.impressions, test_impressions: test.count, seconds: +secs(),
  oracle_auc: r5(o.overall.auc), id_auc: r5(results.id.overall.auc), attr_auc: r5(results.attr.overall.auc),
  oracle_gauc_new: r5(o.buckets.new.gauc), oracle_gauc_head: r5(o.buckets.head.gauc),
  id_auc_new: r5(results.id.buckets.new.auc), id_auc_head: r5(results.id.buckets.head.auc), attr_auc_new: r5(results.attr.buckets.new.auc),
  attr_gauc_head: r5(results.attr.buckets.head.gauc),
}));
console.log(JSON.stringify({
  oracle_gauc: r5(o.overall.gauc),
  id_gauc: r5(results.id.overall.gauc),
  id_gauc_new: r5(results.id.buckets.new.gauc),
  id_gauc_head: r5(results.id.buckets.head.gauc),
  attr_gauc: r5(results.attr.overall.gauc),
  attr_gauc_new: r5(results.attr.buckets.new.gauc),
}));
