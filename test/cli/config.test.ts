import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../src/util/paths.js';
import { tempDir, write } from '../data/helpers.js';
import { mmctr } from './helpers.js';

test('mmctr config schema prints a kind\'s JSON Schema, lists the kinds, refuses an unknown one (exit 2)', () => {
  const schema = mmctr('config', 'schema', 'samples');
  assert.equal(schema.code, 0, schema.err);
  assert.equal(JSON.parse(schema.out).$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.match(mmctr('config', 'schema').out, /experiment +CTR experiment \(mmctr train\)/);
  const unknown = mmctr('config', 'schema', 'nope');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /'nope' is not a config kind: expected one of experiment, paper/);
});

test('mmctr config check prints the resolved config; an invalid one exits 2 naming file and field', () => {
  const good = mmctr('config', 'check', path.join(repoRoot(), 'configs', 'movielens-din.json'));
  assert.equal(good.code, 0, good.err);
  assert.match(good.err, /a valid experiment config \(named by its \$schema\)/);
  assert.equal(JSON.parse(good.out).train.keep, 'best', 'defaults filled in');
  const bad = write(tempDir('mmctr-cli-config-'), 'bad.json', JSON.stringify({ $schema: '../schemas/samples.schema.json', ties: 'sometimes' }));
  const r = mmctr('config', 'check', bad);
  assert.equal(r.code, 2);
  assert.ok(r.err.includes(`${bad} (samples config): invalid configuration`), r.err);
  assert.match(r.err, /- ties: /);
});
