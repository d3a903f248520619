import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DataError } from '../../src/data/errors.js';
import { StringTable, writeStringTable } from '../../src/data/string-table.js';
import { tempDir } from './helpers.js';

test('a string table gives back its strings in order, nulls of a nullable table, and O(1) indices of an indexed one', () => {
  const dir = tempDir('mmctr-strt-');
  const ids = ['a', 'b', '', 'é', '🙂 x', 'a'.repeat(5000)];
  writeStringTable(path.join(dir, 'ids.strt'), ids, { index: true });
  const t = StringTable.open(path.join(dir, 'ids.strt'));
  assert.equal(t.size, ids.length);
  assert.deepEqual(t.toArray(), ids);
  assert.deepEqual(ids.map((id) => t.indexOf(id)), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(['c', 'A', 'e', '🙂', 'a'.repeat(4999)].map((id) => t.indexOf(id)), [0, 0, 0, 0, 0]);
  assert.throws(() => t.at(6), RangeError);

  writeStringTable(path.join(dir, 'titles.strt'), ['t1', null, ''], { nullable: true });
  const titles = StringTable.open(path.join(dir, 'titles.strt'));
  assert.deepEqual(titles.toArray(), ['t1', null, '']);
  assert.equal(titles.indexed, false);
  assert.throws(() => titles.indexOf('t1'), TypeError);
  assert.throws(() => writeStringTable(path.join(dir, 'x.strt'), ['a', null]), TypeError);
});

test('an id table of many ids finds every one, and refuses an id listed twice', () => {
  const dir = tempDir('mmctr-strt-');
  const ids = Array.from({ length: 50_000 }, (_, i) => `item${i * 7919}`);
  writeStringTable(path.join(dir, 'ids.strt'), ids, { index: true });
  const t = StringTable.open(path.join(dir, 'ids.strt'));
  for (let i = 0; i < ids.length; i += 97) assert.equal(t.indexOf(ids[i]), i + 1);
  assert.equal(t.indexOf('item1'), 0);
  assert.throws(
    () => writeStringTable(path.join(dir, 'dup.strt'), ['p', 'q', 'p'], { index: true }),
    (e: unknown) => e instanceof DataError && e.message.includes('dup.strt') && /lists "p" twice \(indices 1 and 3\)/.test(e.message),
  );
});

test('a truncated, padded or foreign string table is a DataError naming the file', () => {
  const dir = tempDir('mmctr-strt-');
  const file = path.join(dir, 'ids.strt');
  writeStringTable(file, ['alpha', 'beta', 'gamma'], { index: true });
  const bytes = readFileSync(file);
  const damaged = (re: RegExp) => (e: unknown) => e instanceof DataError && e.message.includes(file) && re.test(e.message) && /rebuild the store/.test(e.message);
  writeFileSync(file, bytes.subarray(0, bytes.length - 2));
  assert.throws(() => StringTable.open(file), damaged(/has \d+ bytes where its header promises \d+ .*truncated/));
  writeFileSync(file, bytes.subarray(0, 10));
  assert.throws(() => StringTable.open(file), damaged(/where its header promises|not a string table/));
  writeFileSync(file, Buffer.concat([bytes, Buffer.from([0])]));
  assert.throws(() => StringTable.open(file), damaged(/has \d+ bytes where its header promises/));
  writeFileSync(file, '["alpha","beta"]');
  assert.throws(() => StringTable.open(file), damaged(/is not a string table/));
  assert.throws(() => StringTable.open(path.join(dir, 'absent.strt')), (e: unknown) => e instanceof DataError && e.message.includes('absent.strt') && /incomplete/.test(e.message));
});
