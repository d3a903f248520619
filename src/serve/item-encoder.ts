/**
 * serve/: the ranking service. This file owns turning a new item's content into its vector at
 * ingestion time, behind one interface:
 *
 *   SclItemEncoder      the trained SCL model (`mmctr pretrain train`) over title tokens and
 *                       frozen MobileNetV2 image features — the paper's real-time encoding path.
 *                       The backbone loads once (1-2 s) at start; items without a usable image
 *                       fall back to the text side, as in `mmctr embed`.
 *   HashedTitleEncoder  no trained model: the fixed random projection of the title's hashed
 *                       word and character n-grams (encoders/ngram-projection.ts). Titles that share words
 *                       get similar vectors. The built-in default uses it for every item, so
 *                       ingested items and catalogue items live in one space.
 *
 * A precomputed vector in the request bypasses the encoder (checked for width).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, readModelConfig } from '../engine/checkpoint.js';
import { RandomStream } from '../engine/random.js';
import { ngramVectors } from '../encoders/ngram-projection.js';
import type { ImageBackbone } from '../encoders/types.js';
import { sclImageBackbone } from '../pretrain/features.js';
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
  /** One vector per item (not necessarily normalised; the index normalises). */
  encode(items: readonly ItemContentInput[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

export class HashedTitleEncoder implements ItemEncoder {
  readonly name: string;

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
    if (v.every((x) => x === 0)) throw new MmctrError('the hashed-title encoder needs a title with at least one word (or send a precomputed vector)');
    return v;
  }

  async encode(items: readonly ItemContentInput[]): Promise<Float32Array[]> {
    return items.map((it) => this.encodeTitle(it.title));
  }

  async close(): Promise<void> {}
}

export class SclItemEncoder implements ItemEncoder {
  readonly name: string;
  readonly dim: number;

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
    const model = new SclModel(c.model, backbone.dim, new RandomStream(c.seed));
    loadModel(modelFile, model);
    model.eval();
    return new SclItemEncoder(model, backbone, modelFile);
  }

  async encode(items: readonly ItemContentInput[]): Promise<Float32Array[]> {
    const F = this.backbone.dim;
    const features = new Float32Array(items.length * F);
    const missing = new Uint8Array(items.length).fill(1);
    const withImage = items.map((it, i) => (it.image && it.image.length > 0 ? i : -1)).filter((i) => i >= 0);
    if (withImage.length) {
      // The backbone reads files: the bytes go to a private temp folder for the duration of the call.
      const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-ingest-'));
      try {
        const files = withImage.map((i, k) => {
          const f = path.join(dir, `${k}.img`);
          writeFileSync(f, items[i].image!);
          return f;
        });
        const r = await this.backbone.encode(files);
        const bad = new Set(r.failed.map((f) => f.index));
        withImage.forEach((i, k) => {
          if (bad.has(k)) return; // unreadable image: text-only, as for a catalogue item with a corrupt file
          features.set(r.features.subarray(k * F, (k + 1) * F), i * F);
          missing[i] = 0;
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const inputs = itemInputs(items.map((it) => it.title), features, F, missing, this.model.config.maxTokens);
    const flat = encodeCatalogue(this.model, inputs, 'fused');
    return items.map((_, i) => flat.slice(i * this.dim, (i + 1) * this.dim));
  }

  async close(): Promise<void> {
    await this.backbone.close?.();
  }
}
