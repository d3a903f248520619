/**
 * The reports' charts: vega-lite specs compiled with vega-lite and rendered to SVG strings
 * on the server by vega (headless, no canvas), so the HTML report inlines them and opens offline
 * without any script. Each builder returns null when the comparison has nothing to draw.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { finite, labelOf, NO_CURVES, nounHeading, type ComparedModel, type Comparison } from './comparison.js';

export interface Chart {
  title: string;
  /** Inline `<svg>` markup, or null when there was nothing to draw. */
  svg: string | null;
  /** Why the chart is missing (shown instead of it). */
  missing?: string;
}

const WIDTH = 520;
const HEIGHT = 260;

/** Compiles a vega-lite spec and renders it to an SVG string without a browser. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A colour per model: drawn as given, whatever subset a chart shows. */
function modelColour(models: readonly Pick<ComparedModel, 'label' | 'colour'>[], field: string, title: string) {
  // Experiment names can be long: legends show them whole rather than cut at vega's 160 px.
  return { field, type: 'nominal' as const, title, scale: { domain: models.map((m) => m.label), range: models.map((m) => m.colour) }, legend: { labelLimit: 400 } };
}

/**
 * A y domain around the drawn values (the means and their error bars), padded so no mark sits on
 * the frame: the differences between the models set the scale, not zero or the oracle.
 */
export function fittedDomain(values: readonly number[]): [number, number] {
  const lo = Math.min(...values), hi = Math.max(...values);
  // All equal: a span of 1 % of the value (at least 0.001) keeps the axis readable.
  const span = hi - lo || Math.max(Math.abs(hi) * 0.01, 1e-3);
  const pad = 0.15 * span;
  return [lo - pad, hi + pad];
}

/** What the error bars of a metric chart are: the caption says so, since one seed draws none. */
function spreadCaption(models: readonly ComparedModel[]): string {
  if (models.every((m) => m.seeds > 1)) return 'mean ± std over seeds';
  if (models.every((m) => m.seeds <= 1)) return 'one seed: no spread to draw';
  return 'mean ± std over seeds; no bar where there is one seed';
}

/**
 * Mean ± std of a metric per model on the overall slice, the axis fitted to the models. The
 * oracle is an annotation: a dashed, labelled rule when it falls inside that axis, otherwise a
 * note above the plot saying which side it lies on, so a distant ceiling does not flatten the differences.
 */
export function metricSpec(c: Comparison, metric: 'auc' | 'gauc'): TopLevelSpec | null {
  const overall = c.slices[0];
  if (!overall) return null;
  const name = metric.toUpperCase();
  const drawn = c.models.filter((m) => finite(overall.summary[m.key]?.[metric].mean));
  if (drawn.length === 0) return null;
  const rows = drawn.map((m) => {
    const { mean, std } = overall.summary[m.key][metric];
    const spread = m.seeds > 1 && finite(std) ? std : 0;
    return { [c.noun]: m.label, mean, low: mean - spread, high: mean + spread, bar: spread > 0 };
  });
  const domain = fittedDomain(rows.flatMap((r) => [r.low, r.high]));
  const labels = drawn.map((m) => m.label);
  const x = { field: c.noun, type: 'nominal' as const, title: null, scale: { domain: labels }, sort: labels, axis: { labelAngle: 0 } };
  const y = (field: string) => ({ field, type: 'quantitative' as const, title: `test ${name}`, scale: { domain, nice: false, zero: false } });
  const color = { ...modelColour(drawn, c.noun, nounHeading(c)), legend: null };
  const layers: object[] = [];
  const bars = rows.filter((r) => r.bar);
  if (bars.length) layers.push({ data: { values: bars }, mark: { type: 'errorbar', ticks: { size: 14 }, thickness: 1.5 }, encoding: { x, y: y('low'), y2: { field: 'high' }, color } });
  layers.push({ mark: { type: 'point', filled: true, size: 80, opacity: 1 }, encoding: { x, y: y('mean'), color } });
  const oracle = overall.oracle?.[metric];
  let note: object | undefined;
  if (finite(oracle)) {
    const label = `oracle (true p) ${oracle.toFixed(4)}`;
    if (oracle >= domain[0] && oracle <= domain[1]) {
      layers.push({
        data: { values: [{ oracle, label }] },
        layer: [
          { mark: { type: 'rule', strokeDash: [5, 4], color: '#888' }, encoding: { y: y('oracle') } },
          { mark: { type: 'text', align: 'right', dy: -6, color: '#666' }, encoding: { y: y('oracle'), x: { value: WIDTH }, text: { field: 'label' } } },
        ],
      });
    } else {
      // Above the plot, where no mark can hide it.
      const above = oracle > domain[1];
      note = { text: `${above ? '▲' : '▼'} ${label}, ${above ? 'above' : 'below'} this axis`, anchor: 'end', fontSize: 11, fontWeight: 'normal', color: '#666' };
    }
  }
  return { ...(note && { title: note }), width: WIDTH, height: HEIGHT, data: { values: rows }, layer: layers } as TopLevelSpec;
}

