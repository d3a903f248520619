import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { MetricSet, PaperResult, PaperVariant, SliceResult, VariantSummary } from '../../src/ctr/experiment/result.js';
import { formatGain } from '../../src/report/comparison.js';
import { renderPaperHtml, renderPaperMarkdown, writePaperReport } from '../../src/report/paper-report.js';

type Means = { auc: number; gauc: number; logloss: number };

/** Per-variant test means on the overall slice; each "new" / bucket slice shifts them a little. */
const MEANS: Record<PaperVariant, Means> = {
  id: { auc: 0.72, gauc: 0.7, logloss: 0.46 },
  vector: { auc: 0.715, gauc: 0.693, logloss: 0.462 },
  simscore: { auc: 0.725, gauc: 0.705, logloss: 0.458 },
  simtier: { auc: 0.73, gauc: 0.714, logloss: 0.455 },
  make: { auc: 0.735, gauc: 0.72, logloss: 0.45 },
  simtier_make: { auc: 0.74, gauc: 0.728, logloss: 0.448 },
};

function summarise(m: Means, id: Means, std: number): VariantSummary {
  return {
    auc: { mean: m.auc, std },
    gauc: { mean: m.gauc, std },
    logloss: { mean: m.logloss, std },
    gainVsId: { auc: (100 * (m.auc - id.auc)) / id.auc, gauc: (100 * (m.gauc - id.gauc)) / id.gauc, logloss: (100 * (id.logloss - m.logloss)) / id.logloss },
  };
}

function slice(name: string, description: string, variants: PaperVariant[], shift: number, oracle: MetricSet | null): SliceResult {
  const shifted = (m: Means): Means => ({ auc: m.auc + shift, gauc: m.gauc + shift * (m === MEANS.id ? 1 : 2), logloss: m.logloss });
  const perSeed = {} as Record<PaperVariant, MetricSet[]>;
  const summary = {} as Record<PaperVariant, VariantSummary>;
  for (const v of variants) {
    const m = shifted(MEANS[v]);
    perSeed[v] = [1, 2].map((k) => ({ ...m, gauc: m.gauc + (k === 1 ? -0.002 : 0.002), count: 1000 }));
    summary[v] = summarise(m, shifted(MEANS.id), 0.002);
  }
  return { slice: name, description, perSeed, summary, oracle };
}

const point = (epoch: number, validGauc: number) => ({ epoch, validAuc: validGauc + 0.02, validGauc, validLogloss: 0.46, trainLoss: 0.5 - 0.02 * epoch });

function fixture(variants: PaperVariant[] = ['id', 'vector', 'simscore', 'simtier', 'make', 'simtier_make']): PaperResult {
  const oracle = { auc: 0.8, gauc: 0.78, logloss: 0.42, count: 1000 };
  return {
    name: 'toy',
    finishedAt: '2026-11-24T19:00:00.000Z',
    data: { description: 'adworld demo', train: 8000, valid: 1000, test: 1000, items: 300, users: 200 },
    vectors: { source: 'SCL export', dim: 32, items: 290, missing: 10 },
    seeds: [1, 2],
    variants,
    slices: [
      slice('overall', 'every test impression', variants, 0, oracle),
      slice('new', 'items unseen in training', variants, -0.05, null),
      slice('rare', 'items with 1-9 training impressions', variants, -0.02, null),
    ],
    curves: { make: [point(1, 0.72), point(2, 0.715), point(3, 0.71)], id: [point(1, 0.7), point(2, 0.69), point(3, 0.68)] },
    makeEpochs: [1, 1],
    environment: { engine: 'native, 4 threads', seconds: 12.34 },
    notes: ['MAKE beats ID on new items <script>alert(1)</script> & more'],
  };
}

const svgCount = (html: string) => html.match(/<svg[\s>]/g)?.length ?? 0;

test('gains print with a sign and two decimals; non-finite prints n/a', () => {
  assert.equal(formatGain(2.857142), '+2.86%');
  assert.equal(formatGain(-1), '-1.00%');
  assert.equal(formatGain(-0.001), '+0.00%');
  assert.equal(formatGain(Number.NaN), 'n/a');
});

