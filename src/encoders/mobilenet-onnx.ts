/**
 * The MobileNetV2 that nsfwjs@4.3.0 ships, converted from its tfjs layers model (the Keras
 * topology and the weight manifest of `nsfwjs/models/mobilenet_v2`, the very artefacts nsfwjs
 * loads) into an ONNX graph with util/onnx-graph.ts, cut at the same layer as the tfjs runtime
 * (`average_pooling2d_1`), so onnxruntime runs the same network with the same weights.
 *
 * The graph takes the pixels as mobilenet-core.ts hands them to tfjs (RGB / 255) but channels
 * first, [B, 3, 224, 224], and gives [B, 1280]. Batch norms are folded into the convolution
 * before them and zero paddings into the convolution after them (the same arithmetic up to float
 * rounding; the tests compare the two runtimes' features). Written at first use to
 * `<runs>/backbones/mobilenetv2-<key>.onnx`, atomically, keyed by the weights' and topology's
 * contents and this converter's version, so an nsfwjs with other weights is converted again.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { cacheKey } from '../util/cache-key.js';
import { GraphBuilder } from '../util/onnx-graph.js';
import { runsDir } from '../util/paths.js';
import { EncoderError } from './errors.js';
import { MOBILENET_ENDPOINT, MOBILENET_ID, MOBILENET_SIZE } from './mobilenet-core.js';

/** Bumped whenever the converter writes a different graph for the same weights. */
const CONVERTER_VERSION = 1;

interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, unknown][][];
}
interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}
interface TfjsModelJson {
  modelTopology: { model_config: { config: { layers: KerasLayer[] } } };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

/** nsfwjs's MobileNetV2 artefacts: the model JSON and its weight shards (base64), by shard name. */
async function nsfwjsArtefacts(): Promise<{ json: TfjsModelJson; shards: Map<string, string> }> {
  let model: { modelJson: () => Promise<{ default: TfjsModelJson }>; weightBundles: (() => Promise<{ default: string }>)[] };
  try {
    ({ MobileNetV2Model: model } = (await import('nsfwjs/models/mobilenet_v2')) as unknown as { MobileNetV2Model: typeof model });
  } catch (err) {
    throw new EncoderError(`the MobileNetV2 backbone needs nsfwjs@4.3.0 (npm install): ${(err as Error).message}`);
  }
  const json = (await model.modelJson()).default;
  const shards = new Map<string, string>();
  // nsfwjs names its bundles group1-shard<i>of<n> in manifest order (core.js getWeightData).
  const n = model.weightBundles.length;
  for (let i = 0; i < n; i++) shards.set(`group1-shard${i + 1}of${n}`, (await model.weightBundles[i]()).default);
  return { json, shards };
}

/** The weights by name, dequantised as tfjs does (`q * scale + min` in float32). */
function decodeWeights(json: TfjsModelJson, shards: Map<string, string>): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const group of json.weightsManifest) {
    const bytes = Buffer.concat(
      group.paths.map((p) => {
        const b64 = shards.get(p);
        if (b64 === undefined) throw new EncoderError(`nsfwjs MobileNetV2: the weight manifest names shard ${p}, which the package does not ship`);
        return Buffer.from(b64, 'base64');
      }),
    );
    let offset = 0;
    for (const spec of group.weights) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      const q = spec.quantization;
      if (spec.dtype !== 'float32') throw new EncoderError(`nsfwjs MobileNetV2: weight ${spec.name} is ${spec.dtype}, the converter reads float32 weights only`);
      if (!q) {
        data.set(new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + 4 * size)));
        offset += 4 * size;
      } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
        const width = q.dtype === 'uint8' ? 1 : 2;
        for (let i = 0; i < size; i++) data[i] = (width === 1 ? bytes[offset + i] : bytes.readUInt16LE(offset + 2 * i)) * q.scale! + q.min!;
        offset += width * size;
      } else throw new EncoderError(`nsfwjs MobileNetV2: weight ${spec.name} is quantised as ${q.dtype}, the converter reads uint8 / uint16 only`);
      out.set(spec.name, { shape: spec.shape, data });
    }
    if (offset !== bytes.length) throw new EncoderError(`nsfwjs MobileNetV2: the manifest describes ${offset} weight bytes, the shards hold ${bytes.length}`);
  }
  return out;
}

