import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { PaperResult } from '../../src/ctr/experiment/result.js';
import { comparisonCharts, fittedDomain, metricSpec, renderSvg } from '../../src/report/charts.js';
import type { Comparison } from '../../src/report/comparison.js';
import { paperComparison } from '../../src/report/paper-report.js';
import { repoRoot } from '../../src/util/paths.js';

const fashion = () => paperComparison(JSON.parse(readFileSync(path.join(repoRoot(), 'docs', 'reports', 'paper-fashion', 'report.json'), 'utf8')) as PaperResult);

interface Layer {
  mark?: string | { type: string };
  layer?: Layer[];
  encoding?: { y?: { scale?: { domain?: [number, number] } } };
}
interface Spec {
  title?: { text: string };
  layer: Layer[];
}
const spec = (c: Comparison, metric: 'auc' | 'gauc') => metricSpec(c, metric) as unknown as Spec;
const markOf = (l: Layer) => (typeof l.mark === 'string' ? l.mark : l.mark?.type);
const marks = (layers: Layer[]): string[] => layers.flatMap((l) => (l.layer ? marks(l.layer) : [markOf(l) ?? '']));
/** The y domain every layer shares. */
const domainOf = (s: Spec) => s.layer.find((l) => markOf(l) === 'point')!.encoding!.y!.scale!.domain!;

test('fittedDomain pads the values by 15 % of their span; equal values get 1 % of the value', () => {
  const [lo, hi] = fittedDomain([0.7, 0.8, 0.72]);
  assert.ok(Math.abs(lo - 0.685) < 1e-12 && Math.abs(hi - 0.815) < 1e-12, `${lo} ${hi}`);
  const [a, b] = fittedDomain([0.5, 0.5]);
  assert.ok(Math.abs(a - 0.49925) < 1e-12 && Math.abs(b - 0.50075) < 1e-12, `${a} ${b}`);
});

test('the GAUC axis spans the variants and their error bars, not the oracle far above them', async () => {
  const c = fashion();
  const s = spec(c, 'gauc');
  const [lo, hi] = domainOf(s);
  const overall = c.slices[0];
  for (const m of c.models) {
    const { mean, std } = overall.summary[m.key].gauc;
    assert.ok(lo < mean - std && mean + std < hi, `${m.label} ${mean} ± ${std} inside [${lo}, ${hi}]`);
  }
  // The variants span 0.6896 .. 0.7416: the axis is about that wide, not down to 0 or up to the oracle.
  assert.ok(hi - lo < 0.07, `span ${hi - lo}`);
  assert.ok(overall.oracle!.gauc > hi);
  assert.deepEqual(marks(s.layer), ['errorbar', 'point'], 'no rule for an oracle off the axis');
  assert.equal(s.title?.text, '▲ oracle (true p) 0.8416, above this axis');
  const svg = await renderSvg(metricSpec(c, 'gauc')!);
  assert.match(svg, /above this axis/);
  assert.match(svg, />0\.70</, 'a tick among the variants');
  assert.doesNotMatch(svg, />0\.8[0-9]?</, 'no tick up at the oracle');
});

test('an oracle inside the axis is a labelled dashed rule; one seed draws no error bars', () => {
  const c = fashion();
  c.slices[0].oracle!.gauc = 0.72;
  const s = spec(c, 'gauc');
  assert.deepEqual(marks(s.layer), ['errorbar', 'point', 'rule', 'text']);
  assert.equal(s.title, undefined);
  assert.ok(domainOf(s)[1] < 0.75, 'the oracle inside does not widen the axis');

  for (const m of c.models) m.seeds = 1;
  assert.deepEqual(marks(spec(c, 'gauc').layer), ['point', 'rule', 'text']);
  c.models[0].seeds = 3;
  assert.deepEqual(marks(spec(c, 'gauc').layer), ['errorbar', 'point', 'rule', 'text'], 'a bar for the model with several seeds');
});

test('chart captions say what the error bars are', async () => {
  const c = fashion();
  assert.equal((await comparisonCharts(c))[0].title, 'Test GAUC per variant, overall (mean ± std over seeds)');
  for (const m of c.models) m.seeds = 1;
  assert.equal((await comparisonCharts(c))[3].title, 'Test AUC per variant, overall (one seed: no spread to draw)');
});
