/**
 * The public entry as a user imports it: `from 'mmctr'` resolves through package.json `exports`
 * (a package may import itself by name), so a name dropped from src/api.ts or a broken exports
 * map fails here, not in a user's code.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { closeIndex, idsToFetch, loadServingModel, loadVectorsInto, openIndex, rankCandidates, readExperimentConfig, readVectorFile, writeVectorFile } from 'mmctr';
import { tinyModel } from './serve/fixture.js';

const tmp = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-api-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

test("mmctr: a vector file written and read back, then loaded into an index opened on disk", async () => {
  const dir = tmp();
  const file = path.join(dir, 'vectors.safetensors');
  writeVectorFile(file, ['a', 'b', 'empty'], Float32Array.from([3, 0, 4, 0, 2, 0, 0, 0, 0]), 3);
  const read = readVectorFile(file);
  assert.deepEqual(read.ids, ['a', 'b', 'empty']);
  assert.equal(read.dim, 3);
  assert.deepEqual(Array.from(read.vectors.subarray(0, 3)), [3, 0, 4]);

  const opened = await openIndex({ backend: 'embedded', file: path.join(dir, 'index.safetensors'), dim: 3 });
  try {
    assert.equal(await loadVectorsInto(opened.index, read), 2, 'the all-zero row is an item without a vector');
    const [a, missing] = await opened.index.getMany(['a', 'empty']);
    assert.deepEqual(Array.from(a!).map((x) => Number(x.toFixed(6))), [0.6, 0, 0.8]);
    assert.equal(missing, null);
  } finally {
    await closeIndex(opened);
  }
});

test('mmctr: a trained run opened and its candidates ranked with the index\'s vectors', async () => {
  const manifest = await tinyModel();
  const model = await loadServingModel(manifest.run, 1);
  const ids = [...model.itemIndex.keys()];
  const opened = await openIndex({ backend: 'embedded', file: null, dim: readVectorFile(manifest.vectors).dim });
  try {
    await loadVectorsInto(opened.index, manifest.vectors);
    const input = { behaviours: ids.slice(0, 3), candidates: ids.slice(10, 15) };
    const { unique } = idsToFetch(model, input);
    const out = await rankCandidates(model, input, unique, await opened.index.getMany(unique), opened.index.dim);
    assert.deepEqual(out.items.map((i) => i.id).sort(), [...input.candidates].sort());
    assert.ok(out.items.every((i, k) => i.pctr > 0 && i.pctr < 1 && (k === 0 || out.items[k - 1].pctr >= i.pctr)), 'scores in (0, 1), highest first');
    assert.equal(out.missingCandidateVectors, 0);
    assert.equal(readExperimentConfig(path.join(manifest.run, 'config.json')).model.model, 'din');
  } finally {
    await closeIndex(opened);
  }
});