/** A value of the graph being built: its name and its [C, H, W] (the batch is dynamic). */
interface Value {
  name: string;
  shape: [number, number, number];
}

/** Explicit [begin, end] pads of TF's "same" (the extra one at the end) for one axis. */
function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * The ONNX graph of the layers model up to `endpoint`, for `size` x `size` RGB inputs. Refuses
 * (EncoderError) a layer kind or setting it has no form for, rather than writing another network.
 */
function convertLayersModel(json: TfjsModelJson, shards: Map<string, string>, endpoint: string, size: number, metadata: Record<string, string>): Uint8Array {
  const layers = new Map(json.modelTopology.model_config.config.layers.map((l) => [l.name, l]));
  const weights = decodeWeights(json, shards);
  const weight = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new EncoderError(`nsfwjs MobileNetV2: no weight ${name} in the manifest`);
    return w;
  };
  const inputsOf = (l: KerasLayer) => (l.inbound_nodes[0] ?? []).map(([name]) => name);
  // Only the layers the endpoint depends on, and who consumes each (for the folds).
  const needed = new Set<string>();
  const visit = (name: string) => {
    if (needed.has(name)) return;
    const l = layers.get(name);
    if (!l) throw new EncoderError(`nsfwjs MobileNetV2: no layer ${name} in the topology`);
    needed.add(name);
    inputsOf(l).forEach(visit);
  };
  visit(endpoint);
  const consumers = new Map<string, string[]>();
  for (const name of needed) for (const i of inputsOf(layers.get(name)!)) consumers.set(i, [...(consumers.get(i) ?? []), name]);
  const onlyConsumer = (name: string) => {
    const c = consumers.get(name) ?? [];
    return c.length === 1 ? layers.get(c[0])! : null;
  };

  const g = new GraphBuilder();
  const values = new Map<string, Value>();
  const valueOf = (name: string) => {
    const v = values.get(name);
    if (!v) throw new EncoderError(`nsfwjs MobileNetV2: layer ${name} is used before it is computed`);
    return v;
  };
  const pairOf = (v: unknown) => (Array.isArray(v) ? (v as number[]) : [v as number, v as number]);

  for (const l of json.modelTopology.model_config.config.layers) {
    if (!needed.has(l.name) || values.has(l.name)) continue;
    const c = l.config;
    const [inName] = inputsOf(l);
    switch (l.class_name) {
      case 'InputLayer':
        values.set(l.name, { name: g.input('pixels', 'float32', ['B', 3, size, size], 'RGB / 255, channels first'), shape: [3, size, size] });
        break;
      case 'ZeroPadding2D': {
        const next = onlyConsumer(l.name);
        if (next && (next.class_name === 'Conv2D' || next.class_name === 'DepthwiseConv2D') && next.config.padding === 'valid') break; // folded into that convolution
        throw new EncoderError(`nsfwjs MobileNetV2: ${l.name} (ZeroPadding2D) is not followed by a "valid" convolution, which the converter expects`);
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        if (c.activation !== 'linear' || c.data_format !== 'channels_last') throw new EncoderError(`nsfwjs MobileNetV2: ${l.name} has activation ${String(c.activation)} / ${String(c.data_format)}; the converter reads linear channels_last convolutions`);
        const padLayer = layers.get(inName)!;
        const padded = padLayer.class_name === 'ZeroPadding2D';
        const x = valueOf(padded ? inputsOf(padLayer)[0] : inName);
        const [C, H, W] = x.shape;
        const [kh, kw] = pairOf(c.kernel_size);
        const [sh, sw] = pairOf(c.strides);
        const [dh, dw] = pairOf(c.dilation_rate);
        let pads: [number, number, number, number]; // top, left, bottom, right
        if (padded) {
          const [[t, b], [le, r]] = padLayer.config.padding as [[number, number], [number, number]];
          pads = [t, le, b, r];
        } else if (c.padding === 'same') {
          const [t, b] = samePads(H, kh, sh, dh), [le, r] = samePads(W, kw, sw, dw);
          pads = [t, le, b, r];
        } else pads = [0, 0, 0, 0];
        const depthwise = l.class_name === 'DepthwiseConv2D';
        const kernel = weight(`${l.name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`).data;
        const mult = depthwise ? (c.depth_multiplier as number) : 1;
        const O = depthwise ? C * mult : (c.filters as number);
        const I = depthwise ? 1 : C;
        // Keras [kh, kw, in, out] (depthwise: [kh, kw, C, mult], output channel c * mult + m) -> ONNX [O, I, kh, kw].
        const w = new Float32Array(O * I * kh * kw);
        for (let y = 0; y < kh; y++)
          for (let xk = 0; xk < kw; xk++)
            for (let i = 0; i < (depthwise ? C : I); i++)
              for (let o = 0; o < (depthwise ? mult : O); o++) {
                const src = kernel[((y * kw + xk) * (depthwise ? C : I) + i) * (depthwise ? mult : O) + o];
                const oc = depthwise ? i * mult + o : o, ic = depthwise ? 0 : i;
                w[((oc * I + ic) * kh + y) * kw + xk] = src;
              }
        const bias = c.use_bias ? Float32Array.from(weight(`${l.name}/bias`).data) : new Float32Array(O);
        // A batch norm that alone reads this convolution is folded into its weights.
        const bn = onlyConsumer(l.name);
        let outName = l.name;
        if (bn?.class_name === 'BatchNormalization') {
          const b = bn.config;
          if (b.axis !== -1 && b.axis !== 3 && !(Array.isArray(b.axis) && b.axis.length === 1 && (b.axis[0] === -1 || b.axis[0] === 3)))
            throw new EncoderError(`nsfwjs MobileNetV2: ${bn.name} normalises axis ${JSON.stringify(b.axis)}, the converter folds channel batch norms only`);
          const mean = weight(`${bn.name}/moving_mean`).data, variance = weight(`${bn.name}/moving_variance`).data;
          const gamma = b.scale ? weight(`${bn.name}/gamma`).data : null, beta = b.center ? weight(`${bn.name}/beta`).data : null;
          const per = I * kh * kw;
          for (let o = 0; o < O; o++) {
            const k = (gamma ? gamma[o] : 1) / Math.sqrt(variance[o] + (b.epsilon as number));
            for (let j = 0; j < per; j++) w[o * per + j] *= k;
            bias[o] = (bias[o] - mean[o]) * k + (beta ? beta[o] : 0);
          }
          outName = bn.name;
        }
        const out = g.op('Conv', [x.name, g.float(`${l.name}.weight`, w, [O, I, kh, kw]), g.float(`${l.name}.bias`, bias, [O])], outName, {
          kernel_shape: [kh, kw],
          strides: [sh, sw],
          dilations: [dh, dw],
          pads,
          group: depthwise ? C : 1,
        });
        const shape: [number, number, number] = [O, Math.floor((H + pads[0] + pads[2] - (kh - 1) * dh - 1) / sh) + 1, Math.floor((W + pads[1] + pads[3] - (kw - 1) * dw - 1) / sw) + 1];
        values.set(l.name, { name: out, shape });
        if (outName !== l.name) values.set(outName, { name: out, shape });
        break;
      }
      case 'BatchNormalization':
        throw new EncoderError(`nsfwjs MobileNetV2: ${l.name} does not follow a convolution it alone reads, so it cannot be folded`);
      case 'ReLU': {
        const x = valueOf(inName);
        if ((c.negative_slope ?? 0) !== 0 || (c.threshold ?? 0) !== 0) throw new EncoderError(`nsfwjs MobileNetV2: ${l.name} is a leaky or thresholded ReLU, which the converter has no form for`);
        const out = c.max_value == null ? g.op('Relu', [x.name], l.name) : g.op('Clip', [x.name, g.scalar(0), g.scalar(c.max_value as number)], l.name);
        values.set(l.name, { name: out, shape: x.shape });
        break;
      }
      case 'Add': {
        const xs = inputsOf(l).map(valueOf);
        let out = xs[0].name;
        for (let i = 1; i < xs.length; i++) out = g.op('Add', [out, xs[i].name], l.name);
        values.set(l.name, { name: out, shape: xs[0].shape });
        break;
      }
      case 'AveragePooling2D': {
        const x = valueOf(inName);
        const [C, H, W] = x.shape;
        const [ph, pw] = pairOf(c.pool_size);
        if (ph !== H || pw !== W || c.padding !== 'valid') throw new EncoderError(`nsfwjs MobileNetV2: ${l.name} pools ${ph}x${pw} over ${H}x${W}; the converter reads a global average pool only`);
        values.set(l.name, { name: g.op('GlobalAveragePool', [x.name], l.name), shape: [C, 1, 1] });
        break;
      }
      default:
        throw new EncoderError(`nsfwjs MobileNetV2: layer ${l.name} is a ${l.class_name}, which the converter has no ONNX form for`);
    }
  }
  const end = valueOf(endpoint);
  const [C, H, W] = end.shape;
  const dim = C * H * W;
  // A spatial cut (the input of trainable top layers) is given position-major, [B, H * W * C], so
  // a pointwise convolution over it is one matmul of [B * H * W, C] rows; a pooled endpoint has no positions to reorder.
  const flat = H * W > 1 ? g.op('Transpose', [end.name], 'nhwc', { perm: [0, 2, 3, 1] }) : end.name;
  g.output('features', g.op('Flatten', [flat], 'flatten', { axis: 1 }), ['B', dim], H * W > 1 ? `the ${H}x${W}x${C} output of ${endpoint}, position-major` : `the ${dim}-d output of ${endpoint}`);
  return g.encode('mobilenetv2', `MobileNetV2 of nsfwjs cut at ${endpoint}, converted from its tfjs layers model by mmctr`, metadata);
}

