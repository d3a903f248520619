/**
 * The paper report's charts: vega-lite specs compiled with vega-lite and rendered to SVG strings
 * on the server by vega (headless, no canvas), so the HTML report inlines them and opens offline
 * without any script. Each builder returns null when the result has nothing to draw.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { VARIANT_LABELS, type EpochPoint, type PaperResult, type PaperVariant } from '../ctr/experiment/result.js';

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

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** A fixed colour per variant (tableau10), so a variant looks the same in every chart whatever subset is drawn. */
const VARIANT_COLOURS: Record<PaperVariant, string> = {
  id: '#4c78a8',
  vector: '#f58518',
  simscore: '#e45756',
  simtier: '#72b7b2',
  make: '#54a24b',
  simtier_make: '#eeca3b',
};

function variantColour(variants: PaperVariant[], field = 'variant', title = 'Variant') {
  return { field, type: 'nominal' as const, title, scale: { domain: variants.map((v) => VARIANT_LABELS[v]), range: variants.map((v) => VARIANT_COLOURS[v]) } };
}

/** Mean ± std of a metric per variant on the overall slice, with the oracle as a dashed rule. */
export function metricSpec(r: PaperResult, metric: 'auc' | 'gauc'): TopLevelSpec | null {
  const overall = r.slices[0];
  if (!overall) return null;
  const name = metric.toUpperCase();
  const drawn = r.variants.filter((v) => finite(overall.summary[v]?.[metric].mean));
  if (drawn.length === 0) return null;
  const rows = drawn.map((v) => {
    const { mean, std } = overall.summary[v][metric];
    const spread = finite(std) ? std : 0;
    return { variant: VARIANT_LABELS[v], mean, low: mean - spread, high: mean + spread };
  });
  const x = { field: 'variant', type: 'nominal' as const, title: null, sort: rows.map((row) => row.variant), axis: { labelAngle: 0 } };
  const color = { ...variantColour(drawn), legend: null };
  const layers: object[] = [
    { mark: { type: 'point', filled: true, size: 80, opacity: 1 }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: `test ${name}`, scale: { zero: false } }, color } },
    { mark: { type: 'errorbar', ticks: { size: 14 }, thickness: 1.5 }, encoding: { x, y: { field: 'low', type: 'quantitative', title: `test ${name}` }, y2: { field: 'high' }, color } },
  ];
  const oracle = overall.oracle?.[metric];
  if (finite(oracle)) {
    layers.push({
      data: { values: [{ oracle, label: `oracle ${oracle.toFixed(4)}` }] },
      layer: [
        { mark: { type: 'rule', strokeDash: [5, 4], color: '#888' }, encoding: { y: { field: 'oracle', type: 'quantitative' } } },
        { mark: { type: 'text', align: 'right', dy: -6, color: '#666' }, encoding: { y: { field: 'oracle', type: 'quantitative' }, x: { value: WIDTH }, text: { field: 'label' } } },
      ],
    });
  }
  return { width: WIDTH, height: HEIGHT, data: { values: rows }, layer: layers } as TopLevelSpec;
}

/** Relative GAUC gain over ID (%) per slice, one bar per variant (ID itself is the zero line). */
export function gainSpec(r: PaperResult): TopLevelSpec | null {
  const compared = r.variants.filter((v) => v !== 'id');
  const rows = r.slices.flatMap((slice) =>
    compared.flatMap((v) => {
      const gain = slice.summary[v]?.gainVsId.gauc;
      return finite(gain) ? [{ slice: slice.slice, variant: VARIANT_LABELS[v], gain }] : [];
    }),
  );
  if (rows.length === 0) return null;
  const drawn = compared.filter((v) => rows.some((row) => row.variant === VARIANT_LABELS[v]));
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x: { field: 'slice', type: 'nominal', title: null, sort: r.slices.map((s) => s.slice), axis: { labelAngle: 0 } },
          xOffset: { field: 'variant', sort: drawn.map((v) => VARIANT_LABELS[v]) },
          y: { field: 'gain', type: 'quantitative', title: 'GAUC gain over ID (%)' },
          color: variantColour(drawn),
        },
      },
      { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: '#444' }, encoding: { y: { field: 'zero', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}

/** Validation GAUC after each epoch for MAKE and for ID: the one-epoch phenomenon. */
export function epochSpec(r: PaperResult): TopLevelSpec | null {
  const points = (model: string, curve: EpochPoint[]) =>
    curve.filter((p) => finite(p.epoch) && finite(p.validGauc)).map((p) => ({ model, epoch: p.epoch, gauc: p.validGauc }));
  const rows = [...points(VARIANT_LABELS.make, r.curves.make), ...points(VARIANT_LABELS.id, r.curves.id)];
  if (rows.length === 0) return null;
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'gauc', type: 'quantitative', title: 'validation GAUC', scale: { zero: false } },
      color: variantColour(['make', 'id'], 'model', 'Model'),
    },
  } as TopLevelSpec;
}

async function chart(title: string, spec: TopLevelSpec | null, missing: string): Promise<Chart> {
  return spec ? { title, svg: await renderSvg(spec) } : { title, svg: null, missing };
}

/** The report's charts in display order. */
export async function paperCharts(r: PaperResult): Promise<Chart[]> {
  return Promise.all([
    chart('Test GAUC per variant (mean ± std over seeds, overall)', metricSpec(r, 'gauc'), 'No finite GAUC to plot.'),
    chart('Relative GAUC gain over ID by slice (%)', gainSpec(r), 'No gain over ID to plot (ID alone, or no finite gains).'),
    chart('Validation GAUC per epoch: MAKE against ID (one-epoch phenomenon)', epochSpec(r), 'No epoch curves were recorded for this run.'),
    chart('Test AUC per variant (mean ± std over seeds, overall)', metricSpec(r, 'auc'), 'No finite AUC to plot.'),
  ]);
}
