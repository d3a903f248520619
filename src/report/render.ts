/**
 * A Comparison laid out and rendered. `reportLayout` owns the page's order for every report kind:
 * the answer first (the claims' verdicts, a sweep's ranking on validation, then the overall table), then the charts, then the
 * detail (setup, the other slices, paired gaps, curves, notes). Markdown and HTML both draw that
 * list from the same table builders, so they show the same numbers in the same order; the HTML is
 * one self-contained file (inline stylesheet, inline SVG charts, no scripts) that opens offline;
 * JSON of the result it was drawn from beside them.
 */
import path from 'node:path';
import type { EpochPoint } from '../ctr/experiment/result.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import { comparisonCharts, type Chart } from './charts.js';
import { finite, formatCount, formatGain, formatGap, formatMetric, formatSpread, labelOf, NO_CURVES, nounHeading, type Claim, type ComparedSlice, type Comparison } from './comparison.js';

interface Table {
  head: string[];
  rows: string[][];
}

/** One slice's table: a row per model in display order, then the oracle when known. */
function sliceTable(c: Comparison, slice: ComparedSlice): Table {
  const base = labelOf(c, c.baseline);
  const rows = c.models.map((m) => {
    const s = slice.summary[m.key];
    // The baseline is the reference of every gain: its own "gain" carries no information.
    const gain = (x: number | undefined) => (m.key === c.baseline ? '—' : formatGain(x));
    return [m.label, formatSpread(s?.auc), formatSpread(s?.gauc), formatSpread(s?.logloss), gain(s?.gain.auc), gain(s?.gain.gauc), gain(s?.gain.logloss)];
  });
  if (slice.oracle) {
    const o = slice.oracle;
    rows.push(['Oracle (true p)', formatMetric(o.auc), formatMetric(o.gauc), formatMetric(o.logloss), '', '', '']);
  }
  return { head: [nounHeading(c), 'AUC', 'GAUC', 'Logloss', `AUC gain vs ${base}`, `GAUC gain vs ${base}`, `Logloss gain vs ${base}`], rows };
}

function sliceTitle(slice: ComparedSlice): string {
  const detail = [slice.description, slice.count === null ? '' : `${formatCount(slice.count)} test impressions`].filter(Boolean).join('; ');
  return detail ? `${slice.slice} (${detail})` : slice.slice;
}

/** The curves side by side, joined on the epoch number; null when all are empty. */
function curveTable(c: Comparison): Table | null {
  const series = c.curves.series;
  if (series.every((s) => s.points.length === 0)) return null;
  const epochs = [...new Set(series.flatMap((s) => s.points.map((p) => p.epoch)))].sort((a, b) => a - b);
  const cells = (p: EpochPoint | undefined) => [formatMetric(p?.validGauc), formatMetric(p?.validAuc), formatMetric(p?.validLogloss), formatMetric(p?.trainLoss)];
  return {
    head: ['Epoch', ...series.flatMap((s) => [`${s.label} valid GAUC`, `${s.label} valid AUC`, `${s.label} valid logloss`, `${s.label} train loss`])],
    rows: epochs.map((e) => [String(e), ...series.flatMap((s) => cells(s.points.find((p) => p.epoch === e)))]),
  };
}

/** The paired differences to the baseline; null when there are none. */
function pairedTable(c: Comparison): Table | null {
  if (!c.paired?.length) return null;
  return {
    head: [nounHeading(c), 'Seeds', 'AUC gap', 'GAUC gap', 'Logloss gap', 'Every seed agrees'],
    rows: c.paired.map((p) => [labelOf(c, p.key), p.seeds.join(', '), formatGap(p.auc), formatGap(p.gauc), formatGap(p.logloss), p.steady ? 'yes' : 'no']),
  };
}

/** The validation ranking; null when the models are not ranked. */
function rankingTable(c: Comparison): Table | null {
  if (!c.ranking) return null;
  return {
    head: ['Rank', nounHeading(c), 'Seeds', 'Valid AUC', 'Valid GAUC', 'Valid logloss', 'Test AUC', 'Test GAUC', 'Test logloss'],
    rows: c.ranking.rows.map((r, k) => [String(k + 1), labelOf(c, r.key), String(r.seeds), ...[r.valid.auc, r.valid.gauc, r.valid.logloss, r.test.auc, r.test.gauc, r.test.logloss].map(formatSpread)]),
  };
}

