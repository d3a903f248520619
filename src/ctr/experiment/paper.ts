/**
 * The paper's comparison (arXiv 2407.19467, table of phase 2): ID, Vector, SimScore, SimTier,
 * MAKE and SimTier + MAKE trained and evaluated on the same store and splits, for several seeds;
 * MAKE is trained once per seed and reused by both variants that take it. Also the validation
 * curves over epochs of MAKE and of the ID model trained past one epoch (the one-epoch
 * phenomenon). Returns a PaperResult; src/report renders it.
 */
import path from 'node:path';
import { z } from 'zod';
import { engineSummary } from '../../engine/info.js';
import type { SampleStore } from '../../data/store.js';
import { readConfigFile } from '../../util/config-file.js';
import { DataSection, DinConfig, ExperimentConfig, hasDataSource, MakeConfig, SimTierConfig, TrainConfig } from '../config.js';
import { BUCKETS, Evaluation, MetricSet as EvalMetrics } from '../metrics.js';
import { trainRun, TrainRunOptions } from '../run.js';
import { controlVectors, loadItemVectors, VECTOR_CONTROLS } from '../parts/item-vectors.js';
import { ConfigError } from '../../util/errors.js';
import { EpochPoint, MetricSet, PAPER_VARIANTS, PaperResult, PaperVariant, SliceResult, VariantSummary } from './result.js';
import { bucketDescriptions, epochCurve, metricsOf, oracleOf, round, summarize, type Summary } from './summary.js';
export const PaperExperimentConfig = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    /** The data (store, dataset or adapter) and data.vectors, the item vectors every multimodal variant reads. */
    data: DataSection,
    /** The ID model every variant starts from (a DIN without multimodal features). */
    model: DinConfig.omit({ vector: true, simScore: true, simTier: true, make: true }),
    simTier: SimTierConfig.default(SimTierConfig.parse({})),
    make: MakeConfig.default(MakeConfig.parse({})),
    train: TrainConfig.default(TrainConfig.parse({})),
    seeds: z.array(z.number().int().nonnegative()).min(1).default([1, 2, 3]),
    variants: z.array(z.enum(PAPER_VARIANTS)).min(1).default([...PAPER_VARIANTS]),
    /**
     * The uninformative-vector control: every variant reads vectors stripped of their signal,
     * 'shuffle' (permuted across items) or 'random' (seeded random unit vectors), drawn anew for
     * each seed. A content feature that cannot hurt stays within the seed spread of ID here.
     */
    vectorControl: z.enum(VECTOR_CONTROLS).optional(),
    /** Epochs of the extra ID run that shows the one-epoch phenomenon (first seed; 0: skip it). */
    curveEpochs: z.number().int().nonnegative().default(4),
    /**
     * Optional inputs the command builds first (cached under runs/): an ad world to generate
     * (its dataset becomes data.dataset) and an SCL config to pre-train on it and embed every
     * item with (the export becomes data.vectors).
     */
    world: z
      .object({
        preset: z.string().default('bench'),
        seed: z.number().int().nonnegative().default(1),
        catalog: z.enum(['fashion', 'builtin']).optional(),
        /**
         * World parameters over the preset's (users, noise, tasteWeights, ...: world/params.ts), as
         * `mmctr world generate` flags set them; only those given, checked when the world is built
         * (pipeline/world.ts: world/ is read by pipeline/, not by ctr/).
         */
        overrides: z.record(z.string(), z.unknown()).optional(),
      })
      .strict()
      .optional(),
    pretrain: z.object({ config: z.string(), seed: z.number().int().nonnegative().default(1) }).strict().optional(),
  })
  .strict()
  .refine((c) => hasDataSource(c.data) || c.world, { message: 'give data.store, data.dataset, data.adapter or a world to generate', path: ['data'] })
  .refine((c) => c.data.vectors || c.pretrain, { message: 'give data.vectors (a file of item vectors) or pretrain (an SCL config to make them)', path: ['data', 'vectors'] });
export type PaperExperimentConfig = z.infer<typeof PaperExperimentConfig>;

export function readPaperConfig(file: string): PaperExperimentConfig {
  const config = readConfigFile(PaperExperimentConfig, file);
  const dir = path.dirname(path.resolve(file));
  if (config.data.vectors) config.data.vectors = path.resolve(dir, config.data.vectors);
  if (config.data.dataset) config.data.dataset = path.resolve(dir, config.data.dataset);
  if (config.data.store) config.data.store = path.resolve(dir, config.data.store);
  if (config.pretrain) config.pretrain.config = path.resolve(dir, config.pretrain.config);
  return config;
}

