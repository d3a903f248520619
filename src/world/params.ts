/**
 * The knobs of the ad world, each with its meaning and default, and the named presets
 * (`small` for tests and the demo, `medium` for bench:adworld, `bench` for ~1M impressions).
 */
import { z } from 'zod';
import { parseConfig } from '../util/config-file.js';

export const WorldParams = z
  .object({
    /**
     * Item catalogue: the real fashion products (shared data), the built-in drawn one, or a
     * synthetic one of any size (drawn attributes and titles, no images: the scale benchmark).
     */
    catalog: z.enum(['fashion', 'builtin', 'synthetic']).default('builtin'),
    /** Folder of the fashion catalogue (items.csv + images/); default: the shared data folder. */
    catalogDir: z.string().optional(),
    /** Items of the built-in catalogue. */
    builtinItems: z.number().int().min(20).max(100_000).default(360),
    /**
     * Items of the synthetic catalogue (default 100,000). No default here: a default would enter
     * every world's parameters, and with them the cache keys of worlds generated before it.
     */
    syntheticItems: z.number().int().min(20).max(20_000_000).optional(),
    /** Keep a deterministic subset of the fashion catalogue of at most this many items. */
    maxItems: z.number().int().positive().optional(),
    seed: z.number().int().nonnegative().default(1),
    users: z.number().int().positive().default(200),
    days: z.number().int().min(2).default(10),
    /** First day, epoch seconds (UTC midnight). */
    startTs: z.number().int().default(1_700_006_400),
    /** Mean visits (sessions) per user per day; each user's activity scales it (long-tailed). */
    sessionsPerDay: z.number().positive().default(1.2),
    /** Spread of user activity (std of its log). */
    activitySpread: z.number().min(0).default(0.7),
    /** Mean ad requests per session (at least one) and ads shown per request (positions 0..n-1). */
    adRequestsPerSession: z.number().min(1).default(2),
    adsPerRequest: z.number().int().min(1).max(20).default(4),
    /** Share of sessions that start with a search; share of searches made with a photo. */
    searchShare: z.number().min(0).max(1).default(0.35),
    photoQueryShare: z.number().min(0).max(1).default(0.25),
    /** Results shown per search. */
    shownPerSearch: z.number().int().min(2).max(100).default(12),
    /** Share of items that are new ads, launched during the last `newItemWindow` share of the days. */
    newItemShare: z.number().min(0).max(0.9).default(0.15),
    newItemWindow: z.number().gt(0).max(1).default(0.3),
    /** Share of ad slots given to launched new ads (campaigns buy traffic for new ads). */
    newItemTraffic: z.number().min(0).max(1).default(0.2),
    /** Ad slot sources: targeted to the user's favourite article types; retargeting the current intent; the rest by popularity. */
    targeting: z.number().min(0).max(1).default(0.45),
    retargeting: z.number().min(0).max(1).default(0.2),
    /** Popularity long tail: the item of popularity rank r is drawn with weight (r + 3)^-exponent. */
    popularityExponent: z.number().min(0).default(1.0),
    /** Click model (logit): base, user clickiness spread, hidden item quality spread, its tie to popularity. */
    baseLogit: z.number().default(-3.4),
    userBiasStd: z.number().min(0).default(0.4),
    qualityStd: z.number().min(0).default(0.4),
    qualityPopularity: z.number().default(0.25),
    /**
     * Noise: std of a hidden, fixed affinity of each user to each item that nothing observable
     * explains (no feature, no attribute); the Bernoulli draw adds the rest.
     */
    noise: z.number().min(0).default(0.6),
    /** Logit lost per position down the ad list. */
    positionDecay: z.number().min(0).default(0.2),
    /** Weight of each true attribute's taste in the logit. */
    tasteWeights: z
      .object({
        articleType: z.number().default(0.7),
        baseColour: z.number().default(0.6),
        gender: z.number().default(0.7),
        usage: z.number().default(0.4),
        season: z.number().default(0.25),
        brand: z.number().default(0.5),
      })
      .strict()
      .default({ articleType: 0.7, baseColour: 0.6, gender: 0.7, usage: 0.4, season: 0.25, brand: 0.5 }),
    /** Current intent (what the user is shopping for now): its weight, half-life, and the chance a new session keeps it. */
    intentWeight: z.number().min(0).default(1.2),
    intentHalfLifeHours: z.number().positive().default(12),
    intentPersistence: z.number().min(0).max(1).default(0.5),
    /** Which level of the catalogue's category is the coarse category id models may see. */
    categoryLevel: z.enum(['masterCategory', 'subCategory']).default('masterCategory'),
    /** Sample store settings written beside the data (sample-config.json). */
    historyLength: z.number().int().positive().default(30),
    split: z.object({ train: z.number().gt(0).lt(1), valid: z.number().gte(0).lt(1) }).strict().default({ train: 0.75, valid: 0.1 }),
  })
  .strict()
  .refine((p) => p.syntheticItems === undefined || p.catalog === 'synthetic', { message: 'syntheticItems (--items) sizes the synthetic catalogue only: set catalog to synthetic (--catalog synthetic)', path: ['syntheticItems'] });
export type WorldParams = z.infer<typeof WorldParams>;

export const PRESETS = {
  /** Tests and the demo: the built-in catalogue, ~25k impressions, generated in about a second. */
  small: { catalog: 'builtin', users: 200, days: 10 },
  /** bench:adworld: the fashion catalogue, ~0.4M impressions; trains two DINs in a few minutes. */
  medium: { catalog: 'fashion', users: 4000, days: 21, sessionsPerDay: 1.0, adRequestsPerSession: 1.3 },
  /** The full benchmark world: the fashion catalogue, 20k users, ~1M impressions. */
  bench: { catalog: 'fashion', users: 20000, days: 30, sessionsPerDay: 0.45, adRequestsPerSession: 1.0 },
  /** bench:scale: a synthetic catalogue of 1M items, 200k users, ~10M impressions (no images, so no photo searches). */
  scale: { catalog: 'synthetic', syntheticItems: 1_000_000, users: 200_000, days: 30, sessionsPerDay: 0.42, adRequestsPerSession: 1.0, baseLogit: -4.0 },
} as const satisfies Record<string, Partial<z.input<typeof WorldParams>>>;
export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** A preset with overrides, validated (defaults filled in). */
export function worldParams(preset: PresetName, overrides: Partial<z.input<typeof WorldParams>> = {}): WorldParams {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return parseConfig(WorldParams, { ...PRESETS[preset], ...defined }, `world preset '${preset}'`);
}
