/**
 * A run trained on each vector source that training accepts is served: the service starts
 * through serve/start.ts (which seeds the index from the run's data.vectors through the same
 * reader training used) and ranks a request. Sources: an `mmctr pretrain embed` export, the encoders'
 * feature cache (one item's image fails, so one row has no vector), and precomputed jsonl, csv,
 * tsv and safetensors files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ExperimentConfig } from '../../src/ctr/config.js';
import { trainRun, VECTOR_SPACE_FILE } from '../../src/ctr/run.js';
import { readSampleConfig } from '../../src/data/sample-config.js';
import { buildStoreFromSpec } from '../../src/data/samples.js';
import type { SampleStore } from '../../src/data/store.js';
import { cacheFolder, imageFeatures } from '../../src/encoders/cache.js';
import { ColourHistogramBackbone } from '../../src/encoders/colour.js';
import { readVectorFile, type VectorSource, type VectorSpace } from '../../src/encoders/vector-file.js';
import { RandomStream } from '../../src/engine/random.js';
import { writeSafetensors } from '../../src/engine/safetensors.js';
import { writeEmbeddings } from '../../src/encoders/vector-file.js';
import { startService, stopService } from '../../src/serve/start.js';
import { generateWorld } from '../../src/world/generate.js';
import { worldParams } from '../../src/world/params.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-sources-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let store: SampleStore;
/** Vector files by name, with the source the reader should see and how many catalogue items lack a vector. */
const files: { name: string; file: string; source: VectorSource; withoutVector: number }[] = [];

before(async () => {
  const world = await generateWorld(worldParams('small', { seed: 3, users: 60, days: 4, historyLength: 10, builtinItems: 80 }), path.join(dir, 'world'));
  ({ store } = await buildStoreFromSpec(world.specFile, readSampleConfig(world.sampleConfigFile), path.join(dir, 'store')));
  const { ids, images } = store.catalog;
  const dim = 8;
  const vectors = new RandomStream(5).normal(ids.length * dim);
  const rows = ids.map((id, i) => ({ id, v: Array.from(vectors.subarray(i * dim, (i + 1) * dim)) }));
  const put = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const embed = path.join(dir, 'embed.safetensors');
  writeEmbeddings(embed, ids, vectors, dim);
  files.push({ name: 'mmctr pretrain embed export', file: embed, source: 'embed', withoutVector: 0 });
  // The feature cache of a real backbone over the world's drawn images; the first item's image is gone.
  const backbone = new ColourHistogramBackbone();
  const items = ids.map((id, i) => ({ id, title: null, image: i === 0 ? path.join(dir, 'no-such-image.png') : path.join(world.dir, images[i]!) }));
  const table = await imageFeatures(backbone, items, path.join(dir, 'features'));
  assert.equal(table.report.missing, 1, 'one image is missing');
  files.push({ name: 'feature cache', file: path.join(cacheFolder(path.join(dir, 'features'), backbone.id), 'features.safetensors'), source: 'feature-cache', withoutVector: 1 });
  files.push({ name: 'jsonl', file: put('v.jsonl', rows.map((r) => JSON.stringify({ id: r.id, vector: r.v })).join('\n')), source: 'precomputed', withoutVector: 0 });
  files.push({ name: 'csv', file: put('v.csv', ['id,' + rows[0].v.map((_, d) => `d${d}`).join(','), ...rows.map((r) => [r.id, ...r.v].join(','))].join('\n')), source: 'precomputed', withoutVector: 0 });
  files.push({ name: 'tsv', file: put('v.tsv', rows.map((r) => [r.id, ...r.v].join('\t')).join('\n')), source: 'precomputed', withoutVector: 0 });
  const st = path.join(dir, 'v.safetensors');
  writeSafetensors(st, { vectors: { data: vectors, shape: [ids.length, dim] } }, { ids: JSON.stringify(ids) });
  files.push({ name: 'safetensors', file: st, source: 'precomputed', withoutVector: 0 });
});

