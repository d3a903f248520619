/**
 * The result of `mmctr experiment paper`: every variant's test metrics per seed, summaries with
 * the relative gain over ID, breakdowns by item frequency bucket and for new items, and the
 * validation curves over epochs (MAKE against the ID model: the one-epoch phenomenon). The
 * report (src/report) renders it as HTML with charts, Markdown and JSON.
 */

/** The paper's six variants, in the order of its table. */
export const PAPER_VARIANTS = ['id', 'vector', 'simscore', 'simtier', 'make', 'simtier_make'] as const;
export type PaperVariant = (typeof PAPER_VARIANTS)[number];

export const VARIANT_LABELS: Record<PaperVariant, string> = {
  id: 'ID',
  vector: 'Vector',
  simscore: 'SimScore',
  simtier: 'SimTier',
  make: 'MAKE',
  simtier_make: 'SimTier + MAKE',
};

export interface MetricSet {
  auc: number;
  gauc: number;
  logloss: number;
  /** Test samples (impressions) behind the figures. */
  count: number;
}

/** Mean and sample standard deviation over seeds (std 0 for one seed). */
export interface Spread {
  mean: number;
  std: number;
}

export interface VariantSummary {
  auc: Spread;
  gauc: Spread;
  logloss: Spread;
  /** Relative gain of the mean over ID's mean, in percent: 100 * (x - id) / id (logloss: lower is better, so 100 * (id - x) / id). */
  gainVsId: { auc: number; gauc: number; logloss: number };
}

/** One group of test impressions: everything, new items, or a frequency bucket ("rare", "head"...). */
export interface SliceResult {
  /** "overall", "new", or the bucket's name. */
  slice: string;
  /** Human description, e.g. "items with 1-9 training impressions". */
  description: string;
  perSeed: Record<PaperVariant, MetricSet[]>;
  summary: Record<PaperVariant, VariantSummary>;
  /** The true click probability's metrics on the same slice (simulated data only), mean over seeds. */
  oracle: MetricSet | null;
}

export interface EpochPoint {
  epoch: number;
  validAuc: number;
  validGauc: number;
  validLogloss: number;
  trainLoss: number;
}

export interface PaperResult {
  name: string;
  /** ISO time the experiment finished. */
  finishedAt: string;
  /** What the data was: a dataset or adapter name, sizes. */
  data: { description: string; train: number; valid: number; test: number; items: number; users: number };
  /** Where the item vectors came from, their dimension and coverage. */
  vectors: { source: string; dim: number; items: number; missing: number };
  seeds: number[];
  variants: PaperVariant[];
  /** slices[0] is "overall"; then "new" (when there are new items), then the frequency buckets. */
  slices: SliceResult[];
  /** Validation metrics after each epoch, for the first seed: MAKE alone and the ID model trained past one epoch. */
  curves: { make: EpochPoint[]; id: EpochPoint[] };
  /** The epoch MAKE kept (best on validation), per seed. */
  makeEpochs: number[];
  /** The engine, threads, BLAS, wall time. */
  environment: { engine: string; seconds: number };
  /** Free-text notes the experiment adds (e.g. which claims held). */
  notes: string[];
}
