/**
 * serve/: the ranking service. This file owns turning a new item's content into its vector at
 * ingestion time, behind one interface:
 *
 *   SclItemEncoder      the trained SCL model (`mmctr pretrain train`) over title tokens and
 *                       frozen MobileNetV2 image features — the paper's real-time encoding path.
 *                       The backbone loads once (1-2 s) at start; items without a usable image
 *                       fall back to the text side, as in `mmctr pretrain embed`.
 *   TitleColourEncoder  no trained model, title and photo: the hashed title (below) beside the
 *                       colour histogram of the photo (encoders/colour.ts), each block of unit
 *                       length, either left zero when the item has no title / no image. The
 *                       built-in default uses it for every catalogue item and every new one, so
 *                       ingested items and catalogue items live in one space.
 *   HashedTitleEncoder  titles only: the fixed random projection of the title's hashed word and
 *                       character n-grams (encoders/ngram-projection.ts). Titles that share words
 *                       get similar vectors; it does not read images (`usesImages` false: the
 *                       service says so in the response to an upload with an image).
 *
 * An image that is sent but cannot be decoded fails its item (with the decoder's reason), never
 * silently indexed as text alone. A precomputed vector in the request bypasses the encoder
 * (checked for width).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, readModelConfig } from '../engine/checkpoint.js';
import { RandomStream } from '../engine/random.js';
import { ColourHistogramBackbone, COLOUR_DIM, COLOUR_ID } from '../encoders/colour.js';
import { EncoderError } from '../encoders/errors.js';
import { ngramVectors } from '../encoders/ngram-projection.js';
import type { ImageBackbone } from '../encoders/types.js';
import { normalized } from '../index/types.js';
import { sclImageBackbone, sclImageHead } from '../pretrain/features.js';
import { parseSclConfig } from '../pretrain/config.js';
import { encodeCatalogue } from '../pretrain/evaluate.js';
import { SclModel } from '../pretrain/model.js';
import { itemInputs } from '../pretrain/train.js';
import { MmctrError } from '../util/errors.js';

export interface ItemContentInput {
  title: string | null;
  image?: Buffer | null;
}

export interface ItemEncoder {
  /** Identity (recorded with the index and shown by /v1/info). */
  readonly name: string;
  readonly dim: number;
  /** Whether a sent image shapes the vector (false: the service tells the client it was not used). */
  readonly usesImages: boolean;
  /** One vector per item (not necessarily normalised; the index normalises); throws (EncoderError) when a sent image cannot be decoded. */
  encode(items: readonly ItemContentInput[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

/**
 * A backbone's features of the items that were sent an image (the bytes go to a private temp
 * folder for the call: backbones read files), [items.length, dim] with zero rows for items
 * without one; an image the backbone cannot decode is an EncoderError naming it.
 */
async function featuresOfSentImages(backbone: ImageBackbone, items: readonly ItemContentInput[]): Promise<{ features: Float32Array; has: Uint8Array }> {
  const F = backbone.dim;
  const features = new Float32Array(items.length * F);
  const has = new Uint8Array(items.length);
  const withImage = items.map((it, i) => (it.image && it.image.length > 0 ? i : -1)).filter((i) => i >= 0);
  if (!withImage.length) return { features, has };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-ingest-'));
  try {
    const files = withImage.map((i, k) => {
      const f = path.join(dir, `${k}.img`);
      writeFileSync(f, items[i].image!);
      return f;
    });
    const r = await backbone.encode(files);
    if (r.failed.length) throw new EncoderError(`the image cannot be decoded (${r.failed[0].reason}): send a readable image, or leave it out to index the title alone`);
    withImage.forEach((i, k) => {
      features.set(r.features.subarray(k * F, (k + 1) * F), i * F);
      has[i] = 1;
    });
    return { features, has };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class HashedTitleEncoder implements ItemEncoder {
  readonly name: string;
  readonly usesImages = false;

  constructor(
    readonly dim = 128,
    readonly seed = 1,
  ) {
    this.name = `hashed-title/${dim}/seed${seed}`;
  }

  /** Synchronous form, for building the default catalogue's vectors. */
  encodeTitle(title: string | null): Float32Array {
    // A title without a token projects to the zero vector.
    const v = ngramVectors([title ?? ''], this.dim, this.seed);
    if (v.every((x) => x === 0)) throw new MmctrError('the hashed-title encoder needs a title with at least one word; it does not read images (or send a precomputed vector)');
    return v;
  }

  async encode(items: readonly ItemContentInput[]): Promise<Float32Array[]> {
    return items.map((it) => this.encodeTitle(it.title));
  }

  async close(): Promise<void> {}
}

/** The hashed title and the photo's colour histogram side by side; see the module comment. */
export class TitleColourEncoder implements ItemEncoder {
  readonly name: string;
  readonly usesImages = true;
  private readonly title: HashedTitleEncoder;
  private readonly colour = new ColourHistogramBackbone();

  constructor(
    readonly dim = 128,
    readonly seed = 1,
  ) {
    if (!(dim > COLOUR_DIM)) throw new MmctrError(`the title-colour encoder needs more than ${COLOUR_DIM} dimensions (the colour histogram's), got ${dim}`);
    this.title = new HashedTitleEncoder(dim - COLOUR_DIM, seed);
    this.name = `title-colour/${dim}/seed${seed}/${COLOUR_ID}`;
  }

  /** One item's vector from its title block and colour block (either may be absent, not both). */
  join(title: string | null, colour: Float32Array | null): Float32Array {
    const T = this.title.dim;
    const words = title !== null && ngramVectors([title], T, this.seed).some((x) => x !== 0);
    if (!words && !colour) throw new EncoderError('the title-colour encoder needs a title with at least one word or a readable image (or send a precomputed vector)');
    const v = new Float32Array(this.dim);
    if (words) v.set(normalized(this.title.encodeTitle(title), T, 'the title vector'));
    if (colour) v.set(colour, T);
    return v;
  }

  /** Catalogue items whose images are files (the default's vectors): with the items whose image could not be used, and why. */
  async encodeFiles(items: readonly { title: string | null; image: string | null }[]): Promise<{ vectors: Float32Array[]; withoutImage: { index: number; reason: string }[] }> {
    const withImage = items.flatMap((it, i) => (it.image ? [i] : []));
    const r = await this.colour.encode(withImage.map((i) => items[i].image!));
    const colours = new Map<number, Float32Array>();
    const bad = new Map(r.failed.map((f) => [withImage[f.index], f.reason]));
    withImage.forEach((i, k) => bad.has(i) || colours.set(i, r.features.slice(k * COLOUR_DIM, (k + 1) * COLOUR_DIM)));
    const withoutImage = items.flatMap((it, i) => (colours.has(i) ? [] : [{ index: i, reason: it.image ? bad.get(i)! : 'no image' }]));
    return { vectors: items.map((it, i) => this.join(it.title, colours.get(i) ?? null)), withoutImage };
  }

  async encode(items: readonly ItemContentInput[]): Promise<Float32Array[]> {
    const { features, has } = await featuresOfSentImages(this.colour, items);
    return items.map((it, i) => this.join(it.title, has[i] ? features.subarray(i * COLOUR_DIM, (i + 1) * COLOUR_DIM) : null));
  }

  async close(): Promise<void> {}
}

export class SclItemEncoder implements ItemEncoder {
  readonly name: string;
  readonly dim: number;
  readonly usesImages = true;

  private constructor(
    private readonly model: SclModel,
    private readonly backbone: ImageBackbone,
    modelFile: string,
  ) {
    this.dim = model.config.outDim;
    this.name = `scl/${path.basename(path.dirname(path.resolve(modelFile)))}/${backbone.id}`;
  }

  /** Loads an SCL model file and its image backbone (one worker thread: encoding shares the CPU with ranking). */
  static async open(modelFile: string, { workers = 1 }: { workers?: number } = {}): Promise<SclItemEncoder> {
    const saved = readModelConfig(modelFile) as { scl?: unknown; featureDim?: number } | null;
    if (!saved?.scl || !saved.featureDim) throw new MmctrError(`${modelFile} is not an SCL model file (no SCL config in its metadata)`);
    const c = parseSclConfig(saved.scl, `${modelFile} (config)`);
    const backbone = await sclImageBackbone(c.model, { workers });
    if (backbone.dim !== saved.featureDim) {
      await backbone.close?.();
      throw new MmctrError(`${modelFile} was trained on ${saved.featureDim}-d image features, the backbone gives ${backbone.dim}`);
    }
    const model = new SclModel(c.model, backbone.dim, new RandomStream(c.seed), await sclImageHead(c.model));
    loadModel(modelFile, model);
    model.eval();
    return new SclItemEncoder(model, backbone, modelFile);
  }

  async encode(items: readonly ItemContentInput[]): Promise<Float32Array[]> {
    const F = this.backbone.dim;
    const { features, has } = await featuresOfSentImages(this.backbone, items);
    const missing = has.map((h) => 1 - h);
    const inputs = itemInputs(items.map((it) => it.title), features, F, missing, this.model.config.maxTokens);
    const flat = encodeCatalogue(this.model, inputs, 'fused');
    return items.map((_, i) => flat.slice(i * this.dim, (i + 1) * this.dim));
  }

  async close(): Promise<void> {
    await this.backbone.close?.();
  }
}
