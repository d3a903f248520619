import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDefaultModel } from '../../src/serve/default-model.js';

test('the built-in default is reused as built, and rebuilt when it was built by an older recipe', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-default-'));
  const options = { dir, users: 40, days: 3, epochs: 1, historyLength: 10 };
  const first = await ensureDefaultModel(options);
  assert.ok(existsSync(path.join(first.run, 'model.safetensors')));
  const manifestFile = path.join(dir, 'serve.json');
  const again = await ensureDefaultModel(options);
  assert.deepEqual(again, first);
  // A folder from older code: same layout, older recipe number, and a marker the rebuild removes.
  writeFileSync(manifestFile, JSON.stringify({ ...first, recipe: 0 }));
  const marker = path.join(dir, 'from-older-code');
  writeFileSync(marker, '');
  const rebuilt = await ensureDefaultModel(options);
  assert.equal(rebuilt.recipe, first.recipe);
  assert.ok(!existsSync(marker), 'the old folder was replaced');
  assert.equal((JSON.parse(readFileSync(manifestFile, 'utf8')) as { recipe: number }).recipe, first.recipe);
});
