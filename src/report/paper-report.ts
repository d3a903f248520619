/**
 * The paper experiment's report: `PaperResult` (src/ctr/experiment/result.ts) as a Comparison of
 * the paper's variants against ID, with MAKE's and the ID model's validation curves (the one-epoch
 * phenomenon), the paper's claims read back from the experiment's notes (their verdicts) and the
 * other notes, rendered by render.ts.
 */
import { VARIANT_LABELS, type PaperResult, type PaperVariant } from '../ctr/experiment/result.js';
import { claimsAndNotes, finite, formatCount, type Comparison } from './comparison.js';
import { consoleSummary, renderHtml, renderMarkdown, writeReport } from './render.js';

/** A fixed colour per variant (tableau10), so a variant looks the same in every chart whatever subset is drawn. */
const VARIANT_COLOURS: Record<PaperVariant, string> = {
  id: '#4c78a8',
  vector: '#f58518',
  simscore: '#e45756',
  simtier: '#72b7b2',
  make: '#54a24b',
  simtier_make: '#eeca3b',
};

const NA = 'n/a';

export function paperComparison(r: PaperResult): Comparison {
  const d = r.data;
  const v = r.vectors;
  const { claims, notes } = claimsAndNotes(r.notes);
  return {
    title: `Paper experiment: ${r.name}`,
    facts: [
      ['Finished', r.finishedAt],
      ['Data', `${d.description}: ${formatCount(d.train)} train / ${formatCount(d.valid)} valid / ${formatCount(d.test)} test samples; ${formatCount(d.items)} items, ${formatCount(d.users)} users`],
      ['Vectors', `${v.source}, dimension ${v.dim}, ${formatCount(v.items)} items (${formatCount(v.missing)} missing)`],
      ['Seeds', r.seeds.length ? r.seeds.join(', ') : NA],
      ['MAKE epochs kept', r.makeEpochs.length ? r.makeEpochs.join(', ') : NA],
      ['Environment', `${r.environment.engine}; ${finite(r.environment.seconds) ? r.environment.seconds.toFixed(1) : NA} s wall time`],
    ],
    noun: 'variant',
    models: r.variants.map((key) => ({ key, label: VARIANT_LABELS[key], colour: VARIANT_COLOURS[key], seeds: r.seeds.length })),
    baseline: 'id',
    slices: r.slices.map((slice) => {
      // Test impressions behind a slice: first seed of the first variant that has one.
      const count = r.variants.map((key) => slice.perSeed[key]?.[0]?.count).find(finite) ?? null;
      const summary = Object.fromEntries(Object.entries(slice.summary).map(([key, s]) => [key, { auc: s.auc, gauc: s.gauc, logloss: s.logloss, gain: s.gainVsId }]));
      return { slice: slice.slice, description: slice.description, count, summary, oracle: slice.oracle };
    }),
    curves: {
      heading: 'Validation over epochs (first seed)',
      chartTitle: 'Validation GAUC per epoch: MAKE against ID (one-epoch phenomenon)',
      series: [
        { label: VARIANT_LABELS.make, colour: VARIANT_COLOURS.make, points: r.curves.make },
        { label: VARIANT_LABELS.id, colour: VARIANT_COLOURS.id, points: r.curves.id },
      ],
    },
    claims,
    notes,
  };
}

/** The overall and new-item figures per variant, for the terminal. */
export function paperSummaryTable(r: PaperResult): string {
  return consoleSummary(paperComparison(r));
}

export function renderPaperMarkdown(r: PaperResult): string {
  return renderMarkdown(paperComparison(r));
}

export function renderPaperHtml(r: PaperResult): Promise<string> {
  return renderHtml(paperComparison(r));
}

/** Writes report.html, report.md and report.json (the PaperResult) into `dir`, each atomically. */
export function writePaperReport(r: PaperResult, dir: string): Promise<{ html: string; markdown: string; json: string }> {
  return writeReport(paperComparison(r), r, dir);
}
