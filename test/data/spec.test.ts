import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/data/errors.js';
import { parseSampleConfig, readSampleConfig } from '../../src/data/sample-config.js';
import { formatOf, readDatasetSpec } from '../../src/data/spec.js';
import { tempDir, write } from './helpers.js';

const good = { name: 'd', events: { path: 'e.csv', columns: { user_id: 'u', item_id: 'i', ts: 't' } } };

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${(err as Error).name}: ${(err as Error).message}`);
    return err.issues;
  }
  assert.fail('no error');
}

test('dataset spec: a valid one gets defaults and absolute paths', () => {
  const dir = tempDir();
  const file = write(dir, 'dataset.json', JSON.stringify(good));
  const spec = readDatasetSpec(file);
  assert.equal(spec.events!.path, path.join(dir, 'e.csv'));
  assert.equal(spec.events!.defaultType, 'impression');
  assert.deepEqual(spec.events!.typeValues, {});
});

test('dataset spec errors name the file and the field path', () => {
  const dir = tempDir();
  const read = (name: string, value: unknown) => () => readDatasetSpec(write(dir, name, typeof value === 'string' ? value : JSON.stringify(value)));
  assert.deepEqual(issuesOf(() => readDatasetSpec(path.join(dir, 'absent.json'))), ['does not exist']);
  assert.match(issuesOf(read('syntax.json', '{"name": "d",'))[0], /^cannot read it as JSON: /);
  const noUser = structuredClone(good) as { events: { columns: Record<string, unknown> } };
  delete noUser.events.columns.user_id;
  assert.deepEqual(issuesOf(read('nouser.json', noUser)).map((i) => i.split(':')[0]), ['events.columns.user_id']);
  assert.match(issuesOf(read('typo.json', { ...good, events: { ...good.events, delimeter: ';' } }))[0], /^events: .*delimeter/);
  assert.match(issuesOf(read('format.json', { ...good, events: { ...good.events, format: 'xlsx' } }))[0], /^events\.format: /);
  assert.match(issuesOf(read('type.json', { ...good, events: { ...good.events, typeValues: { pv: 'view' } } }))[0], /^events\.typeValues\.pv: /);
  assert.match(issuesOf(read('root.json', [1, 2]))[0], /^\(root\): /);
  // The message users see: the file, then one line per issue.
  try {
    read('nouser2.json', noUser)();
  } catch (err) {
    assert.match((err as Error).message, new RegExp(`^${path.join(dir, 'nouser2.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid configuration\\n  - events\\.columns\\.user_id: `));
  }
});

test('sample config: defaults, and errors that name the field', () => {
  const c = parseSampleConfig({}, 'x.json');
  assert.deepEqual(c, { historyLength: 50, ties: 'exclude', split: { kind: 'fraction', train: 0.8, valid: 0.1 }, clickWindowSeconds: 1800, negatives: { perPositive: 4, sampler: 'uniform', seed: 1 }, buckets: { rareMax: 10, midMax: 100 } });
  assert.match(issuesOf(() => parseSampleConfig({ split: { kind: 'fraction', train: 0.8, valid: 0.3 } }, 'x.json'))[0], /^split\.valid: train \+ valid shares must not exceed 1/);
  assert.match(issuesOf(() => parseSampleConfig({ split: { kind: 'time', validStart: 10, testStart: 5 } }, 'x.json'))[0], /^split\.testStart: must not be before validStart/);
  assert.match(issuesOf(() => parseSampleConfig({ ties: 'random' }, 'x.json'))[0], /^ties: /);
  assert.match(issuesOf(() => parseSampleConfig({ historyLength: 0 }, 'x.json'))[0], /^historyLength: /);
  assert.match(issuesOf(() => parseSampleConfig({ histroyLength: 5 }, 'x.json'))[0], /histroyLength/);
  const dir = tempDir();
  assert.deepEqual(issuesOf(() => readSampleConfig(path.join(dir, 'none.json'))), ['does not exist']);
  assert.equal(readSampleConfig(write(dir, 'c.json', '{"historyLength": 5, "ties": "file-order"}')).historyLength, 5);
});

test('file formats from extensions, unless given', () => {
  assert.equal(formatOf({ path: 'a.csv' }), 'csv');
  assert.equal(formatOf({ path: 'a.TSV' }), 'tsv');
  assert.equal(formatOf({ path: 'ml-100k.inter' }), 'tsv');
  assert.equal(formatOf({ path: 'a.jsonl' }), 'jsonl');
  assert.equal(formatOf({ path: 'a.parquet' }), 'parquet');
  assert.equal(formatOf({ path: 'a.txt' }), 'csv');
  assert.equal(formatOf({ path: 'a.txt', format: 'tsv' }), 'tsv');
});
