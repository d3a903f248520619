/**
 * bench:scl — SCL pre-training against its baselines and ablations on the fashion ad world.
 * Generates the world (preset `medium`, from ../shared/data/fashion-products; cached in
 * runs/scl/world-<preset>-seed<n> and reused when its parameters match), computes the frozen
 * MobileNetV2 image features once (cached in runs/features), trains SCL, the title <-> image
 * projection, SCL without the queue and SCL without hard negatives (configs/scl-fashion.json),
 * evaluates all with the raw backbone / bag-of-n-grams baseline on held-out search -> purchase
 * pairs, and prints a table; last line:
 * {"scl_top1", "raw_top1", "align_top1", "noqueue_top1", "nohard_top1", "pairs_per_s"}.
 * Options: --preset <name>, --seed <n> (world and training), --config <file>, --epochs <n>.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { engineSummary } from '../src/engine/info.js';
import { imageFeatures, MobileNetV2Backbone } from '../src/encoders/index.js';
import { readSclConfig } from '../src/pretrain/config.js';
import { formatTable } from '../src/pretrain/evaluate.js';
import { METHODS, prepare, runExperiment } from '../src/pretrain/pipeline.js';
import { loadSearchData } from '../src/pretrain/source.js';
import { repoRoot, sharedDataDir } from '../src/util/paths.js';
import { generateWorld } from '../src/world/generate.js';
import { PRESET_NAMES, PresetName, worldParams } from '../src/world/params.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = repoRoot();
const preset = (opt('preset') ?? 'medium') as PresetName;
if (!PRESET_NAMES.includes(preset)) {
  console.error(`--preset must be one of ${PRESET_NAMES.join(', ')}`);
  process.exit(2);
}
const seed = opt('seed') === undefined ? 1 : Number(opt('seed'));
const params = worldParams(preset, { seed, catalog: 'fashion' });
if (!existsSync(path.join(sharedDataDir(), 'fashion-products', 'items.csv'))) {
  console.error(`bench:scl needs the fashion catalogue at ${path.join(sharedDataDir(), 'fashion-products')} (set MMCTR_SHARED_DATA)`);
  process.exit(2);
}
const config = readSclConfig(opt('config') ?? path.join(root, 'configs', 'scl-fashion.json'));
config.seed = seed;
if (opt('epochs')) config.train.epochs = Number(opt('epochs'));
const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
console.log(engineSummary());

const worldDir = path.join(root, 'runs', 'scl', `world-${preset}-seed${seed}`);
const worldJson = path.join(worldDir, 'world.json');
const same = existsSync(worldJson) && JSON.stringify((JSON.parse(readFileSync(worldJson, 'utf8')) as { params: unknown }).params) === JSON.stringify(params);
if (!same) {
  const w = await generateWorld(params, worldDir);
  console.log(`[${secs()} s] world generated (${preset}, seed ${seed}): ${w.items} items, ${w.searches} searches (${w.photoSearches} by photo), ${w.purchases} purchases`);
} else console.log(`[${secs()} s] world reused: ${worldDir}`);
const data = await loadSearchData(path.join(worldDir, 'dataset.json'));
console.log(`[${secs()} s] read ${data.items.length} items, ${data.searches.length} searches`);

const backbone = await MobileNetV2Backbone.load();
let lastPct = -1;
const table = await imageFeatures(backbone, data.items, path.join(root, 'runs', 'features'), (d, n) => {
  const pct = Math.floor((100 * d) / Math.max(n, 1) / 10);
  if (pct !== lastPct) console.log(`  image features ${d}/${n}`);
  lastPct = pct;
});
await backbone.close?.();
console.log(`[${secs()} s] image features (${table.backbone}, ${table.dim}-d): ${table.report.cached} cached, ${table.report.computed} computed, ${table.report.missing} missing, ${table.report.corrupt} corrupt`);

const prep = prepare(config, data.items, data.searches, table);
const s = prep.mined.stats;
console.log(`[${secs()} s] pairs: ${prep.mined.train.length} train, ${prep.mined.heldOut.length} held out (searches from ts ${prep.mined.cutoffTs}); ${s.textPairs} text, ${s.imagePairs} photo; ${s.hardNegatives} hard negatives`);
const res = runExperiment(config, prep, METHODS, {
  onProgress: (m, p) => {
    if (p.step === p.steps) console.log(`  ${m.padEnd(8)} ${p.steps} steps, loss ${p.loss.toFixed(4)} (nce ${p.nce.toFixed(4)}, triplet ${p.triplet.toFixed(4)}), ${p.pairsPerSec.toFixed(0)} pairs/s`);
  },
});
console.log(`[${secs()} s] retrieval of the bought item among ${config.eval.candidates} candidates (held-out searches):`);
console.log(formatTable(res.rows, config.eval.topK));
const top1 = (m: string) => Number((res.rows.find((r) => r.method === m)?.all.top1 ?? NaN).toFixed(4));
console.log(
  JSON.stringify({
    scl_top1: top1('scl'),
    raw_top1: top1('raw'),
    align_top1: top1('align'),
    noqueue_top1: top1('noqueue'),
    nohard_top1: top1('nohard'),
    pairs_per_s: Math.round(res.trained.scl?.pairsPerSec ?? 0),
  }),
);
