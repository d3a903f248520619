import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { precomputedFeatures } from '../../src/encoders/precomputed.js';
import type { ItemContent } from '../../src/encoders/types.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-pre-');
const put = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};
const items = (ids: string[]): ItemContent[] => ids.map((id) => ({ id, title: null, image: null }));

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
