/**
 * A user's own ONNX image backbone given by config: a tiny model this test writes with the
 * project's graph writer (a 1x1 convolution 3 -> 4 channels, a spatial-map output and a pooled
 * one), fed solid-colour images whose features are known in closed form.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadImageBackbone, OnnxBackboneConfig, withRuntime, type ImageBackboneConfigInput } from '../../src/encoders/backbone.js';
import { imageFeatures } from '../../src/encoders/cache.js';
import { EncoderError } from '../../src/encoders/errors.js';
import { sclConfig } from '../../src/pretrain/config.js';
import { sclImageFeatures } from '../../src/pretrain/features.js';
import { prepare, runExperiment } from '../../src/pretrain/pipeline.js';
import { ConfigError, UsageError } from '../../src/util/errors.js';
import { GraphBuilder } from '../../src/util/onnx-graph.js';
import { onnxRuntimeAvailable } from '../../src/util/onnx-runtime.js';
import { parseConfig } from '../../src/util/config-file.js';
import { tempDir } from '../data/helpers.js';
import { syntheticWorld } from '../pretrain/synthetic.js';

const skip = (await onnxRuntimeAvailable()) ? false : 'onnxruntime-node is not installed (npm install onnxruntime-node); the ONNX backbone tests are skipped';
const dir = tempDir('mmctr-onnx-backbone-');
const S = 8;
// features = W (rgb / 255 - mean) / std + bias, per output channel.
const W = [
  [1, 0, 0],
  [0, 2, 0],
  [0, 0, -1],
  [0.5, 0.5, 0.5],
];
const BIAS = [0, 0.1, 0.2, -0.3];

/** The tiny model: NCHW or NHWC [B, 3, 8, 8] input "image"; outputs "map" (the conv, [B, 4, 8, 8] / [B, 8, 8, 4]) and "pooled" [B, 4]. */
function tinyModel(layout: 'NCHW' | 'NHWC'): string {
  const g = new GraphBuilder();
  let x = g.input('image', 'float32', layout === 'NCHW' ? ['B', 3, S, S] : ['B', S, S, 3], 'normalised pixels');
  if (layout === 'NHWC') x = g.op('Transpose', [x], 'to_nchw', { perm: [0, 3, 1, 2] });
  const conv = g.op('Conv', [x, g.float('w', Float32Array.from(W.flat()), [4, 3, 1, 1]), g.float('b', Float32Array.from(BIAS), [4])], 'conv', { kernel_shape: [1, 1] });
  const map = layout === 'NCHW' ? conv : g.op('Transpose', [conv], 'to_nhwc', { perm: [0, 2, 3, 1] });
  g.output('map', map, layout === 'NCHW' ? ['B', 4, S, S] : ['B', S, S, 4], 'per position');
  g.output('pooled', g.op('Flatten', [g.op('GlobalAveragePool', [conv], 'gap')], 'flat', { axis: 1 }), ['B', 4], 'per image');
  const file = path.join(dir, `tiny-${layout}.onnx`);
  writeFileSync(file, g.encode('tiny', 'a test backbone', {}));
  return file;
}

const COLOURS: [number, number, number][] = [
  [255, 0, 0],
  [0, 128, 255],
  [30, 200, 90],
];

async function solidImages(): Promise<string[]> {
  const sharp = (await import('sharp')).default;
  return Promise.all(
    COLOURS.map(async ([r, g, b], i) => {
      const file = path.join(dir, `solid-${i}.png`);
      await sharp({ create: { width: 16, height: 16, channels: 3, background: { r, g, b } } }).png().toFile(file);
      return file;
    }),
  );
}

function expected(rgb: [number, number, number], mean = [0, 0, 0], std = [1, 1, 1]): number[] {
  const x = rgb.map((v, c) => (v / 255 - mean[c]) / std[c]);
  return W.map((w, o) => w[0] * x[0] + w[1] * x[1] + w[2] * x[2] + BIAS[o]);
}

const config = (over: Partial<ImageBackboneConfigInput> & { path: string }): ReturnType<typeof OnnxBackboneConfig.parse> =>
  parseConfig(OnnxBackboneConfig, { kind: 'onnx', inputSize: S, ...over }, 'test backbone');

test('an ONNX backbone from config: features of a tiny model as computed by hand (pooling none / mean, NCHW / NHWC, mean / std)', { skip }, async () => {
  const files = await solidImages();
  const cases = [
    { layout: 'NCHW' as const, output: 'pooled', pooling: 'none' as const },
    { layout: 'NCHW' as const, output: 'map', pooling: 'mean' as const, mean: [0.5, 0.4, 0.3] as [number, number, number], std: [0.2, 0.25, 0.5] as [number, number, number] },
    { layout: 'NHWC' as const, output: 'map', pooling: 'mean' as const },
    { layout: 'NHWC' as const, output: 'pooled', pooling: 'none' as const, batchSize: 2 },
  ];
  for (const c of cases) {
    const b = await loadImageBackbone(config({ path: tinyModel(c.layout), ...c }), { threads: 1 });
    try {
      assert.equal(b.dim, 4);
      assert.match(b.id, new RegExp(`^onnx/tiny-${c.layout}\\.onnx/[0-9a-f]{12}/${c.output}/${c.pooling}/8/${c.layout}/`));
      const r = await b.encode([...files, path.join(dir, 'absent.png')]);
      assert.deepEqual(r.failed.map((f) => f.index), [3]);
      assert.match(r.failed[0].reason, /missing file/);
      COLOURS.forEach((rgb, i) => {
        const want = expected(rgb, c.mean, c.std);
        for (let o = 0; o < 4; o++) assert.ok(Math.abs(r.features[i * 4 + o] - want[o]) < 1e-4, `${JSON.stringify(c)} image ${i} channel ${o}: ${r.features[i * 4 + o]} vs ${want[o]}`);
      });
      assert.ok(r.features.subarray(12).every((v) => v === 0), 'the missing image is a zero row');
    } finally {
      await b.close?.();
    }
  }
});

