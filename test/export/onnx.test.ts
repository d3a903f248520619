/**
 * The ONNX export against the engine: every model variant of the paper experiment, trained
 * briefly, exported, run in onnxruntime-node, and compared with the native forward pass on one
 * batch with one history per row (H = B) and on a ranking batch (one shared history, H = 1).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { noGrad } from '../../src/engine/autograd.js';
import { RandomStream } from '../../src/engine/random.js';
import { constant } from '../../src/engine/init.js';
import { Module } from '../../src/engine/module.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { Batch } from '../../src/data/batches.js';
import { SampleStore } from '../../src/data/store.js';
import { ExperimentConfig, type DinConfig } from '../../src/ctr/config.js';
import { featureSpaceOf } from '../../src/ctr/feature-space.js';
import { Din } from '../../src/ctr/models/din.js';
import { createModel, type CtrModel } from '../../src/ctr/models/index.js';
import { openRun, trainRun } from '../../src/ctr/run.js';
import { ExportError, NotARunError } from '../../src/export/errors.js';
import { exportOnnx, tierBounds } from '../../src/export/onnx.js';
import { OnnxScorer } from '../../src/export/onnx-scorer.js';
import { exportRunToOnnx, type OnnxIdMaps } from '../../src/export/run-export.js';
import { simTierCounts } from '../../src/engine/ops/index.js';
import { mmctr } from '../cli/helpers.js';
import { demoStoreWithVectors } from '../ctr/helpers.js';
import { tinyModel } from '../serve/fixture.js';

const { dir, storeDir, vectorsFile, ready } = demoStoreWithVectors('mmctr-onnx-test-');
after(() => rmSync(dir, { recursive: true, force: true }));

const make = { attentionHidden: [8], mlpHidden: [8, 4], epochs: 1, batchSize: 256, lr: 0.01, folds: 0 };

/** The paper experiment's variants (ID DIN, + SimTier, + MAKE, + both), the Vector / SimScore baselines and sum pooling, across activations. */
const VARIANTS: Record<string, Record<string, unknown>> = {
  'id-din (dice attention, relu MLP)': {},
  'simtier (relu attention, log tiers)': { attentionActivation: 'relu', simTier: { tiers: 10 } },
  'make (prelu attention, dice MLP; MAKE dice / prelu)': { attentionActivation: 'prelu', mlpActivation: 'dice', make: { ...make, attentionActivation: 'dice', mlpActivation: 'prelu' } },
  'simtier+make (softmax attention, fraction, learnable tier weights)': { attentionSoftmax: true, simTier: { tiers: 8, transform: 'fraction', learnableWeights: true }, make: { ...make, join: ['interest', 'logit'] } },
  'vector+simscore (sigmoid attention, count tiers)': { attentionActivation: 'sigmoid', vector: true, simScore: true, simTier: { tiers: 5, transform: 'count' }, mlpActivation: 'tanh' },
  'sum-pooling': { model: 'sum-pooling' },
};

function config(name: string, model: Record<string, unknown>): ExperimentConfig {
  return ExperimentConfig.parse({
    name,
    data: { store: storeDir, vectors: vectorsFile },
    model: { ...(model.model === 'sum-pooling' ? {} : { model: 'din', attentionHidden: [8, 4], contentInit: 'glorot' }), embeddingDim: 8, mlpHidden: [16, 8], itemFields: ['category'], ...model },
    train: { batchSize: 256, lr: 0.01, epochs: 1, seed: 5 },
  });
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * A batch of B rows over the model's catalogue: unknown candidates (index 0; one of them with a
 * vector, as a new ad has in the service), histories of every length from 0 to L with padding
 * that points at real items, behaviours and candidates without a vector, an unknown user.
 */
