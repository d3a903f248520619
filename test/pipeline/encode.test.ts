/**
 * `mmctr encode` on a small generated catalogue (PNGs made with sharp, one missing, one
 * unreadable, one item without a title): the image checks of ingest (counted per reason, named
 * with their line), items.imagePattern, and the vectors written without a searches table, read
 * back by the one reader training and the service use. Loads the real MobileNetV2 backbone.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { Duck } from '../../src/data/duck.js';
import { ingestCatalogue } from '../../src/data/ingest.js';
import { readDatasetSpec } from '../../src/data/spec.js';
import { readVectorFile } from '../../src/encoders/vector-file.js';
import { encodeDataset, encodeLines } from '../../src/pipeline/encode.js';
import { loadSearchData } from '../../src/pretrain/source.js';
import { sharedDataDir } from '../../src/util/paths.js';
import { tempDir, write } from '../data/helpers.js';

const require = createRequire(import.meta.url);
let absent = '';
for (const pkg of ['nsfwjs', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm']) {
  try {
    require.resolve(pkg);
  } catch {
    absent ||= `${pkg} is not installed (npm install); the encode tests that run MobileNetV2 are skipped`;
  }
}

/** Items 1..5 as images/000000000N.png ({item_id:010d}.png): 1, 2, 5 real PNGs, 3 missing, 4 not an image; 5 has no title. Item 255396018 -> 0255396018.png. */
async function catalogue(): Promise<string> {
  const dir = tempDir('mmctr-encode-');
  const sharp = (await import('sharp')).default;
  const images = path.join(dir, 'images');
  await import('node:fs').then((fs) => fs.mkdirSync(images));
  for (const [id, rgb] of [['0000000001', [200, 30, 30]], ['0000000002', [30, 30, 200]], ['0000000005', [30, 200, 30]], ['0255396018', [90, 90, 90]]] as const) {
    const px = Buffer.alloc(32 * 32 * 3);
    for (let i = 0; i < px.length; i += 3) px.set(rgb, i);
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(path.join(images, `${id}.png`));
  }
  writeFileSync(path.join(images, '0000000004.png'), 'not a png');
  write(dir, 'items.csv', 'id,name\n1,Red shirt\n2,Blue jeans\n3,Lost hat\n4,Broken scarf\n5,\n255396018,Grey coat\n');
  write(dir, 'dataset.json', JSON.stringify({ name: 'shop', items: { path: 'items.csv', columns: { item_id: 'id', title: 'name' }, imageRoot: 'images', imagePattern: '{item_id:010d}.png' } }));
  return path.join(dir, 'dataset.json');
}

test('ingest: images named by items.imagePattern, checked: missing and unreadable counted per reason and named with their line', async () => {
  const specFile = await catalogue();
  const root = path.join(path.dirname(specFile), 'images');
  const duck = await Duck.open();
  try {
    const report = await ingestCatalogue(duck, readDatasetSpec(specFile));
    assert.deepEqual(report.images, { root, named: 6, missing: 1, unreadable: 1 });
    assert.equal(report.rowsDropped, 0);
    assert.deepEqual(report.problemCounts, {
      [`imagePattern: image file does not exist under ${root}: the item has no image`]: 1,
      'imagePattern: image file cannot be read as an image: the item has no image': 1,
    });
    assert.deepEqual(report.examples.map((p) => [p.line, p.value, p.severity]), [[4, '0000000003.png', 'warning'], [5, '0000000004.png', 'warning']]);
    const names = await duck.all(`SELECT item_id, image FROM items ORDER BY seq`);
    assert.deepEqual(names.map((r) => r.image), ['0000000001.png', '0000000002.png', '0000000003.png', '0000000004.png', '0000000005.png', '0255396018.png']);
  } finally {
    duck.close();
  }
});

