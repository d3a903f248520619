import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ensureWorld } from '../../src/pipeline/world.js';
import { isCacheFolderOf } from '../../src/util/cache-key.js';
import { MmctrError } from '../../src/util/errors.js';

const runs = mkdtempSync(path.join(os.tmpdir(), 'mmctr-pipeline-world-'));
after(() => rmSync(runs, { recursive: true, force: true }));

test('a world is generated once per recipe, reused after, and generated again when interrupted', async () => {
  const recipe = { preset: 'small', seed: 2, overrides: { users: 30, days: 2, builtinItems: 30 } };
  const said: string[] = [];
  const first = await ensureWorld(recipe, runs, { log: (l) => said.push(l) });
  assert.ok(existsSync(first.specFile) && existsSync(first.sampleConfigFile));
  assert.match(path.basename(first.dir), /^builtin-small-seed2-[0-9a-f]{16}$/, 'overrides: the key in the name');
  assert.equal(path.dirname(first.dir), path.join(runs, 'worlds'));
  const marker = path.join(first.dir, 'marker');
  writeFileSync(marker, '');
  const again = await ensureWorld(recipe, runs, { log: (l) => said.push(l) });
  assert.equal(again.dir, first.dir);
  assert.ok(existsSync(marker), 'reused as it is');
  assert.match(said[0], /^ad world generated/);
  assert.match(said[1], /^ad world reused/);
  const other = await ensureWorld({ ...recipe, seed: 3 }, runs);
  assert.notEqual(other.dir, first.dir, 'another seed, another world');
  rmSync(path.join(first.dir, '.cache-key'));
  const redone = await ensureWorld(recipe, runs);
  assert.equal(redone.dir, first.dir);
  assert.ok(isCacheFolderOf(first.dir, path.basename(first.dir).split('-').pop()!) && !existsSync(marker), 'an interrupted world (no stamp) is generated again');
  const preset = await ensureWorld({ preset: 'small', seed: 1 }, runs);
  assert.equal(path.basename(preset.dir), 'builtin-small-seed1', 'a preset world keeps a stable name');
  // Another world generated over it (other parameters in world.json): generated again.
  const world = JSON.parse(readFileSync(path.join(preset.dir, 'world.json'), 'utf8'));
  writeFileSync(path.join(preset.dir, 'world.json'), JSON.stringify({ ...world, params: { ...world.params, users: 7 } }));
  const regenerated = await ensureWorld({ preset: 'small', seed: 1 }, runs, { log: (l) => said.push(l) });
  assert.equal(regenerated.dir, preset.dir);
  assert.match(said[said.length - 1], /^ad world generated/);
  await assert.rejects(ensureWorld({ ...recipe, preset: 'huge' }, runs), (e: unknown) => e instanceof MmctrError && /world\.preset must be one of small, medium, bench, scale, got 'huge'/.test(e.message));
});

test('bad world overrides are refused before anything is generated: the parameter named, seed and catalog sent beside them', async () => {
  const refused = async (overrides: Record<string, unknown>, re: RegExp) =>
    assert.rejects(ensureWorld({ preset: 'small', seed: 5, overrides }, runs), (e: unknown) => e instanceof Error && re.test(e.message));
  await refused({ noise: -1 }, /noise/);
  await refused({ colour: 2 }, /colour/);
  await refused({ seed: 4 }, /world\.overrides\.seed: set world\.seed instead/);
  await refused({ catalog: 'fashion' }, /world\.overrides\.catalog: set world\.catalog instead/);
  assert.ok(!existsSync(path.join(runs, 'worlds', 'builtin-small-seed5')), 'nothing generated');
});
