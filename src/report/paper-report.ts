/**
 * Reports: HTML with inline SVG charts, Markdown and JSON renderings of experiment results.
 *
 * This file renders `PaperResult` (the paper experiment, src/ctr/experiment/result.ts). Markdown
 * and HTML share the same table builders so the two always show the same numbers; the HTML is a
 * single self-contained file (inline stylesheet, inline SVG, no scripts) that opens offline.
 */
import path from 'node:path';
import { VARIANT_LABELS, type EpochPoint, type PaperResult, type SliceResult } from '../ctr/experiment/result.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import { paperCharts } from './charts.js';

const NA = 'n/a';

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

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

/** Counts with thousands separators. */
const formatCount = (n: number) => (finite(n) ? n.toLocaleString('en-US') : NA);

interface Table {
  head: string[];
  rows: string[][];
}

const SLICE_HEAD = ['Variant', 'AUC', 'GAUC', 'Logloss', 'AUC gain vs ID', 'GAUC gain vs ID', 'Logloss gain vs ID'];

/** One slice's table: a row per variant in `r.variants` order, then the oracle when known. */
function sliceTable(r: PaperResult, slice: SliceResult): Table {
  const rows = r.variants.map((v) => {
    const s = slice.summary[v];
    // ID is the baseline of every gain: its own "gain" carries no information.
    const gain = (x: number | undefined) => (v === 'id' ? '—' : formatGain(x));
    return [VARIANT_LABELS[v], formatSpread(s?.auc), formatSpread(s?.gauc), formatSpread(s?.logloss), gain(s?.gainVsId.auc), gain(s?.gainVsId.gauc), gain(s?.gainVsId.logloss)];
  });
  if (slice.oracle) {
    const o = slice.oracle;
    rows.push(['Oracle (true p)', formatMetric(o.auc), formatMetric(o.gauc), formatMetric(o.logloss), '', '', '']);
  }
  return { head: SLICE_HEAD, rows };
}

/** Test impressions behind a slice (first seed of the first variant that has one). */
function sliceCount(r: PaperResult, slice: SliceResult): number | null {
  for (const v of r.variants) {
    const count = slice.perSeed[v]?.[0]?.count;
    if (finite(count)) return count;
  }
  return null;
}

function sliceTitle(r: PaperResult, slice: SliceResult): string {
  const count = sliceCount(r, slice);
  const detail = [slice.description, count === null ? '' : `${formatCount(count)} test impressions`].filter(Boolean).join('; ');
  return detail ? `${slice.slice} (${detail})` : slice.slice;
}

/** The epoch curves side by side, joined on the epoch number; null when both are empty. */
function curveTable(r: PaperResult): Table | null {
  const { make, id } = r.curves;
  if (make.length === 0 && id.length === 0) return null;
  const epochs = [...new Set([...make, ...id].map((p) => p.epoch))].sort((a, b) => a - b);
  const at = (curve: EpochPoint[], epoch: number) => curve.find((p) => p.epoch === epoch);
  const cells = (p: EpochPoint | undefined) => [formatMetric(p?.validGauc), formatMetric(p?.validAuc), formatMetric(p?.validLogloss), formatMetric(p?.trainLoss)];
  return {
    head: ['Epoch', 'MAKE valid GAUC', 'MAKE valid AUC', 'MAKE valid logloss', 'MAKE train loss', 'ID valid GAUC', 'ID valid AUC', 'ID valid logloss', 'ID train loss'],
    rows: epochs.map((e) => [String(e), ...cells(at(make, e)), ...cells(at(id, e))]),
  };
}

/** The header's facts as (label, value) pairs. */
function facts(r: PaperResult): [string, string][] {
  const d = r.data;
  const v = r.vectors;
  return [
    ['Finished', r.finishedAt],
    ['Data', `${d.description}: ${formatCount(d.train)} train / ${formatCount(d.valid)} valid / ${formatCount(d.test)} test samples; ${formatCount(d.items)} items, ${formatCount(d.users)} users`],
    ['Vectors', `${v.source}, dimension ${v.dim}, ${formatCount(v.items)} items (${formatCount(v.missing)} missing)`],
    ['Seeds', r.seeds.length ? r.seeds.join(', ') : NA],
    ['MAKE epochs kept', r.makeEpochs.length ? r.makeEpochs.join(', ') : NA],
    ['Environment', `${r.environment.engine}; ${finite(r.environment.seconds) ? r.environment.seconds.toFixed(1) : NA} s wall time`],
  ];
}