function testBatch(model: CtrModel, items: number, users: number, L: number, shared: boolean, seed: number): Batch {
  const rng = new RandomStream(seed);
  const B = 13;
  const table = model instanceof Din ? (model.content?.vectors ?? null) : null;
  const rowOf = (item: number) => (table ? table.rowOf[item] : 0);
  const int = (n: number) => rng.ints(1, n)[0];
  const item = Int32Array.from({ length: B }, (_, i) => (i % 5 === 0 ? 0 : 1 + int(items)));
  const user = Int32Array.from({ length: B }, (_, i) => (i === 1 ? 0 : 1 + int(users)));
  const hist = new Int32Array(B * L), histLen = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    histLen[b] = shared ? L - 3 : b % (L + 1);
    for (let l = 0; l < L; l++) hist[b * L + l] = shared && b > 0 ? hist[l] : 1 + int(items);
  }
  if (shared) histLen.fill(histLen[0]);
  else histLen[B - 1] = L;
  const target = Int32Array.from(item, (it, i) => (i === 5 ? 1 + int(items) : i === 3 ? 0 : rowOf(it)));
  const vhist = Int32Array.from(hist, (it, j) => (j % L === 2 ? 0 : rowOf(it)));
  return {
    size: B,
    index: Int32Array.from({ length: B }, (_, i) => i),
    user,
    item,
    label: new Float32Array(B),
    ts: new Float64Array(B),
    hist,
    histLen,
    freq: new Int32Array(B),
    isNew: new Uint8Array(B),
    ...(table ? { vectors: { table: table.table, dim: table.dim, target, hist: vhist } } : {}),
    sharedHistory: shared,
  };
}

/** Max |pCTR difference| and max |logit difference| of the native model and the scorer on a batch. */
async function compare(model: CtrModel, scorer: OnnxScorer, batch: Batch): Promise<{ pctr: number; logit: number }> {
  const native = noGrad(() => model.forward(batch)).data;
  const onnx = await scorer.score(batch);
  assert.equal(onnx.length, batch.size);
  let pctr = 0, logit = 0;
  for (let i = 0; i < batch.size; i++) {
    assert.ok(Number.isFinite(onnx[i]), `row ${i}: ONNX logit ${onnx[i]}`);
    pctr = Math.max(pctr, Math.abs(sigmoid(native[i]) - sigmoid(onnx[i])));
    logit = Math.max(logit, Math.abs(native[i] - onnx[i]));
  }
  return { pctr, logit };
}

test('SimTier bounds: each float32 cosine falls in the tier the kernel gives it, edges and their neighbours included', () => {
  for (const N of [2, 5, 7, 10, 20]) {
    const bounds = tierBounds(N);
    const tierOf = (s: number) => {
      let t = 0;
      while (t + 1 < N && s >= bounds[t + 1]) t++;
      return t;
    };
    const probe: number[] = [-1, 1, 0, -0.5, 0.5];
    for (let t = 1; t < N; t++) {
      const b = bounds[t], ulp = Math.abs(b) * 2 ** -22;
      // The bound, a float just below it, and cosines a little apart (a bound near 0 is about -5.6e-17: (s + 1) drops s there).
      probe.push(b, Math.fround(b - ulp), Math.fround(b - 6e-8), Math.fround(b + 6e-8));
    }
    for (const s of probe) {
      // Row 1 = target (1, 0), row 2 = a behaviour whose dot product with it is exactly s.
      const table = Float32Array.of(0, 0, 1, 0, s, 0);
      const { counts } = simTierCounts({ table, dim: 2, target: Int32Array.of(1), hist: Int32Array.of(2), histLen: Int32Array.of(1), length: 1 }, N);
      assert.equal(tierOf(Math.fround(s)), counts.indexOf(1), `N = ${N}, cosine ${s}`);
    }
  }
});