/** Which ranked model is best, or that none could be chosen. */
const bestLine = (c: Comparison & { ranking: NonNullable<Comparison['ranking']> }) =>
  finite(c.ranking.rows[0]?.valid.auc.mean) ? `best ${c.noun} (validation AUC, never test): ${labelOf(c, c.ranking.rows[0].key)}` : `no ${c.noun} has validation metrics: none is chosen`;

const pairedHeading = (c: Comparison) => `Paired over seeds: difference to ${labelOf(c, c.baseline)}, seed by seed (overall)`;
const PAIRED_NOTE =
  'A seed gives both models the same data order, so the per-seed difference cancels what the order moves in both; its spread says whether a gap is steady. Logloss: lower is better, so a negative gap is a gain.';

const metricNote = (c: Comparison) => {
  const base = labelOf(c, c.baseline);
  return `Metrics are mean ± std over seeds on the test set; gains are relative to ${base} (logloss: lower is better, so a positive gain is a lower logloss).`;
};

// ---- Console ----

/** The overall and new-item figures in a few terminal lines: AUC, GAUC and its gain per model, then the oracle. */
export function consoleSummary(c: Comparison): string {
  const overall = c.slices[0], fresh = c.slices.find((s) => s.slice === 'new');
  const pm = (x: { mean: number; std: number } | undefined) => (x && Number.isFinite(x.mean) ? `${formatMetric(x.mean)}±${formatMetric(x.std)}` : '-');
  const width = Math.max(16, ...c.models.map((m) => m.label.length + 1));
  const ranked = c.ranking
    ? [
        `rank ${c.noun.padEnd(width)} ${'valid AUC'.padStart(15)} ${'valid GAUC'.padStart(15)} ${'test AUC'.padStart(15)} ${'test GAUC'.padStart(15)}`,
        ...c.ranking.rows.map((r, k) => `${String(k + 1).padStart(4)} ${labelOf(c, r.key).padEnd(width)} ${pm(r.valid.auc).padStart(15)} ${pm(r.valid.gauc).padStart(15)} ${pm(r.test.auc).padStart(15)} ${pm(r.test.gauc).padStart(15)}`),
        bestLine({ ...c, ranking: c.ranking }),
        '',
      ]
    : [];
  const lines = [...ranked, `${c.noun.padEnd(width)} ${'AUC'.padStart(15)} ${'GAUC'.padStart(15)} ${'gain'.padStart(8)} ${'new GAUC'.padStart(15)} ${'gain'.padStart(8)}`];
  for (const m of c.models) {
    const o = overall?.summary[m.key], n = fresh?.summary[m.key];
    lines.push(`${m.label.padEnd(width)} ${pm(o?.auc).padStart(15)} ${pm(o?.gauc).padStart(15)} ${formatGain(o?.gain.gauc).padStart(8)} ${pm(n?.gauc).padStart(15)} ${(n ? formatGain(n.gain.gauc) : '-').padStart(8)}`);
  }
  if (overall?.oracle) lines.push(`${'oracle (true p)'.padEnd(width)} ${formatMetric(overall.oracle.auc).padStart(15)} ${formatMetric(overall.oracle.gauc).padStart(15)} ${''.padStart(8)} ${(fresh?.oracle ? formatMetric(fresh.oracle.gauc) : '-').padStart(15)}`);
  return lines.join('\n');
}

// ---- Layout ----

type Block =
  | { kind: 'claims'; claims: Claim[] }
  | { kind: 'facts'; facts: [string, string][] }
  | { kind: 'text'; text: string }
  | { kind: 'missing'; text: string }
  | { kind: 'table'; table: Table }
  | { kind: 'list'; items: string[] }
  /** Where the charts go; only HTML draws them. */
  | { kind: 'charts' };

