import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { quantizeInt8, readEmbeddings, writeEmbeddings } from '../../src/encoders/vector-file.js';

test('embedding export: float32 and int8 = trunc(127 clip(v)) round trip, with ids', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mmctr-embed-'));
  const file = path.join(dir, 'items.safetensors');
  const ids = ['x1', 'x2', 'x3'];
  const v = Float32Array.of(0.5, -0.5, 1, -1, 0.999, -0.001, 0.3, 0.2, 0.1, 1.5, -2, 0);
  writeEmbeddings(file, ids, v, 4, { model: 'test' });
  const e = readEmbeddings(file);
  assert.deepEqual(e.ids, ids);
  assert.equal(e.dim, 4);
  assert.deepEqual(Array.from(e.vectors), Array.from(v));
  assert.deepEqual(Array.from(e.int8), Array.from(v, (x) => Math.trunc(127 * Math.min(1, Math.max(-1, x))) | 0));
  assert.deepEqual(Array.from(quantizeInt8(Float32Array.of(0.5, -0.5, 1.2, -0.999))), [63, -63, 127, -126]);
  assert.equal(e.meta.model, 'test');
  assert.deepEqual(JSON.parse(readFileSync(`${file}.ids.json`, 'utf8')), ids);
  assert.throws(() => writeEmbeddings(file, ids, new Float32Array(5), 4), /not 3 items x 4/);
});
