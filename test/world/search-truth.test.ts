import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DataError } from '../../src/data/errors.js';
import { loadSearchData } from '../../src/pretrain/source.js';
import { TRUE_ATTRIBUTES } from '../../src/world/catalog.js';
import { generateWorld, WORLD_VERSION, worldIsCurrent } from '../../src/world/generate.js';
import { worldParams } from '../../src/world/params.js';
import { Rng } from '../../src/world/rng.js';
import { parseStated, PHOTO_SHOWS, readSearchTruth, statedFit, statedOracle } from '../../src/world/search-truth.js';
import { composeQuery } from '../../src/world/wording.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-search-truth-');
const params = worldParams('small', { seed: 3, users: 80, days: 6 });
let generated: ReturnType<typeof generateWorld> | null = null;
const world = () => (generated ??= generateWorld(params, path.join(dir, 'world')));

test('a query always names the article type, and the words of an attribute it does not name never appear', () => {
  const want = { articleType: 'Tshirts', baseColour: 'Navy Blue', gender: 'Men', usage: 'Sports', season: 'Summer', brand: 'Puma' };
  const has = (text: string, words: RegExp) => words.test(text);
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const q = composeQuery(want, new Rng(i));
    assert.ok(q.names.includes('articleType'), q.text);
    q.names.forEach((a) => seen.add(a));
    // Typos only swap or drop letters inside a word, so an unnamed attribute's words never appear.
    if (!q.names.includes('baseColour')) assert.ok(!has(q.text, /navy|dark blue/), q.text);
    if (!q.names.includes('brand')) assert.ok(!has(q.text, /puma/), q.text);
    if (!q.names.includes('gender')) assert.ok(!has(q.text, /\bmens?\b|men's|\bmale\b|for him/), q.text);
    if (!q.names.includes('season')) assert.ok(!has(q.text, /summer/), q.text);
    if (!q.names.includes('usage')) assert.ok(!has(q.text, /sports|gym|running|training/), q.text);
  }
  assert.deepEqual([...seen].sort(), [...TRUE_ATTRIBUTES].sort(), 'every attribute gets named by some query');
});

test("searches.csv records what each query states; a photo states its item's type, colour and gender", async () => {
  const w = await world();
  const truth = await readSearchTruth(w.dir);
  const data = await loadSearchData(w.specFile);
  assert.equal(truth.stated.length, data.searches.length);
  assert.equal(truth.attributes.size, data.items.length);
  let photos = 0, typed = 0, boughtOfStatedType = 0, bought = 0;
  data.searches.forEach((s, k) => {
    const stated = truth.stated[k];
    if (s.queryItem) {
      photos++;
      const shown = truth.attributes.get(s.queryItem)!;
      assert.deepEqual(stated, Object.fromEntries(PHOTO_SHOWS.map((a) => [a, shown[a]])));
    } else {
      typed++;
      assert.ok(stated.articleType, `search ${k} states no article type`);
    }
    if (s.bought) {
      bought++;
      if (truth.attributes.get(s.bought)!.articleType === stated.articleType) boughtOfStatedType++;
    }
  });
  assert.ok(photos > 0 && typed > 0);
  // Users buy what they searched for (a few impulse buys aside).
  assert.ok(boughtOfStatedType / bought > 0.9, `${boughtOfStatedType} of ${bought}`);
});

test('the stated-attribute oracle: the article type first, then one point per stated attribute; errors name what is wrong', async () => {
  const shirt = { articleType: 'Shirts', baseColour: 'Blue', gender: 'Men', usage: 'Casual', season: 'Fall', brand: 'Puma' };
  const stated = { articleType: 'Shirts', baseColour: 'Blue', brand: 'Puma' };
  assert.equal(statedFit(stated, shirt), 12);
  assert.equal(statedFit(stated, { ...shirt, baseColour: 'Red' }), 11);
  assert.ok(statedFit(stated, { ...shirt, articleType: 'Tshirts' }) < statedFit(stated, { ...shirt, baseColour: 'Red', brand: 'Nike' }), 'a wrong type loses to any right type');

  const w = await world();
  const truth = await readSearchTruth(w.dir);
  const data = await loadSearchData(w.specFile);
  const searchIds = data.searches.map((s) => s.id), itemIds = data.items.map((it) => it.id);
  const k = data.searches.findIndex((s) => s.bought && !s.queryItem);
  const oracle = statedOracle(truth, { searchIds, itemIds, heldOutSearches: [searchIds[k]] });
  const boughtIndex = itemIds.indexOf(data.searches[k].bought!);
  const scores = oracle.score(0, Int32Array.from([boughtIndex, ...itemIds.keys()]));
  assert.equal(scores[0], statedFit(truth.stated[k], truth.attributes.get(itemIds[boughtIndex])!));
  assert.ok(scores.every((x) => x <= 16), 'at most 10 + 5 other attributes + 0');
  assert.throws(() => statedOracle(truth, { searchIds: searchIds.slice(1), itemIds, heldOutSearches: [] }), /lists \d+ searches but \d+ were read/);
  assert.throws(() => statedOracle(truth, { searchIds, itemIds: [...itemIds, 'nope'], heldOutSearches: [] }), /item nope is not in the world's items\.csv/);
  assert.throws(() => statedOracle(truth, { searchIds, itemIds, heldOutSearches: ['s-missing'] }), /held-out search s-missing/);
});

test('bad query_attributes are refused with file, line and field; a world without the column is asked to be generated again', async () => {
  assert.deepEqual(parseStated('articleType=Tshirts;baseColour=Navy Blue', { file: 'f.csv', line: 2 }), { articleType: 'Tshirts', baseColour: 'Navy Blue' });
  assert.deepEqual(parseStated('', { file: 'f.csv', line: 2 }), {});
  assert.throws(
    () => parseStated('articleType=Tshirts;colour=Navy', { file: 'f.csv', line: 7 }),
    (e: unknown) => e instanceof DataError && /f\.csv:7 field 'query_attributes'/.test(e.message) && /'colour=Navy' is not <attribute>=<value>/.test(e.message),
  );
  const w = await world();
  const file = path.join(w.dir, 'searches.csv');
  const original = readFileSync(file, 'utf8');
  try {
    const lines = original.split('\n');
    writeFileSync(file, lines.map((l) => l.replace(/,[^,]*$/, '')).join('\n'));
    await assert.rejects(readSearchTruth(w.dir), /searches\.csv: has no query_attributes column.*generate it again/);
  } finally {
    writeFileSync(file, original);
  }
});

test('a world folder is current only for the same parameters and generator version', async () => {
  const w = await world();
  assert.ok(worldIsCurrent(w.dir, params));
  assert.ok(!worldIsCurrent(w.dir, { ...params, users: params.users + 1 }));
  const file = path.join(w.dir, 'world.json');
  const original = readFileSync(file, 'utf8');
  try {
    writeFileSync(file, JSON.stringify({ ...JSON.parse(original), version: WORLD_VERSION - 1 }));
    assert.ok(!worldIsCurrent(w.dir, params), 'an older generator version is not current');
  } finally {
    writeFileSync(file, original);
  }
  assert.ok(!worldIsCurrent(path.join(dir, 'nowhere'), params));
});