test('an ONNX backbone fails clearly: a missing file, an output or input that does not exist, a wrong input size, a spatial output without pooling, a bad config', { skip }, async () => {
  const file = tinyModel('NCHW');
  const fails = async (over: Partial<ImageBackboneConfigInput> & { path: string }, re: RegExp) =>
    assert.rejects(
      () => loadImageBackbone(config(over), { threads: 1 }),
      (err: Error) => err instanceof EncoderError && re.test(err.message),
    );
  await fails({ path: path.join(dir, 'nope.onnx') }, /nope\.onnx: the model file does not exist/);
  await fails({ path: file, output: 'embeds' }, /no output named "embeds"; the model's outputs: map, pooled/);
  await fails({ path: file, input: 'pixel_values' }, /no input named "pixel_values"; the model's inputs: image/);
  await fails({ path: file, inputSize: 16, output: 'pooled' }, /input "image" is \[B, 3, 8, 8\], but inputSize 16 with layout NCHW feeds \[B, 3, 16, 16\]/);
  await fails({ path: file, layout: 'NHWC', output: 'pooled' }, /input "image" is \[B, 3, 8, 8\], but inputSize 8 with layout NHWC feeds \[B, 8, 8, 3\]/);
  await fails({ path: file, output: 'map' }, /output "map" is \[1, 4, 8, 8\], not \[B, D\]: set pooling "mean"/);
  await fails({ path: file, output: 'pooled', pooling: 'cls' }, /pooling "cls" takes \[B, tokens, D\]/);
  assert.throws(
    () => config({ path: file, layout: 'CHW' as 'NCHW', std: [1, 0, 1] }),
    (err: Error) => err instanceof ConfigError && /layout/.test(err.message) && /std: every std must be positive/.test(err.message),
  );
  assert.throws(() => sclConfig({ model: { backbone: { kind: 'onnx', path: file } as never } }), (err: Error) => err instanceof ConfigError && /model\.backbone\.inputSize/.test(err.message));
  // --image-runtime picks MobileNetV2's runtime; a user's model has only onnxruntime.
  assert.deepEqual(withRuntime({ kind: 'mobilenet', runtime: 'auto' }, 'tfjs'), { kind: 'mobilenet', runtime: 'tfjs' });
  assert.throws(() => withRuntime(config({ path: file }), 'tfjs'), (err: Error) => err instanceof UsageError && /--image-runtime tfjs chooses MobileNetV2's runtime, but the backbone is the ONNX model/.test(err.message));
});

test('SCL end to end on an ONNX backbone: its features through the cache into training, keyed by the model', { skip }, async () => {
  const sharp = (await import('sharp')).default;
  const w = syntheticWorld({ perProfile: 2, searches: 300 });
  // Each item's photo: a solid colour of its profile (the synthetic world's colour index), so the features carry it.
  const palette: [number, number, number][] = [[220, 20, 20], [20, 20, 220], [20, 160, 20], [10, 10, 10], [240, 240, 240]];
  mkdirSync(path.join(dir, 'scl'), { recursive: true });
  const items = await Promise.all(
    w.items.map(async (it, i) => {
      const file = path.join(dir, 'scl', `${it.id}.png`);
      const [r, g, b] = palette[Math.floor(i / 6) % 5];
      await sharp({ create: { width: 12, height: 12, channels: 3, background: { r, g, b } } }).png().toFile(file);
      return { ...it, image: file };
    }),
  );
  const model = tinyModel('NCHW');
  const c = sclConfig({
    seed: 2,
    model: { tokenDim: 8, hidden: 16, outDim: 8, maxTokens: 16, backbone: { kind: 'onnx', path: model, inputSize: S, output: 'pooled' } },
    loss: { queueSize: 64 },
    train: { epochs: 1, batchSize: 32 },
    eval: { candidates: 10, topK: 3 },
  });
  const cache = path.join(dir, 'scl-cache');
  const table = await sclImageFeatures(c.model, items, cache);
  assert.equal(table.dim, 4);
  assert.match(table.backbone, /^onnx\/tiny-NCHW\.onnx\//);
  assert.equal(table.report.computed, items.length);
  const want = expected(palette[0]);
  for (let o = 0; o < 4; o++) assert.ok(Math.abs(table.features[o] - want[o]) < 1e-4);
  const backbone = await loadImageBackbone(c.model.backbone, { threads: 1 });
  try {
    const again = await imageFeatures(backbone, items, cache);
    assert.equal(again.report.cached, items.length, 'a second run reads the cache');
  } finally {
    await backbone.close?.();
  }
  const prep = prepare(c, items, w.searches, table);
  const res = runExperiment(c, prep, ['scl']);
  assert.ok(res.rows[0].image.top1 >= 0 && res.rows[0].image.top1 <= 1 && Number.isFinite(res.rows[0].all.top1));
  assert.ok(res.trained.scl!.pairsPerSec > 0);
});
