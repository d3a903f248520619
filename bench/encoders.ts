/**
 * Encoder benchmark: images/s of the MobileNetV2 backbone on both runtimes in the same run, on the
 * same images and the same cores (onnxruntime over the converted graph, the default; tfjs-wasm,
 * the fallback; taking turns, best round of each), with CPU time per image and the load average; the least cosine between the two
 * runtimes' features of each image; and how much product semantics the frozen features carry:
 * leave-one-out 1-nearest-neighbour (cosine) accuracy of articleType on a sample of the fashion
 * catalogue, against the majority-class baseline. Prints readable lines, and last one JSON object
 * (with --json the readable lines go to stderr).
 *
 *   npm run bench:encoders [-- --json] [-- --items 1000] [-- --speed-images 256] [-- --workers 2] [-- --rounds 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { imageFeatures } from '../src/encoders/cache.js';
import { loadImageBackbone } from '../src/encoders/backbone.js';
import { sharedDataDir } from '../src/util/paths.js';
import { loadFashionCatalog } from '../src/world/catalog.js';

const argv = process.argv.slice(2);
const jsonOnly = argv.includes('--json');
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const N_ITEMS = Number(arg('--items', '1000'));
const N_SPEED = Number(arg('--speed-images', '256'));
const WORKERS = Number(arg('--workers', String(Math.min(8, os.availableParallelism()))));
const ROUNDS = Number(arg('--rounds', '2'));
const say = (line: string): void => {
  if (jsonOnly) process.stderr.write(`${line}\n`);
  else console.log(line);
};
const load = () => os.loadavg().map((x) => +x.toFixed(2));

const catalog = loadFashionCatalog(path.join(sharedDataDir(), 'fashion-products'), N_ITEMS);
const items = catalog.items.map((it) => ({ id: it.id, title: it.title, image: path.join(catalog.imageRoot, it.image), type: it.attrs.articleType }));
say(`fashion sample: ${items.length} items, ${new Set(items.map((i) => i.type)).size} article types; cores: ${os.availableParallelism()}; load average ${load().join(' ')}`);

// The converted graph goes to a temporary folder, so its conversion time is measured too.
const modelCache = mkdtempSync(path.join(os.tmpdir(), 'mmctr-bench-backbones-'));
const files = items.slice(0, N_SPEED).map((i) => i.image);
interface Speed { runtime: 'onnx' | 'tfjs'; workers: number; loadSeconds: number; imagesPerSecond: number; cpuMsPerImage: number; loadAverage: number[] }
const runtimes = ['onnx', 'tfjs'] as const;
const backbones = [];
const loadSeconds: number[] = [];
for (const runtime of runtimes) {
  const t0 = performance.now();
  const b = await loadImageBackbone({ kind: 'mobilenet', runtime }, { threads: WORKERS, modelCacheDir: modelCache });
  loadSeconds.push((performance.now() - t0) / 1000);
  await b.encode(files.slice(0, Math.max(1, WORKERS) * 8)); // warm-up
  backbones.push(b);
}
// The runtimes take turns, ROUNDS times each, and each keeps its best round: another job on the
// machine then slows both alike instead of whichever happened to run at the time.
const speed: Speed[] = [];
const features = new Map<string, Float32Array>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [k, runtime] of runtimes.entries()) {
    const c0 = process.cpuUsage();
    const t1 = performance.now();
    const r = await backbones[k].encode(files);
    const wall = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(c0); // the whole process: the worker threads and libuv's decoders too
    features.set(runtime, r.features);
    const row = { runtime, workers: WORKERS, loadSeconds: loadSeconds[k], imagesPerSecond: files.length / wall, cpuMsPerImage: (cpu.user + cpu.system) / 1000 / files.length, loadAverage: load() };
    say(`round ${round + 1}: MobileNetV2 ${runtime} workers=${WORKERS}: ${row.imagesPerSecond.toFixed(1)} images/s, ${row.cpuMsPerImage.toFixed(1)} ms CPU per image (${files.length} images; load average ${row.loadAverage.join(' ')})`);
    if (!speed[k] || row.imagesPerSecond > speed[k].imagesPerSecond) speed[k] = row;
  }
}
for (const b of backbones) await b.close?.();
for (const row of speed) say(`MobileNetV2 ${row.runtime}, best of ${ROUNDS}: load ${row.loadSeconds.toFixed(2)} s, ${row.imagesPerSecond.toFixed(1)} images/s, ${row.cpuMsPerImage.toFixed(1)} ms CPU per image`);
rmSync(modelCache, { recursive: true, force: true });
const D = 1280;
const a = features.get('onnx')!, b = features.get('tfjs')!;
let minCosine = 1;
for (let i = 0; i < files.length; i++) {
  let dot = 0, na = 0, nb = 0;
  for (let k = i * D; k < (i + 1) * D; k++) {
    dot += a[k] * b[k];
    na += a[k] ** 2;
    nb += b[k] ** 2;
  }
  if (na > 0 || nb > 0) minCosine = Math.min(minCosine, dot / Math.sqrt(na * nb));
}
const [onnx, tfjs] = speed;
say(`onnx / tfjs: ${(onnx.imagesPerSecond / tfjs.imagesPerSecond).toFixed(1)}x images/s; least feature cosine over the ${files.length} images ${minCosine.toFixed(10)}`);

// Features of the whole sample with the default runtime, then leave-one-out 1-NN by cosine.
const cache = mkdtempSync(path.join(os.tmpdir(), 'mmctr-bench-enc-'));
const backbone = await loadImageBackbone(undefined, { threads: WORKERS });
const t0 = performance.now();
const table = await imageFeatures(backbone, items, cache);
const featureSeconds = (performance.now() - t0) / 1000;
await backbone.close?.();
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
console.log(
  JSON.stringify({
    images_per_s: +onnx.imagesPerSecond.toFixed(1),
    images_per_s_tfjs: +tfjs.imagesPerSecond.toFixed(1),
    feature_min_cosine: minCosine,
    cpu_ms_per_image: +onnx.cpuMsPerImage.toFixed(2),
    cpu_ms_per_image_tfjs: +tfjs.cpuMsPerImage.toFixed(2),
    load_average: load(),
    items: n,
    speed,
    featureSeconds,
    nnAccuracy,
    majority,
    missing: table.report.missing,
    corrupt: table.report.corrupt,
  }),
);
