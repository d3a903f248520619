import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { noGrad } from '../../src/engine/autograd.js';
import { simTierCounts } from '../../src/engine/ops/index.js';
import { RandomStream } from '../../src/engine/random.js';
import { ExperimentConfig } from '../../src/ctr/config.js';
import { alignVectors, controlVectors, loadItemVectors, VectorFileError } from '../../src/ctr/parts/item-vectors.js';
import { makeFoldOf, MakeCrossFit } from '../../src/ctr/models/make.js';
import { createMake, createModel } from '../../src/ctr/models/index.js';
import { featureSpaceOf } from '../../src/ctr/feature-space.js';
import { fit } from '../../src/ctr/trainer.js';
import { TrainConfig } from '../../src/ctr/config.js';
import { transformCounts } from '../../src/ctr/parts/simtier.js';
import { openRun, trainRun } from '../../src/ctr/run.js';
import { evaluateSplit } from '../../src/ctr/trainer.js';
import { readSafetensors, writeSafetensors } from '../../src/engine/safetensors.js';
import { SampleStore } from '../../src/data/store.js';
import { FeatureFileError } from '../../src/encoders/errors.js';
import { demoStoreWithVectors } from './helpers.js';

/** A table of 2-d unit vectors at the given angles (degrees); row 0 is "no vector". */
function angleTable(degrees: number[]): Float32Array {
  const t = new Float32Array((degrees.length + 1) * 2);
  degrees.forEach((a, i) => {
    t[(i + 1) * 2] = Math.cos((a * Math.PI) / 180);
    t[(i + 1) * 2 + 1] = Math.sin((a * Math.PI) / 180);
  });
  return t;
}

test('SimTier counts by hand: ties at tier edges go up, the last tier holds 1, padding and missing vectors are never counted', () => {
  // rows: 1 -> 0 deg (the target), 2 -> 0 deg, 3 -> 90 deg (cos 0, an edge), 4 -> 180 deg (cos -1), 5 -> 60 deg (cos 0.5, an edge for N = 4)
  const table = angleTable([0, 0, 90, 180, 60]);
  const L = 6;
  // Sample 0: five real behaviours (one without a vector: row 0), then padding that points at a real row.
  // Sample 1: the target has no vector: nothing counts.
  const hist = Int32Array.from([2, 3, 4, 5, 0, 2, /* padding */ 2, 2, 2, 2, 2, 2]);
  const input = { table, dim: 2, target: Int32Array.from([1, 0]), hist, histLen: Int32Array.from([5, 6]), length: L };
  const four = simTierCounts(input, 4, true);
  // N = 4 tiers: [-1,-0.5) [-0.5,0) [0,0.5) [0.5,1]; cos: 1, 0, -1, 0.5, (none)
  assert.deepEqual([...four.counts.slice(0, 4)], [1, 0, 1, 2]);
  assert.deepEqual([...four.counts.slice(4)], [0, 0, 0, 0]);
  const sims = [...four.sims!.slice(0, L)].map((x) => Math.round(x * 1e6) / 1e6);
  assert.deepEqual(sims, [1, 0, -1, 0.5, 0, 0]);
  const twenty = simTierCounts(input, 20);
  const expected = new Array(20).fill(0);
  expected[19] = 1; // cos 1
  expected[10] = 1; // cos 0: [0, 0.1)
  expected[0] = 1; // cos -1
  expected[15] = 1; // cos 0.5: [0.5, 0.6)
  assert.deepEqual([...twenty.counts.slice(0, 20)], expected);
  assert.equal(twenty.counts.reduce((a, b) => a + b, 0), 4, 'padding (sample 0 has 5 behaviours, one without a vector) is not counted');
});

