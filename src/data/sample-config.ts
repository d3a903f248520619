/** How impressions become training samples: history length, ties, splits, frequency buckets. */
import { z } from 'zod';
import { parseConfig, readConfigFile } from '../util/config-file.js';

export const SplitSpec = z.discriminatedUnion('kind', [
  /** Impressions sorted by (time, file order); the first `train` share trains, the next `valid` validates, the rest tests. */
  z.object({ kind: z.literal('fraction'), train: z.number().gt(0).lt(1).default(0.8), valid: z.number().gte(0).lt(1).default(0.1) }).strict(),
  /** Impressions before `validStart` train, before `testStart` validate, the rest test (epoch seconds). */
  z.object({ kind: z.literal('time'), validStart: z.number(), testStart: z.number() }).strict(),
]);

export const SampleConfig = z
  .object({
    /** Behaviours kept per sample (the most recent, most recent last). */
    historyLength: z.number().int().positive().default(50),
    /**
     * Clicks with the same timestamp as the impression: 'exclude' leaves them out of its history
     * (no leakage whatever the file order); 'file-order' counts those earlier in the file as
     * earlier (MovieLens convention).
     */
    ties: z.enum(['exclude', 'file-order']).default('exclude'),
    split: SplitSpec.default({ kind: 'fraction', train: 0.8, valid: 0.1 }),
    /** A click event labels the latest earlier impression of the same user and item up to this many seconds before it. */
    clickWindowSeconds: z.number().positive().default(1800),
    /** Target-item frequency buckets over training impressions: new = 0, rare <= rareMax, mid <= midMax, head above. */
    /**
     * A log without impressions (positives only: purchases, clicks): each positive becomes a
     * sample with label 1 and `perPositive` samples with label 0 for the same user, time and
     * history, whose items are drawn (seeded, with replacement, never the positive's item) over
     * the items live at that time (created, or first seen in the log, by then): 'uniform', or
     * 'popularity' (in proportion to their positives so far). Unused when the log has impressions.
     */
    negatives: z
      .object({
        perPositive: z.number().int().positive().default(4),
        sampler: z.enum(['uniform', 'popularity']).default('uniform'),
        seed: z.number().int().nonnegative().default(1),
      })
      .strict()
      .default({ perPositive: 4, sampler: 'uniform', seed: 1 }),
    buckets: z.object({ rareMax: z.number().int().nonnegative().default(10), midMax: z.number().int().positive().default(100) }).strict().default({ rareMax: 10, midMax: 100 }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.split.kind === 'fraction' && c.split.train + c.split.valid > 1 + 1e-12)
      ctx.addIssue({ code: 'custom', path: ['split', 'valid'], message: `train + valid shares must not exceed 1 (got ${c.split.train} + ${c.split.valid})` });
    if (c.split.kind === 'time' && c.split.testStart < c.split.validStart)
      ctx.addIssue({ code: 'custom', path: ['split', 'testStart'], message: `must not be before validStart (${c.split.validStart})` });
    if (c.buckets.midMax < c.buckets.rareMax)
      ctx.addIssue({ code: 'custom', path: ['buckets', 'midMax'], message: `must be at least rareMax (${c.buckets.rareMax})` });
  });

export type SampleConfig = z.infer<typeof SampleConfig>;
export type SplitName = 'train' | 'valid' | 'test';
export const SPLITS: SplitName[] = ['train', 'valid', 'test'];

/** Validates a sample config object (defaults filled in); `source` names it in errors. */
export function parseSampleConfig(raw: unknown, source: string): SampleConfig {
  return parseConfig(SampleConfig, raw, source);
}

/** Reads a sample config JSON file (sample-config.json). */
export function readSampleConfig(file: string): SampleConfig {
  return readConfigFile(SampleConfig, file);
}
