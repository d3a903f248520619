/**
 * Encoder benchmark: images/s of the MobileNetV2 backbone (in-process and with 1..N worker
 * threads), and how much product semantics the frozen features carry: leave-one-out 1-nearest-
 * neighbour (cosine) accuracy of articleType on a sample of the fashion catalogue, against the
 * majority-class baseline. Prints readable lines, and last one JSON object (with --json the
 * readable lines go to stderr).
 *
 *   npm run bench:encoders [-- --json] [-- --items 1000] [-- --speed-images 128] [-- --workers 0,1,2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { imageFeatures } from '../src/encoders/cache.js';
import { MobileNetV2Backbone } from '../src/encoders/mobilenet.js';
import { sharedDataDir } from '../src/util/paths.js';
import { loadFashionCatalog } from '../src/world/catalog.js';

const argv = process.argv.slice(2);
const jsonOnly = argv.includes('--json');
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const N_ITEMS = Number(arg('--items', '1000'));
const N_SPEED = Number(arg('--speed-images', '128'));
const WORKERS = arg('--workers', `0,1,${Math.min(8, os.availableParallelism())}`).split(',').map(Number);
const say = (line: string): void => {
  if (jsonOnly) process.stderr.write(`${line}\n`);
  else console.log(line);
};

const catalog = loadFashionCatalog(path.join(sharedDataDir(), 'fashion-products'), N_ITEMS);
const items = catalog.items.map((it) => ({ id: it.id, title: it.title, image: path.join(catalog.imageRoot, it.image), type: it.attrs.articleType }));
say(`fashion sample: ${items.length} items, ${new Set(items.map((i) => i.type)).size} article types; cores: ${os.availableParallelism()}`);

const speed: { workers: number; loadSeconds: number; imagesPerSecond: number }[] = [];
const files = items.slice(0, N_SPEED).map((i) => i.image);
for (const workers of [...new Set(WORKERS)]) {
  const t0 = performance.now();
  const b = await MobileNetV2Backbone.load({ workers });
  const loadSeconds = (performance.now() - t0) / 1000;
  await b.encode(files.slice(0, Math.max(1, workers) * 8)); // warm-up
  const t1 = performance.now();
  await b.encode(files);
  const imagesPerSecond = files.length / ((performance.now() - t1) / 1000);
  await b.close();
  speed.push({ workers, loadSeconds, imagesPerSecond });
  say(`MobileNetV2 workers=${workers}: load ${loadSeconds.toFixed(2)} s, ${imagesPerSecond.toFixed(1)} images/s (${files.length} images)`);
}

// Features of the whole sample with the fastest setting, then leave-one-out 1-NN by cosine.
const best = speed.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a));
const cache = mkdtempSync(path.join(os.tmpdir(), 'mmctr-bench-enc-'));
const backbone = await MobileNetV2Backbone.load({ workers: best.workers });
const t0 = performance.now();
const table = await imageFeatures(backbone, items, cache);
const featureSeconds = (performance.now() - t0) / 1000;
await backbone.close();
rmSync(cache, { recursive: true, force: true });
const d = table.dim;
const n = items.length;
const unit = new Float32Array(table.features);
for (let i = 0; i < n; i++) {
  let s = 0;
  for (let k = 0; k < d; k++) s += unit[i * d + k] ** 2;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let k = 0; k < d; k++) unit[i * d + k] *= inv;
}
let hits = 0;
let usable = 0;
for (let i = 0; i < n; i++) {
  if (table.missing[i]) continue;
  usable++;
  let bestJ = -1;
  let bestS = -Infinity;
  for (let j = 0; j < n; j++) {
    if (j === i || table.missing[j]) continue;
    let s = 0;
    for (let k = 0; k < d; k++) s += unit[i * d + k] * unit[j * d + k];
    if (s > bestS) {
      bestS = s;
      bestJ = j;
    }
  }
  if (bestJ >= 0 && items[bestJ].type === items[i].type) hits++;
}
const counts = new Map<string, number>();
for (const it of items) counts.set(it.type, (counts.get(it.type) ?? 0) + 1);
const majority = Math.max(...counts.values()) / n;
const nnAccuracy = hits / usable;
say(`features: ${n} items in ${featureSeconds.toFixed(1)} s (${(n / featureSeconds).toFixed(1)} items/s), ${table.report.missing + table.report.corrupt} without image features`);
say(`articleType leave-one-out 1-NN accuracy: ${(100 * nnAccuracy).toFixed(1)}% (majority class ${(100 * majority).toFixed(1)}%)`);
console.log(JSON.stringify({ items: n, speed, featureSeconds, nnAccuracy, majority, missing: table.report.missing, corrupt: table.report.corrupt }));