test('SimTier agrees with a plain JS histogram on random data and refuses rows outside the table', () => {
  const rng = new RandomStream(11);
  const rows = 50, dim = 16, B = 40, L = 12, N = 20;
  const table = new Float32Array(rng.normal(rows * dim, 0, 1));
  table.fill(0, 0, dim);
  for (let r = 1; r < rows; r++) {
    let n = 0;
    for (let d = 0; d < dim; d++) n += table[r * dim + d] ** 2;
    for (let d = 0; d < dim; d++) table[r * dim + d] /= Math.sqrt(n);
  }
  const target = Int32Array.from(rng.ints(B, rows));
  const hist = Int32Array.from(rng.ints(B * L, rows));
  const histLen = Int32Array.from(rng.ints(B, L + 1));
  const { counts } = simTierCounts({ table, dim, target, hist, histLen, length: L }, N);
  const ref = new Float32Array(B * N);
  for (let b = 0; b < B; b++) {
    if (target[b] === 0) continue;
    for (let l = 0; l < histLen[b]; l++) {
      const r = hist[b * L + l];
      if (r === 0) continue;
      let s = 0;
      for (let d = 0; d < dim; d++) s += table[target[b] * dim + d] * table[r * dim + d];
      s = Math.min(1, Math.max(-1, s));
      ref[b * N + Math.min(N - 1, Math.floor(((s + 1) * N) / 2))]++;
    }
  }
  assert.deepEqual([...counts], [...ref]);
  assert.throws(() => simTierCounts({ table, dim, target: Int32Array.from([rows]), hist: new Int32Array(L), histLen: Int32Array.from([1]), length: L }, N), /outside the table/);
  assert.throws(() => simTierCounts({ table, dim, target: Int32Array.from([1]), hist: new Int32Array(L).fill(-1), histLen: Int32Array.from([1]), length: L }, N), /outside the table/);
});

test('SimTier transforms: log(1 + count) and count / history length', () => {
  const counts = Float32Array.from([0, 1, 3, 2, 2, 0]);
  const log = counts.slice();
  transformCounts(log, Int32Array.from([4, 4]), 3, 'log');
  assert.deepEqual([...log].map((x) => x.toFixed(5)), [0, 1, 3, 2, 2, 0].map((c) => Math.log1p(c).toFixed(5)));
  const frac = counts.slice();
  transformCounts(frac, Int32Array.from([4, 0]), 3, 'fraction');
  assert.deepEqual([...frac], [0, 0.25, 0.75, 0, 0, 0]);
});

test('bad item vectors: NaN and wrong dimensions are refused with the place named; missing ids and zero vectors are counted', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-vec-'));
  assert.throws(() => alignVectors('v.bin', ['a', 'b'], Float32Array.from([1, 0, NaN, 1]), 2, ['a', 'b']), (e: unknown) => e instanceof VectorFileError && /item "b" \(row 2\).*non-finite/.test(e.message));
  const mixed = path.join(dir, 'mixed.jsonl');
  writeFileSync(mixed, '{"id":"a","vector":[1,0]}\n{"id":"b","vector":[1,0,0]}\n');
  assert.throws(() => loadItemVectors(mixed, ['a', 'b']), (e: unknown) => e instanceof FeatureFileError && /mixed\.jsonl:2/.test(e.message) && /3 dimensions, expected 2/.test(e.message));
  const partial = alignVectors('v', ['a', 'z', 'c'], Float32Array.from([3, 4, 1, 1, 0, 0]), 2, ['a', 'b', 'c']);
  assert.equal(partial.missing, 2, 'b is absent and c is all zeros');
  assert.equal(partial.unused, 1, 'z is not in the catalogue');
  assert.deepEqual([...partial.rowOf], [0, 1, 0, 0]);
  assert.deepEqual([...partial.table.slice(2, 4)], [0.6000000238418579, 0.800000011920929]);
  assert.throws(() => alignVectors('v', ['x'], Float32Array.from([1, 0]), 2, ['a', 'b']), /none of the 2 catalogue items has a vector/);
});

