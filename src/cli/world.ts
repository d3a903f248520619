/** `mmctr world generate`: writes a semi-synthetic ad world (a dataset folder the data layer reads). */
import { Command, InvalidArgumentError } from 'commander';
import path from 'node:path';
import { generateWorld } from '../world/generate.js';
import { PRESET_NAMES, PresetName, WorldParams, worldParams } from '../world/params.js';
import { existingDir, number, oneOf } from './options.js';
import { progressBar } from './progress.js';

/** A knob's flag, read by the world parameter's own schema. */
const knob = (name: 'seed' | 'users' | 'days' | 'sessionsPerDay' | 'newItemShare' | 'noise' | 'searchShare' | 'photoQueryShare' | 'maxItems' | 'syntheticItems') => number(WorldParams.shape[name]);

const TASTE_ATTRIBUTES = Object.keys(WorldParams.shape.tasteWeights.parse(undefined));

const tasteWeight = number(WorldParams.shape.tasteWeights.unwrap().shape.articleType);

function parseTastes(v: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of v.split(',').filter((p) => p.trim())) {
    const [name, w] = part.split('=').map((x) => x.trim());
    if (!TASTE_ATTRIBUTES.includes(name)) throw new InvalidArgumentError(`'${name}' is not an attribute of the click model; expected ${TASTE_ATTRIBUTES.join(', ')}.`);
    try {
      out[name] = tasteWeight(w ?? '');
    } catch (err) {
      throw new InvalidArgumentError(`${name}: ${(err as Error).message}`);
    }
  }
  return out;
}

export function registerWorld(program: Command): void {
  const world = program.command('world').description('the semi-synthetic ad world: real product content, simulated users');
  world
    .command('generate')
    .description('generate an ad world: items, users, searches, ad impressions and clicks, true click probabilities')
    .requiredOption('--out <dir>', 'folder to write the world to (replaced if it holds an earlier world)')
    .option('--preset <name>', `size preset: ${PRESET_NAMES.join(', ')}`, oneOf(PRESET_NAMES), 'small' as PresetName)
    .option('--catalog <name>', 'fashion (real products, shared data), builtin (drawn by the project) or synthetic (any size, no images: --items); default: the preset\'s', oneOf(WorldParams.shape.catalog.unwrap().options))
    .option('--catalog-dir <dir>', 'folder of the fashion catalogue (items.csv, images/)', existingDir('the fashion catalogue folder (items.csv, images/)'))
    .option('--seed <n>', 'random seed', knob('seed'))
    .option('--users <n>', 'number of users', knob('users'))
    .option('--days <n>', 'days simulated', knob('days'))
    .option('--sessions-per-day <x>', 'mean visits per user per day', knob('sessionsPerDay'))
    .option('--new-items <share>', 'share of items that are new ads launched late in the range', knob('newItemShare'))
    .option('--noise <std>', 'std of the hidden user-item affinity nothing observable explains', knob('noise'))
    .option('--search-share <share>', 'share of visits that start with a search', knob('searchShare'))
    .option('--photo-share <share>', 'share of searches made with a photo', knob('photoQueryShare'))
    .option('--max-items <n>', 'keep a deterministic subset of the fashion catalogue', knob('maxItems'))
    .option('--items <n>', 'items of the synthetic catalogue (default 100000; the scale preset: 1000000)', knob('syntheticItems'))
    .option('--category-level <level>', 'coarse category column: masterCategory or subCategory', oneOf(['masterCategory', 'subCategory']))
    .option('--tastes <list>', `weights of the attributes in the click model, e.g. articleType=0.7,baseColour=0 (0 drops one; unnamed ones keep their default): ${TASTE_ATTRIBUTES.join(', ')}`, parseTastes)
    .option('--json', 'print the summary as one JSON object')
    .action(async (opts: Record<string, string | number | boolean | undefined>) => {
      const preset = opts.preset as PresetName;
      const params = worldParams(preset, {
        catalog: opts.catalog as WorldParams['catalog'] | undefined,
        catalogDir: opts.catalogDir as string | undefined,
        seed: opts.seed as number | undefined,
        users: opts.users as number | undefined,
        days: opts.days as number | undefined,
        sessionsPerDay: opts.sessionsPerDay as number | undefined,
        newItemShare: opts.newItems as number | undefined,
        noise: opts.noise as number | undefined,
        searchShare: opts.searchShare as number | undefined,
        photoQueryShare: opts.photoShare as number | undefined,
        maxItems: opts.maxItems as number | undefined,
        syntheticItems: opts.items as number | undefined,
        categoryLevel: opts.categoryLevel as 'masterCategory' | 'subCategory' | undefined,
        tasteWeights: opts.tastes === undefined ? undefined : { ...WorldParams.shape.tasteWeights.parse(undefined), ...(opts.tastes as unknown as Record<string, number>) },
      });
      const bar = progressBar('world');
      const t0 = performance.now();
      const s = await generateWorld(params, String(opts.out), (d, total) => bar.update(d, total, `day ${d}`));
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      if (opts.json) {
        console.log(JSON.stringify({ ...s, seconds }));
        return;
      }
      console.log(`ad world (${s.catalog} catalogue, preset ${preset}, seed ${params.seed}) written to ${s.dir} in ${seconds.toFixed(1)} s`);
      console.log(`  ${s.items} items (${s.newItems} new ads launched late), ${s.users} users, ${s.days} days`);
      console.log(`  ${s.impressions} ad impressions, ${s.clicks} clicks (CTR ${s.ctr.toFixed(4)}, mean true p ${s.meanPTrue.toFixed(4)}); ${s.newImpressions} impressions of new ads`);
      console.log(`  ${s.searches} searches (${s.photoSearches} by photo), ${s.searchClicks} search clicks, ${s.purchases} purchases`);
      for (const note of s.notes) console.log(`  note: ${note}`);
      const rel = (f: string) => {
        const r = path.relative(process.cwd(), f);
        return r && !r.startsWith('..') ? r : f;
      };
      console.log(`next: mmctr data check ${rel(s.specFile)}; mmctr data build ${rel(s.specFile)} --config ${rel(s.sampleConfigFile)} --out <store>`);
    });
}
