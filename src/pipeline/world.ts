/**
 * The ad world an experiment or benchmark names (a preset, a seed, a catalogue, overrides),
 * generated once into <runs>/worlds/<catalogue>-<preset>-seed<n> (a stable name: SCL configs
 * point at its dataset.json; with overrides, -<key> follows), keyed (util/cache-key.ts) by the
 * world's parameters, the generator's version (WORLD_VERSION) and the catalogue's source file
 * (the fashion items.csv; its images are read in place and not hashed). The folder is reused when
 * its stamp holds that key (written once the world is complete) and its world.json these
 * parameters (no other world was generated over it since); otherwise it is generated again.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { MmctrError } from '../util/errors.js';
import { cacheKey, isCacheFolderOf, stampCacheFolder } from '../util/cache-key.js';
import { catalogSourceFiles } from '../world/catalog.js';
import { generateWorld, WORLD_VERSION, worldIsCurrent } from '../world/generate.js';
import { PRESET_NAMES, PresetName, WorldParams, worldParams } from '../world/params.js';
import { PipelineOptions, withBar } from './options.js';

export interface WorldRecipe {
  /** A preset of world/params.ts (checked here: configs give it as a string). */
  preset: string;
  seed: number;
  catalog?: WorldParams['catalog'];
  /** Further parameters over the preset's (users, days, historyLength, ...). */
  overrides?: Partial<z.input<typeof WorldParams>>;
}

export interface CachedWorld {
  dir: string;
  specFile: string;
  sampleConfigFile: string;
  params: WorldParams;
}

/** The parameters of a recipe; an unknown preset is an error naming the known ones. */
function recipeParams(recipe: WorldRecipe): WorldParams {
  if (!PRESET_NAMES.includes(recipe.preset as PresetName)) throw new MmctrError(`world.preset must be one of ${PRESET_NAMES.join(', ')}, got '${recipe.preset}'`);
  // seed and catalog are set beside the overrides, which would otherwise lose them silently.
  for (const key of ['seed', 'catalog'] as const) if (recipe.overrides && key in recipe.overrides) throw new MmctrError(`world.overrides.${key}: set world.${key} instead`);
  return worldParams(recipe.preset as PresetName, { ...recipe.overrides, seed: recipe.seed, catalog: recipe.catalog });
}

/** The world of `recipe`, generated into `<runsDir>/worlds` unless it is there already. */
export async function ensureWorld(recipe: WorldRecipe, runsDir: string, options: PipelineOptions = {}): Promise<CachedWorld> {
  const params = recipeParams(recipe);
  const key = cacheKey({ stage: 'world', version: WORLD_VERSION, recipe: params, files: catalogSourceFiles(params) });
  const name = `${params.catalog}-${recipe.preset}-seed${params.seed}${recipe.overrides && Object.keys(recipe.overrides).length ? `-${key}` : ''}`;
  const dir = path.resolve(runsDir, 'worlds', name);
  const world = { dir, specFile: path.join(dir, 'dataset.json'), sampleConfigFile: path.join(dir, 'sample-config.json'), params };
  if (isCacheFolderOf(dir, key) && worldIsCurrent(dir, params)) {
    options.log?.(`ad world reused: ${dir}`);
    return world;
  }
  rmSync(dir, { recursive: true, force: true });
  const s = await withBar(options, 'world', (update) => generateWorld(params, dir, (d, n) => update(d, n, `day ${d}`)));
  stampCacheFolder(dir, key);
  options.log?.(
    `ad world generated (${params.catalog}, ${recipe.preset}, seed ${params.seed}): ${s.items} items (${s.newItems} new), ${s.users} users, ${s.impressions} impressions, ${s.searches} searches (${s.photoSearches} by photo), ${s.purchases} purchases`,
  );
  return world;
}
