import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseSclConfig, readSclConfig, sclConfig } from '../../src/pretrain/config.js';
import { ConfigError } from '../../src/util/errors.js';

test('SCL config: defaults', () => {
  const c = sclConfig();
  assert.equal(c.loss.tau, 0.07);
  assert.equal(c.loss.queueSize, 65_536);
  assert.equal(c.loss.momentum, 0.995);
  assert.equal(c.loss.lambda, 0.5);
  assert.equal(c.loss.margin, 0.2);
  assert.equal(c.model.outDim, 128);
  assert.equal(c.model.fusion, 'sum');
  assert.equal(c.eval.candidates, 100);
});

test('SCL config: errors name every bad field', () => {
  assert.throws(
    () => parseSclConfig({ loss: { tau: -1, momentum: 2 }, model: { fusion: 'max' }, bogus: 1 }, 'x.json'),
    (e: unknown) => e instanceof ConfigError && /loss\.tau/.test(e.message) && /loss\.momentum/.test(e.message) && /model\.fusion/.test(e.message) && /bogus/.test(e.message),
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'mmctr-sclcfg-'));
  assert.throws(() => readSclConfig(path.join(dir, 'none.json')), /does not exist/);
  writeFileSync(path.join(dir, 'bad.json'), '{"train": {"epochs": 0}}');
  assert.throws(() => readSclConfig(path.join(dir, 'bad.json')), /train\.epochs/);
});

test('SCL config: trainable backbone layers default to none (frozen), at most two, MobileNetV2 on onnxruntime only', () => {
  const c = sclConfig();
  assert.equal(c.model.trainableLayers, 0);
  assert.equal(c.model.trainableLr, 1e-3);
  assert.equal(sclConfig({ model: { trainableLayers: 2, trainableLr: 1e-3 } }).model.trainableLayers, 2);
  assert.throws(() => parseSclConfig({ model: { trainableLayers: 3 } }, 'x.json'), (e: unknown) => e instanceof ConfigError && /model\.trainableLayers/.test(e.message));
  assert.throws(() => parseSclConfig({ model: { trainableLr: 0 } }, 'x.json'), (e: unknown) => e instanceof ConfigError && /model\.trainableLr/.test(e.message));
  assert.throws(
    () => parseSclConfig({ model: { trainableLayers: 1, backbone: { kind: 'onnx', path: 'clip.onnx', inputSize: 224 } } }, 'x.json'),
    (e: unknown) => e instanceof ConfigError && /model\.trainableLayers/.test(e.message) && /clip\.onnx/.test(e.message) && /trainableLayers 0/.test(e.message),
  );
  assert.throws(
    () => parseSclConfig({ model: { trainableLayers: 1, backbone: { kind: 'mobilenet', runtime: 'tfjs' } } }, 'x.json'),
    (e: unknown) => e instanceof ConfigError && /runtime "auto" or "onnx"/.test(e.message),
  );
});

test('the named configs in configs/ parse', async () => {
  const { readdirSync } = await import('node:fs');
  const { repoRoot } = await import('../../src/util/paths.js');
  const files = readdirSync(path.join(repoRoot(), 'configs')).filter((f) => f.startsWith('scl'));
  assert.ok(files.length > 0);
  for (const f of files) readSclConfig(path.join(repoRoot(), 'configs', f));
});