/** One pointwise (1x1) convolution of the network's top with its batch norm folded in, as a trainable layer starts from it. */
export interface PointwiseLayer {
  /** The Keras convolution's name (Conv_1). */
  name: string;
  inDim: number;
  outDim: number;
  /** [inDim, outDim] row-major: the kernel scaled per output channel by gamma / sqrt(var + eps). */
  weight: Float32Array;
  /** [outDim]: beta - mean * gamma / sqrt(var + eps). */
  bias: Float32Array;
  /** Whether a ReLU6 follows (the last one does; a block's projection is linear). */
  relu6: boolean;
}

/** The top of MobileNetV2 that SCL can train: the activations it reads and its pointwise layers, bottom first, before the global average pool. */
export interface MobileNetTop {
  /** The layer whose output the top reads (the cut); its activations are what the cut backbone gives. */
  cut: string;
  /** Spatial positions of the cut (7 x 7 = 49) and its channels. */
  positions: number;
  channels: number;
  layers: PointwiseLayer[];
}

/**
 * The top `count` convolutions under the global average pool, walked down from it through
 * [ReLU6] <- BatchNormalization <- 1x1 Conv2D: count 1 is Conv_1 (320 -> 1280) with its batch
 * norm and ReLU6, count 2 adds block_16's linear projection (960 -> 320). Anything else on the
 * way down (block_16's depthwise convolution is the third) is refused: it is not a matmul.
 */
