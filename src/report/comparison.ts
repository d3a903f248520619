/**
 * report/: renderings of experiment results for people: HTML with inline SVG charts, Markdown
 * and JSON. This file owns the one shape every report is drawn from, a `Comparison` of models
 * (the paper's variants, or any trained runs grouped by experiment) with their test metrics per
 * slice, a baseline the gains are measured against, the claims checked and their verdicts,
 * validation curves and notes; and the number formats every rendering uses. render.ts lays it out
 * and draws it, charts.ts charts it.
 */
import { claimOfNote, type Verdict } from '../ctr/experiment/paper.js';
import type { EpochPoint, MetricSet, Spread } from '../ctr/experiment/result.js';
import type { Summary } from '../ctr/experiment/summary.js';

export interface ComparedModel {
  key: string;
  label: string;
  /** Its colour in every chart. */
  colour: string;
  /** How many seeds its figures summarise: with one, a std says nothing and no error bar is drawn. */
  seeds: number;
}

/** A claim the experiment checked: what the report leads with. */
export interface Claim {
  verdict: Verdict;
  sentence: string;
}

export interface ComparedSlice {
  /** "overall", "new", or a frequency bucket's name. */
  slice: string;
  description: string;
  /** Test impressions behind the slice, when known. */
  count: number | null;
  /** Per model key: spreads over seeds and gains over the baseline (ctr/experiment/summary.ts). */
  summary: Record<string, Summary>;
  /** The true click probability's metrics on the same slice (simulated data only). */
  oracle: MetricSet | null;
}

export interface Comparison {
  title: string;
  /** The header's (label, value) pairs. */
  facts: [string, string][];
  /** What a compared model is called in headings ("variant", "model"). */
  noun: string;
  /** Display order. */
  models: ComparedModel[];
  /** Key of the model every gain is measured against. */
  baseline: string;
  /** slices[0] is "overall". */
  slices: ComparedSlice[];
  curves: { heading: string; chartTitle: string; series: { label: string; colour: string; points: EpochPoint[] }[] };
  /** Differences to the baseline seed by seed (overall), where the runs share seeds. */
  paired?: { key: string; seeds: number[]; auc: Spread; gauc: Spread; logloss: Spread; steady: boolean }[];
  /** The verdicts, in the order they were checked; empty when the comparison checks none. */
  claims: Claim[];
  /** Everything else worth saying (what could mislead), after the detail. */
  notes: string[];
  /** Models ranked on validation (a sweep's points), best first; `models` are in this order. */
  ranking?: { heading: string; note: string; rows: RankedModel[] };
}

export interface RankedModel {
  key: string;
  seeds: number;
  valid: { auc: Spread; gauc: Spread; logloss: Spread };
  test: { auc: Spread; gauc: Spread; logloss: Spread };
}

/** An experiment's notes split into the claims they state ("holds: ...") and the rest. */
export function claimsAndNotes(all: readonly string[]): { claims: Claim[]; notes: string[] } {
  const claims: Claim[] = [];
  const notes: string[] = [];
  for (const note of all) {
    const claim = claimOfNote(note);
    if (claim) claims.push(claim);
    else notes.push(note);
  }
  return { claims, notes };
}

/** Colours of compared models in order (tableau10), for reports whose models have no fixed colour. */
export const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

const NA = 'n/a';
export const NO_CURVES = 'No epoch curves were recorded for this run.';

export const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** Metrics with 4 decimals. */
export function formatMetric(x: number | null | undefined): string {
  return finite(x) ? x.toFixed(4) : NA;
}

/** Mean ± std; a missing std still shows the mean. */
export function formatSpread(s: { mean: number; std: number } | undefined): string {
  if (!s || !finite(s.mean)) return NA;
  return finite(s.std) ? `${s.mean.toFixed(4)} ± ${s.std.toFixed(4)}` : s.mean.toFixed(4);
}

/** Percent gains with 2 decimals and always a sign ("+0.00%" rather than "-0.00%"). */
export function formatGain(x: number | null | undefined): string {
  if (!finite(x)) return NA;
  const fixed = x.toFixed(2);
  return Number(fixed) === 0 ? '+0.00%' : `${x > 0 ? '+' : ''}${fixed}%`;
}

/** A difference with its sign and spread: "+0.0123 ± 0.0020". */
export function formatGap(s: Spread): string {
  if (!finite(s.mean)) return NA;
  const mean = `${s.mean >= 0 ? '+' : ''}${s.mean.toFixed(4)}`;
  return finite(s.std) ? `${mean} ± ${s.std.toFixed(4)}` : mean;
}

/** Counts with thousands separators. */
export const formatCount = (n: number) => (finite(n) ? n.toLocaleString('en-US') : NA);

export const labelOf = (c: Comparison, key: string) => c.models.find((m) => m.key === key)?.label ?? key;
/** The noun as a column or legend heading ("Variant"). */
export const nounHeading = (c: Comparison) => c.noun.charAt(0).toUpperCase() + c.noun.slice(1);
