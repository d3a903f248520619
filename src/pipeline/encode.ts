/**
 * `mmctr encode` (and `mmctr pretrain embed`): a dataset's item catalogue as vectors, every item, no
 * searches or events needed. Without a model: the frozen image backbone's features (MobileNetV2,
 * through the encoders' feature cache), written as plain vectors; items without a usable image
 * have no backbone feature and are left out of the file. With a trained SCL model: its towers'
 * fused vectors for every item (an item without an image is embedded from its title alone), as
 * an embedding export. Either file is written by encoders/vector-file.ts and read back by
 * `train` (data.vectors) and `serve --vectors`. The report counts and names the items without an
 * image (no image named, file missing, unreadable) and without a title.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { loadModel, readModelConfig } from '../engine/checkpoint.js';
import { RandomStream } from '../engine/random.js';
import { DEFAULT_BACKBONE, loadImageBackbone, withRuntime, type BackboneRuntime } from '../encoders/backbone.js';
import { imageFeatures } from '../encoders/index.js';
import type { FeatureTable, ItemContent } from '../encoders/types.js';
import { writeEmbeddings, writeVectorFile } from '../encoders/vector-file.js';
import { featureCacheOf, parseSclConfig, SclConfig } from '../pretrain/config.js';
import { embedItems } from '../pretrain/export.js';
import { sclImageFeatures } from '../pretrain/features.js';
import { SclModel } from '../pretrain/model.js';
import { loadCatalogue } from '../pretrain/source.js';
import { MmctrError } from '../util/errors.js';
import { PipelineOptions, withBar } from './options.js';

/** How many items each list of the report names. */
const NAMED = 5;

export type NoImageReason = 'none named' | 'missing file' | 'unreadable';

export interface EncodeReport {
  dataset: string;
  file: string;
  /** 'backbone': frozen features; 'model': a trained SCL model's fused vectors. */
  kind: 'backbone' | 'model';
  backbone: string;
  model?: string;
  dim: number;
  items: number;
  /** Items with a vector in the file. */
  written: number;
  features: { computed: number; cached: number };
  noImage: { count: number; byReason: Record<NoImageReason, number>; first: { id: string; reason: string }[] };
  noTitle: { count: number; first: string[] };
}

export interface EncodeOptions extends PipelineOptions {
  /** A trained SCL model (`pretrain train`): its towers instead of the frozen backbone. */
  model?: string;
  /** The feature cache folder (default: the model's config's, or the SCL default runs/features). */
  cacheDir?: string;
  /** MobileNetV2's runtime (`--image-runtime`), instead of the model config's or 'auto'. */
  runtime?: BackboneRuntime;
}

function reasonKind(reason: string): NoImageReason {
  if (reason.startsWith('no image')) return 'none named';
  if (reason.startsWith('missing file')) return 'missing file';
  return 'unreadable';
}

/** The trained SCL model in `file` with its config, or an error saying what the file is not. */
function sclModelConfig(file: string): { config: SclConfig; featureDim: number } {
  const saved = readModelConfig(file) as { scl?: unknown; featureDim?: number } | null;
  if (!saved?.scl || !saved.featureDim) throw new MmctrError(`${file} is not an SCL model file (no SCL config in its metadata)`);
  return { config: parseSclConfig(saved.scl, `${file} (config)`), featureDim: saved.featureDim };
}

/** The dataset spec an SCL model was trained on (its config's data.spec), for `embed` without --spec. */
export function modelDataset(modelFile: string): string | undefined {
  return sclModelConfig(modelFile).config.data.spec;
}

