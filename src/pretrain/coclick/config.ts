/**
 * The co-click text-vectors configuration (`mmctr pretrain text`): every setting typed, with its
 * default, in one zod schema (`CoClickConfig`); configs/movielens-text-vectors.json holds only
 * what it changes. Training reads it as a config of the one contrastive loop (train.ts here maps
 * it onto pretrain/trainer.ts).
 */
import { z } from 'zod';
import { parseConfig, readConfigFile } from '../../util/config-file.js';
import { contrastiveTrainConfig, SclEvalConfig, SclModelConfig } from '../config.js';

export const CoClickTextConfig = z
  .object({
    /** Catalogue fields appended to the title (those the store's catalogue has and the item fills). */
    fields: z.array(z.string()).default(['category', 'genres', 'release_year']),
    /** Tokens kept per item text (unigrams first, then word bigrams, then char n-grams shortest first). */
    maxTokens: z.number().int().positive().default(64),
  })
  .strict();

export const CoClickPairsConfig = z
  .object({
    /** Each clicked training sample pairs its target with this many of its most recent earlier clicks. */
    window: z.number().int().positive().default(5),
  })
  .strict();

/** The text tower's shape (the SCL model's fields, its defaults); no image side is ever used. */
export const CoClickModelConfig = SclModelConfig.pick({ textBuckets: true, tokenDim: true, hidden: true, outDim: true });

export const CoClickLossConfig = z
  .object({
    /** InfoNCE temperature. */
    tau: z.number().positive().default(0.1),
    /** MoCo queue of momentum keys (0: in-batch negatives only). */
    queueSize: z.number().int().nonnegative().default(0),
    /**
     * Extra negatives per step drawn uniformly from the catalogue (not the batch's items), encoded
     * without gradient (by the key encoder when there is a queue). In-batch negatives are drawn by
     * popularity, so they teach "more often together than their popularity says" (PMI); uniform
     * ones add the popularity back, which ranking among random candidates rewards.
     */
    uniformNegatives: z.number().int().nonnegative().default(0),
    momentum: z.number().min(0).max(1).default(0.995),
  })
  .strict();

export const CoClickTrainConfig = contrastiveTrainConfig({ epochs: 5, batchSize: 512 });

export const CoClickEvalConfig = SclEvalConfig.extend({
  /** Held-out pairs: each clicked sample's target with this many of its latest earlier clicks. */
  window: z.number().int().positive().default(1),
  /**
   * A diagnostic of new items: this share of the catalogue (drawn with `seed`) is kept out of
   * training (every pair touching one is dropped) and counted as cold in the evaluation, with
   * no popularity either. 0 (default) for the vectors to export.
   */
  holdOutItems: z.number().min(0).lt(1).default(0),
});

export const CoClickConfig = z
  .object({
    /** Marks a file as a text-vectors config (so the CLI can tell it from an experiment config). */
    kind: z.literal('text-vectors').default('text-vectors'),
    name: z.string().default('coclick'),
    description: z.string().optional(),
    seed: z.number().int().nonnegative().default(1),
    /** Where the samples come from: an experiment config's `data` section (store, dataset or adapter). */
    data: z.object({ store: z.string().optional(), dataset: z.string().optional(), adapter: z.string().optional() }).passthrough().optional(),
    text: CoClickTextConfig.default(CoClickTextConfig.parse({})),
    pairs: CoClickPairsConfig.default(CoClickPairsConfig.parse({})),
    model: CoClickModelConfig.default(CoClickModelConfig.parse({})),
    loss: CoClickLossConfig.default(CoClickLossConfig.parse({})),
    train: CoClickTrainConfig.default(CoClickTrainConfig.parse({})),
    eval: CoClickEvalConfig.default(CoClickEvalConfig.parse({})),
  })
  .strict();
export type CoClickConfig = z.infer<typeof CoClickConfig>;
export type CoClickConfigInput = z.input<typeof CoClickConfig>;

export function coClickConfig(raw: CoClickConfigInput = {}, source = 'text-vectors config'): CoClickConfig {
  return parseConfig(CoClickConfig, raw, source);
}

export function readCoClickConfig(file: string): CoClickConfig {
  return readConfigFile(CoClickConfig, file);
}
