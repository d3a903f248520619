import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { cacheKey, canonicalJson, isCacheFolderOf, stampCacheFolder } from '../../src/util/cache-key.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-key-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a key is the same for the same stage, version, recipe (in any key order) and file contents', () => {
  const a = path.join(dir, 'a.csv'), copy = path.join(dir, 'copy.csv');
  writeFileSync(a, 'x,1\n');
  writeFileSync(copy, 'x,1\n');
  const base = { stage: 'store', version: 2, recipe: { split: { train: 0.8, valid: 0.1 }, historyLength: 50 }, files: [a] };
  const key = cacheKey(base);
  assert.match(key, /^[0-9a-f]{16}$/);
  assert.equal(cacheKey({ ...base, recipe: { historyLength: 50, split: { valid: 0.1, train: 0.8 } } }), key, 'key order does not matter');
  assert.equal(cacheKey({ ...base, files: [copy] }), key, 'the contents count, not the path');
  utimesSync(a, new Date(0), new Date(0));
  assert.equal(cacheKey(base), key, 'nor the modification time');
  assert.equal(cacheKey(base, 12), key.slice(0, 12));
});

test('a key changes with the stage, the version, any recipe value, and any file content', () => {
  const a = path.join(dir, 'b.csv');
  writeFileSync(a, 'x,1\n');
  const base = { stage: 'store', version: 2, recipe: { historyLength: 50, seeds: [1, 2] }, files: [a] };
  const key = cacheKey(base);
  const others = [
    cacheKey({ ...base, stage: 'world' }),
    cacheKey({ ...base, version: 3 }),
    cacheKey({ ...base, recipe: { historyLength: 51, seeds: [1, 2] } }),
    cacheKey({ ...base, recipe: { historyLength: 50, seeds: [2, 1] } }),
    cacheKey({ ...base, files: [] }),
    cacheKey({ ...base, files: [path.join(dir, 'absent.csv')] }),
  ];
  writeFileSync(a, 'x,2\n');
  others.push(cacheKey(base));
  writeFileSync(a, '');
  others.push(cacheKey(base));
  assert.equal(new Set([key, ...others]).size, others.length + 1, 'every change gives its own key');
});

test('canonical JSON sorts object keys at every level and keeps arrays in order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, 1], c: undefined, b: null } }), '{"a":{"b":null,"d":[3,1]},"b":1}');
});

test('a cache folder is of a key once stamped with it, and of no other', () => {
  const folder = mkdtempSync(path.join(dir, 'folder-'));
  assert.equal(isCacheFolderOf(folder, 'abc'), false);
  stampCacheFolder(folder, 'abc');
  assert.equal(isCacheFolderOf(folder, 'abc'), true);
  assert.equal(isCacheFolderOf(folder, 'abd'), false);
  assert.equal(isCacheFolderOf(path.join(dir, 'absent'), 'abc'), false);
});
