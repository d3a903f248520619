/**
 * An image backbone run by onnxruntime-node from an ONNX file: the built-in MobileNetV2 converted
 * from tfjs (mobilenet-onnx.ts), or a user's own model (a CLIP / SigLIP / DINOv2 image tower)
 * given by the encoder config (encoders/backbone.ts). Images are decoded and resized by the same
 * sharp pipeline as the tfjs runtime (mobilenet-core.ts `decodeImage`), then normalised as
 * (RGB / 255 - mean) / std into the model's layout.
 *
 * Decoding overlaps the network: the next batch's images are decoded on libuv's threads (sharp is
 * asynchronous) while onnxruntime runs the current batch, so the network never waits for a decode
 * it could have had.
 */
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { fileDigest } from '../util/cache-key.js';
import { loadOnnxRuntime } from '../util/onnx-runtime.js';
import { EncoderError } from './errors.js';
import { decodeImage, decodedRows } from './mobilenet-core.js';
import type { ImageBackbone } from './types.js';

export type Layout = 'NCHW' | 'NHWC';
/** How an output that is not [B, D] becomes one: 'mean' over tokens ([B, T, D]) or positions ([B, C, H, W] / [B, H, W, C] by layout), 'cls' the first token. */
export type Pooling = 'none' | 'mean' | 'cls';

export interface OnnxBackboneOptions {
  /** The .onnx file. */
  file: string;
  /** Side of the square input the images are resized to. */
  inputSize: number;
  /** Per RGB channel, on pixel values / 255. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  layout: Layout;
  /** The input to feed; default: the model's only input. */
  input?: string;
  /** The output read as features; default: the model's first output. */
  output?: string;
  pooling: Pooling;
  /** The backbone's identity for the cache; default: the file's name and content hash with every setting above. */
  id?: string;
  /** Images per run. Default 16. */
  batchSize?: number;
  /** onnxruntime's intra-op threads. Default: available cores (max 8). */
  threads?: number;
}

export class OnnxImageBackbone implements ImageBackbone {
  /** The normalised value of each byte per channel: a lookup per pixel (0.3 ms an image at 224) where the arithmetic took 1.2 ms, a fifth of MobileNetV2's network time. */
  private readonly lut: Float32Array;