function topOf(json: TfjsModelJson, shards: Map<string, string>, count: number): MobileNetTop {
  const layers = new Map(json.modelTopology.model_config.config.layers.map((l) => [l.name, l]));
  const inputOf = (name: string) => {
    const l = layers.get(name);
    const i = l?.inbound_nodes[0]?.[0]?.[0];
    if (!l || !i) throw new EncoderError(`nsfwjs MobileNetV2: layer ${name} has no input in the topology`);
    return layers.get(i)!;
  };
  const pool = layers.get(MOBILENET_ENDPOINT);
  if (pool?.class_name !== 'AveragePooling2D') throw new EncoderError(`nsfwjs MobileNetV2: ${MOBILENET_ENDPOINT} is not the global average pool the trainable top ends in`);
  const weights = decodeWeights(json, shards);
  const weight = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new EncoderError(`nsfwjs MobileNetV2: no weight ${name} in the manifest`);
    return w.data;
  };
  const out: PointwiseLayer[] = [];
  let at = inputOf(pool.name);
  const [ph, pw] = pool.config.pool_size as [number, number];
  const positions = ph * pw;
  while (out.length < count) {
    const relu6 = at.class_name === 'ReLU' && at.config.max_value === 6;
    const bn = relu6 ? inputOf(at.name) : at;
    const conv = bn.class_name === 'BatchNormalization' ? inputOf(bn.name) : bn;
    const c = conv.config;
    const [kh, kw] = (c.kernel_size as number[] | undefined) ?? [0, 0];
    if (bn.class_name !== 'BatchNormalization' || conv.class_name !== 'Conv2D' || kh !== 1 || kw !== 1 || c.use_bias || (c.strides as number[]).some((s) => s !== 1))
      throw new EncoderError(`nsfwjs MobileNetV2: layer ${out.length + 1} from the top (${conv.name}, a ${conv.class_name}) is not a 1x1 convolution with a batch norm; at most ${out.length} top layers can be trained`);
    const kernel = weight(`${conv.name}/kernel`);
    const O = c.filters as number, I = kernel.length / O;
    const mean = weight(`${bn.name}/moving_mean`), variance = weight(`${bn.name}/moving_variance`);
    const gamma = bn.config.scale ? weight(`${bn.name}/gamma`) : null, beta = bn.config.center ? weight(`${bn.name}/beta`) : null;
    const w = new Float32Array(I * O), bias = new Float32Array(O);
    // Keras's [1, 1, in, out] kernel is the [in, out] matrix; the frozen statistics fold into its columns.
    for (let o = 0; o < O; o++) {
      const k = (gamma ? gamma[o] : 1) / Math.sqrt(variance[o] + (bn.config.epsilon as number));
      for (let i = 0; i < I; i++) w[i * O + o] = kernel[i * O + o] * k;
      bias[o] = (beta ? beta[o] : 0) - mean[o] * k;
    }
    out.unshift({ name: conv.name, inDim: I, outDim: O, weight: w, bias, relu6 });
    at = inputOf(conv.name);
  }
  return { cut: at.name, positions, channels: out[0].inDim, layers: out };
}