/** Relative GAUC gain over the baseline (%) per slice, one bar per model (the baseline itself is the zero line). */
export function gainSpec(c: Comparison): TopLevelSpec | null {
  const compared = c.models.filter((m) => m.key !== c.baseline);
  const rows = c.slices.flatMap((slice) =>
    compared.flatMap((m) => {
      const gain = slice.summary[m.key]?.gain.gauc;
      return finite(gain) ? [{ slice: slice.slice, [c.noun]: m.label, gain }] : [];
    }),
  );
  if (rows.length === 0) return null;
  const drawn = compared.filter((m) => rows.some((row) => row[c.noun] === m.label));
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x: { field: 'slice', type: 'nominal', title: null, sort: c.slices.map((s) => s.slice), axis: { labelAngle: 0 } },
          xOffset: { field: c.noun, sort: drawn.map((m) => m.label) },
          y: { field: 'gain', type: 'quantitative', title: `GAUC gain over ${labelOf(c, c.baseline)} (%)` },
          color: modelColour(drawn, c.noun, nounHeading(c)),
        },
      },
      { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: '#444' }, encoding: { y: { field: 'zero', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}

/** Validation GAUC after each epoch, one line per curve. */
export function epochSpec(c: Comparison): TopLevelSpec | null {
  const series = c.curves.series.filter((s) => s.points.some((p) => finite(p.epoch) && finite(p.validGauc)));
  const rows = series.flatMap((s) => s.points.filter((p) => finite(p.epoch) && finite(p.validGauc)).map((p) => ({ model: s.label, epoch: p.epoch, gauc: p.validGauc })));
  if (rows.length === 0) return null;
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'gauc', type: 'quantitative', title: 'validation GAUC', scale: { zero: false } },
      color: modelColour(series.map((s, k) => ({ key: String(k), label: s.label, colour: s.colour })), 'model', 'Model'),
    },
  } as TopLevelSpec;
}

async function chart(title: string, spec: TopLevelSpec | null, missing: string): Promise<Chart> {
  return spec ? { title, svg: await renderSvg(spec) } : { title, svg: null, missing };
}

/** The report's charts in display order. */
export async function comparisonCharts(c: Comparison): Promise<Chart[]> {
  const base = labelOf(c, c.baseline);
  const spread = spreadCaption(c.models);
  return Promise.all([
    chart(`Test GAUC per ${c.noun}, overall (${spread})`, metricSpec(c, 'gauc'), 'No finite GAUC to plot.'),
    chart(`Relative GAUC gain over ${base} by slice (%)`, gainSpec(c), `No gain over ${base} to plot (${base} alone, or no finite gains).`),
    chart(c.curves.chartTitle, epochSpec(c), NO_CURVES),
    chart(`Test AUC per ${c.noun}, overall (${spread})`, metricSpec(c, 'auc'), 'No finite AUC to plot.'),
  ]);
}