test('a run trained on each accepted vector source starts as a service and ranks with the vectors', async () => {
  assert.equal(files.length, 6);
  for (const { name, file, source, withoutVector } of files) {
    assert.equal(readVectorFile(file).source, source, `${name}: read as ${source}`);
    const config = ExperimentConfig.parse({
      name: `source-${source}`,
      data: { store: store.dir, vectors: file },
      model: { model: 'din', embeddingDim: 4, attentionHidden: [8], mlpHidden: [8], simTier: { tiers: 5 } },
      train: { batchSize: 256, lr: 0.01, epochs: 1, seed: 1 },
    });
    const run = trainRun(config, store, path.join(dir, 'runs', name.replace(/\W+/g, '-')));
    assert.equal(run.test.overall.count, store.meta.splits.test.count, `${name}: trained and tested`);
    const lines: string[] = [];
    const started = await startService({ run: run.dir, indexFile: null, encoder: 'none', token: null, log: false, say: (line) => lines.push(line) });
    try {
      assert.equal(await started.opened.index.size(), store.catalog.ids.length - withoutVector, `${name}: every item with a vector is in the index`);
      assert.match(lines.join('\n'), new RegExp(`seeded with ${store.catalog.ids.length - withoutVector} item vectors .*\\(${source}\\)`), `${name}: ${lines.join(' | ')}`);
      const ids = store.catalog.ids;
      const r = await started.service.app.inject({ method: 'POST', url: '/v1/rank', payload: { behaviours: ids.slice(1, 6), candidates: [ids[0], ...ids.slice(10, 20)] } });
      assert.equal(r.statusCode, 200, `${name}: ${r.body}`);
      const body = JSON.parse(r.body) as { items: { id: string; pctr: number }[]; counts: { missingCandidateVectors: number } };
      assert.equal(body.items.length, 11);
      assert.ok(body.items.every((x) => x.pctr > 0 && x.pctr < 1), `${name}: pCTRs in (0, 1)`);
      assert.equal(body.counts.missingCandidateVectors, withoutVector, `${name}: candidates without a vector counted`);
    } finally {
      await stopService(started);
    }
  }
});

const runOf = (name: string) => path.join(dir, 'runs', name.replace(/\W+/g, '-'));
const fileOf = (name: string) => files.find((f) => f.name === name)!.file;

test('a run records its vector space; serve --vectors takes the feature cache and refuses vectors of another space unless told to', async () => {
  const recorded = JSON.parse(readFileSync(path.join(runOf('mmctr pretrain embed export'), VECTOR_SPACE_FILE), 'utf8')) as VectorSpace & { file: string };
  assert.deepEqual(recorded, { file: fileOf('mmctr pretrain embed export'), ...readVectorFile(fileOf('mmctr pretrain embed export')).space });
  assert.equal(recorded.dim, 8);
  const cacheSpace = readVectorFile(fileOf('feature cache')).space;
  assert.equal(cacheSpace.encoder, new ColourHistogramBackbone().id, 'a feature cache names its backbone');

  // The feature cache given as --vectors (not only as data.vectors) seeds the index.
  const lines: string[] = [];
  const byFlag = await startService({ run: runOf('feature cache'), vectors: fileOf('feature cache'), indexFile: null, encoder: 'none', token: null, log: false, say: (l) => lines.push(l) });
  await stopService(byFlag);
  assert.match(lines.join('\n'), /seeded with \d+ item vectors .*\(feature-cache\)/);

  // The same values in another, unnamed file: nothing says they are the run's space.
  const other = { run: runOf('mmctr pretrain embed export'), vectors: fileOf('safetensors'), indexFile: null, encoder: 'none', token: null, log: false as const };
  await assert.rejects(startService(other), (e: Error) => /is not in the vector space the run was trained in: .*encoder is not named.*--allow-vector-space-mismatch/.test(e.message));
  // Another width: refused with both widths named.
  await assert.rejects(startService({ ...other, vectors: fileOf('feature cache') }), (e: Error) => /the vectors are 64-d, the run was trained on 8-d vectors/.test(e.message));
  // The override serves them, with a warning in the log.
  const warned: string[] = [];
  const overridden = await startService({ ...other, allowVectorSpaceMismatch: true, say: (l) => warned.push(l) });
  try {
    assert.match(warned.join('\n'), /^WARNING: .* is not in the vector space the run was trained in: .*Serving anyway \(--allow-vector-space-mismatch\)/m);
    const ids = store.catalog.ids;
    const r = await overridden.service.app.inject({ method: 'POST', url: '/v1/rank', payload: { behaviours: ids.slice(1, 3), candidates: ids.slice(3, 6) } });
    assert.equal(r.statusCode, 200, r.body);
  } finally {
    await stopService(overridden);
  }
});