const NO_CURVES = 'No epoch curves were recorded for this run.';

// ---- Markdown ----

/** Free text on one line, with `<` escaped so a Markdown renderer shows it rather than parsing HTML. */
const mdText = (s: string) => s.replace(/\s*\n\s*/g, ' ').replace(/</g, '\\<');
/** Table cells additionally cannot hold pipes. */
const mdCell = (s: string) => mdText(s).replace(/\|/g, '\\|');

function mdTable(t: Table): string {
  const line = (cells: string[]) => `| ${cells.map(mdCell).join(' | ')} |`;
  return [line(t.head), line(t.head.map((_, i) => (i === 0 ? '---' : '---:'))), ...t.rows.map(line)].join('\n');
}

export function renderPaperMarkdown(r: PaperResult): string {
  const out: string[] = [`# Paper experiment: ${mdText(r.name)}`, ''];
  for (const [label, value] of facts(r)) out.push(`- **${label}**: ${mdText(value)}`);
  out.push('', 'Metrics are mean ± std over seeds on the test set; gains are relative to ID (logloss: lower is better, so a positive gain is a lower logloss).');
  for (const slice of r.slices) out.push('', `## ${mdText(sliceTitle(r, slice))}`, '', mdTable(sliceTable(r, slice)));
  const curves = curveTable(r);
  out.push('', '## Validation over epochs (first seed)', '', curves ? mdTable(curves) : NO_CURVES);
  if (r.notes.length) out.push('', '## Notes', '', ...r.notes.map((n) => `- ${mdText(n)}`));
  return out.join('\n') + '\n';
}

// ---- HTML ----

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function htmlTable(t: Table): string {
  const head = t.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const rows = t.rows.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; } dt { font-weight: 600; } dd { margin: 0; }
table { border-collapse: collapse; margin: .6em 0 1.2em; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e4e4e4; }
th { background: #f5f5f5; text-align: left; }
td:not(:first-child), th:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0 2em; } figcaption { font-weight: 600; margin-bottom: .3em; }
.missing { color: #777; font-style: italic; }
`;

export async function renderPaperHtml(r: PaperResult): Promise<string> {
  const charts = await paperCharts(r);
  const curves = curveTable(r);
  const body: string[] = [
    `<h1>Paper experiment: ${escapeHtml(r.name)}</h1>`,
    `<dl>\n${facts(r).map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`).join('\n')}\n</dl>`,
    '<h2>Charts</h2>',
    // Vega's SVG renderer escapes the text it draws, so the markup can be inlined as is.
    ...charts.map((c) => `<figure>\n<figcaption>${escapeHtml(c.title)}</figcaption>\n${c.svg ?? `<p class="missing">${escapeHtml(c.missing ?? '')}</p>`}\n</figure>`),
    '<h2>Results by slice</h2>',
    '<p>Metrics are mean ± std over seeds on the test set; gains are relative to ID (logloss: lower is better, so a positive gain is a lower logloss).</p>',
    ...r.slices.map((slice) => `<h3>${escapeHtml(sliceTitle(r, slice))}</h3>\n${htmlTable(sliceTable(r, slice))}`),
    '<h2>Validation over epochs (first seed)</h2>',
    curves ? htmlTable(curves) : `<p class="missing">${NO_CURVES}</p>`,
  ];
  if (r.notes.length) body.push('<h2>Notes</h2>', `<ul>\n${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('\n')}\n</ul>`);
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>Paper experiment: ${escapeHtml(r.name)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

// ---- Files ----

/**
 * Writes report.html, report.md and report.json into `dir`, each atomically. JSON has no NaN or
 * Infinity: such values are written as null.
 */
export async function writePaperReport(r: PaperResult, dir: string): Promise<{ html: string; markdown: string; json: string }> {
  const files = { html: path.join(dir, 'report.html'), markdown: path.join(dir, 'report.md'), json: path.join(dir, 'report.json') };
  const html = await renderPaperHtml(r);
  writeTextAtomic(files.json, JSON.stringify(r, null, 2) + '\n');
  writeTextAtomic(files.markdown, renderPaperMarkdown(r));
  writeTextAtomic(files.html, html);
  return files;
}
