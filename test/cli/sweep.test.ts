import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { buildStoreFromSpec } from '../../src/data/samples.js';
import { SampleConfig } from '../../src/data/sample-config.js';
import { writeDemoData } from '../../src/world/demo-data.js';
import { tempDir } from '../data/helpers.js';
import { mmctrWith } from './helpers.js';

const mmctr = (cwd: string, ...args: string[]) => mmctrWith({ cwd }, ...args);

test('mmctr sweep trains the grid, prints the points ranked on validation and writes a report; a bad --set fails first in one line', async () => {
  const dir = tempDir('mmctr-cli-sweep-');
  await buildStoreFromSpec(writeDemoData(path.join(dir, 'data'), { users: 60, items: 80, impressionsPerUser: 30, seed: 3 }), SampleConfig.parse({}), path.join(dir, 'store'));
  // The store path is relative to the config file, as in configs/.
  writeFileSync(path.join(dir, 'tiny.json'), JSON.stringify({ name: 'tiny', data: { store: 'store' }, model: { model: 'sum-pooling', embeddingDim: 4, mlpHidden: [8] }, train: { batchSize: 256, lr: 0.01 } }));

  const bad = mmctr(dir, 'sweep', 'tiny.json', '--set', 'train.lr=0.01,fast', '--runs', 'runs');
  assert.equal(bad.code, 2, 'a usage error');
  assert.match(bad.err, /^mmctr: --set train\.lr=fast \(on tiny\.json\): invalid configuration\n {2}- train\.lr: .*expected number, received string/);
  assert.doesNotMatch(bad.err, /\n\s+at /, 'no stack trace');
  assert.equal(existsSync(path.join(dir, 'runs')), false, 'nothing trained');
  const seeds = mmctr(dir, 'sweep', 'tiny.json', '--set', 'train.lr=0.01', '--seeds', '1,x', '--runs', 'runs');
  assert.equal(seeds.code, 2);
  assert.match(seeds.err, /--seeds/);

  const r = mmctr(dir, 'sweep', 'tiny.json', '--set', 'model.embeddingDim=2,8', '--runs', 'runs', '--name', 'dims', '--json');
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.equal(s.trained, 2);
  assert.deepEqual(s.points.map((p: { runs: unknown[] }) => p.runs.length), [1, 1]);
  assert.ok(s.points[0].valid.auc.mean >= s.points[1].valid.auc.mean);
  assert.equal(s.best.point, s.points[0].point);
  assert.ok(existsSync(path.resolve(dir, s.report)), s.report);
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'runs', 'dims', 'sweep.json'), 'utf8')).points, s.points);

  const report = mmctr(dir, 'report', path.join('runs', 'dims'), '--out', 'report');
  assert.equal(report.code, 0, report.err);
  assert.match(report.out, new RegExp(`^rank point.*valid AUC.*\\n {3}1 tiny:${s.points[0].point.replace(/\./g, '\\.')} `));
  assert.match(report.out, new RegExp(`best point \\(validation AUC, never test\\): tiny:${s.points[0].point.replace(/\./g, '\\.')}\\n`));
});
