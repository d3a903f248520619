/**
 * The report of `mmctr report`: trained runs (`RunComparisonResult`, src/ctr/experiment/runs.ts)
 * as a Comparison of experiments against a baseline, rendered by render.ts; a sweep's runs as its
 * points ranked on validation, best first.
 */
import type { RunComparisonResult } from '../ctr/experiment/runs.js';
import { finite, PALETTE, type Comparison } from './comparison.js';
import { writeReport } from './render.js';

/** An experiment keeps its colour (PALETTE, by its place) in every chart of the report. */
export function runComparison(r: RunComparisonResult): Comparison {
  const models = r.groups.map((g, k) => ({ key: g.name, label: g.name, colour: PALETTE[k % PALETTE.length], seeds: g.seeds.length }));
  const ranking = r.ranking;
  // Without validation metrics the ranking is the order found, and no point is chosen.
  const best = ranking && finite(ranking.summary[ranking.best].auc.mean) ? ranking.best : null;
  return {
    title: ranking ? `Sweep: ${r.groups.length} points ranked on validation${best ? `, best ${best}` : ''}` : `Runs compared: ${r.groups.map((g) => g.name).join(', ')}`,
    facts: [
      ['Created', r.createdAt],
      ...(best ? [['Best point (validation AUC, never test)', best] as [string, string]] : []),
      ['Baseline', r.baseline],
      ...r.groups.map((g): [string, string] => [g.name, `${g.description ? `${g.description}; ` : ''}seeds ${g.seeds.join(', ')} (${g.runs.length} run${g.runs.length === 1 ? '' : 's'}); store ${g.store || 'n/a'}`]),
    ],
    noun: ranking ? 'point' : 'experiment',
    models,
    baseline: r.baseline,
    slices: r.slices.map((s) => ({ slice: s.slice, description: s.description, count: s.count, summary: s.summary, oracle: s.oracle })),
    curves: {
      heading: 'Validation over epochs (first seed of each experiment)',
      chartTitle: 'Validation GAUC per epoch (first seed of each experiment)',
      series: models.map((m) => ({ label: m.label, colour: m.colour, points: r.curves[m.key] ?? [] })),
    },
    paired: Object.entries(r.paired).flatMap(([key, p]) => (p ? [{ key, ...p }] : [])),
    // Trained runs state no claims: the report leads with the overall table.
    claims: [],
    notes: r.notes,
    ...(ranking
      ? {
          ranking: {
            heading: 'Points ranked on validation (best first)',
            note: 'Ranked by the validation AUC of each run\'s kept epoch, mean ± std over seeds (ties: validation GAUC); the test metrics beside them played no part in the choice.',
            rows: ranking.order.map((key, k) => {
              const t = r.slices[0].summary[key];
              return { key, seeds: r.groups[k].seeds.length, valid: ranking.summary[key], test: { auc: t.auc, gauc: t.gauc, logloss: t.logloss } };
            }),
          },
        }
      : {}),
  };
}

/** Writes report.html, report.md and report.json (the RunComparisonResult) into `dir`, each atomically. */
export function writeRunReport(r: RunComparisonResult, dir: string): Promise<{ html: string; markdown: string; json: string }> {
  return writeReport(runComparison(r), r, dir);
}
