import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { writeSafetensors } from '../../src/engine/safetensors.js';
import { FeatureFileError } from '../../src/encoders/errors.js';
import { precomputedFeatures } from '../../src/encoders/precomputed.js';
import { readVectorFile } from '../../src/encoders/vector-file.js';
import type { ItemContent } from '../../src/encoders/types.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-pre-');
const put = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};
const items = (ids: string[]): ItemContent[] => ids.map((id) => ({ id, title: null, image: null }));
const fails = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: Error) => e instanceof FeatureFileError && re.test(e.message), `expected ${re}`);

test('jsonl, csv (with or without header), tsv and safetensors give the same table', () => {
  const files = [
    put('v.jsonl', '{"id":"a","vector":[1,2,3]}\n{"id":"b","vector":[4,5,6]}\n'),
    put('v.csv', 'id,d0,d1,d2\na,1,2,3\r\nb,4,5,6\n'),
    put('nh.csv', 'a,1,2,3\nb,4,5,6\n'),
    put('v.tsv', 'a\t1\t2\t3\nb\t4\t5\t6\n'),
  ];
  const st = path.join(dir, 'v.safetensors');
  writeSafetensors(st, { vectors: { data: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3] } }, { ids: JSON.stringify(['a', 'b']) });
  files.push(st);
  for (const f of files) {
    const v = readVectorFile(f);
    assert.equal(v.dim, 3, f);
    assert.deepEqual(v.ids, ['a', 'b'], f);
    assert.deepEqual(Array.from(v.vectors), [1, 2, 3, 4, 5, 6], f);
    assert.match(v.id, /^precomputed\/v\.|^precomputed\/nh\./);
  }
});

test('items without a vector are counted missing rows; unknown ids are counted unused', () => {
  const f = put('m.jsonl', '{"id":"a","vector":[1,2]}\n{"id":"zzz","vector":[3,4]}\n');
  const t = precomputedFeatures(f, items(['b', 'a']));
  assert.deepEqual(t.ids, ['b', 'a']);
  assert.deepEqual(Array.from(t.features), [0, 0, 1, 2]);
  assert.deepEqual(Array.from(t.missing), [1, 0]);
  assert.equal(t.report.missing, 1);
  assert.equal(t.report.unused, 1);
  assert.match(t.report.problems[0].reason, /no precomputed vector/);
});

test('dimension mismatch, NaN, duplicates and bad JSON name file, line and field', () => {
  fails(() => readVectorFile(put('d.jsonl', '{"id":"a","vector":[1,2,3]}\n{"id":"b","vector":[1,2]}\n')), /d\.jsonl:2: .*"b" has 2 dimensions, expected 3/);
  fails(() => readVectorFile(put('e.jsonl', '{"id":"a","vector":[1,2,3]}\n'), 4), /e\.jsonl:1: .*has 3 dimensions, expected 4/);
  fails(() => readVectorFile(put('n.jsonl', '{"id":"a","vector":[1,null,3]}\n')), /n\.jsonl:1: field "vector"\[1\] is not a finite number: null/);
  fails(() => readVectorFile(put('n.csv', 'a,1,2\nb,1,NaN\n')), /n\.csv:2: column 3 is not a finite number: "NaN"/);
  fails(() => readVectorFile(put('e.csv', 'a,1,2\nb,1,\n')), /e\.csv:2: column 3 is not a finite number/);
  fails(() => readVectorFile(put('dup.csv', 'a,1,2\nb,1,2\na,3,4\n')), /dup\.csv:3: .*"a" is duplicated \(first at line 1\)/);
  fails(() => readVectorFile(put('j.jsonl', '{"id":"a","vector":[1]}\n{oops\n')), /j\.jsonl:2: not valid JSON/);
  fails(() => readVectorFile(put('x.npy', 'x')), /unknown vector file type/);
  fails(() => readVectorFile(path.join(dir, 'absent.jsonl')), /absent\.jsonl: cannot read/);
  const st = path.join(dir, 'bad.safetensors');
  writeSafetensors(st, { vectors: { data: Float32Array.of(1, NaN), shape: [1, 2] } }, { ids: '["a"]' });
  fails(() => readVectorFile(st), /row 0 \(id "a"\), dimension 1: not a finite number/);
  const st2 = path.join(dir, 'ids.safetensors');
  writeSafetensors(st2, { vectors: { data: Float32Array.of(1, 2), shape: [1, 2] } }, { ids: '["a","b"]' });
  fails(() => readVectorFile(st2), /"ids" has 2 ids but tensor "vectors" has 1 rows/);
});
