import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FeatureFileError } from '../../src/encoders/errors.js';
import { DEFAULT_BUCKETS, fnv1a, loadWordVectors, tokenize, tokenizeBatch, tokenStrings, wordId, words } from '../../src/encoders/tokenizer.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-tok-');
const strip = (toks: string[]) => toks.map((t) => t.replace('\x01', ':'));

test('FNV-1a matches the reference values', () => {
  assert.equal(fnv1a(''), 0x811c9dc5);
  assert.equal(fnv1a('a'), 0xe40c292c);
  assert.equal(fnv1a('foobar'), 0xbf9cf968);
});

test('words: NFKC, lowercase, Unicode letters and digits, punctuation splits', () => {
  assert.deepEqual(words('Turtle Check Men Navy-Blue Shirt!'), ['turtle', 'check', 'men', 'navy', 'blue', 'shirt']);
  assert.deepEqual(words('ＡＢＣ café 2024 Über'), ['abc', 'café', '2024', 'über']);
  assert.deepEqual(words('Платье  красное'), ['платье', 'красное']);
  assert.deepEqual(words(''), []);
  assert.deepEqual(words(null), []);
});

test('token contents: unigrams, bigrams, then character 3..5-grams with boundary markers', () => {
  const t = strip(tokenStrings('Red Cap'));
  assert.deepEqual(t.slice(0, 3), ['w:red', 'w:cap', 'n:red cap']);
  // "<red>" has 5 code points: 3-grams <re red ed>, 4-grams <red red>; the 5-gram is the whole
  // word, left out. All words' 3-grams come before any 4-gram.
  assert.deepEqual(t.slice(3), ['c:<re', 'c:red', 'c:ed>', 'c:<ca', 'c:cap', 'c:ap>', 'c:<red', 'c:red>', 'c:<cap', 'c:cap>']);
  assert.deepEqual(strip(tokenStrings('Café')).slice(1), ['c:<ca', 'c:caf', 'c:afé', 'c:fé>', 'c:<caf', 'c:café', 'c:afé>', 'c:<café', 'c:café>']);
  assert.deepEqual(strip(tokenStrings('Red Cap', { wordNgrams: 1, minn: 0 })), ['w:red', 'w:cap']);
  const tri = strip(tokenStrings('a b c', { wordNgrams: 3, minn: 0 }));
  assert.deepEqual(tri, ['w:a', 'w:b', 'w:c', 'n:a b', 'n:b c', 'n:a b c']);
});

test('tokenize is deterministic, in [1, buckets], and empty for empty or null text', () => {
  const a = tokenize('Manchester United Men Solid Black Track Pants');
  const b = tokenize('manchester united men solid black track pants');
  assert.deepEqual(a, b);
  assert.ok(a.length > 20);
  for (const id of a) assert.ok(id >= 1 && id <= DEFAULT_BUCKETS);
  // Fixed values: a change of hashing would silently invalidate trained tables.
  assert.equal(tokenize('red')[0], 1 + (fnv1a('w\x01red') % DEFAULT_BUCKETS));
  assert.equal(wordId('red'), tokenize('red')[0]);
  const small = tokenize('a quick brown fox', { buckets: 7 });
  for (const id of small) assert.ok(id >= 1 && id <= 7);
  assert.equal(tokenize('').length, 0);
  assert.equal(tokenize(null).length, 0);
  assert.equal(tokenize('  ,;- ').length, 0);
  assert.throws(() => tokenize('x', { buckets: 0 }), /buckets/);
  assert.throws(() => tokenize('x', { minn: 4, maxn: 3 }), /minn/);
});