export interface Section {
  /** The HTML section's id. */
  id: string;
  heading: string;
  level: 2 | 3;
  blocks: Block[];
}

const heldCount = (claims: Claim[]) => `Claims held: ${claims.filter((cl) => cl.verdict === 'holds').length} of ${claims.length}.`;

/** The report's sections in reading order: the answer, the charts, the detail. */
export function reportLayout(c: Comparison): Section[] {
  const [overall, ...others] = c.slices;
  const paired = pairedTable(c);
  const curves = curveTable(c);
  const ranking = rankingTable(c);
  const sections: Section[] = [];
  if (c.claims.length) sections.push({ id: 'verdicts', heading: 'Verdicts', level: 2, blocks: [{ kind: 'text', text: heldCount(c.claims) }, { kind: 'claims', claims: c.claims }] });
  if (ranking && c.ranking)
    sections.push({ id: 'ranking', heading: c.ranking.heading, level: 2, blocks: [{ kind: 'text', text: `${bestLine({ ...c, ranking: c.ranking }).replace(/^./, (ch) => ch.toUpperCase())}. ${c.ranking.note}` }, { kind: 'table', table: ranking }] });
  if (overall) sections.push({ id: 'overall', heading: `Results: ${sliceTitle(overall)}`, level: 2, blocks: [{ kind: 'text', text: metricNote(c) }, { kind: 'table', table: sliceTable(c, overall) }] });
  sections.push({ id: 'charts', heading: 'Charts', level: 2, blocks: [{ kind: 'charts' }] });
  sections.push({ id: 'setup', heading: 'Setup', level: 2, blocks: [{ kind: 'facts', facts: c.facts }] });
  if (others.length) {
    sections.push({ id: 'slices', heading: 'Results by slice', level: 2, blocks: [{ kind: 'text', text: 'The same metrics on each slice of the test set.' }] });
    others.forEach((slice, k) => sections.push({ id: `slice-${k + 1}`, heading: sliceTitle(slice), level: 3, blocks: [{ kind: 'table', table: sliceTable(c, slice) }] }));
  }
  if (paired) sections.push({ id: 'paired', heading: pairedHeading(c), level: 2, blocks: [{ kind: 'text', text: PAIRED_NOTE }, { kind: 'table', table: paired }] });
  sections.push({ id: 'curves', heading: c.curves.heading, level: 2, blocks: [curves ? { kind: 'table', table: curves } : { kind: 'missing', text: NO_CURVES }] });
  if (c.notes.length) sections.push({ id: 'notes', heading: 'Notes', level: 2, blocks: [{ kind: 'list', items: c.notes }] });
  return sections;
}

// ---- Markdown ----

/** Free text on one line, with `<` escaped so a Markdown renderer shows it rather than parsing HTML. */
const mdText = (s: string) => s.replace(/\s*\n\s*/g, ' ').replace(/</g, '\\<');
/** Table cells additionally cannot hold pipes. */
const mdCell = (s: string) => mdText(s).replace(/\|/g, '\\|');

function mdTable(t: Table): string {
  const line = (cells: string[]) => `| ${cells.map(mdCell).join(' | ')} |`;
  return [line(t.head), line(t.head.map((_, i) => (i === 0 ? '---' : '---:'))), ...t.rows.map(line)].join('\n');
}

function mdBlock(b: Block): string | null {
  switch (b.kind) {
    case 'claims':
      return b.claims.map((cl) => `- **${cl.verdict}**: ${mdText(cl.sentence)}`).join('\n');
    case 'facts':
      return b.facts.map(([label, value]) => `- **${label}**: ${mdText(value)}`).join('\n');
    case 'text':
    case 'missing':
      return mdText(b.text);
    case 'table':
      return mdTable(b.table);
    case 'list':
      return b.items.map((n) => `- ${mdText(n)}`).join('\n');
    case 'charts':
      return null;
  }
}

