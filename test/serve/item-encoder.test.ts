/**
 * The service's SCL item encoder with a fine-tuned MobileNetV2 top: it reads the photos through
 * the cut backbone and the model file's own (trained) top, so a photo sent to the service gets the
 * vector `mmctr pretrain embed` wrote for it. Needs nsfwjs and onnxruntime-node (skipped without).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { saveModel } from '../../src/engine/checkpoint.js';
import { RandomStream } from '../../src/engine/random.js';
import { sclConfig } from '../../src/pretrain/config.js';
import { embedItems } from '../../src/pretrain/export.js';
import { sclImageFeatures, sclImageHead } from '../../src/pretrain/features.js';
import { SclModel } from '../../src/pretrain/model.js';
import { SclItemEncoder } from '../../src/serve/item-encoder.js';
import { onnxRuntimeAvailable } from '../../src/util/onnx-runtime.js';
import { builtinItems, writeBuiltinImages } from '../../src/world/catalog.js';
import { tempDir } from '../data/helpers.js';

let skip: string | false = (await onnxRuntimeAvailable()) ? false : 'onnxruntime-node is not installed; the fine-tuned SCL item encoder is not tested';
try {
  await import('nsfwjs/models/mobilenet_v2');
} catch {
  skip ||= 'nsfwjs is not installed; the fine-tuned SCL item encoder is not tested';
}

test('SCL item encoder with a trained MobileNetV2 top: the same vectors as the export, from the model file\'s top', { skip }, async () => {
  const dir = tempDir('mmctr-item-encoder-');
  const items = builtinItems(3);
  await writeBuiltinImages(items, dir);
  const catalogue = items.map((it) => ({ id: it.id, title: it.title, image: path.join(dir, it.image) }));
  const config = sclConfig({ model: { tokenDim: 8, hidden: 16, outDim: 8, trainableLayers: 1 }, featureCache: path.join(dir, 'features') });
  const table = await sclImageFeatures(config.model, catalogue, config.featureCache!);
  const model = new SclModel(config.model, table.dim, new RandomStream(3), await sclImageHead(config.model));
  // A "trained" top: away from the pretrained weights the encoder would otherwise start from.
  const w = model.namedParameters().get('image.head.w0')!.data;
  for (let i = 0; i < w.length; i += 7) w[i] *= -2;
  model.eval();
  const file = path.join(dir, 'model.safetensors');
  saveModel(file, model, { scl: config, featureDim: table.dim, backbone: table.backbone });
  const want = embedItems(model, catalogue, table);

  const encoder = await SclItemEncoder.open(file);
  try {
    const got = await encoder.encode(catalogue.map((it) => ({ title: it.title, image: readFileSync(it.image) })));
    got.forEach((v, i) => {
      for (let j = 0; j < 8; j++) assert.ok(Math.abs(v[j] - want[i * 8 + j]) < 1e-4, `item ${i} [${j}]: ${v[j]} vs ${want[i * 8 + j]}`);
    });
    const pretrained = embedItems(new SclModel(config.model, table.dim, new RandomStream(3), await sclImageHead(config.model)), catalogue, table);
    assert.ok(Math.abs(pretrained[0] - want[0]) > 1e-4 || Math.abs(pretrained[1] - want[1]) > 1e-4, 'the changed top made no difference: the check would be vacuous');
  } finally {
    await encoder.close();
  }
});
