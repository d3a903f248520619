import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { imageFeatures } from '../../src/encoders/cache.js';
import { COLOUR_DIM, colourHistogram, ColourHistogramBackbone, JoinedBackbone, joinFeatureTables } from '../../src/encoders/colour.js';
import { EncoderError } from '../../src/encoders/errors.js';
import type { ItemContent } from '../../src/encoders/types.js';
import { sclConfig } from '../../src/pretrain/config.js';
import { sclImageBackbone, sclImageFeatures } from '../../src/pretrain/features.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-colour-');
/** A product photo: a coloured square on a white background. */
async function photo(name: string, rgb: [number, number, number]): Promise<string> {
  const file = path.join(dir, `${name}.png`);
  const square = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
  await sharp({ create: { width: 80, height: 80, channels: 3, background: '#ffffff' } }).composite([{ input: square, left: 20, top: 20 }]).png().toFile(file);
  return file;
}
const bin = (r: number, g: number, b: number) => (r * 4 + g) * 4 + b;
const norm = (v: Float32Array) => Math.hypot(...v);

test('colour histogram: the background is left out, bins are square-rooted shares of unit length', () => {
  const px = (...rgbs: number[][]) => Uint8Array.from(rgbs.flat());
  const red = colourHistogram(px([250, 10, 10], [250, 10, 10], [255, 255, 255]));
  assert.equal(red[bin(3, 0, 0)], 1, 'the white pixel is background');
  const half = colourHistogram(px([250, 10, 10], [10, 10, 250], [255, 255, 255], [240, 240, 240]));
  assert.ok(Math.abs(half[bin(3, 0, 0)] - Math.SQRT1_2) < 1e-6 && Math.abs(half[bin(0, 0, 3)] - Math.SQRT1_2) < 1e-6);
  // A white product on white: nothing is foreground, so every pixel counts.
  const white = colourHistogram(px([255, 255, 255], [250, 250, 250]));
  assert.equal(white[bin(3, 3, 3)], 1);
  for (const h of [red, half, white]) assert.ok(Math.abs(norm(h) - 1) < 1e-6);
});

test("colour backbone: a photo's colour lands in its bin whatever the background; an unreadable file is reported, not fatal", async () => {
  const files = [await photo('red', [220, 20, 30]), await photo('navy', [20, 30, 120])];
  const broken = path.join(dir, 'broken.png');
  writeFileSync(broken, 'not an image');
  const { features, failed } = await new ColourHistogramBackbone().encode([...files, broken]);
  const row = (i: number) => features.subarray(i * COLOUR_DIM, (i + 1) * COLOUR_DIM);
  // Resizing blends the square's edge with the background: the colour's bin holds most, not all.
  const top = (h: Float32Array) => h.indexOf(Math.max(...h));
  assert.equal(top(row(0)), bin(3, 0, 0));
  assert.equal(top(row(1)), bin(0, 0, 1));
  assert.ok(row(0)[bin(3, 0, 0)] > 0.85 && row(1)[bin(0, 0, 1)] > 0.85);
  assert.deepEqual(failed.map((f) => f.index), [2]);
  assert.match(failed[0].reason, /unreadable image/);
});

test('joined features: fixed block weights, missing if any block is; the service path gives the catalogue rows', async () => {
  const items: ItemContent[] = [
    { id: 'a', title: 'red tee', image: await photo('a', [200, 30, 30]) },
    { id: 'b', title: 'green cap', image: await photo('b', [30, 160, 40]) },
    { id: 'c', title: 'no photo', image: null },
  ];
  const colour = await imageFeatures(new ColourHistogramBackbone(), items, path.join(dir, 'cache'));
  const joined = joinFeatureTables([
    { table: colour, weight: 1 },
    { table: colour, weight: 3 },
  ]);
  assert.equal(joined.dim, 2 * COLOUR_DIM);
  assert.equal(joined.backbone, `${colour.backbone}+${colour.backbone}*3`);
  assert.deepEqual([...joined.missing], [0, 0, 1]);
  assert.ok(Math.abs(norm(joined.features.subarray(0, joined.dim)) - Math.sqrt(10)) < 1e-5, 'norms 1 and 3');
  const live = new JoinedBackbone([
    { backbone: new ColourHistogramBackbone(), weight: 1 },
    { backbone: new ColourHistogramBackbone(), weight: 3 },
  ]);
  assert.equal(live.id, joined.backbone);
  const { features } = await live.encode([items[0].image!, items[1].image!]);
  assert.deepEqual([...features], [...joined.features.subarray(0, 2 * joined.dim)]);
  assert.throws(() => joinFeatureTables([{ table: colour, weight: 1 }, { table: { ...colour, ids: ['x', 'y', 'z'] }, weight: 1 }]), EncoderError);
});

test("SCL's image features: MobileNetV2 alone by default, with the colour histogram when asked; catalogue and service agree", async () => {
  const items: ItemContent[] = [
    { id: 'p', title: 'blue shirt', image: await photo('p', [30, 60, 200]) },
    { id: 'q', title: 'yellow dress', image: await photo('q', [230, 210, 40]) },
  ];
  const cache = path.join(dir, 'scl-cache');
  const plain = await sclImageFeatures(sclConfig().model, items, cache);
  assert.equal(plain.dim, 1280);
  const model = sclConfig({ model: { colourHistogram: 12 } }).model;
  const withColour = await sclImageFeatures(model, items, cache);
  assert.equal(withColour.dim, 1280 + COLOUR_DIM);
  assert.deepEqual([...withColour.features.subarray(0, 1280)], [...plain.features.subarray(0, 1280)], 'the MobileNet block is unchanged');
  assert.ok(Math.abs(norm(withColour.features.subarray(1280, 1280 + COLOUR_DIM)) - 12) < 1e-4);
  const backbone = await sclImageBackbone(model, { workers: 0 });
  try {
    assert.equal(backbone.id, withColour.backbone);
    const { features } = await backbone.encode(items.map((it) => it.image!));
    for (let k = 0; k < features.length; k++) assert.ok(Math.abs(features[k] - withColour.features[k]) < 1e-5, `value ${k}`);
  } finally {
    await backbone.close?.();
  }
});