test('spec: an imagePattern must name the id; not together with an image column', () => {
  const dir = tempDir();
  const specOf = (items: object) => write(dir, 'dataset.json', JSON.stringify({ name: 'x', items: { path: 'items.csv', columns: { item_id: 'id' }, ...items } }));
  assert.throws(() => readDatasetSpec(specOf({ imagePattern: '{id}.jpg' })), /imagePattern.*must name the id as \{item_id\} or \{item_id:0Nd\}/s);
  assert.throws(() => readDatasetSpec(specOf({ imagePattern: '{item_id}.jpg', columns: { item_id: 'id', image: 'img' } })), /give either columns.image .* or imagePattern/);
  assert.equal(readDatasetSpec(specOf({ imagePattern: '{item_id:010d}.jpg' })).items!.imagePattern, '{item_id:010d}.jpg');
});

test('the catalogue alone: SCL training says it needs searches and names mmctr encode', async () => {
  const specFile = await catalogue();
  await assert.rejects(loadSearchData(specFile), (e: Error) => e.message.includes('need a searches table') && e.message.includes(`mmctr encode ${specFile}`));
});

test('encode: frozen backbone vectors without searches; items without image counted per reason and named, items without title named', { skip: absent || false }, async () => {
  const specFile = await catalogue();
  const dir = path.dirname(specFile);
  const out = path.join(dir, 'out', 'vectors.safetensors');
  const report = await encodeDataset(specFile, out, { cacheDir: path.join(dir, 'features') });
  assert.equal(report.items, 6);
  assert.equal(report.written, 4);
  assert.equal(report.noImage.count, 2);
  assert.deepEqual(report.noImage.byReason, { 'none named': 0, 'missing file': 1, unreadable: 1 });
  assert.deepEqual(report.noImage.first.map((p) => p.id), ['3', '4']);
  assert.deepEqual(report.noTitle, { count: 1, first: ['5'] });
  const lines = encodeLines(report);
  assert.match(lines[0], /^4 of 6 item vectors from the frozen backbone mobilenetv2.* \(1280-d\) written to /);
  assert.match(lines[1], /^ {2}2 items without an image \(1 missing file, 1 unreadable\): no vector in the file; first: 3 \(missing file: .*0000000003\.png\), 4 \(/);
  assert.equal(lines[2], '  1 item without a title: 5');
  // Read back by the one reader of vector files (train's data.vectors, serve --vectors).
  const v = readVectorFile(out);
  assert.equal(v.source, 'precomputed');
  assert.deepEqual(v.ids, ['1', '2', '5', '255396018']);
  assert.equal(v.dim, 1280);
  assert.ok(v.vectors.every(Number.isFinite));
  // The same vectors as Parquet (the features come from the cache this time).
  const pq = path.join(dir, 'out', 'vectors.parquet');
  await encodeDataset(specFile, pq, { cacheDir: path.join(dir, 'features') });
  const p = readVectorFile(pq);
  assert.deepEqual([p.ids, p.dim], [v.ids, v.dim]);
  assert.deepEqual(p.vectors, v.vectors);
});

test('encode: --out must be .safetensors, or .parquet without --model', async () => {
  const specFile = await catalogue();
  await assert.rejects(encodeDataset(specFile, 'v.txt'), (e: Error) => e.message === '--out v.txt: expected a .safetensors file or a .parquet file');
  await assert.rejects(encodeDataset(specFile, 'v.parquet', { model: 'm.safetensors' }), /--out v\.parquet: expected a \.safetensors file \(an SCL model's export, with its int8 copy, is safetensors only\)/);
});

test('encode on the fashion catalogue (real data): every item has an image, vectors written without a searches table', { skip: absent || (!existsSync(path.join(sharedDataDir(), 'fashion-products', 'items.csv')) && 'the fashion catalogue (../shared/data/fashion-products) is absent: skipped') || false }, async () => {
  const specFile = path.resolve('docs/examples/fashion-products/dataset.json');
  const duck = await Duck.open();
  try {
    const report = await ingestCatalogue(duck, readDatasetSpec(specFile));
    assert.equal(report.rowsUsed, 9583);
    assert.deepEqual({ ...report.images, root: '' }, { root: '', named: 9583, missing: 0, unreadable: 0 });
  } finally {
    duck.close();
  }
});