test("the encoders' raw backbone feature cache serves as item vectors; items whose image failed get none", () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'mmctr-feat-')), 'features.safetensors');
  writeSafetensors(file, { features: { data: Float32Array.from([3, 4, 0, 0, 1, 1, 5, 0]), shape: [4, 2] }, missing: { data: Uint8Array.from([0, 0, 1, 0]) } }, { backbone: 'test-backbone/2', dim: '2', ids: JSON.stringify(['a', 'b', 'c', 'd']) });
  const t = loadItemVectors(file, ['d', 'a', 'c', 'b']);
  assert.equal(t.dim, 2);
  assert.equal(t.missing, 2, 'b is all zeros, c failed');
  assert.deepEqual([...t.rowOf], [0, 1, 2, 0, 0]);
  assert.deepEqual([...t.table.slice(2, 6)], [1, 0, 0.6000000238418579, 0.800000011920929]);
});

const { dir, storeDir, vectorsFile, ready: store } = demoStoreWithVectors('mmctr-mm-');

function config(name: string, model: Record<string, unknown>, seed = 1): ExperimentConfig {
  return ExperimentConfig.parse({
    name,
    data: { store: storeDir, vectors: vectorsFile },
    model: { model: 'din', embeddingDim: 8, attentionHidden: [8], mlpHidden: [16, 8], ...model },
    train: { batchSize: 128, lr: 0.01, epochs: 1, seed },
  });
}

const makeConfig = { attentionHidden: [8], mlpHidden: [8, 4], epochs: 2, batchSize: 128, lr: 0.01 };

test('MAKE: frozen weights do not move while the ID model trains, the saved module is reused, fine-tuning moves them', async () => {
  await store();
  const cache = path.join(dir, 'make-cache');
  const first = trainRun(config('make-a', { make: makeConfig }), SampleStore.open(storeDir), path.join(dir, 'make-a'), { makeCacheDir: cache });
  assert.ok(first.make && !first.make.reused && first.make.fit.epochs.length >= 1);
  const saved = readSafetensors(first.make.file).tensors;
  const inRun = readSafetensors(path.join(first.dir, 'model.safetensors')).tensors;
  let compared = 0;
  for (const [name, t] of saved) {
    const mine = inRun.get(`make.${name}`);
    assert.ok(mine, `the run's model holds make.${name}`);
    assert.deepEqual(mine.data, t.data, `frozen MAKE weight ${name} changed during ID training`);
    compared++;
  }
  assert.ok(compared > 4);
  const again = trainRun(config('make-b', { make: makeConfig }), SampleStore.open(storeDir), path.join(dir, 'make-b'), { makeCacheDir: cache });
  assert.ok(again.make?.reused, 'the second run reuses the trained MAKE');
  assert.equal(again.make.file, first.make.file);
  const tuned = trainRun(config('make-c', { make: { ...makeConfig, fineTuneLr: 0.01, folds: 0 } }), SampleStore.open(storeDir), path.join(dir, 'make-c'), { makeCacheDir: cache });
  const tunedWeights = readSafetensors(path.join(tuned.dir, 'model.safetensors')).tensors;
  const moved = [...saved].some(([name, t]) => t.data.some((x, i) => x !== tunedWeights.get(`make.${name}`)!.data[i]));
  assert.ok(moved, 'with fineTuneLr, MAKE trains with the ID model');
});

test('SimTier + MAKE, Vector and SimScore models train, beat chance, and reopen to the same metrics', async () => {
  await store();
  const variants: Record<string, Record<string, unknown>> = {
    simtier_make: { simTier: { tiers: 10, transform: 'log', learnableWeights: true }, make: makeConfig },
    vector: { vector: true },
    simscore: { simScore: true },
  };
  for (const [name, model] of Object.entries(variants)) {
    const r = trainRun(config(name, model), SampleStore.open(storeDir), path.join(dir, name), { makeCacheDir: path.join(dir, 'make-cache') });
    assert.ok(r.test.overall.auc > 0.55, `${name} test AUC ${r.test.overall.auc}`);
    const { model: reopened, store: s } = openRun(r.dir);
    assert.deepEqual(evaluateSplit(reopened, s, 'test'), r.test, `${name} reopens to the same metrics`);
  }
});

