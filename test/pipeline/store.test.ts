import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveStore } from '../../src/pipeline/store.js';
import { writeDemoData } from '../../src/world/demo-data.js';

test('a cached store is reused for the same data and rebuilt when a data file changes', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-resolve-'));
  const spec = writeDemoData(path.join(dir, 'data'), { users: 30, items: 40, impressionsPerUser: 10, seed: 2 });
  const cache = path.join(dir, 'cache');
  const first = await resolveStore({ dataset: spec }, dir, cache, { adapters: {} });
  const again = await resolveStore({ dataset: spec }, dir, cache, { adapters: {} });
  assert.equal(again.dir, first.dir);
  const events = path.join(path.dirname(spec), 'events.csv');
  const lines = readFileSync(events, 'utf8').trim().split('\n');
  appendFileSync(events, `${lines[lines.length - 1]}\n`);
  const changed = await resolveStore({ dataset: spec }, dir, cache, { adapters: {} });
  assert.notEqual(changed.dir, first.dir, 'an edited events file gets its own store');
  assert.ok(changed.meta.splits.train.count + changed.meta.splits.valid.count + changed.meta.splits.test.count >= first.meta.splits.train.count);
});
