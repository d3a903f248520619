import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { Duck } from '../../src/data/duck.js';
import { ingest } from '../../src/data/ingest.js';
import { readSampleConfig } from '../../src/data/sample-config.js';
import { buildSamples } from '../../src/data/samples.js';
import { SampleStore } from '../../src/data/store.js';
import { readDatasetSpec } from '../../src/data/spec.js';
import { sharedDataDir } from '../../src/util/paths.js';
import { splitCsvLine } from '../../src/data/csv.js';
import { loadFashionCatalog, TRUE_ATTRIBUTES } from '../../src/world/catalog.js';
import { generateWorld, WorldSummary } from '../../src/world/generate.js';
import { worldParams } from '../../src/world/params.js';
import { Rng } from '../../src/world/rng.js';
import { composeQuery } from '../../src/world/wording.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-world-');
let small: Promise<WorldSummary> | null = null;
/** The small preset, seed 1, generated once for this file. */
function world(): Promise<WorldSummary> {
  small ??= generateWorld(worldParams('small', { seed: 1 }), path.join(dir, 'small'));
  return small;
}

type Row = Record<string, string>;
function readCsv(file: string): Row[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const header = splitCsvLine(lines[0], ',');
  return lines.slice(1).map((l) => {
    const f = splitCsvLine(l, ',');
    return Object.fromEntries(header.map((h, i) => [h, f[i]]));
  });
}

test('a world is the same for a seed, file by file and image by image, and differs for another seed', async () => {
  const a = await world();
  const b = await generateWorld(worldParams('small', { seed: 1 }), path.join(dir, 'again'));
  for (const f of ['items.csv', 'events.csv', 'searches.csv', 'users.csv', 'dataset.json', 'sample-config.json', 'world.json'])
    assert.ok(readFileSync(path.join(a.dir, f)).equals(readFileSync(path.join(b.dir, f))), `${f} differs between two runs with seed 1`);
  const images = readdirSync(path.join(a.dir, 'images'));
  assert.equal(images.length, a.items);
  for (const img of images.slice(0, 20)) assert.ok(readFileSync(path.join(a.dir, 'images', img)).equals(readFileSync(path.join(b.dir, 'images', img))), img);
  const c = await generateWorld(worldParams('small', { seed: 2 }), path.join(dir, 'seed2'));
  assert.ok(!readFileSync(path.join(a.dir, 'events.csv')).equals(readFileSync(path.join(c.dir, 'events.csv'))), 'another seed gives other events');
  // The catalogue is the project's own: the same items whatever the seed.
  assert.ok(readFileSync(path.join(a.dir, 'items.csv'), 'utf8').split('\n')[1].startsWith('b0001,'));
});

test('the small preset is small, has clicks, searches, purchases and new ads', async () => {
  const w = await world();
  assert.ok(w.impressions > 10_000 && w.impressions < 60_000, `${w.impressions} impressions`);
  assert.ok(w.ctr > 0.03 && w.ctr < 0.4, `CTR ${w.ctr}`);
  assert.ok(w.searches > 200 && w.photoSearches > 20 && w.purchases > 50, JSON.stringify(w));
  assert.ok(w.newItems > 0 && w.newImpressions > 0);
});

test('the small preset passes ingestion with no dropped rows and builds a store with true probabilities', async () => {
  const w = await world();
  const duck = await Duck.open();
  try {
    const report = await ingest(duck, readDatasetSpec(w.specFile));
    for (const [name, t] of Object.entries(report.tables)) {
      assert.ok(t, name);
      assert.equal(t.rowsDropped, 0, `${name}: ${JSON.stringify(t.problemCounts)}`);
      assert.deepEqual(t.problemCounts, {}, name);
    }
    assert.deepEqual(report.notes, [], 'every impression has its own label and every item is in the catalogue');
    const store = path.join(dir, 'store');
    const meta = await buildSamples(duck, 'world', readSampleConfig(w.sampleConfigFile), store);
    assert.equal(meta.truth, true);
    assert.equal(meta.splits.train.count + meta.splits.valid.count + meta.splits.test.count, w.impressions);
    const catalog = SampleStore.open(store).catalog;
    for (const a of ['articleType', 'baseColour', 'gender', 'usage', 'season', 'brand', 'category']) assert.ok(catalog.fields[a]?.vocab.length > 0, `catalogue field ${a}`);
    assert.ok(catalog.images.every((img) => img !== null && img.startsWith('images/')));
  } finally {
    duck.close();
  }
});

test('new ads appear only late in the range, never before their launch', async () => {
  const w = await world();
  const params = worldParams('small');
  const items = new Map(readCsv(path.join(w.dir, 'items.csv')).map((r) => [r.item_id, r]));
  const lateFrom = params.startTs + params.days * 86_400 * (1 - params.newItemWindow);
  let newSeen = 0;
  for (const e of readCsv(path.join(w.dir, 'events.csv'))) {
    const item = items.get(e.item_id)!;
    assert.ok(Number(e.ts) >= Number(item.created_at), `${e.item_id} shown at ${e.ts}, before its launch ${item.created_at}`);
    if (item.is_new === '1') {
      newSeen++;
      assert.ok(Number(e.ts) >= lateFrom, `new ad ${e.item_id} at ${e.ts}`);
    }
  }
  assert.ok(newSeen > 0);
  for (const item of items.values()) if (item.is_new === '0') assert.ok(Number(item.created_at) < params.startTs);
});