test("a batch's own vector rows (the service's live index) give the same logits as the model's table", async () => {
  await store();
  const r = trainRun(config('override', { simTier: {}, make: makeConfig }), SampleStore.open(storeDir), path.join(dir, 'override'), { makeCacheDir: path.join(dir, 'make-cache') });
  const { model } = openRun(r.dir);
  model.eval();
  const reader = SampleStore.open(storeDir).split('test');
  const batch = reader.readRange(0, 64);
  reader.close();
  const table = loadItemVectors(vectorsFile, SampleStore.open(storeDir).catalog.ids);
  // The service's table: a different row order (reversed), same vectors.
  const n = table.rowOf.length;
  const live = new Float32Array(table.table.length);
  const liveRow = (item: number) => (table.rowOf[item] === 0 ? 0 : n - item);
  for (let item = 1; item < n; item++) if (table.rowOf[item]) live.set(table.table.subarray(item * table.dim, (item + 1) * table.dim), (n - item) * table.dim);
  const own = noGrad(() => model.forward(batch).data.slice());
  const overridden = noGrad(() => model.forward({ ...batch, vectors: { table: live, dim: table.dim, target: batch.item.map(liveRow), hist: batch.hist.map(liveRow) } }).data.slice());
  assert.deepEqual(overridden, own);
});

test('a ranking batch (one history shared by every candidate) scores the same through the shared-history paths (behaviours embedded once, shared-keys attention)', async () => {
  await store();
  const r = trainRun(config('shared', { simTier: {}, make: makeConfig }), SampleStore.open(storeDir), path.join(dir, 'shared'), { makeCacheDir: path.join(dir, 'make-cache') });
  const { model } = openRun(r.dir);
  model.eval();
  const reader = SampleStore.open(storeDir).split('test');
  const source = reader.readRange(0, 40);
  reader.close();
  // One user's history (the longest in the slice) against 40 candidates.
  const L = source.hist.length / source.size;
  const longest = source.histLen.reduce((best, len, b) => (len > source.histLen[best] ? b : best), 0);
  const hist = new Int32Array(source.size * L);
  for (let b = 0; b < source.size; b++) hist.set(source.hist.subarray(longest * L, (longest + 1) * L), b * L);
  const batch = { ...source, hist, histLen: new Int32Array(source.size).fill(source.histLen[longest]) };
  assert.ok(source.histLen[longest] > 3);
  const general = noGrad(() => model.forward(batch).data.slice());
  const shared = noGrad(() => model.forward({ ...batch, sharedHistory: true }).data.slice());
  for (let i = 0; i < general.length; i++) assert.ok(Math.abs(general[i] - shared[i]) < 1e-4, `candidate ${i}: ${general[i]} vs ${shared[i]}`);
  assert.ok(new Set(general).size > 1, 'the candidates get different scores');
});

test('vectorControl: shuffle gives each item another item\'s vector (same vectors, same coverage), random gives seeded unit vectors', () => {
  const dim = 3, items = 40;
  const ids = Array.from({ length: items }, (_, i) => `i${i}`);
  const rng = new RandomStream(5);
  // Item i7 has no vector in the file.
  const fileIds = ids.filter((id) => id !== 'i7');
  const t = alignVectors('v', fileIds, rng.normal(fileIds.length * dim), dim, ids);
  const row = (tab: Float32Array, item: number) => [...tab.subarray(item * dim, (item + 1) * dim)].join(',');
  const shuffled = controlVectors(t, 'shuffle', 1);
  assert.equal(shuffled.rowOf[8], 0, 'an item without a vector keeps none');
  assert.deepEqual(shuffled.table.subarray(8 * dim, 9 * dim), new Float32Array(dim));
  const before = new Set(Array.from({ length: items }, (_, i) => i + 1).filter((i) => i !== 8).map((i) => row(t.table, i)));
  const after = Array.from({ length: items }, (_, i) => i + 1).filter((i) => i !== 8).map((i) => row(shuffled.table, i));
  assert.deepEqual(new Set(after), before, 'the same vectors, permuted');
  const moved = Array.from({ length: items }, (_, i) => i + 1).filter((i) => i !== 8 && row(t.table, i) !== row(shuffled.table, i)).length;
  assert.ok(moved > items * 0.8, `most items get another item's vector (${moved} of ${items - 1})`);
  assert.deepEqual(controlVectors(t, 'shuffle', 1).table, shuffled.table, 'seeded');
  assert.notDeepEqual(controlVectors(t, 'shuffle', 2).table, shuffled.table);
  const random = controlVectors(t, 'random', 1);
  for (let i = 1; i <= items; i++) {
    if (i === 8) continue;
    const n = Math.hypot(...random.table.subarray(i * dim, (i + 1) * dim));
    assert.ok(Math.abs(n - 1) < 1e-5, `unit vector for item ${i}`);
    assert.ok(!before.has(row(random.table, i)));
  }
  assert.equal(random.control, 'random:1');
  assert.equal(t.control, undefined, 'the input table is left alone');
});

