/**
 * The replay experiment's report (`mmctr experiment stream`): `StreamExperimentResult` as a
 * Comparison of the streamed model against the frozen base on the same progressive samples,
 * overall and for new items, with the streamed and frozen GAUC per window of the first seed as
 * the curve, the claims read back from the notes; rendered by render.ts.
 */
import type { EpochPoint } from '../ctr/experiment/result.js';
import { round } from '../ctr/experiment/summary.js';
import type { StreamExperimentResult } from '../stream/experiment.js';
import type { WindowMetrics, WindowScores } from '../stream/train.js';
import { claimsAndNotes, formatCount, PALETTE, type Comparison } from './comparison.js';
import { writeReport } from './render.js';

/** Short, as they head table columns; the claims and notes say what each is. */
const LABELS = { frozen: 'frozen base', streamed: 'streamed' } as const;

/** A window as a curve point: its index stands for the epoch, its progressive figures for validation's. */
const points = (curve: WindowMetrics[], scores: (w: WindowMetrics) => WindowScores | null): EpochPoint[] =>
  curve.flatMap((w, k) => {
    const s = scores(w);
    return s ? [{ epoch: k + 1, validAuc: round(s.auc), validGauc: round(s.gauc), validLogloss: round(s.logloss), trainLoss: Number.NaN }] : [];
  });

export function streamComparison(r: StreamExperimentResult): Comparison {
  const models = (['frozen', 'streamed'] as const).map((key, k) => ({ key, label: LABELS[key], colour: PALETTE[k], seeds: r.seeds.length }));
  const { claims, notes } = claimsAndNotes(r.notes);
  const first = r.perSeed[0];
  return {
    title: `Streaming against a stale model: ${r.name}`,
    facts: [
      ['Created', r.createdAt],
      ['Events', r.events],
      ['Models', 'frozen base: trained in batch on the training split, never updated; streamed: the same run, trained once on each later sample as its label became final'],
      ['Seeds', r.seeds.join(', ')],
      ...r.perSeed.map((s): [string, string] => [
        `Seed ${s.seed}`,
        `base run test AUC ${s.baseTest.auc.toFixed(4)} / GAUC ${s.baseTest.gauc.toFixed(4)} in batch; ${formatCount(s.trained)} samples streamed after its training period (${formatCount(s.skipped)} in it built histories only)`,
      ]),
    ],
    noun: 'model',
    models,
    baseline: 'frozen',
    slices: r.slices.map((s) => ({ ...s, oracle: null })),
    curves: {
      heading: `Progressive metrics per window of ${formatCount(r.windowSize)} samples (seed ${first.seed})`,
      chartTitle: `Progressive GAUC per window (seed ${first.seed}); the x axis counts windows`,
      series: [
        { label: LABELS.frozen, colour: PALETTE[0], points: points(first.curve, (w) => w.frozen) },
        { label: LABELS.streamed, colour: PALETTE[1], points: points(first.curve, (w) => w) },
      ],
    },
    claims,
    notes,
  };
}

/** Writes report.html, report.md and report.json (the result) into `dir`, each atomically. */
export function writeStreamReport(r: StreamExperimentResult, dir: string): Promise<{ html: string; markdown: string; json: string }> {
  return writeReport(streamComparison(r), r, dir);
}