test('tokenizeBatch pads with 0 and truncates to maxTokens', () => {
  const texts = ['red cap', null, 'a very long title with many many words in it'];
  const b = tokenizeBatch(texts, 16);
  assert.equal(b.ids.length, 3 * 16);
  const red = tokenize('red cap');
  assert.equal(b.lengths[0], red.length);
  assert.deepEqual(Array.from(b.ids.subarray(0, red.length)), Array.from(red));
  assert.ok(b.ids.subarray(red.length, 16).every((x) => x === 0));
  assert.equal(b.lengths[1], 0);
  assert.ok(b.ids.subarray(16, 32).every((x) => x === 0));
  assert.equal(b.lengths[2], 16);
  assert.deepEqual(Array.from(b.ids.subarray(32, 48)), Array.from(tokenize(texts[2]).subarray(0, 16)));
  assert.throws(() => tokenizeBatch(texts, 0), /maxTokens/);
});

test('loadWordVectors: hashed word rows, case variants averaged, phrases skipped', () => {
  const file = path.join(dir, 'tiny.vec');
  writeFileSync(file, ['5 3', 'red 1 0 0', 'Red 3 0 0', 'cap 0 1 0.5', 'new_york 0 0 1', 'blue 0 0 -1', ''].join('\n'));
  const v = loadWordVectors(file, { buckets: 1 << 18 });
  assert.equal(v.dim, 3);
  assert.deepEqual(v.stats, { read: 5, used: 4, skipped: 1, collisions: 1 });
  assert.equal(v.ids.length, 3);
  const row = (w: string) => {
    const i = v.ids.indexOf(wordId(w));
    assert.ok(i >= 0, w);
    return Array.from(v.vectors.subarray(i * 3, i * 3 + 3));
  };
  assert.deepEqual(row('red'), [2, 0, 0]);
  assert.deepEqual(row('cap'), [0, 1, 0.5]);
  assert.deepEqual(row('blue'), [0, 0, -1]);
  // the hashed id is exactly the unigram id tokenize gives the word
  assert.equal(tokenize('Blue')[0], wordId('blue'));
});

test('loadWordVectors: bad header, wrong width and NaN name the line', () => {
  const bad = (name: string, text: string, re: RegExp) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    assert.throws(() => loadWordVectors(f), (e: Error) => e instanceof FeatureFileError && re.test(e.message));
  };
  bad('h.vec', 'red 1 2\n', /h\.vec:1: expected a fastText \.vec header/);
  bad('w.vec', '2 3\nred 1 2 3\ncap 1 2\n', /w\.vec:3: expected a word and 3 numbers, got 2/);
  bad('n.vec', '2 2\nred 1 2\ncap 1 nan\n', /n\.vec:3: value 2 of "cap" is not a finite number/);
});

test('loadWordVectors streams: CRLF lines, maxWords, and a file larger than one read chunk', async () => {
  const f = path.join(dir, 'crlf.vec');
  writeFileSync(f, '3 2\r\nred 1 2\r\ncap 3 4\r\nblue 5 6\r\n');
  const v = loadWordVectors(f, { maxWords: 2 });
  assert.deepEqual(v.stats, { read: 2, used: 2, skipped: 0, collisions: 0 });
  const big = path.join(dir, 'big.vec');
  const n = 120_000; // ~5 MB: crosses the 4 MB chunk boundary mid-line
  const lines = [`${n} 4`];
  for (let i = 0; i < n; i++) lines.push(`wörd${i} ${i} 0.25 -1 2`);
  writeFileSync(big, lines.join('\n') + '\n');
  const b = loadWordVectors(big, { buckets: 1 << 24 });
  assert.equal(b.stats.read, n);
  assert.equal(b.stats.used, n);
  const args = { buckets: 1 << 24 };
  const target = wordId('wörd99999', args);
  const group: number[] = [];
  for (let i = 0; i < n; i++) if (wordId(`wörd${i}`, args) === target) group.push(i);
  const k = b.ids.indexOf(target);
  assert.ok(k >= 0);
  const mean = group.reduce((a, x) => a + x, 0) / group.length;
  assert.deepEqual(Array.from(b.vectors.subarray(k * 4, k * 4 + 4)), [Math.fround(mean), 0.25, -1, 2]);
  assert.ok(b.ids.length > 0.99 * n && b.ids.length <= n - b.stats.collisions, 'one row per distinct id');
});