/** The single-model experiment config of one variant and seed. */
export function variantConfig(config: PaperExperimentConfig, variant: PaperVariant, seed: number): ExperimentConfig {
  const multimodal: Partial<DinConfig> = {
    id: {},
    vector: { vector: true },
    simscore: { simScore: true },
    simtier: { simTier: config.simTier },
    make: { make: config.make },
    simtier_make: { simTier: config.simTier, make: config.make },
  }[variant];
  return ExperimentConfig.parse({
    name: `${config.name}-${variant}`,
    description: config.description,
    data: config.data,
    model: { ...config.model, ...multimodal },
    train: { ...config.train, seed },
  });
}

export interface PaperProgress {
  seed: number;
  variant: PaperVariant | 'curve';
  index: number;
  total: number;
}

export interface PaperOptions extends Pick<TrainRunOptions, 'log' | 'onProgress'> {
  onRun?: (p: PaperProgress) => void;
  /** Describes the data in the report (e.g. "ad world, fashion catalogue, bench preset"). */
  dataDescription?: string;
}

export function runPaperExperiment(config: PaperExperimentConfig, store: SampleStore, outDir: string, options: PaperOptions = {}): PaperResult {
  const t0 = performance.now();
  // Read once for every run (and the report's coverage figures).
  if (!config.data.vectors) throw new ConfigError('data.vectors', ['the comparison needs item vectors: give data.vectors, or pretrain through `mmctr experiment paper`']);
  const vectors = loadItemVectors(config.data.vectors, store.catalog.ids);
  const runOptions: TrainRunOptions = { log: options.log, onProgress: options.onProgress, makeCacheDir: path.join(outDir, 'make-cache'), vectors };
  const optionsOf = (seed: number): TrainRunOptions => (config.vectorControl ? { ...runOptions, vectors: controlVectors(vectors, config.vectorControl, seed) } : runOptions);
  const tests: Record<PaperVariant, Evaluation[]> = Object.fromEntries(config.variants.map((v) => [v, []])) as unknown as Record<PaperVariant, Evaluation[]>;
  const makeEpochs: number[] = [];
  let makeCurve: EpochPoint[] = [];
  const total = config.seeds.length * config.variants.length + (config.curveEpochs > 1 ? 1 : 0);
  let index = 0;
  for (const seed of config.seeds) {
    const seedOptions = optionsOf(seed);
    if (config.vectorControl) options.log?.(`seed ${seed}: uninformative vectors (${config.vectorControl}), the control`);
    for (const variant of config.variants) {
      options.onRun?.({ seed, variant, index: index++, total });
      options.log?.(`seed ${seed}: ${variant}`);
      const r = trainRun(variantConfig(config, variant, seed), store, path.join(outDir, 'runs', `${variant}-seed${seed}`), seedOptions);
      tests[variant].push(r.test);
      if (r.make && (variant === 'make' || !config.variants.includes('make'))) {
        makeEpochs.push(r.make.fit.bestEpoch);
        if (seed === config.seeds[0]) makeCurve = epochCurve(r.make.fit.epochs);
      }
    }
  }
  let idCurve: EpochPoint[] = [];
  if (config.curveEpochs > 1) {
    options.onRun?.({ seed: config.seeds[0], variant: 'curve', index: index++, total });
    // Its own experiment name: beside id-seed<n> in the runs folder, `mmctr report` keeps the two apart.
    const c = { ...variantConfig(config, 'id', config.seeds[0]), name: `${config.name}-id-curve` };
    // Past one epoch, with no early stopping: the curve is the point.
    c.train = { ...c.train, epochs: config.curveEpochs, earlyStoppingPatience: config.curveEpochs, monitor: 'gauc' };
    idCurve = epochCurve(trainRun(c, store, path.join(outDir, 'runs', `id-curve-seed${config.seeds[0]}`), optionsOf(config.seeds[0])).fit.epochs);
  }
  const { meta } = store;
  const bucketText = bucketDescriptions(meta.config.buckets);
  const everyTest = () => Object.values<Evaluation[]>(tests).flat();
  const slice = (name: string, description: string, of: (e: Evaluation) => EvalMetrics, oracle: MetricSet | null): SliceResult => {
    const perSeed = Object.fromEntries(config.variants.map((v) => [v, tests[v].map((e) => metricsOf(of(e)))])) as Record<PaperVariant, MetricSet[]>;
    const summary = summarize(perSeed, config.variants, 'id');
    const asVariant = (s: Summary): VariantSummary => ({ auc: s.auc, gauc: s.gauc, logloss: s.logloss, gainVsId: s.gain });
    return { slice: name, description, perSeed, summary: Object.fromEntries(config.variants.map((v) => [v, asVariant(summary[v])])) as Record<PaperVariant, VariantSummary>, oracle };
  };
  const slices = [slice('overall', 'all test impressions', (e) => e.overall, oracleOf(everyTest(), (o) => o.overall))];
  for (const b of BUCKETS) {
    const first = Object.values(tests)[0]?.[0];
    if (!first || first.buckets[b].count === 0) continue;
    slices.push(slice(b, bucketText[b], (e) => e.buckets[b], oracleOf(everyTest(), (o) => o.buckets[b])));
  }
  const result: PaperResult = {
    name: config.name,
    finishedAt: new Date().toISOString(),
    data: {
      description: options.dataDescription ?? config.description ?? config.data.dataset ?? config.data.adapter ?? config.data.store ?? '',
      train: meta.splits.train.count,
      valid: meta.splits.valid.count,
      test: meta.splits.test.count,
      items: meta.items,
      users: meta.users,
    },
    vectors: { source: config.vectorControl ? `${vectors.source} (control: ${config.vectorControl}, drawn per seed)` : vectors.source, dim: vectors.dim, items: meta.items - vectors.missing, missing: vectors.missing },
    seeds: config.seeds,
    variants: config.variants,
    slices,
    curves: { make: makeCurve, id: idCurve },
    makeEpochs,
    environment: { engine: engineSummary(), seconds: round((performance.now() - t0) / 1000) },
    notes: [],
  };
  result.notes = checkPaperClaims(result);
  return result;
}

