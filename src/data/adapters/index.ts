/** The built-in dataset adapters, by name (the names experiment configs use), and short aliases. */
import { PreparedDataset } from './common.js';
import { defaultMovieLensSource, prepareMovieLens } from './movielens.js';
import { defaultTaobaoSource, prepareTaobao } from './taobao.js';

export type { PreparedDataset } from './common.js';
export { prepareMovieLens, movieLensSampleConfig, defaultMovieLensSource } from './movielens.js';
export { prepareTaobao, defaultTaobaoSource } from './taobao.js';

export interface Adapter {
  name: string;
  description: string;
  /** The source folder used when none is given (under the shared data folder). */
  defaultSource(): string;
  /** `name`: the source files' stem, for adapters that read files by stem (movielens). */
  prepare(options: { src?: string; out: string; name?: string }): Promise<PreparedDataset>;
}

export const ADAPTER_LIST: Adapter[] = [
  {
    name: 'movielens-100k',
    description: 'MovieLens-100K ratings: rating >= 4 is a click, last-50 click histories, 80/10/10 split in time',
    defaultSource: defaultMovieLensSource,
    prepare: prepareMovieLens,
  },
  {
    name: 'taobao-samples',
    description: 'Taobao display-ad sample files (train/valid/test_sample.csv): a parse-and-train smoke test',
    defaultSource: defaultTaobaoSource,
    prepare: prepareTaobao,
  },
];

const ALIASES: Record<string, string> = { movielens: 'movielens-100k', 'ml-100k': 'movielens-100k', taobao: 'taobao-samples' };

/** An adapter by name or alias (movielens, taobao), or undefined. */
export function findAdapter(name: string): Adapter | undefined {
  const full = ALIASES[name] ?? name;
  return ADAPTER_LIST.find((a) => a.name === full);
}

/** For experiment configs (data.adapter): prepares the dataset from the default source into `outDir`. */
export const ADAPTERS: Record<string, (outDir: string) => Promise<PreparedDataset>> = Object.fromEntries(
  ADAPTER_LIST.map((a) => [a.name, (outDir: string) => a.prepare({ out: outDir })]),
);
