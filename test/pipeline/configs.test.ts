import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readExperimentConfig } from '../../src/ctr/run.js';
import { checkConfigFile, CONFIG_KIND_NAMES, jsonSchemaOf, schemaFileName } from '../../src/pipeline/configs.js';
import { ConfigError, UsageError } from '../../src/util/errors.js';
import { repoRoot } from '../../src/util/paths.js';
import { tempDir, write } from '../data/helpers.js';

const schemasDir = path.join(repoRoot(), 'schemas');
const configsDir = path.join(repoRoot(), 'configs');

test('the committed schemas/ are what the zod schemas generate (regenerate: mmctr config schema --out schemas)', () => {
  assert.deepEqual(readdirSync(schemasDir).sort(), CONFIG_KIND_NAMES.map(schemaFileName).sort());
  for (const kind of CONFIG_KIND_NAMES) {
    const committed = readFileSync(path.join(schemasDir, schemaFileName(kind)), 'utf8');
    assert.equal(committed, `${JSON.stringify(jsonSchemaOf(kind), null, 2)}\n`, `${kind}: schemas/ is stale`);
  }
});

test('each JSON Schema allows $schema, refuses unknown keys, and names the required fields', () => {
  const experiment = jsonSchemaOf('experiment') as { properties: Record<string, unknown>; additionalProperties: boolean; required: string[] };
  assert.ok('$schema' in experiment.properties);
  assert.equal(experiment.additionalProperties, false);
  assert.deepEqual([...experiment.required].sort(), ['data', 'model', 'name']);
  // Fields with defaults are optional to the writer of the file.
  const train = (experiment.properties.train as { properties: Record<string, { default?: unknown }> }).properties;
  assert.equal(train.epochs.default, 1);
});

test('every committed config names its schema and is read as that kind, and its shape alone gives the same kind', () => {
  for (const name of readdirSync(configsDir).filter((f) => f.endsWith('.json'))) {
    const file = path.join(configsDir, name);
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const checked = checkConfigFile(file);
    assert.equal(checked.detectedBy, '$schema', name);
    assert.equal(raw.$schema, `../schemas/${schemaFileName(checked.kind)}`, name);
    const { $schema: _pointer, ...body } = raw;
    const bare = write(tempDir('mmctr-configs-'), name, JSON.stringify(body));
    assert.equal(checkConfigFile(bare).kind, checked.kind, `${name} by its shape`);
  }
});

test('readers accept $schema but still refuse any other unknown key', () => {
  const dir = tempDir('mmctr-configs-');
  const ok = write(dir, 'ok.json', JSON.stringify({ $schema: '../schemas/experiment.schema.json', name: 'x', data: { store: 's' }, model: { model: 'din' } }));
  assert.equal(readExperimentConfig(ok).name, 'x');
  const typo = write(dir, 'typo.json', JSON.stringify({ $schema: '../schemas/experiment.schema.json', name: 'x', data: { store: 's' }, model: { model: 'din' }, trian: {} }));
  assert.throws(() => readExperimentConfig(typo), (e: Error) => e instanceof ConfigError && /trian/.test(e.message));
});

test('config check: defaults filled in; a bad field named by path as the closest kind; an ambiguous file asks for --kind', () => {
  const dir = tempDir('mmctr-configs-');
  const resolved = checkConfigFile(write(dir, 'exp.json', JSON.stringify({ name: 'x', data: { store: 's' }, model: { model: 'din' } }))).resolved as { train: { epochs: number; checkpointMinutes: number } };
  assert.equal(resolved.train.epochs, 1);
  assert.equal(resolved.train.checkpointMinutes, 5);
  assert.throws(
    () => checkConfigFile(write(dir, 'bad.json', JSON.stringify({ name: 'x', data: { store: 's' }, model: { model: 'din', embeddingDim: -1 } }))),
    (e: Error) => e instanceof ConfigError && /closest: experiment/.test(e.message) && /model\.embeddingDim: Too small/.test(e.message),
  );
  assert.throws(() => checkConfigFile(write(dir, 'empty.json', '{}')), (e: Error) => e instanceof UsageError && /more than one kind of config \(.*samples.*\): name one with --kind/.test(e.message));
  assert.equal(checkConfigFile(write(dir, 'empty2.json', '{}'), 'samples').kind, 'samples');
});