export const VERDICTS = ['holds', 'does not hold'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** A claim as a note: "holds: <sentence>". Notes are the result's only record of its claims, so reports read them back with `claimOfNote`. */
export const claimNote = (held: boolean, sentence: string) => `${held ? VERDICTS[0] : VERDICTS[1]}: ${sentence}`;

/** A note's verdict and sentence, or null for a note that states no claim. */
export function claimOfNote(note: string): { verdict: Verdict; sentence: string } | null {
  const verdict = VERDICTS.find((v) => note.startsWith(`${v}: `));
  return verdict ? { verdict, sentence: note.slice(verdict.length + 2) } : null;
}

/**
 * The paper's claims checked against a result, one sentence each: SimTier + MAKE over ID on
 * GAUC by at least +1.25 % relative with the gap beyond the seed spread, the gain on new items
 * at least twice the overall gain, and SimTier and MAKE each above Vector and SimScore.
 */
export function checkPaperClaims(r: PaperResult): string[] {
  const overall = r.slices.find((s) => s.slice === 'overall')!;
  const fresh = r.slices.find((s) => s.slice === 'new');
  const has = (v: PaperVariant) => r.variants.includes(v);
  const g = (v: PaperVariant) => overall.summary[v].gauc;
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} %`;
  const notes: string[] = [];
  if (has('id') && has('simtier_make')) {
    const gain = overall.summary.simtier_make.gainVsId.gauc;
    const gap = g('simtier_make').mean - g('id').mean;
    const spreadMax = Math.max(g('simtier_make').std, g('id').std);
    const beyond = r.seeds.length > 1 ? (gap > spreadMax ? `beyond the seed spread (gap ${gap.toFixed(4)}, largest std ${spreadMax.toFixed(4)})` : `NOT beyond the seed spread (gap ${gap.toFixed(4)}, largest std ${spreadMax.toFixed(4)})`) : 'one seed: no spread measured';
    notes.push(claimNote(gain >= 1.25, `SimTier + MAKE vs ID, GAUC ${pct(gain)} relative (paper: +1.25 %); ${beyond}.`));
    if (fresh) {
      const freshGain = fresh.summary.simtier_make.gainVsId.gauc;
      notes.push(claimNote(freshGain >= 2 * gain, `gain on new items ${pct(freshGain)} vs overall ${pct(gain)} (claim: at least twice; ratio ${(freshGain / gain).toFixed(2)}).`));
    }
  }
  for (const v of ['simtier', 'make'] as const) {
    if (!has(v)) continue;
    for (const base of ['vector', 'simscore'] as const) {
      if (!has(base)) continue;
      const d = g(v).mean - g(base).mean;
      notes.push(claimNote(d > 0, `${v} ${d > 0 ? 'above' : 'not above'} ${base} on GAUC (${g(v).mean.toFixed(4)} vs ${g(base).mean.toFixed(4)}).`));
    }
  }
  return notes;
}