test('out-of-fold MAKE: fold k trains only on rows outside fold k, and scores exactly those rows; evaluation uses the full MAKE', async () => {
  await store();
  const s = SampleStore.open(storeDir);
  const vectors = loadItemVectors(vectorsFile, s.catalog.ids);
  const make = { ...makeConfigParsed(), folds: 3 as const };
  const models = [0, 1, 2].map((k) => createMake(make, vectors, 10 + k));
  models.forEach((m) => m.freeze());
  const crossFit = new MakeCrossFit(models, 7);
  const reader = s.split('train');
  const batch = reader.batches({ batchSize: 256 }).next().value!;
  reader.close();
  const folds = Array.from(batch.user, (u: number) => makeFoldOf(u, 3, 7));
  assert.ok(new Set(folds).size === 3, 'the batch holds users of every fold');
  for (let k = 0; k < 3; k++) {
    const kept = new Set(crossFit.trainRows(batch, k));
    for (let i = 0; i < batch.size; i++) assert.equal(kept.has(i), folds[i] !== k, `row ${i} (fold ${folds[i]}) in fold model ${k}'s training rows`);
  }
  // Which model scored each row: its logit equals that model's logit on the row alone.
  const made = crossFit.extract(batch);
  const alone = models.map((m) => noGrad(() => m.extract(batch).logit.data));
  for (let i = 0; i < batch.size; i++) {
    const by = alone.findIndex((logits) => Math.abs(logits[i] - made.logit.data[i]) < 1e-5);
    assert.equal(by, folds[i], `row ${i} is scored by fold model ${folds[i]}`);
    assert.ok(!crossFit.trainRows(batch, by).includes(i), `row ${i} is scored by a MAKE that did not train on it`);
  }
  // The trainer honours trainRows: a fold model sees only its rows.
  const fold0 = createMake(make, vectors, 1);
  const result = fit(fold0, s, TrainConfig.parse({ batchSize: 128, epochs: 1, lr: 0.01 }), { trainRows: (b) => crossFit.trainRows(b, 0) });
  let expected = 0;
  const all = s.split('train');
  for (const b of all.batches({ batchSize: 4096 })) expected += crossFit.trainRows(b, 0).length;
  all.close();
  assert.equal(result.samples, expected);
  assert.ok(expected < s.meta.splits.train.count);
  // In a DIN: training rows take the out-of-fold outputs, evaluation the full MAKE's.
  const full = createMake(make, vectors, 20);
  // Glorot-initialised content weights, so that MAKE's outputs move the logits at initialisation.
  const din = createModel(config('oof', { make, contentInit: 'glorot' }).model, featureSpaceOf(s), 1, { vectors, make: full, makeCrossFit: crossFit });
  din.eval();
  const evalLogits = noGrad(() => din.forward(batch).data);
  din.train();
  const trainLogits = noGrad(() => din.forward(batch).data);
  assert.notDeepEqual(trainLogits, evalLogits, 'training rows are scored through the fold models');
  assert.throws(() => createModel(config('oof-ft', { make: { ...make, fineTuneLr: 0.01 } }).model, featureSpaceOf(s), 1, { vectors, make: full, makeCrossFit: crossFit }), /folds: 0/);
});