test('every variant exported and run in onnxruntime-node gives the native pCTR within 1e-5 (H = B and H = 1)', async () => {
  await ready();
  const store = SampleStore.open(storeDir);
  const { items, users } = store.meta;
  const L = store.historyLength;
  const diffs: Record<string, { perRow: number; shared: number; logit: number; bytes: number }> = {};
  for (const [name, model] of Object.entries(VARIANTS)) {
    const slug = name.split(' ')[0];
    const runDir = path.join(dir, 'runs', slug);
    trainRun(config(slug, model), store, runDir, { makeCacheDir: path.join(dir, 'make-cache') });
    const out = path.join(dir, 'exports', `${slug}.onnx`);
    const result = exportRunToOnnx(runDir, out);
    const native = openRun(runDir).model;
    native.eval();
    const scorer = await OnnxScorer.open(out, { threads: 1 });
    const perRow = await compare(native, scorer, testBatch(native, items, users, L, false, 1));
    const shared = await compare(native, scorer, testBatch(native, items, users, L, true, 2));
    await scorer.close();
    diffs[name] = { perRow: perRow.pctr, shared: shared.pctr, logit: Math.max(perRow.logit, shared.logit), bytes: result.bytes };
    assert.ok(perRow.pctr <= 1e-5 && shared.pctr <= 1e-5, `${name}: max |pCTR diff| ${perRow.pctr} (H = B), ${shared.pctr} (H = 1)`);
  }
  console.log(`ONNX parity (max |pCTR diff|):\n${Object.entries(diffs).map(([n, d]) => `  ${n}: H=B ${d.perRow.toExponential(2)}, H=1 ${d.shared.toExponential(2)}, max |logit diff| ${d.logit.toExponential(2)}, ${d.bytes} bytes`).join('\n')}`);
});

test('the serving default (DIN + SimTier + MAKE trained with out-of-fold MAKEs, Dice throughout) scores the same in onnxruntime-node', async () => {
  const { run } = await tinyModel();
  const out = path.join(dir, 'exports', 'serve-default.onnx');
  exportRunToOnnx(run, out);
  const { model, store } = openRun(run);
  model.eval();
  const scorer = await OnnxScorer.open(out);
  for (const shared of [false, true]) {
    const d = await compare(model, scorer, testBatch(model, store.meta.items, store.meta.users, store.historyLength, shared, 4));
    assert.ok(d.pctr <= 1e-5, `${shared ? 'H = 1' : 'H = B'}: max |pCTR diff| ${d.pctr}`);
  }
  await scorer.close();
});