  private constructor(
    readonly id: string,
    readonly dim: number,
    private readonly ort: typeof Ort,
    private session: Ort.InferenceSession | null,
    private readonly o: Required<Omit<OnnxBackboneOptions, 'id' | 'threads'>>,
  ) {
    // v / 255 first, in float32, then the mean and std: with mean 0 and std 1 the very values tfjs computes (x.toFloat().div(255)).
    this.lut = new Float32Array(3 * 256);
    for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) this.lut[c * 256 + v] = (Math.fround(v / 255) - o.mean[c]) / o.std[c];
  }

  /** Opens the model and checks it against the options with one probe run (a clear EncoderError, not a runtime message mid-catalogue). */
  static async load(options: OnnxBackboneOptions): Promise<OnnxImageBackbone> {
    const { file, inputSize: S, layout } = options;
    const where = `ONNX backbone ${file}`;
    if (!existsSync(file) || !statSync(file).isFile()) throw new EncoderError(`${where}: the model file does not exist (backbone.path)`);
    if (!Number.isInteger(S) || S < 1) throw new EncoderError(`${where}: inputSize must be a positive integer, got ${S}`);
    const ort = await loadOnnxRuntime('an ONNX image backbone');
    const threads = options.threads ?? Math.min(8, availableParallelism());
    let session: Ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    } catch (err) {
      throw new EncoderError(`${where}: onnxruntime cannot load it: ${(err as Error).message}`);
    }
    try {
      const input = options.input ?? session.inputNames[0];
      if (options.input === undefined && session.inputNames.length !== 1) throw new EncoderError(`${where}: the model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); name the image one (backbone.input)`);
      if (!session.inputNames.includes(input)) throw new EncoderError(`${where}: no input named "${input}"; the model's inputs: ${session.inputNames.join(', ')}`);
      const output = options.output ?? session.outputNames[0];
      if (!session.outputNames.includes(output)) throw new EncoderError(`${where}: no output named "${output}"; the model's outputs: ${session.outputNames.join(', ')}`);
      const want = layout === 'NCHW' ? [3, S, S] : [S, S, 3];
      const meta = session.inputMetadata[session.inputNames.indexOf(input)];
      if (meta?.isTensor) {
        if (meta.type !== 'float32') throw new EncoderError(`${where}: input "${input}" is ${meta.type}; an image backbone feeds float32`);
        const fixed = meta.shape.slice(1);
        if (fixed.length !== 3 || fixed.some((d, i) => typeof d === 'number' && d !== want[i]))
          throw new EncoderError(`${where}: input "${input}" is [${meta.shape.join(', ')}], but inputSize ${S} with layout ${layout} feeds [B, ${want.join(', ')}]`);
      }
      const o = { file, inputSize: S, mean: options.mean, std: options.std, layout, input, output, pooling: options.pooling, batchSize: options.batchSize ?? 16 };
      const probe = new ort.Tensor('float32', new Float32Array(3 * S * S), [1, ...want]);
      let dims: readonly number[];
      try {
        dims = (await session.run({ [input]: probe }, [output]))[output].dims;
      } catch (err) {
        throw new EncoderError(`${where}: the model does not run on a [1, ${want.join(', ')}] input (inputSize ${S}, layout ${layout}): ${(err as Error).message}`);
      }
      const dim = pooledDim(dims, o.pooling, layout, `${where}: output "${output}"`);
      const id =
        options.id ??
        `onnx/${path.basename(file)}/${fileDigest(file).slice(0, 12)}/${output}/${o.pooling}/${S}/${layout}/mean=${o.mean.join(',')}/std=${o.std.join(',')}`;
      return new OnnxImageBackbone(id, dim, ort, session, o);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  async encode(images: readonly string[]): Promise<{ features: Float32Array; failed: { index: number; reason: string }[] }> {
    const session = this.session;
    if (!session) throw new EncoderError(`ONNX backbone ${this.o.file}: backbone is closed`);
    const { inputSize: S, batchSize: B, layout, input, output, pooling } = this.o;
    const features = new Float32Array(images.length * this.dim);
    const failed: { index: number; reason: string }[] = [];
    const decode = (s: number) => Promise.all(images.slice(s, s + B).map((p) => decodeImage(p, S).then((px) => ({ px }), (err: unknown) => ({ err }))));
    let next = images.length ? decode(0) : null;
    for (let s = 0; next; s += B) {
      const decoded = await next;
      next = s + B < images.length ? decode(s + B) : null;
      const { rows, pixels } = decodedRows(decoded, s, failed);
      if (!rows.length) continue;
      const x = this.normalise(pixels);
      const shape = layout === 'NCHW' ? [rows.length, 3, S, S] : [rows.length, S, S, 3];
      const out = (await session.run({ [input]: new this.ort.Tensor('float32', x, shape) }, [output]))[output];
      const pooled = pool(out.data as Float32Array, out.dims, pooling, layout);
      if (pooled.length !== rows.length * this.dim) throw new EncoderError(`ONNX backbone ${this.o.file}: got ${pooled.length} values for ${rows.length} images of ${this.dim}`);
      rows.forEach((i, j) => features.set(pooled.subarray(j * this.dim, (j + 1) * this.dim), i * this.dim));
    }
    return { features, failed };
  }

  /** (RGB / 255 - mean) / std of each image's HWC bytes, in the model's layout. */
  private normalise(pixels: readonly Uint8Array[]): Float32Array {
    const { inputSize: S, layout } = this.o;
    const P = S * S;
    const x = new Float32Array(pixels.length * 3 * P);
    const lut = this.lut;
    pixels.forEach((px, b) => {
      const base = b * 3 * P;
      for (let c = 0; c < 3; c++) {
        const l = lut.subarray(c * 256, (c + 1) * 256);
        if (layout === 'NCHW') for (let p = 0, o = base + c * P; p < P; p++) x[o + p] = l[px[p * 3 + c]];
        else for (let p = 0, o = base + c; p < P; p++) x[o + 3 * p] = l[px[p * 3 + c]];
      }
    });
    return x;
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }
}

/** The feature width an output of `dims` pools to, or an EncoderError naming what to set. */
function pooledDim(dims: readonly number[], pooling: Pooling, layout: Layout, what: string): number {
  const shape = `[${dims.join(', ')}]`;
  if (dims.length === 2) {
    if (pooling === 'cls') throw new EncoderError(`${what} is ${shape}, one vector per image: pooling "cls" takes [B, tokens, D]; set pooling "none"`);
    return dims[1];
  }
  if (pooling === 'none') throw new EncoderError(`${what} is ${shape}, not [B, D]: set pooling "mean" (or "cls" for [B, tokens, D]), or name a pooled output (backbone.output)`);
  if (dims.length === 3) return dims[2];
  if (dims.length === 4 && pooling === 'mean') return layout === 'NCHW' ? dims[1] : dims[3];
  throw new EncoderError(`${what} is ${shape}: pooling "${pooling}" takes [B, tokens, D]${pooling === 'mean' ? ' or [B, C, H, W] / [B, H, W, C]' : ''}`);
}

/** [B, D] features of an output (see Pooling). */
function pool(data: Float32Array, dims: readonly number[], pooling: Pooling, layout: Layout): Float32Array {
  if (dims.length === 2) return data;
  const B = dims[0];
  if (dims.length === 3) {
    const [, T, D] = dims;
    const out = new Float32Array(B * D);
    for (let b = 0; b < B; b++) {
      if (pooling === 'cls') {
        out.set(data.subarray(b * T * D, b * T * D + D), b * D);
        continue;
      }
      for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) out[b * D + d] += data[(b * T + t) * D + d];
      for (let d = 0; d < D; d++) out[b * D + d] /= T;
    }
    return out;
  }
  const [C, P] = layout === 'NCHW' ? [dims[1], dims[2] * dims[3]] : [dims[3], dims[1] * dims[2]];
  const out = new Float32Array(B * C);
  for (let b = 0; b < B; b++)
    for (let p = 0; p < P; p++)
      for (let c = 0; c < C; c++) out[b * C + c] += data[layout === 'NCHW' ? (b * C + c) * P + p : (b * P + p) * C + c];
  for (let i = 0; i < out.length; i++) out[i] /= P;
  return out;
}