test("contentInit 'zero': a fresh SimTier + MAKE DIN scores as if content were absent (other vectors, the same logits); training gives the content weights values", async () => {
  await store();
  const s = SampleStore.open(storeDir);
  const vectors = loadItemVectors(vectorsFile, s.catalog.ids);
  const shuffled = controlVectors(vectors, 'shuffle', 5);
  const make = makeConfigParsed();
  const reader = s.split('test');
  const batch = reader.readRange(0, 64);
  reader.close();
  const logits = (contentInit: 'zero' | 'glorot', v: typeof vectors) => {
    const din = createModel(config('quiet', { simTier: {}, make, contentInit }).model, featureSpaceOf(s), 1, { vectors: v, make: createMake(make, v, 3) });
    din.eval();
    return noGrad(() => din.forward(batch).data.slice());
  };
  assert.deepEqual(logits('zero', shuffled), logits('zero', vectors), 'zero-initialised content weights: the vectors do not reach the logit');
  assert.notDeepEqual(logits('glorot', shuffled), logits('glorot', vectors), 'Glorot content weights: they do');
  // The zero rows still receive gradients: after training they are not all zero.
  const r = trainRun(config('quiet-trained', { simTier: {}, make: { ...makeConfig, folds: 0 } }), s, path.join(dir, 'quiet-trained'), { makeCacheDir: path.join(dir, 'make-cache') });
  const w = readSafetensors(path.join(r.dir, 'model.safetensors')).tensors;
  const w0 = w.get('over.w0')!, wOut = w.get('over.w_out')!;
  const cols = w0.shape[1], tail = 20 + vectors.dim; // SimTier's 20 tiers + MAKE's interest
  assert.ok(w0.data.subarray((w0.shape[0] - tail) * cols).some((x) => x !== 0), 'the content rows of the first layer moved');
  assert.ok(wOut.data[wOut.shape[0] - 1] !== 0, "the weight on MAKE's logit moved");
});

test("make.join: only the named outputs of MAKE join (the MLP's input and side widths follow)", async () => {
  await store();
  const s = SampleStore.open(storeDir);
  const vectors = loadItemVectors(vectorsFile, s.catalog.ids);
  const make = makeConfigParsed();
  const shapesOf = (join: string[]) => {
    const din = createModel(config('join', { make: { ...make, join }, contentInit: 'glorot' }).model, featureSpaceOf(s), 1, { vectors, make: createMake(make, vectors, 3) });
    return Object.fromEntries([...din.namedParameters()].filter(([n]) => n.startsWith('over.w')).map(([n, p]) => [n, p.shape[0]]));
  };
  const all = shapesOf(['interest', 'hidden', 'logit']), logit = shapesOf(['logit']), hidden = shapesOf(['hidden']);
  // The test config: over-MLP [16, 8], MAKE's hidden [8, 4] (its last beside our last), interest = the vector width.
  assert.equal(all['over.w0'] - logit['over.w0'], vectors.dim, "MAKE's interest widens the first layer");
  assert.deepEqual([logit['over.w1'], logit['over.w_out']], [16, 8 + 1], 'logit only: beside our last hidden layer');
  assert.deepEqual([hidden['over.w1'], hidden['over.w_out']], [16 + 8, 8 + 4], "hidden only: MAKE's layers aligned from the last");
  assert.deepEqual([all['over.w1'], all['over.w_out']], [16 + 8, 8 + 4 + 1]);
  assert.throws(() => config('join-twice', { make: { ...makeConfig, join: ['logit', 'logit'] } }), /lists an output twice/);
});

function makeConfigParsed() {
  const model = ExperimentConfig.parse({ name: 'x', data: { store: storeDir }, model: { model: 'din', make: makeConfig } }).model;
  if (model.model !== 'din' || !model.make) throw new Error('a DIN with MAKE');
  return model.make;
}