test('Markdown: header, per-slice tables with mean ± std and gains vs ID, oracle, curves, notes', () => {
  const md = renderPaperMarkdown(fixture());
  assert.match(md, /^# Paper experiment: toy\n/);
  assert.match(md, /- \*\*Seeds\*\*: 1, 2\n/);
  assert.match(md, /- \*\*Environment\*\*: native, 4 threads; 12\.3 s wall time\n/);
  // MAKE overall: GAUC (0.72 - 0.70) / 0.70 = +2.86%, AUC +2.08%, logloss (0.46 - 0.45) / 0.46 = +2.17%.
  assert.ok(md.includes('| MAKE | 0.7350 ± 0.0020 | 0.7200 ± 0.0020 | 0.4500 ± 0.0020 | +2.08% | +2.86% | +2.17% |'), md);
  assert.ok(md.includes('| Vector | 0.7150 ± 0.0020 | 0.6930 ± 0.0020 | 0.4620 ± 0.0020 | -0.69% | -1.00% | -0.43% |'));
  assert.ok(md.includes('| ID | 0.7200 ± 0.0020 | 0.7000 ± 0.0020 | 0.4600 ± 0.0020 | — | — | — |'));
  assert.ok(md.includes('| Oracle (true p) | 0.8000 | 0.7800 | 0.4200 |  |  |  |'));
  // New items: ID GAUC 0.65, MAKE 0.72 - 0.10 = 0.62 -> (0.62 - 0.65) / 0.65 = -4.62%; AUC 0.015 / 0.67 = +2.24%.
  assert.ok(md.includes('## new (items unseen in training; 1,000 test impressions)'));
  assert.ok(md.includes('| MAKE | 0.6850 ± 0.0020 | 0.6200 ± 0.0020 | 0.4500 ± 0.0020 | +2.24% | -4.62% | +2.17% |'));
  assert.ok(md.includes('## rare (items with 1-9 training impressions; 1,000 test impressions)'));
  assert.equal(md.match(/Oracle/g)?.length, 1, 'oracle row only where the slice has one');
  // Variants in r.variants order.
  const order = ['| ID |', '| Vector |', '| SimScore |', '| SimTier |', '| MAKE |', '| SimTier + MAKE |'].map((s) => md.indexOf(s));
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  assert.ok(md.includes('| 2 | 0.7150 | 0.7350 | 0.4600 | 0.4600 | 0.6900 | 0.7100 | 0.4600 | 0.4600 |'));
  // `<` is backslash-escaped so a Markdown renderer shows the text instead of parsing HTML.
  assert.ok(md.includes('## Notes\n\n- MAKE beats ID on new items \\<script>alert(1)\\</script> & more\n'), md);
});

test('HTML: inline SVG charts, offline, escaped strings', async () => {
  const html = await renderPaperHtml(fixture());
  assert.ok(html.startsWith('<!doctype html>'));
  assert.equal(svgCount(html), 4, 'GAUC, gain by slice, epoch curves, AUC');
  assert.doesNotMatch(html, /<script/i, 'no scripts at all, hence none from a CDN');
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i, 'no network references');
  assert.doesNotMatch(html, /<link/i);
  assert.ok(html.includes('<li>MAKE beats ID on new items &lt;script&gt;alert(1)&lt;/script&gt; &amp; more</li>'));
  assert.ok(html.includes('<td>MAKE</td><td>0.7350 ± 0.0020</td><td>0.7200 ± 0.0020</td><td>0.4500 ± 0.0020</td><td>+2.08%</td><td>+2.86%</td><td>+2.17%</td>'));
  assert.ok(html.includes('<td>Oracle (true p)</td>'));
});

test('NaN, a null oracle, a subset of variants and empty curves degrade gracefully', async () => {
  const r = fixture(['id', 'make']);
  r.slices[0].oracle = null;
  r.slices[0].summary.make.gauc = { mean: Number.NaN, std: Number.NaN };
  r.slices[0].summary.make.gainVsId.gauc = Number.NaN;
  r.slices[1].summary.make.auc.std = Number.NaN;
  r.curves = { make: [], id: [] };
  r.name = 'a <b>bold</b> name';
  const md = renderPaperMarkdown(r);
  assert.ok(md.includes('| MAKE | 0.7350 ± 0.0020 | n/a | 0.4500 ± 0.0020 | +2.08% | n/a | +2.17% |'), md);
  assert.ok(md.includes('| MAKE | 0.6850 | 0.6200 ± 0.0020 |'), 'a NaN std still shows the mean');
  assert.ok(!md.includes('| Oracle') && !md.includes('| Vector |') && !md.includes('| SimTier'));
  assert.ok(md.includes('No epoch curves were recorded for this run.'));

  const html = await renderPaperHtml(r);
  assert.ok(html.includes('<h1>Paper experiment: a &lt;b&gt;bold&lt;/b&gt; name</h1>'));
  assert.ok(!html.includes('<b>bold'));
  assert.ok(html.includes('No epoch curves were recorded for this run.'));
  // GAUC chart keeps ID alone, the gain chart has MAKE on the other slices, the AUC chart both: 3 drawn.
  assert.equal(svgCount(html), 3);
  assert.ok(!html.includes('NaN'));

  const idOnly = fixture(['id']);
  idOnly.curves = { make: [], id: [] };
  assert.equal(svgCount(await renderPaperHtml(idOnly)), 2, 'no gain chart without a variant to compare');
});

test('writePaperReport writes report.html, report.md and report.json', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mmctr-report-'));
  try {
    const r = fixture();
    const files = await writePaperReport(r, path.join(dir, 'out'));
    assert.deepEqual(files, { html: path.join(dir, 'out', 'report.html'), markdown: path.join(dir, 'out', 'report.md'), json: path.join(dir, 'out', 'report.json') });
    assert.deepEqual(JSON.parse(readFileSync(files.json, 'utf8')), r);
    assert.equal(readFileSync(files.markdown, 'utf8'), renderPaperMarkdown(r));
    assert.equal(svgCount(readFileSync(files.html, 'utf8')), 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
