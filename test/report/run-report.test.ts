import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { consoleSummary, renderMarkdown } from '../../src/report/render.js';
import { runComparison, writeRunReport } from '../../src/report/run-report.js';
import { tempDir } from '../data/helpers.js';
import { runFixture as fixture } from './fixtures.js';

test('run report: experiments against the baseline, console summary, Markdown tables and notes', () => {
  const c = runComparison(fixture());
  assert.deepEqual(c.models.map((x) => x.label), ['base', 'din+simtier']);
  assert.notEqual(c.models[0].colour, c.models[1].colour);
  const md = renderMarkdown(c);
  assert.match(md, /^# Runs compared: base, din\+simtier\n/);
  assert.ok(md.includes('| Experiment | AUC | GAUC | Logloss | AUC gain vs base | GAUC gain vs base | Logloss gain vs base |'), md);
  // AUC 0.75 vs 0.71: +5.63 %; GAUC 0.73 vs 0.69: +5.80 %; logloss (0.59 - 0.54) / 0.59 = +8.47 %.
  assert.ok(md.includes('| din+simtier | 0.7500 ± 0.0141 | 0.7300 ± 0.0141 | 0.5400 ± 0.0141 | +5.63% | +5.80% | +8.47% |'), md);
  assert.ok(md.includes('| base | 0.7100 ± 0.0141 | 0.6900 ± 0.0141 | 0.5900 ± 0.0141 | — | — | — |'));
  assert.ok(md.includes('| 1 | 0.6900 | 0.6900 | 0.6000 | 0.6000 | 0.7300 | 0.7300 | 0.6000 | 0.6000 |'), 'curves joined on the epoch');
  assert.ok(md.includes('- a note with \\<b>markup\\</b>'));
  assert.ok(md.includes('## Paired over seeds: difference to base, seed by seed (overall)'));
  assert.ok(md.includes('| din+simtier | 1, 2 | +0.0400 ± 0.0000 | +0.0400 ± 0.0000 | -0.0500 ± 0.0000 | yes |'), md);
  const text = consoleSummary(c);
  assert.match(text, /^experiment\s+AUC\s+GAUC\s+gain/);
  assert.match(text, /din\+simtier\s+0\.7500±0\.0141\s+0\.7300±0\.0141\s+\+5\.80%/);
  assert.match(text, /oracle \(true p\)\s+0\.9000\s+0\.8800/);
});

test('run report files: HTML with its four charts, Markdown and the result as JSON', async () => {
  const dir = tempDir('mmctr-run-report-');
  const r = fixture();
  const files = await writeRunReport(r, path.join(dir, 'out'));
  const html = readFileSync(files.html, 'utf8');
  assert.equal(html.match(/<svg[\s>]/g)?.length, 4, 'GAUC, gain over the baseline, curves, AUC');
  assert.ok(html.includes('<h1>Runs compared: base, din+simtier</h1>'));
  assert.ok(html.includes('a note with &lt;b&gt;markup&lt;/b&gt;'));
  assert.doesNotMatch(html, /<script/i);
  assert.deepEqual(JSON.parse(readFileSync(files.json, 'utf8')), r);
  assert.equal(readFileSync(files.markdown, 'utf8'), renderMarkdown(runComparison(r)));
});