export function renderMarkdown(c: Comparison): string {
  const out: string[] = [`# ${mdText(c.title)}`];
  for (const section of reportLayout(c)) {
    const blocks = section.blocks.map(mdBlock).filter((b): b is string => b !== null);
    // Markdown has no charts: a section of charts alone is left out rather than left empty.
    if (blocks.length) out.push('', `${'#'.repeat(section.level)} ${mdText(section.heading)}`, ...blocks.flatMap((b) => ['', b]));
  }
  return out.join('\n') + '\n';
}

// ---- HTML ----

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

function htmlTable(t: Table): string {
  const head = t.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const rows = t.rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>`;
}

const verdictClass = (cl: Claim) => (cl.verdict === 'holds' ? 'holds' : 'fails');

function htmlBlock(b: Block, charts: Chart[]): string {
  switch (b.kind) {
    case 'claims':
      return `<ul class="claims">\n${b.claims.map((cl) => `<li class="claim ${verdictClass(cl)}"><span class="verdict">${escapeHtml(cl.verdict)}</span> ${escapeHtml(cl.sentence)}</li>`).join('\n')}\n</ul>`;
    case 'facts':
      return `<dl>\n${b.facts.map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`).join('\n')}\n</dl>`;
    case 'text':
      return `<p>${escapeHtml(b.text)}</p>`;
    case 'missing':
      return `<p class="missing">${escapeHtml(b.text)}</p>`;
    case 'table':
      return htmlTable(b.table);
    case 'list':
      return `<ul>\n${b.items.map((n) => `<li>${escapeHtml(n)}</li>`).join('\n')}\n</ul>`;
    case 'charts':
      // Vega's SVG renderer escapes the text it draws, so the markup can be inlined as is.
      return charts.map((ch) => `<figure class="chart">\n<figcaption>${escapeHtml(ch.title)}</figcaption>\n${ch.svg ?? `<p class="missing">${escapeHtml(ch.missing ?? '')}</p>`}\n</figure>`).join('\n');
  }
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h1 + section > h2 { margin-top: .6em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; } dt { font-weight: 600; } dd { margin: 0; }
table { border-collapse: collapse; margin: .6em 0 1.2em; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e4e4e4; }
th { background: #f5f5f5; text-align: left; }
td:not(:first-child), th:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
.claims { list-style: none; padding: 0; margin: .4em 0; }
.claim { margin: .25em 0; }
.verdict { display: inline-block; min-width: 8.5em; margin-right: .5em; padding: 0 .4em; border-radius: 3px; font-weight: 600; text-align: center; }
.holds .verdict { background: #dcefd9; color: #1f5c1a; } .fails .verdict { background: #f7dcdc; color: #8a1c1c; }
figure { margin: 1em 0 2em; } figcaption { font-weight: 600; margin-bottom: .3em; }
.missing { color: #777; font-style: italic; }
`;

export async function renderHtml(c: Comparison): Promise<string> {
  const charts = await comparisonCharts(c);
  const body: string[] = [`<h1>${escapeHtml(c.title)}</h1>`];
  for (const section of reportLayout(c)) {
    const h = `h${section.level}`;
    body.push(`<section id="${section.id}">`, `<${h}>${escapeHtml(section.heading)}</${h}>`, ...section.blocks.map((b) => htmlBlock(b, charts)), '</section>');
  }
  return ['<!doctype html>', '<html lang="en">', '<head>', '<meta charset="utf-8">', `<title>${escapeHtml(c.title)}</title>`, `<style>${STYLE}</style>`, '</head>', '<body>', ...body, '</body>', '</html>', ''].join('\n');
}

// ---- Files ----

/**
 * Writes report.html, report.md and report.json (`data`: the result the comparison was drawn
 * from) into `dir`, each atomically. JSON has no NaN or Infinity: such values are written as null.
 */
export async function writeReport(c: Comparison, data: unknown, dir: string): Promise<{ html: string; markdown: string; json: string }> {
  const files = { html: path.join(dir, 'report.html'), markdown: path.join(dir, 'report.md'), json: path.join(dir, 'report.json') };
  const html = await renderHtml(c);
  writeTextAtomic(files.json, JSON.stringify(data, null, 2) + '\n');
  writeTextAtomic(files.markdown, renderMarkdown(c));
  writeTextAtomic(files.html, html);
  return files;
}