export async function encodeDataset(specFile: string, out: string, options: EncodeOptions = {}): Promise<EncodeReport> {
  const ext = path.extname(out).toLowerCase();
  if (ext !== '.safetensors' && (options.model || ext !== '.parquet'))
    throw new MmctrError(`--out ${out}: expected a .safetensors file${options.model ? ' (an SCL model\'s export, with its int8 copy, is safetensors only)' : ' or a .parquet file'}`);
  const { items } = await loadCatalogue(specFile);
  if (!items.length) throw new MmctrError(`${specFile}: the item catalogue has no usable rows: nothing to encode`);
  const progress = (update: (d: number, t: number) => void) => (done: number, total: number) => update(done, total);
  let table: FeatureTable;
  let ids: string[];
  let vectors: Float32Array;
  let dim: number;
  if (options.model) {
    const { config, featureDim } = sclModelConfig(options.model);
    config.model.backbone = withRuntime(config.model.backbone, options.runtime);
    const scl = await withBar(options, 'features', (update) => sclImageFeatures(config.model, items, options.cacheDir ?? featureCacheOf(config), progress(update)));
    table = scl;
    if (table.dim !== featureDim) throw new MmctrError(`${options.model} was trained on ${featureDim}-d image features, the backbone gives ${table.dim}`);
    const model = new SclModel(config.model, table.dim, new RandomStream(config.seed), scl.head);
    loadModel(options.model, model);
    ids = items.map((it) => it.id);
    vectors = embedItems(model, items, table);
    dim = config.model.outDim;
  } else {
    const backbone = await loadImageBackbone(withRuntime(DEFAULT_BACKBONE, options.runtime));
    try {
      table = await withBar(options, 'features', (update) => imageFeatures(backbone, items, options.cacheDir ?? featureCacheOf({}), progress(update)));
    } finally {
      await backbone.close?.();
    }
    dim = table.dim;
    const keep = items.flatMap((_, i) => (table.missing[i] ? [] : [i]));
    if (!keep.length) throw new MmctrError(`${specFile}: none of the ${items.length} items has a usable image (first: ${describe(table.report.problems.slice(0, NAMED))}): no backbone features to write; check items.imageRoot / imagePattern with \`mmctr data check\``);
    ids = keep.map((i) => items[i].id);
    vectors = new Float32Array(keep.length * dim);
    keep.forEach((i, k) => vectors.set(table.features.subarray(i * dim, (i + 1) * dim), k * dim));
  }
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const meta = { dataset: path.resolve(specFile), backbone: table.backbone };
  if (options.model) writeEmbeddings(out, ids, vectors, dim, { ...meta, model: path.resolve(options.model) });
  else writeVectorFile(out, ids, vectors, dim, meta);
  return {
    dataset: path.resolve(specFile),
    file: path.resolve(out),
    kind: options.model ? 'model' : 'backbone',
    backbone: table.backbone,
    ...(options.model ? { model: path.resolve(options.model) } : {}),
    dim,
    items: items.length,
    written: ids.length,
    features: { computed: table.report.computed, cached: table.report.cached },
    noImage: noImage(table),
    noTitle: noTitle(items),
  };
}

function noImage(table: FeatureTable): EncodeReport['noImage'] {
  const byReason: Record<NoImageReason, number> = { 'none named': 0, 'missing file': 0, unreadable: 0 };
  for (const p of table.report.problems) byReason[reasonKind(p.reason)]++;
  return { count: table.report.problems.length, byReason, first: table.report.problems.slice(0, NAMED) };
}

function noTitle(items: readonly ItemContent[]): EncodeReport['noTitle'] {
  const without = items.filter((it) => !it.title).map((it) => it.id);
  return { count: without.length, first: without.slice(0, NAMED) };
}

function describe(problems: readonly { id: string; reason: string }[]): string {
  return problems.map((p) => `${p.id} (${p.reason})`).join(', ');
}

/** The report for people: what was written, then the items without an image or a title, named. */
export function encodeLines(r: EncodeReport): string[] {
  const what = r.kind === 'model' ? `SCL model ${r.model} (${r.dim}-d, float32 + int8)` : `frozen backbone ${r.backbone} (${r.dim}-d)`;
  const lines = [`${r.written} of ${r.items} item vectors from the ${what} written to ${r.file} (image features: ${r.features.computed} computed, ${r.features.cached} from the cache)`];
  const n = r.noImage;
  if (n.count) {
    const reasons = Object.entries(n.byReason).filter(([, k]) => k > 0).map(([why, k]) => `${k} ${why}`).join(', ');
    const fate = r.kind === 'model' ? 'embedded from the title alone' : 'no vector in the file';
    lines.push(`  ${n.count} item${n.count === 1 ? '' : 's'} without an image (${reasons}): ${fate}; first: ${describe(n.first)}${n.count > n.first.length ? ', ...' : ''}`);
  }
  const t = r.noTitle;
  if (t.count) lines.push(`  ${t.count} item${t.count === 1 ? '' : 's'} without a title: ${t.first.join(', ')}${t.count > t.first.length ? ', ...' : ''}`);
  return lines;
}
