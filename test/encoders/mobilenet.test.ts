/**
 * The real MobileNetV2 backbone (weights inside the nsfwjs package), on tfjs-wasm and converted to
 * ONNX on onnxruntime-node. The only test file that loads the model (about a second here, up to
 * 10 s on a slow machine).
 */
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { loadImageBackbone } from '../../src/encoders/backbone.js';
import { imageFeatures } from '../../src/encoders/cache.js';
import { MOBILENET_DIM, MOBILENET_ID, MobileNetV2Backbone } from '../../src/encoders/mobilenet.js';
import { mobilenetCutId, mobilenetOnnxFile, mobilenetTop } from '../../src/encoders/mobilenet-onnx.js';
import { noGrad } from '../../src/engine/autograd.js';
import { Tensor } from '../../src/engine/tensor.js';
import { PointwiseHead } from '../../src/nn/pointwise.js';
import { onnxRuntimeAvailable } from '../../src/util/onnx-runtime.js';
import { builtinItems, writeBuiltinImages } from '../../src/world/catalog.js';
import { tempDir } from '../data/helpers.js';

const require = createRequire(import.meta.url);
let absent = '';
for (const pkg of ['nsfwjs', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm']) {
  try {
    require.resolve(pkg);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    absent ||= `${pkg} is not installed (npm install); the MobileNetV2 backbone tests are skipped`;
  }
}
const dir = tempDir('mmctr-mobilenet-');

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

test('MobileNetV2: 1280-d finite deterministic features of built-in catalogue images; corrupt files fall back', { skip: absent || false }, async () => {
  const items = builtinItems(3);
  await writeBuiltinImages(items, dir);
  const files = items.map((it) => path.join(dir, it.image));
  const garbage = path.join(dir, 'garbage.png');
  writeFileSync(garbage, Buffer.from('this is not an image at all'));

  const local = await MobileNetV2Backbone.load({ workers: 0 });
  try {
    assert.equal(local.id, MOBILENET_ID);
    assert.equal(local.dim, 1280);
    const a = await local.encode(files);
    assert.equal(a.features.length, 3 * MOBILENET_DIM);
    assert.deepEqual(a.failed, []);
    assert.ok(a.features.every(Number.isFinite));
    for (let i = 0; i < 3; i++) {
      const row = a.features.subarray(i * MOBILENET_DIM, (i + 1) * MOBILENET_DIM);
      assert.ok(row.some((x) => x > 0), `row ${i} is not all zero`);
      assert.ok(row.every((x) => x >= 0), 'post-ReLU6 average pool is non-negative');
    }
    // Deterministic: the same images again (in another batch layout) give the same features.
    const again = await local.encode([files[2], files[0], files[1]]);
    const row = (f: Float32Array, i: number) => f.subarray(i * MOBILENET_DIM, (i + 1) * MOBILENET_DIM);
    for (const [x, y] of [[0, 2], [1, 0], [2, 1]]) {
      const ra = row(a.features, y), rb = row(again.features, x);
      for (let d = 0; d < MOBILENET_DIM; d++) assert.ok(Math.abs(ra[d] - rb[d]) <= 1e-4 * (1 + Math.abs(ra[d])), `dim ${d}`);
    }
    assert.ok(cosine(row(a.features, 0), row(a.features, 1)) < 0.9999, 'different images give different features');

    const bad = await local.encode([files[0], garbage, path.join(dir, 'absent.png')]);
    assert.deepEqual(bad.failed.map((f) => f.index), [1, 2]);
    assert.match(bad.failed[0].reason, /unreadable image/);
    assert.match(bad.failed[1].reason, /missing file/);
    assert.ok(bad.features.subarray(MOBILENET_DIM).every((x) => x === 0));

    // Through the cache: the corrupt file is a counted fallback, not a crash.
    const table = await imageFeatures(local, [...items.map((it, i) => ({ id: it.id, title: it.title, image: files[i] })), { id: 'junk', title: null, image: garbage }], path.join(dir, 'cache'));
    assert.equal(table.report.computed, 4);
    assert.equal(table.report.corrupt, 1);
    assert.deepEqual(Array.from(table.missing), [0, 0, 0, 1]);

    // A worker thread gives the same features as the calling thread.
    const pooled = await MobileNetV2Backbone.load({ workers: 1, chunk: 2 });
    try {
      const p = await pooled.encode(files);
      for (let d = 0; d < p.features.length; d++) assert.ok(Math.abs(p.features[d] - a.features[d]) <= 1e-4 * (1 + Math.abs(a.features[d])));
    } finally {
      await pooled.close();
    }
  } finally {
    await local.close();
  }
});

const noOrt = absent || ((await onnxRuntimeAvailable()) ? '' : 'onnxruntime-node is not installed (npm install onnxruntime-node); the ONNX runtime of MobileNetV2 is not tested');

test('MobileNetV2 converted to ONNX: onnxruntime gives the tfjs features (cosine >= 0.9999), under the same id; the graph is converted once', { skip: noOrt || false }, async () => {
  const items = builtinItems(6);
  const root = path.join(dir, 'parity');
  await writeBuiltinImages(items, root);
  const files = items.map((it) => path.join(root, it.image));
  const garbage = path.join(root, 'garbage.png');
  writeFileSync(garbage, Buffer.from('not an image'));
  const models = path.join(dir, 'backbones');

  const tfjs = await loadImageBackbone({ kind: 'mobilenet', runtime: 'tfjs' }, { threads: 0 });
  const onnx = await loadImageBackbone({ kind: 'mobilenet', runtime: 'onnx' }, { threads: 1, modelCacheDir: models });
  try {
    assert.equal(onnx.id, tfjs.id);
    assert.equal(onnx.dim, MOBILENET_DIM);
    const a = await tfjs.encode(files);
    const b = await onnx.encode([...files, garbage]);
    assert.deepEqual(b.failed.map((f) => [f.index, /unreadable image/.test(f.reason)]), [[files.length, true]]);
    for (let i = 0; i < files.length; i++) {
      const row = (f: Float32Array) => f.subarray(i * MOBILENET_DIM, (i + 1) * MOBILENET_DIM);
      const c = cosine(row(a.features), row(b.features));
      assert.ok(c >= 0.9999, `image ${i}: cosine ${c}`);
    }
  } finally {
    await tfjs.close?.();
    await onnx.close?.();
  }
  // Keyed by the weights: a second use finds the file and does not write it again.
  const file = await mobilenetOnnxFile(models);
  const mtime = statSync(file).mtimeMs;
  assert.equal(await mobilenetOnnxFile(models), file);
  assert.equal(statSync(file).mtimeMs, mtime);
  assert.match(path.basename(file), /^mobilenetv2-[0-9a-f]{16}\.onnx$/);
});

test('MobileNetV2 cut below its trainable top: 7x7 activations under their own id; the pretrained top over them gives the full network features (cosine ~1)', { skip: noOrt || false }, async () => {
  const items = builtinItems(4);
  const root = path.join(dir, 'cut');
  await writeBuiltinImages(items, root);
  const files = items.map((it) => path.join(root, it.image));
  const models = path.join(dir, 'backbones');
  const full = await loadImageBackbone({ kind: 'mobilenet', runtime: 'onnx' }, { threads: 0, modelCacheDir: models });
  try {
    const want = await full.encode(files);
    for (const layers of [1, 2]) {
      const top = await mobilenetTop(layers);
      assert.deepEqual(top.layers.map((l) => [l.name, l.inDim, l.outDim, l.relu6]), [['block_16_project', 960, 320, false], ['Conv_1', 320, 1280, true]].slice(2 - layers));
      const cut = await loadImageBackbone({ kind: 'mobilenet', runtime: 'auto' }, { threads: 0, modelCacheDir: models, top: layers });
      try {
        assert.equal(cut.id, mobilenetCutId(top.cut));
        assert.notEqual(cut.id, MOBILENET_ID);
        assert.equal(cut.dim, 49 * top.channels);
        const got = await cut.encode(files);
        const head = new PointwiseHead({ positions: top.positions, channels: top.channels, layers: top.layers });
        const pooled = noGrad(() => head.forward(new Tensor(got.features, [files.length, cut.dim]))).data;
        for (let i = 0; i < files.length; i++) {
          const row = (f: Float32Array) => f.subarray(i * MOBILENET_DIM, (i + 1) * MOBILENET_DIM);
          const c = cosine(row(pooled), row(want.features));
          assert.ok(c >= 0.99999, `${layers} layer(s), image ${i}: cosine ${c}`);
        }
      } finally {
        await cut.close?.();
      }
    }
    await assert.rejects(mobilenetTop(3), /layer 3 from the top \(block_16_depthwise, a DepthwiseConv2D\) is not a 1x1 convolution/);
    await assert.rejects(loadImageBackbone({ kind: 'mobilenet', runtime: 'tfjs' }, { top: 1 }), /runs on onnxruntime only/);
  } finally {
    await full.close?.();
  }
});