/** The default folder of converted backbones: `<runs>/backbones`. */
export function backboneCacheDir(): string {
  return path.join(runsDir(), 'backbones');
}

/** The pretrained top `count` layers (1 or 2) that SCL fine-tunes, from the same weights the converter reads. */
export async function mobilenetTop(count: number): Promise<MobileNetTop> {
  const { json, shards } = await nsfwjsArtefacts();
  return topOf(json, shards, count);
}

/** The feature-cache identity of the activations at a cut: the backbone's with the cut layer, so no other cut's or the pooled features are ever reused for it. */
export function mobilenetCutId(cut: string): string {
  return `${MOBILENET_ID.replace(MOBILENET_ENDPOINT, cut)}/nhwc`;
}

/**
 * The path of the converted MobileNetV2 in `dir`, converting it first if no file has its key;
 * with `top` > 0 the network cut below its top `top` layers (their input, position-major).
 */
export async function mobilenetOnnxFile(dir = backboneCacheDir(), top = 0): Promise<string> {
  const { json, shards } = await nsfwjsArtefacts();
  const endpoint = top > 0 ? topOf(json, shards, top).cut : MOBILENET_ENDPOINT;
  const digest = createHash('sha256').update(JSON.stringify(json));
  for (const [name, b64] of shards) digest.update(name).update(b64);
  const key = cacheKey({ stage: 'mobilenet-onnx', version: CONVERTER_VERSION, recipe: { endpoint, size: MOBILENET_SIZE, artefacts: digest.digest('hex') } });
  const file = path.join(dir, `mobilenetv2-${key}.onnx`);
  if (existsSync(file)) return file; // written atomically: present means complete
  const bytes = convertLayersModel(json, shards, endpoint, MOBILENET_SIZE, { backbone: top > 0 ? mobilenetCutId(endpoint) : MOBILENET_ID, key });
  writeFileAtomic(file, [bytes]);
  return file;
}