test('the side files name the contract and the id maps the indices refer to', async () => {
  await ready();
  const runDir = path.join(dir, 'runs', 'simtier+make');
  const out = path.join(dir, 'exports', 'side.onnx');
  if (!existsSync(runDir)) trainRun(config('simtier+make', VARIANTS['simtier+make (softmax attention, fraction, learnable tier weights)']), SampleStore.open(storeDir), runDir, { makeCacheDir: path.join(dir, 'make-cache') });
  const r = exportRunToOnnx(runDir, out);
  assert.equal(statSync(out).size, r.bytes);
  const side = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
  assert.equal(side.format, 'mmctr-onnx');
  assert.equal(side.run, 'simtier+make');
  assert.deepEqual(
    side.inputs.map((i: { name: string }) => i.name),
    ['item', 'hist_items', 'hist_mask', 'user', 'target_vector', 'target_has_vector', 'hist_vectors', 'hist_has_vector'],
  );
  assert.deepEqual(side.inputs.find((i: { name: string }) => i.name === 'hist_vectors').shape, ['H', side.historyLength, 8]);
  assert.deepEqual(side.outputs.map((o: { name: string }) => o.name), ['logit', 'pctr']);
  const ids = JSON.parse(readFileSync(path.join(path.dirname(out), side.ids.file), 'utf8')) as OnnxIdMaps;
  const store = SampleStore.open(storeDir);
  assert.deepEqual(ids.items, store.catalog.ids);
  assert.equal(ids.users.length, store.meta.users);
  assert.deepEqual(ids.itemFields.category, store.catalog.fields.category.vocab);
  await assert.rejects(OnnxScorer.open(path.join(dir, 'exports', 'absent.onnx')), /absent\.onnx not found: `mmctr export onnx/);
});

test('user fields: a user past the field map reads the missing row, as the model does', async () => {
  await ready();
  const store = SampleStore.open(storeDir);
  const space = featureSpaceOf(store);
  const segment = Int32Array.from({ length: Math.floor(space.users / 2) + 1 }, (_, u) => (u === 0 ? 0 : 1 + (u % 3)));
  space.userFields = { segment: { vocab: 3, ofUser: segment } };
  const cfg = config('user-fields', { userFields: ['segment'], attentionActivation: 'dice' }).model as DinConfig;
  const model = createModel(cfg, space, 3);
  // Untrained tables start near zero: give every row its own values so a wrong lookup shows.
  const rng = new RandomStream(9);
  for (const t of model.namedTables().values()) t.weight.set(rng.normal(t.weight.length, 0, 0.5));
  for (const b of model.namedBuffers().values()) b.set(rng.uniform(b.length).map((x) => 0.5 + x));
  model.eval();
  const scorer = await OnnxScorer.fromGraph(exportOnnx(model, store.historyLength, 'user-fields'));
  const batch = testBatch(model, space.items, space.users, store.historyLength, false, 3);
  batch.user[2] = space.users; // past the segment map (which covers half the users)
  const d = await compare(model, scorer, batch);
  await scorer.close();
  assert.ok(d.pctr <= 1e-5, `max |pCTR diff| ${d.pctr}`);
});

test('parts without an ONNX form are refused, naming the part', async () => {
  await ready();
  const store = SampleStore.open(storeDir);
  class DinWithBias extends Din {
    constructor() {
      super(config('x', {}).model as DinConfig, featureSpaceOf(store), new RandomStream(1));
      this.param('extra_bias', [1], constant(0), new RandomStream(2));
    }
  }
  assert.throws(() => exportOnnx(new DinWithBias(), store.historyLength, 'x'), (err: unknown) => err instanceof ExportError && /extra_bias/.test(err.message) && /does not know/.test(err.message));
  class TwoTower extends Module {
    readonly config = { model: 'two-tower', embeddingL2: 0 };
    forward(batch: Batch): Tensor {
      return new Tensor(new Float32Array(batch.size), [batch.size]);
    }
  }
  assert.throws(() => exportOnnx(new TwoTower(), store.historyLength, 'x'), (err: unknown) => err instanceof ExportError && /two-tower/.test(err.message) && /exportable: din/.test(err.message));
});

test('mmctr export onnx: writes the model and its side files; a folder that is not a run is refused naming what is missing', async () => {
  await ready();
  const runDir = path.join(dir, 'runs', 'id-din');
  if (!existsSync(runDir)) trainRun(config('id-din', {}), SampleStore.open(storeDir), runDir);
  const out = path.join(dir, 'cli', 'model.onnx');
  const ok = mmctr('export', 'onnx', runDir, '--out', out);
  assert.equal(ok.code, 0, ok.err);
  assert.ok(existsSync(out) && existsSync(`${out}.json`) && existsSync(`${out}.ids.json`));
  assert.match(ok.out, /model\.onnx/);

  const empty = path.join(dir, 'not-a-run');
  mkdirSync(empty, { recursive: true });
  const noConfig = mmctr('export', 'onnx', empty, '--out', path.join(dir, 'cli', 'x.onnx'));
  assert.equal(noConfig.code, 2);
  assert.match(noConfig.err, /not a run folder: config\.json is missing/);
  assert.throws(() => exportRunToOnnx(empty, path.join(dir, 'x.onnx')), NotARunError);

  copyFileSync(path.join(runDir, 'config.json'), path.join(empty, 'config.json'));
  const noModel = mmctr('export', 'onnx', empty, '--out', path.join(dir, 'cli', 'x.onnx'));
  assert.equal(noModel.code, 2);
  assert.match(noModel.err, /model\.safetensors is missing/);
  assert.ok(!existsSync(path.join(dir, 'cli', 'x.onnx')), 'nothing written for a refused export');

  const missing = mmctr('export', 'onnx', path.join(dir, 'nowhere'), '--out', path.join(dir, 'cli', 'x.onnx'));
  assert.equal(missing.code, 2);
});
