/**
 * Which image backbone a config asks for (the `backbone` section of an SCL model config, one zod
 * schema checked at the boundary) and the one place that loads it:
 *
 * - `{"kind": "mobilenet", "runtime": "auto" | "onnx" | "tfjs"}` (the default): the MobileNetV2
 *   of nsfwjs. 'onnx' runs it converted (mobilenet-onnx.ts) in onnxruntime-node, 'tfjs' on
 *   tfjs-wasm worker threads (mobilenet.ts), 'auto' onnx when onnxruntime-node can be imported,
 *   else tfjs. Both runtimes give the same features (cosine >= 0.9999, tested) under one id, so a
 *   feature cache filled by one serves the other.
 * - `{"kind": "onnx", "path": ..., "inputSize": ..., ...}`: the user's own ONNX image model
 *   (onnx-backbone.ts), e.g. a CLIP / SigLIP / DINOv2 image tower.
 */
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../util/errors.js';
import { loadOnnxRuntime, onnxRuntimeAvailable } from '../util/onnx-runtime.js';
import { EncoderError } from './errors.js';
import { mobilenetCutId, mobilenetOnnxFile, mobilenetTop } from './mobilenet-onnx.js';
import { MobileNetV2Backbone } from './mobilenet.js';
import { OnnxImageBackbone } from './onnx-backbone.js';
import type { ImageBackbone } from './types.js';

const Rgb = z.tuple([z.number(), z.number(), z.number()]);

export const BackboneRuntime = z.enum(['auto', 'onnx', 'tfjs']);
export type BackboneRuntime = z.infer<typeof BackboneRuntime>;

export const MobileNetBackboneConfig = z
  .object({
    kind: z.literal('mobilenet'),
    /** 'auto': onnxruntime-node when it can be imported, else tfjs-wasm. */
    runtime: BackboneRuntime.default('auto'),
  })
  .strict();

export const OnnxBackboneConfig = z
  .object({
    kind: z.literal('onnx'),
    /** The .onnx file; a relative path is read from the config file's folder (pipeline/scl.ts `loadSclConfig`). */
    path: z.string().min(1),
    /** Side of the square input images are resized to (white-padded `contain`, as MobileNetV2's). */
    inputSize: z.number().int().positive(),
    /** Per RGB channel on pixel / 255 (CLIP: [0.4815, 0.4578, 0.4082]); default none. */
    mean: Rgb.default([0, 0, 0]),
    /** Per RGB channel on pixel / 255 (CLIP: [0.2686, 0.2613, 0.2758]); default none. */
    std: Rgb.default([1, 1, 1]).refine((s) => s.every((v) => v > 0), 'every std must be positive'),
    layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
    /** The image input's name; default: the model's only input. */
    input: z.string().min(1).optional(),
    /** The output read as features; default: the model's first output. */
    output: z.string().min(1).optional(),
    /** 'none': the output is [B, D]; 'mean' over tokens or positions; 'cls': the first token of [B, tokens, D]. */
    pooling: z.enum(['none', 'mean', 'cls']).default('none'),
    /** Images per run. */
    batchSize: z.number().int().positive().default(16),
  })
  .strict();

export const ImageBackboneConfig = z.discriminatedUnion('kind', [MobileNetBackboneConfig, OnnxBackboneConfig]);
export type ImageBackboneConfig = z.infer<typeof ImageBackboneConfig>;
export type ImageBackboneConfigInput = z.input<typeof ImageBackboneConfig>;

export const DEFAULT_BACKBONE: ImageBackboneConfig = { kind: 'mobilenet', runtime: 'auto' };

export interface LoadBackboneOptions {
  /** Cores the backbone may use: MobileNetV2's worker threads (0: in-process), a user's model's onnxruntime intra-op threads. Default: available cores (max 8). */
  threads?: number;
  /** Folder of converted backbones (default `<runs>/backbones`). */
  modelCacheDir?: string;
  /**
   * MobileNetV2 cut below its top `top` pointwise layers, which SCL trains (model.trainableLayers):
   * the features are those layers' input, [49 positions x channels] an image (mobilenet-onnx.ts
   * `mobilenetTop`), read from the converted graph. 0 (default): the pooled 1280-d features.
   */
  top?: number;
}

/** `config` with MobileNetV2's runtime set to `runtime` (a command-line choice); a user's ONNX model has no other runtime. */
export function withRuntime(config: ImageBackboneConfig, runtime: BackboneRuntime | undefined): ImageBackboneConfig {
  if (runtime === undefined) return config;
  if (config.kind !== 'mobilenet') throw new UsageError(`--image-runtime ${runtime} chooses MobileNetV2's runtime, but the backbone is the ONNX model ${config.path} (model.backbone), which onnxruntime runs`);
  return { ...config, runtime };
}

/** The runtime 'auto' stands for here. */
export async function resolveRuntime(runtime: BackboneRuntime): Promise<'onnx' | 'tfjs'> {
  if (runtime !== 'auto') return runtime;
  return (await onnxRuntimeAvailable()) ? 'onnx' : 'tfjs';
}

export async function loadImageBackbone(config: ImageBackboneConfig = DEFAULT_BACKBONE, options: LoadBackboneOptions = {}): Promise<ImageBackbone> {
  if (config.kind === 'onnx') {
    if (options.top) throw new EncoderError(`the ONNX backbone ${config.path} has no trainable top layers (model.trainableLayers ${options.top}); only MobileNetV2's can be fine-tuned, set it to 0`);
    return OnnxImageBackbone.load({ ...config, file: path.resolve(config.path), threads: options.threads });
  }
  const top = options.top ?? 0;
  if (top > 0) {
    if (config.runtime === 'tfjs') throw new EncoderError(`MobileNetV2 cut below its ${top} trainable top layer(s) runs on onnxruntime only; model.backbone.runtime is "tfjs" (set "auto" or "onnx")`);
    await loadOnnxRuntime(`MobileNetV2 cut below its ${top} trainable top layer(s) (model.trainableLayers)`);
    const t = await mobilenetTop(top);
    const onnxFile = await mobilenetOnnxFile(options.modelCacheDir, top);
    return MobileNetV2Backbone.load({ runtime: 'onnx', onnxFile, workers: options.threads, output: { id: mobilenetCutId(t.cut), dim: t.positions * t.channels } });
  }
  const runtime = await resolveRuntime(config.runtime);
  const onnxFile = runtime === 'onnx' ? await mobilenetOnnxFile(options.modelCacheDir) : undefined;
  return MobileNetV2Backbone.load({ runtime, onnxFile, workers: options.threads });
}
