/**
 * bench:scl — SCL pre-training against its baselines and ablations on the fashion ad world.
 * Generates the world (preset `medium`, from ../shared/data/fashion-products; cached by the
 * pipeline in runs/worlds, shared with bench:paper), computes the frozen
 * MobileNetV2 image features once (cached in runs/features), trains SCL, the title <-> image
 * projection, SCL without the queue and SCL without hard negatives (configs/scl-fashion.json),
 * evaluates all with the raw backbone / bag-of-n-grams baseline on held-out search -> purchase
 * pairs, and prints a table; last line:
 * {"scl_top1", "raw_top1", "align_top1", "noqueue_top1", "nohard_top1", "pairs_per_s"} (top-1 among
 * random candidates) plus the in-session top-1 as "<method>_session_top1".
 * Options: --preset <name>, --seed <n> (training), --seeds 1,2,3 (one run per seed, then
 * per-method mean and std over the seeds, and the paired gains of the queue and of the hard
 * negatives (scl minus the ablation, seed by seed); the last line holds the means and
 * "<key>_std"), --world-seed <n> (the benchmark world, 1 by default, as in the CTR experiments;
 * "each": every run its own world, seeded like the run),
 * --config <file>, --epochs <n>, --methods scl,nohard (a subset), --set loss.lambda=1 (override
 * one config value; repeatable; numbers, booleans and strings).
 *
 * The fine-tuned image tower: the trained methods among scl, noqueue, nohard run again with
 * MobileNetV2's top `--trainable <n>` layers (default 1: the last pointwise convolution with its
 * batch norm and ReLU6; 0: no such rows) trained with them (model.trainableLayers, learning rate
 * model.trainableLr), as rows "<method>-ft" on the same held-out candidates; the frozen rows keep
 * trainableLayers 0. The last line then also holds "photo_top1" (scl-ft's photo-query top-1),
 * "photo_top1_frozen" (scl's), and the paired gains on the fine-tuned tower, "queue_gain" and
 * "hard_gain" (with "*_session_gain"), the frozen ones as "queue_gain_frozen", "hard_gain_frozen".
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { engineSummary } from '../src/engine/info.js';
import { worldReferences } from '../src/pipeline/scl.js';
import { ensureWorld } from '../src/pipeline/world.js';
import { parseSclConfig, readSclConfig } from '../src/pretrain/config.js';
import { formatTable } from '../src/pretrain/evaluate.js';
import { sclImageFeatures } from '../src/pretrain/features.js';
import { Method, METHODS, prepare, runExperiment } from '../src/pretrain/pipeline.js';
import type { RetrievalRow } from '../src/pretrain/evaluate.js';
import { loadSearchData } from '../src/pretrain/source.js';
import { repoRoot, sharedDataDir } from '../src/util/paths.js';
import { PRESET_NAMES, PresetName } from '../src/world/params.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const opts = (name: string) => args.flatMap((a, i) => (a === `--${name}` && i + 1 < args.length ? [args[i + 1]] : []));
const root = repoRoot();
const preset = (opt('preset') ?? 'medium') as PresetName;
if (!PRESET_NAMES.includes(preset)) {
  console.error(`--preset must be one of ${PRESET_NAMES.join(', ')}`);
  process.exit(2);
}
const seeds = opt('seeds') !== undefined ? opt('seeds')!.split(',').map(Number) : [opt('seed') === undefined ? 1 : Number(opt('seed'))];
if (!seeds.length || seeds.some((x) => !Number.isInteger(x) || x < 0)) {
  console.error('--seeds takes a comma-separated list of non-negative integers');
  process.exit(2);
}
const worldSeedOpt = opt('world-seed') ?? '1';
if (worldSeedOpt !== 'each' && !(Number.isInteger(Number(worldSeedOpt)) && Number(worldSeedOpt) >= 0)) {
  console.error('--world-seed takes a non-negative integer or "each"');
  process.exit(2);
}
const worldSeedOf = (seed: number) => (worldSeedOpt === 'each' ? seed : Number(worldSeedOpt));
const methods = (opt('methods')?.split(',') ?? METHODS) as Method[];
const trainable = Number(opt('trainable') ?? 1);
const FT_METHODS: Method[] = ['scl', 'noqueue', 'nohard'];
const ftMethods = trainable > 0 ? methods.filter((m) => FT_METHODS.includes(m)) : [];
if (methods.some((m) => !METHODS.includes(m))) {
  console.error(`--methods: each of ${METHODS.join(', ')}`);
  process.exit(2);
}
if (!existsSync(path.join(sharedDataDir(), 'fashion-products', 'items.csv'))) {
  console.error(`bench:scl needs the fashion catalogue at ${path.join(sharedDataDir(), 'fashion-products')} (set MMCTR_SHARED_DATA)`);
  process.exit(2);
}
const baseConfig = readSclConfig(opt('config') ?? path.join(root, 'configs', 'scl-fashion.json'));
if (opt('epochs')) baseConfig.train.epochs = Number(opt('epochs'));
for (const kv of opts('set')) {
  const [key, raw] = kv.split('=');
  const [section, name] = key.split('.');
  const sec = (baseConfig as unknown as Record<string, Record<string, unknown>>)[section];
  if (!sec || !name || raw === undefined || !(name in sec)) {
    console.error(`--set ${kv}: expected section.key=value with an existing key`);
    process.exit(2);
  }
  sec[name] = raw === 'true' ? true : raw === 'false' ? false : Number.isFinite(Number(raw)) ? Number(raw) : raw;
}
const checked = parseSclConfig({ ...baseConfig, model: { ...baseConfig.model, trainableLayers: 0 } });
const ftChecked = trainable > 0 ? parseSclConfig({ ...baseConfig, model: { ...baseConfig.model, trainableLayers: trainable } }) : null;
if (ftChecked) console.log(`fine-tuned image tower: MobileNetV2's top ${trainable} layer(s), lr ${ftChecked.model.trainableLr}`);
console.log(`loss: ${JSON.stringify(checked.loss)}`);
const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
console.log(engineSummary());

type Figures = Record<string, number>;

async function runSeed(seed: number): Promise<Figures> {
  const worldSeed = worldSeedOf(seed);
  const config = parseSclConfig(checked);
  config.seed = seed;
  const world = await ensureWorld({ preset, seed: worldSeed, catalog: 'fashion' }, path.join(root, 'runs'), { log: (line) => console.log(`[${secs()} s] ${line}`) });
  const data = await loadSearchData(world.specFile);
  console.log(`[${secs()} s] read ${data.items.length} items, ${data.searches.length} searches`);

  let lastPct = -1;
  const table = await sclImageFeatures(config.model, data.items, path.join(root, 'runs', 'features'), (d, n) => {
    const pct = Math.floor((100 * d) / Math.max(n, 1) / 10);
    if (pct !== lastPct) console.log(`  image features ${d}/${n}`);
    lastPct = pct;
  });
  console.log(`[${secs()} s] image features (${table.backbone}, ${table.dim}-d): ${table.report.cached} cached, ${table.report.computed} computed, ${table.report.missing} missing, ${table.report.corrupt} corrupt`);

  const prep = prepare(config, data.items, data.searches, table);
  const s = prep.mined.stats;
  console.log(`[${secs()} s] pairs: ${prep.mined.train.length} train, ${prep.mined.heldOut.length} held out (searches from ts ${prep.mined.cutoffTs}); ${s.textPairs} text, ${s.imagePairs} photo; ${s.hardNegatives} hard negatives`);
  const references = await worldReferences(world.specFile, data, prep.mined.heldOut, (line) => console.error(line));
  const res = runExperiment(config, prep, methods, {
    references,
    onProgress: (m, p) => {
      if (p.step === p.steps) console.log(`  ${m.padEnd(8)} ${p.steps} steps, loss ${p.loss.toFixed(4)} (nce ${p.nce.toFixed(4)}, triplet ${p.triplet.toFixed(4)}), ${p.pairsPerSec.toFixed(0)} pairs/s`);
    },
  });
  const rows = [...res.rows];
  let ftPairsPerSec = 0;
  if (ftChecked && ftMethods.length) {
    const ftConfig = parseSclConfig(ftChecked);
    ftConfig.seed = seed;
    lastPct = -1;
    const cut = await sclImageFeatures(ftConfig.model, data.items, path.join(root, 'runs', 'features'), (d, n) => {
      const pct = Math.floor((100 * d) / Math.max(n, 1) / 10);
      if (pct !== lastPct) console.log(`  cut activations ${d}/${n}`);
      lastPct = pct;
    });
    console.log(`[${secs()} s] activations below the trainable top (${cut.backbone}, ${cut.dim}-d): ${cut.report.cached} cached, ${cut.report.computed} computed`);
    const ftPrep = prepare(ftConfig, data.items, data.searches, cut);
    const ft = runExperiment(ftConfig, ftPrep, ftMethods, {
      onProgress: (m, p) => {
        if (p.step === p.steps) console.log(`  ${`${m}-ft`.padEnd(10)} ${p.steps} steps, loss ${p.loss.toFixed(4)} (nce ${p.nce.toFixed(4)}, triplet ${p.triplet.toFixed(4)}), ${p.pairsPerSec.toFixed(0)} pairs/s`);
      },
    });
    rows.push(...ft.rows.map((r) => ({ ...r, method: `${r.method}-ft` })));
    ftPairsPerSec = ft.trained.scl?.pairsPerSec ?? 0;
  }
  console.log(`[${secs()} s] seed ${seed}: retrieval of the bought item among ${config.eval.candidates} random candidates and among the search's shown items (held-out searches):`);
  console.log(formatTable(rows, config.eval.topK));
  const fig: Figures = {};
  const row = (m: string): RetrievalRow | undefined => rows.find((r) => r.method === m);
  for (const m of [...methods, ...ftMethods.map((x) => `${x}-ft`), ...references.map((r) => r.name)]) {
    const key = m.replace('-', '_');
    fig[`${key}_top1`] = row(m)?.all.top1 ?? NaN;
    fig[`${key}_session_top1`] = row(m)?.session?.top1 ?? NaN;
  }
  // Paired gains (same world, seed and candidates): what the queue and the hard negatives add,
  // on the fine-tuned tower when it ran (the frozen one's with the suffix _frozen).
  for (const [tag, suffix] of [['', '_frozen'], ['_ft', '']] as const) {
    if (tag === '_ft' && !ftMethods.length) continue;
    const out = ftMethods.length ? suffix : '';
    const ran = tag === '_ft' ? ftMethods : methods;
    for (const [gain, ablation] of [['queue', 'noqueue'], ['hard', 'nohard']] as const) {
      if (!ran.includes('scl') || !ran.includes(ablation)) continue;
      fig[`${gain}_gain${out}`] = fig[`scl${tag}_top1`] - fig[`${ablation}${tag}_top1`];
      fig[`${gain}_session_gain${out}`] = fig[`scl${tag}_session_top1`] - fig[`${ablation}${tag}_session_top1`];
    }
  }
  if (ftMethods.includes('scl')) {
    fig.photo_top1 = row('scl-ft')!.image.top1;
    fig.photo_top1_frozen = row('scl')?.image.top1 ?? NaN;
    fig.pairs_per_s_ft = ftPairsPerSec;
  }
  fig.pairs_per_s = res.trained.scl?.pairsPerSec ?? res.trained[methods.find((m) => m !== 'raw') as Exclude<Method, 'raw'>]?.pairsPerSec ?? 0;
  return fig;
}

const runs: Figures[] = [];
for (const seed of seeds) runs.push(await runSeed(seed));
const keys = Object.keys(runs[0]);
const r4 = (x: number) => Number(x.toFixed(4));
if (runs.length === 1) {
  const out: Figures = {};
  for (const k of keys) out[k] = k.startsWith('pairs_per_s') ? Math.round(runs[0][k]) : r4(runs[0][k]);
  console.log(JSON.stringify(out));
} else {
  const stats = (k: string) => {
    const xs = runs.map((r) => r[k]);
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
    return { m, sd };
  };
  const pct = (x: number) => (100 * x).toFixed(1);
  console.log(`\n${seeds.length} seeds (${seeds.join(', ')}): mean ± std (sample std over seeds), top-1 %`);
  console.log(`${'method'.padEnd(10)} | ${'random-100 top1'.padStart(16)} | ${'in-session top1'.padStart(16)} | per seed (random / in-session)`);
  for (const m of [...methods, ...ftMethods.map((x) => `${x}_ft`), 'oracle']) {
    const a = stats(`${m}_top1`), b = stats(`${m}_session_top1`);
    const per = runs.map((r) => `${pct(r[`${m}_top1`])}/${pct(r[`${m}_session_top1`])}`).join('  ');
    console.log(`${m.padEnd(10)} | ${`${pct(a.m)} ± ${pct(a.sd)}`.padStart(16)} | ${`${pct(b.m)} ± ${pct(b.sd)}`.padStart(16)} | ${per}`);
  }
  for (const [gain, suffix] of [['queue', ''], ['hard', ''], ['queue', '_frozen'], ['hard', '_frozen']]) {
    const [g, gs] = [`${gain}_gain${suffix}`, `${gain}_session_gain${suffix}`];
    if (!(g in runs[0])) continue;
    const a = stats(g), b = stats(gs);
    const per = runs.map((r) => `${pct(r[g])}/${pct(r[gs])}`).join('  ');
    const tower = suffix ? ' (frozen)' : ftMethods.length ? ' (fine-tuned)' : '';
    console.log(`${`+${gain}`.padEnd(10)} | ${`${pct(a.m)} ± ${pct(a.sd)}`.padStart(16)} | ${`${pct(b.m)} ± ${pct(b.sd)}`.padStart(16)} | ${per}  (scl minus its ablation, paired by seed${tower})`);
  }
  if ('photo_top1' in runs[0]) {
    const [a, b] = [stats('photo_top1'), stats('photo_top1_frozen')];
    console.log(`photo-query top-1: fine-tuned ${pct(a.m)} ± ${pct(a.sd)} (${runs.map((r) => pct(r.photo_top1)).join(', ')}), frozen ${pct(b.m)} ± ${pct(b.sd)} (${runs.map((r) => pct(r.photo_top1_frozen)).join(', ')})`);
  }
  const out: Figures = {};
  for (const k of keys) {
    const { m, sd } = stats(k);
    out[k] = k.startsWith('pairs_per_s') ? Math.round(m) : r4(m);
    out[`${k}_std`] = k.startsWith('pairs_per_s') ? Math.round(sd) : r4(sd);
  }
  console.log(JSON.stringify(out));
}
