/**
 * MovieLens-100K (RecBole's atomic files ml-100k.inter, ml-100k.item in the shared data folder)
 * as a canonical CTR dataset: the atomic-file task of atomic.ts (rating >= 4 a click, first genre
 * as category, last-50 click histories, 80/10/10 split in time) under the name movielens-100k.
 * Another folder given with --src is read by its own file stem (ml-1m.inter: dataset ml-1m).
 */
import path from 'node:path';
import { sharedDataDir } from '../../util/paths.js';
import { SampleConfig } from '../sample-config.js';
import { atomicSampleConfig, atomicStem, DEFAULT_CLICK_RATING, prepareAtomic } from './atomic.js';
import { adapterSource, PreparedDataset } from './common.js';

export const MOVIELENS_NAME = 'movielens-100k';
export function defaultMovieLensSource(): string {
  return path.join(sharedDataDir(), 'movielens-100k');
}

/** The sample settings this task defines for MovieLens. */
export function movieLensSampleConfig(): SampleConfig {
  return atomicSampleConfig();
}

export async function prepareMovieLens(options: { src?: string; out: string; name?: string }): Promise<PreparedDataset> {
  const src = adapterSource('movielens', options.src, defaultMovieLensSource());
  const name = atomicStem(src, options.name);
  return prepareAtomic({ src, name, out: options.out, datasetName: name === 'ml-100k' ? MOVIELENS_NAME : name, clickRating: DEFAULT_CLICK_RATING });
}
