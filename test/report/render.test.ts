/**
 * The page's order, owned by reportLayout: the verdicts and the overall table first, then the
 * charts, then the detail, in Markdown, in HTML, and as Chromium lays the HTML out.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { PaperResult } from '../../src/ctr/experiment/result.js';
import { paperComparison } from '../../src/report/paper-report.js';
import { renderHtml, renderMarkdown, reportLayout } from '../../src/report/render.js';
import { runComparison } from '../../src/report/run-report.js';
import { repoRoot } from '../../src/util/paths.js';
import { chromiumMissing, openInChromium } from './chromium.js';
import { runFixture } from './fixtures.js';

/** A committed paper result (six variants, three seeds, five slices, an oracle): real figures, no training. */
const paper = (name: string) => JSON.parse(readFileSync(path.join(repoRoot(), 'docs', 'reports', name, 'report.json'), 'utf8')) as PaperResult;

test('layout: verdicts, overall table, charts, then setup, slices, curves, the other notes', () => {
  const r = paper('paper-fashion');
  r.notes.push('a note that states no claim');
  const c = paperComparison(r);
  assert.equal(c.claims.length, 6);
  assert.deepEqual(c.claims[2], { verdict: 'does not hold', sentence: 'simtier not above vector on GAUC (0.7303 vs 0.7353).' });
  assert.deepEqual(c.notes, ['a note that states no claim'], 'claims leave the notes');
  assert.deepEqual(reportLayout(c).map((s) => s.id), ['verdicts', 'overall', 'charts', 'setup', 'slices', 'slice-1', 'slice-2', 'slice-3', 'slice-4', 'curves', 'notes']);
  const md = renderMarkdown(c);
  const at = (s: string) => {
    const k = md.indexOf(s);
    assert.ok(k >= 0, `${s} in the Markdown`);
    return k;
  };
  const order = ['## Verdicts', 'Claims held: 5 of 6.', '- **does not hold**: simtier not above vector', '## Results: overall', '| SimTier + MAKE |', '## Setup', '- **Seeds**: 1, 2, 3', '## Results by slice', '### new', '## Validation over epochs', '## Notes'].map(at);
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  assert.ok(!md.includes('## Charts'), 'Markdown has no charts, hence no empty heading');
});

test('layout: a comparison without claims leads with its overall table', async () => {
  const c = runComparison(runFixture());
  const ids = reportLayout(c).map((s) => s.id);
  assert.deepEqual(ids, ['overall', 'charts', 'setup', 'paired', 'curves', 'notes']);
  const html = await renderHtml(c);
  assert.ok(!html.includes('id="verdicts"'));
  assert.ok(html.indexOf('<section id="overall">') < html.indexOf('<figure class="chart">'));
});

const browser = chromiumMissing();

for (const name of ['paper-fashion', 'paper-movielens']) {
  test(`Chromium: ${name}'s verdicts and overall table are on the first screen, above drawn charts`, { skip: browser ?? false }, async () => {
    const r = paper(name);
    const { probe, console: logged } = openInChromium(await renderHtml(paperComparison(r)));
    assert.deepEqual(logged, [], 'no console messages');
    assert.deepEqual(probe.resources, [], 'self-contained: nothing fetched');
    assert.equal(probe.claims.length, r.notes.length, 'every claim shown');
    assert.ok(probe.claims.every((cl) => /^(holds|does not hold) /.test(cl)), probe.claims.join('\n'));
    const { verdicts, overall, firstChart } = probe;
    assert.ok(verdicts && overall && firstChart);
    assert.ok(probe.verdictsBeforeChart && probe.overallBeforeChart, 'before the charts in DOM order');
    assert.ok(verdicts.bottom <= probe.viewport, `verdicts end at ${verdicts.bottom} px, the viewport at ${probe.viewport} px`);
    assert.ok(overall.top < probe.viewport, `the overall table starts at ${overall.top} px`);
    assert.ok(verdicts.bottom <= overall.top && overall.bottom <= firstChart.top, 'laid out in that order');
    assert.equal(probe.charts.length, 4);
    for (const ch of probe.charts) {
      assert.equal(ch.missing, null, ch.caption);
      assert.ok(ch.drawn && ch.drawn.width > 100 && ch.drawn.height > 100, `${ch.caption}: drawn ${JSON.stringify(ch.drawn)}`);
      assert.ok(!ch.errorText, `${ch.caption}: error text`);
    }
  });
}

test('Chromium: a run report draws its four charts below its overall table', { skip: browser ?? false }, async () => {
  const { probe, console: logged } = openInChromium(await renderHtml(runComparison(runFixture())));
  assert.deepEqual(logged, []);
  assert.equal(probe.verdicts, null);
  assert.ok(probe.overall && probe.firstChart && probe.overall.top < probe.viewport && probe.overall.bottom <= probe.firstChart.top);
  assert.deepEqual(probe.charts.map((ch) => ch.missing === null && (ch.drawn?.height ?? 0) > 0), [true, true, true, true]);
});
