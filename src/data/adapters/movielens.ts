/**
 * MovieLens-100K (RecBole's atomic files ml-100k.inter, ml-100k.item in the shared data folder)
 * as a canonical CTR dataset: the atomic-file task of atomic.ts (rating >= 4 a click, first genre
 * as category, last-50 click histories, 80/10/10 split in time) under the name movielens-100k.
 */
import path from 'node:path';
import { sharedDataDir } from '../../util/paths.js';
import { SampleConfig } from '../sample-config.js';
import { atomicSampleConfig, DEFAULT_CLICK_RATING, prepareAtomic } from './atomic.js';
import { PreparedDataset } from './common.js';

export const MOVIELENS_NAME = 'movielens-100k';
export function defaultMovieLensSource(): string {
  return path.join(sharedDataDir(), 'movielens-100k');
}

/** The sample settings this task defines for MovieLens. */
export function movieLensSampleConfig(): SampleConfig {
  return atomicSampleConfig();
}

export function prepareMovieLens(options: { src?: string; out: string }): Promise<PreparedDataset> {
  return prepareAtomic({ src: options.src ?? defaultMovieLensSource(), name: 'ml-100k', out: options.out, datasetName: MOVIELENS_NAME, clickRating: DEFAULT_CLICK_RATING });
}