test('search sessions are well formed: clicked within shown, bought among clicked, photo queries name another item', async () => {
  const w = await world();
  const items = new Map(readCsv(path.join(w.dir, 'items.csv')).map((r) => [r.item_id, r]));
  const titles = new Set([...items.values()].map((r) => r.title.toLowerCase()));
  let photos = 0, hardNegatives = 0;
  for (const s of readCsv(path.join(w.dir, 'searches.csv'))) {
    const shown = s.shown.split('|');
    const clicked = s.clicked ? s.clicked.split('|') : [];
    assert.equal(new Set(shown).size, shown.length, 'shown items are distinct');
    assert.ok(shown.every((i) => items.has(i)));
    assert.ok(clicked.every((i) => shown.includes(i)), 'clicked within shown');
    if (s.bought) {
      assert.ok(shown.includes(s.bought) && clicked.includes(s.bought), 'bought within shown and clicked');
      hardNegatives += clicked.length - 1;
    }
    if (s.query_image) {
      photos++;
      assert.equal(s.query_text, '');
      const q = items.get(s.query_item)!;
      assert.equal(s.query_image, q.image);
      assert.ok(!shown.includes(s.query_item), 'the photographed item is not a result');
      // The photo shows what the user wants: some result shares its article type.
      assert.ok(shown.some((i) => items.get(i)!.articleType === q.articleType));
    } else {
      assert.ok(s.query_text.length > 0 && !titles.has(s.query_text), s.query_text);
    }
  }
  assert.ok(photos > 0 && hardNegatives > 0);
});

test('p_true is a probability and agrees with the click labels on average and by bin', async () => {
  const w = await world();
  const imps = readCsv(path.join(w.dir, 'events.csv')).filter((e) => e.type === 'impression');
  const bins = Array.from({ length: 5 }, () => ({ n: 0, p: 0, clicks: 0 }));
  for (const e of imps) {
    const p = Number(e.p_true);
    assert.ok(p >= 0 && p <= 1, e.p_true);
    const b = bins[Math.min(4, Math.floor(p * 5))];
    b.n++;
    b.p += p;
    b.clicks += Number(e.clicked);
  }
  const n = imps.length;
  const meanP = bins.reduce((s, b) => s + b.p, 0) / n;
  const ctr = bins.reduce((s, b) => s + b.clicks, 0) / n;
  assert.ok(Math.abs(meanP - ctr) < 4 * Math.sqrt((meanP * (1 - meanP)) / n), `mean p ${meanP} vs CTR ${ctr}`);
  for (const b of bins)
    if (b.n > 200) {
      const p = b.p / b.n;
      assert.ok(Math.abs(p - b.clicks / b.n) < 4 * Math.sqrt((p * (1 - p)) / b.n) + 1e-3, `bin with mean p ${p}: click rate ${b.clicks / b.n}`);
    }
});

test('the built-in catalogue images decode as 64x64 RGB PNGs, and colours show', async () => {
  const w = await world();
  const items = readCsv(path.join(w.dir, 'items.csv'));
  const mean = async (file: string) => {
    const { data, info } = await sharp(path.join(w.dir, file)).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 64);
    assert.equal(info.height, 64);
    assert.equal(info.channels, 3);
    const m = [0, 0, 0];
    for (let i = 0; i < data.length; i += 3) for (let c = 0; c < 3; c++) m[c] += data[i + c] / (data.length / 3);
    return m;
  };
  const red = items.find((r) => r.baseColour === 'Red' && r.articleType === 'Tshirts')!;
  const blue = items.find((r) => r.baseColour === 'Blue' && r.articleType === 'Tshirts')!;
  const [r, b] = [await mean(red.image), await mean(blue.image)];
  assert.ok(r[0] - r[2] > b[0] - b[2] + 20, `red ${r} vs blue ${b}`);
  const meta = await sharp(path.join(w.dir, items[0].image)).metadata();
  assert.equal(meta.format, 'png');
});

test('query texts are worded in many ways and are the same for a seed', () => {
  const want = { articleType: 'Tshirts', baseColour: 'Navy Blue', gender: 'Men', usage: 'Sports', season: 'Summer', brand: 'Puma' };
  const texts = Array.from({ length: 200 }, (_, i) => composeQuery(want, new Rng(i)).text);
  assert.deepEqual(texts, Array.from({ length: 200 }, (_, i) => composeQuery(want, new Rng(i)).text));
  assert.ok(new Set(texts).size > 40, `${new Set(texts).size} distinct wordings`);
  assert.ok(texts.some((t) => t.includes('tee')) && texts.some((t) => t.includes('navy')) && texts.some((t) => t.includes('for men')));
  assert.ok(texts.every((t) => t === t.toLowerCase() && t.trim() === t && !t.includes('  ')));
});

test('world knobs are validated with the field named', () => {
  assert.throws(() => worldParams('small', { newItemShare: 2 }), /newItemShare/);
  assert.throws(() => worldParams('small', { users: -1 }), /users/);
  assert.equal(worldParams('bench').users, 20000);
});

const fashion = path.join(sharedDataDir(), 'fashion-products');
test('the fashion catalogue reads every real product with its attributes', { skip: existsSync(path.join(fashion, 'items.csv')) ? false : `no fashion catalogue at ${fashion}` }, () => {
  const c = loadFashionCatalog(fashion);
  assert.equal(c.items.length, 9583);
  for (const a of TRUE_ATTRIBUTES) assert.ok(c.items.every((i) => i.attrs[a].length > 0), a);
  assert.equal(new Set(c.items.map((i) => i.attrs.articleType)).size, 75);
  assert.ok(c.items.every((i) => existsSync(path.join(c.imageRoot, i.image))));
  const sub = loadFashionCatalog(fashion, 500);
  assert.equal(sub.items.length, 500);
  assert.deepEqual(sub.items.map((i) => i.id), loadFashionCatalog(fashion, 500).items.map((i) => i.id));
});
