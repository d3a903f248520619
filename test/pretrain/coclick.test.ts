/**
 * Co-click text vectors (src/pretrain/coclick/) on a small synthetic store: users click items of
 * one hidden group in turn; titles are random words, so nothing lexical tells the groups apart.
 * A planted pair (X, Y) is co-clicked only in the validation and test splits.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { SampleStore } from '../../src/data/store.js';
import { ngramVectors } from '../../src/encoders/ngram-projection.js';
import { readEmbeddings } from '../../src/encoders/vector-file.js';
import { coClickConfig, CoClickConfigInput } from '../../src/pretrain/coclick/config.js';
import { mineCoClicks } from '../../src/pretrain/coclick/pairs.js';
import { runTextVectors } from '../../src/pretrain/coclick/run.js';
import { itemTexts, textInputs } from '../../src/pretrain/coclick/texts.js';
import { trainCoClick } from '../../src/pretrain/coclick/train.js';
import { writeEmbeddings } from '../../src/encoders/vector-file.js';
import { buildStore, csv, prng, tempDir, write } from '../data/helpers.js';

const GROUPS = 6, PER_GROUP = 8, USERS = 72, CLICKS = 16;
const VALID_START = 1_000_000, TEST_START = 2_000_000;

// Made at the top level, so that they live until the file ends (not the first test).
const DIR = tempDir('mmctr-coclick-'), OUT = tempDir('mmctr-coclick-out-');
let storePromise: Promise<SampleStore> | null = null;

/** Items g<k>_<i> (+ X and Y), users clicking their group's items; X-Y co-clicked only after VALID_START. */
function syntheticStore(): Promise<SampleStore> {
  storePromise ??= (async () => {
    const dir = DIR;
    const rnd = prng(11);
    const word = () => Array.from({ length: 7 }, () => String.fromCharCode(97 + Math.floor(rnd() * 26))).join('');
    const items: (string | number)[][] = [['item_id', 'title']];
    for (let g = 0; g < GROUPS; g++) for (let i = 0; i < PER_GROUP; i++) items.push([`g${g}_${i}`, `${word()} ${word()}`]);
    items.push(['X', `${word()} ${word()}`], ['Y', `${word()} ${word()}`]);
    write(dir, 'items.csv', csv(items));
    const events: (string | number)[][] = [['user_id', 'item_id', 'ts', 'clicked']];
    let ts = 1;
    for (let u = 0; u < USERS; u++) {
      const g = u % GROUPS;
      for (let c = 0; c < CLICKS; c++) events.push([`u${u}`, `g${g}_${Math.floor(rnd() * PER_GROUP)}`, ts++, rnd() < 0.85 ? 1 : 0]);
      // X and Y each clicked in training, but only ever far apart (more than a window between them).
      if (u === 0) events.push([`u${u}`, 'X', ts++, 1], ...Array.from({ length: 8 }, () => [`u${u}`, `g0_${Math.floor(rnd() * PER_GROUP)}`, ts++, 1]), [`u${u}`, 'Y', ts++, 1]);
    }
    // Validation and test: group clicks of the same users, and the planted X -> Y.
    for (const [start, tag] of [[VALID_START, 'v'], [TEST_START, 't']] as const) {
      let t = start;
      for (let u = 0; u < USERS; u++) for (let c = 0; c < 3; c++) events.push([`u${u}`, `g${u % GROUPS}_${Math.floor(rnd() * PER_GROUP)}`, t++, 1]);
      events.push([`p${tag}`, 'X', t++, 1], [`p${tag}`, 'Y', t++, 1], [`u1`, 'X', t++, 1], [`u1`, 'Y', t++, 1]);
    }
    write(dir, 'events.csv', csv(events));
    const { store } = await buildStore(
      dir,
      { name: 'coclick', items: { path: 'items.csv', columns: { item_id: 'item_id', title: 'title' } }, events: { path: 'events.csv', columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', clicked: 'clicked' } } },
      { historyLength: 10, split: { kind: 'time', validStart: VALID_START, testStart: TEST_START } },
    );
    return SampleStore.open(store);
  })();
  return storePromise;
}

const SMALL: CoClickConfigInput = {
  model: { tokenDim: 16, hidden: 32 },
  text: { maxTokens: 24 },
  pairs: { window: 3 },
  train: { epochs: 8, batchSize: 32, lr: 3e-3, sparseLr: 2e-2 },
  eval: { candidates: 20, topK: 5 },
};

function rowOf(ids: string[], id: string): number {
  const r = ids.indexOf(id);
  assert.ok(r >= 0, `item ${id} is in the catalogue`);
  return r;
}

test('co-click pairs come from the training split only: a pair seen only in valid/test is never mined', async () => {
  const store = await syntheticStore();
  const ids = store.catalog.ids;
  const x = rowOf(ids, 'X'), y = rowOf(ids, 'Y');
  const train = mineCoClicks(store, 'train', 3);
  assert.ok(train.stats.pairs > 500, `enough training pairs (${train.stats.pairs})`);
  const has = (p: ReturnType<typeof mineCoClicks>, u: number, v: number) => p.a.some((a, j) => (a === u && p.b[j] === v) || (a === v && p.b[j] === u));
  assert.ok(!has(train, x, y), 'X-Y is not a training pair');
  assert.ok(train.a.includes(x) || train.b.includes(x), 'X does occur in training pairs (with other items)');
  const valid = mineCoClicks(store, 'valid', 1);
  assert.ok(has(valid, x, y), 'the plant is real: X-Y is a validation co-click pair');
  for (let j = 0; j < train.a.length; j++) assert.notEqual(train.a[j], train.b[j], 'no self pairs');
});

test('training is deterministic for a seed and differs across seeds', async () => {
  const store = await syntheticStore();
  const c = coClickConfig({ ...SMALL, train: { ...SMALL.train, epochs: 2 } });
  const texts = itemTexts(store.catalog, c.text.fields);
  const inputs = textInputs(texts.texts, c.text.maxTokens);
  const pairs = mineCoClicks(store, 'train', c.pairs.window);
  const a = trainCoClick(c, inputs, pairs).vectors;
  const b = trainCoClick(c, inputs, pairs).vectors;
  assert.deepEqual(a, b, 'same seed, same vectors');
  const other = trainCoClick(coClickConfig({ ...SMALL, seed: 2, train: { ...SMALL.train, epochs: 2 } }), inputs, pairs).vectors;
  assert.notDeepEqual(other, a, 'another seed, other vectors');
  assert.deepEqual(ngramVectors(texts.texts, 128, 1), ngramVectors(texts.texts, 128, 1), 'ngram: deterministic');
});

/** Share of items whose nearest other item (cosine) is in the same group. */
function nearestSameGroup(ids: string[], v: Float32Array, dim: number): number {
  const grouped = ids.map((id, r) => ({ id, r })).filter((e) => e.id.startsWith('g'));
  let hits = 0;
  for (const e of grouped) {
    let best = -Infinity, bestId = '';
    for (const o of grouped) {
      if (o.r === e.r) continue;
      let dot = 0;
      for (let x = 0; x < dim; x++) dot += v[e.r * dim + x] * v[o.r * dim + x];
      if (dot > best) [best, bestId] = [dot, o.id];
    }
    if (bestId.split('_')[0] === e.id.split('_')[0]) hits++;
  }
  return hits / grouped.length;
}

test('unit-norm 128-d vectors for every catalogue id; training separates the co-click groups, the ngram baseline does not', async () => {
  const store = await syntheticStore();
  const c = coClickConfig(SMALL);
  const trained = runTextVectors(store, c, 'coclick');
  const ngram = runTextVectors(store, c, 'ngram');
  const ids = store.catalog.ids;
  for (const run of [trained, ngram]) {
    assert.deepEqual(run.ids, ids);
    assert.equal(run.dim, 128);
    assert.equal(run.vectors.length, ids.length * 128);
    for (let r = 0; r < ids.length; r++) {
      let s = 0;
      for (let x = 0; x < 128; x++) s += run.vectors[r * 128 + x] ** 2;
      assert.ok(Math.abs(Math.sqrt(s) - 1) < 1e-4, `${run.method} row ${r} has norm ${Math.sqrt(s)}`);
    }
  }
  const nnTrained = nearestSameGroup(ids, trained.vectors, 128), nnNgram = nearestSameGroup(ids, ngram.vectors, 128);
  if (process.env.COCLICK_TEST_VERBOSE) console.log({ nnTrained, nnNgram, eval: trained.eval });
  assert.ok(nnTrained >= 0.9, `trained: nearest neighbour in the same group for ${(100 * nnTrained).toFixed(0)}% of items`);
  assert.ok(nnNgram <= 0.5, `ngram (random titles): ${(100 * nnNgram).toFixed(0)}%`);
  const ev = (run: typeof trained, m: string) => run.eval.find((e) => e.method === m)!.all;
  assert.ok(ev(trained, 'coclick').top1 > ev(trained, 'ngram').top1 + 0.2, `held-out top1: coclick ${ev(trained, 'coclick').top1} vs ngram ${ev(trained, 'ngram').top1}`);
  assert.deepEqual(ev(trained, 'ngram'), ev(ngram, 'ngram'), 'the baseline is the same in both runs');

  const file = path.join(OUT, 'v.safetensors');
  writeEmbeddings(file, trained.ids, trained.vectors, trained.dim, { method: 'coclick' });
  const back = readEmbeddings(file);
  assert.deepEqual(back.ids, ids);
  assert.deepEqual(back.vectors, trained.vectors);
});
