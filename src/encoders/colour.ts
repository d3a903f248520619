/**
 * A second frozen image backbone: the colour histogram of the product, background left out, and
 * the way it joins another backbone's features. ImageNet CNNs are trained to ignore colour
 * (colour jitter is part of their augmentation), yet colour is what a shopper names first and
 * what a photo shows best. Product photos sit on a plain light background, so near-white pixels
 * are not counted. Features: the share of foreground pixels in each of 4 x 4 x 4 RGB bins,
 * square-rooted, so every histogram has unit length and the cosine of two is their
 * Bhattacharyya coefficient. Decoding and resizing by sharp.
 */
import sharp from 'sharp';
import { EncoderError } from './errors.js';
import type { FeatureTable, ImageBackbone } from './types.js';

const SIDE = 32;
const BINS = 4;
/** All three channels at or above this are background. */
const BACKGROUND = 235;

export const COLOUR_ID = `colour-histogram-rgb${BINS}-fg${BACKGROUND}-${SIDE}px-v1`;
export const COLOUR_DIM = BINS ** 3;

/** The histogram of RGB pixels (3 bytes each); an image with no foreground counts every pixel. */
export function colourHistogram(rgb: Uint8Array): Float32Array {
  const h = new Float32Array(COLOUR_DIM);
  const bin = (v: number) => Math.min(BINS - 1, (v * BINS) >> 8);
  let n = 0;
  for (const keepBackground of [false, true]) {
    for (let p = 0; p + 2 < rgb.length; p += 3) {
      const [r, g, b] = [rgb[p], rgb[p + 1], rgb[p + 2]];
      if (!keepBackground && r >= BACKGROUND && g >= BACKGROUND && b >= BACKGROUND) continue;
      h[(bin(r) * BINS + bin(g)) * BINS + bin(b)]++;
      n++;
    }
    if (n > 0) break;
  }
  for (let k = 0; k < COLOUR_DIM; k++) h[k] = Math.sqrt(h[k] / Math.max(n, 1));
  return h;
}

export class ColourHistogramBackbone implements ImageBackbone {
  readonly id = COLOUR_ID;
  readonly dim = COLOUR_DIM;

  async encode(images: readonly string[]): Promise<{ features: Float32Array; failed: { index: number; reason: string }[] }> {
    const features = new Float32Array(images.length * COLOUR_DIM);
    const failed: { index: number; reason: string }[] = [];
    await Promise.all(
      images.map(async (file, index) => {
        try {
          const data = await sharp(file).flatten({ background: '#ffffff' }).resize(SIDE, SIDE, { fit: 'fill' }).removeAlpha().raw().toBuffer();
          features.set(colourHistogram(data), index * COLOUR_DIM);
        } catch (err) {
          failed.push({ index, reason: `unreadable image: ${(err as Error).message}` });
        }
      }),
    );
    return { features, failed };
  }
}

/** A block of features and the weight it is scaled by when joined. */
export interface FeatureBlock {
  table: FeatureTable;
  weight: number;
}

/**
 * Tables of the same items side by side, [w1 a | w2 b] per row, with fixed weights so a single
 * item encoded later (the service) gets the very same row. An item lacking any block is missing.
 */
export function joinFeatureTables(blocks: readonly FeatureBlock[]): FeatureTable {
  const first = blocks[0].table;
  const n = first.ids.length;
  for (const { table } of blocks)
    if (table.ids.length !== n || table.ids.some((id, i) => id !== first.ids[i])) throw new EncoderError(`joinFeatureTables: ${table.backbone} lists other items than ${first.backbone}`);
  const dim = blocks.reduce((s, b) => s + b.table.dim, 0);
  const features = new Float32Array(n * dim);
  const missing = new Uint8Array(n);
  for (const { table } of blocks) for (let i = 0; i < n; i++) missing[i] |= table.missing[i];
  const rows = blocks.map(({ table, weight }) => ({ rows: table.features, dim: table.dim, weight }));
  for (let i = 0; i < n; i++) if (!missing[i]) joinRow(rows, i, features.subarray(i * dim, (i + 1) * dim));
  const problems = blocks.flatMap((b) => b.table.report.problems);
  const seen = new Set<string>();
  return {
    backbone: joinedId(blocks.map((b) => ({ id: b.table.backbone, weight: b.weight }))),
    dim,
    ids: first.ids,
    features,
    missing,
    report: {
      computed: Math.max(...blocks.map((b) => b.table.report.computed)),
      cached: Math.min(...blocks.map((b) => b.table.report.cached)),
      missing: Math.max(...blocks.map((b) => b.table.report.missing)),
      corrupt: Math.max(...blocks.map((b) => b.table.report.corrupt)),
      problems: problems.filter((p) => !seen.has(p.id) && seen.add(p.id)),
    },
  };
}

/** Row i of every block, each scaled by its weight, into `out`. */
function joinRow(blocks: readonly { rows: Float32Array; dim: number; weight: number }[], i: number, out: Float32Array): void {
  let offset = 0;
  for (const { rows, dim, weight } of blocks) {
    for (let j = 0; j < dim; j++) out[offset + j] = weight * rows[i * dim + j];
    offset += dim;
  }
}

const joinedId = (parts: readonly { id: string; weight: number }[]) => parts.map((p) => (p.weight === 1 ? p.id : `${p.id}*${p.weight}`)).join('+');

/** Backbones run side by side on the same images, joined as joinFeatureTables joins their tables. */
export class JoinedBackbone implements ImageBackbone {
  readonly id: string;
  readonly dim: number;

  constructor(private readonly parts: readonly { backbone: ImageBackbone; weight: number }[]) {
    this.id = joinedId(parts.map((p) => ({ id: p.backbone.id, weight: p.weight })));
    this.dim = parts.reduce((s, p) => s + p.backbone.dim, 0);
  }

  async encode(images: readonly string[]): Promise<{ features: Float32Array; failed: { index: number; reason: string }[] }> {
    const results = [];
    for (const p of this.parts) results.push(await p.backbone.encode(images));
    const failed = new Map<number, string>();
    for (const r of results) for (const f of r.failed) if (!failed.has(f.index)) failed.set(f.index, f.reason);
    const features = new Float32Array(images.length * this.dim);
    const rows = results.map((r, k) => ({ rows: r.features, dim: this.parts[k].backbone.dim, weight: this.parts[k].weight }));
    for (let i = 0; i < images.length; i++) if (!failed.has(i)) joinRow(rows, i, features.subarray(i * this.dim, (i + 1) * this.dim));
    return { features, failed: [...failed].map(([index, reason]) => ({ index, reason })) };
  }

  async close(): Promise<void> {
    for (const p of this.parts) await p.backbone.close?.();
  }
}
