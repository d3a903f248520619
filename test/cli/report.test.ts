import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../data/helpers.js';
import { mmctr, mmctrWith } from './helpers.js';

test('mmctr report compares run folders in the terminal and writes the report; bad input gets one clear line', () => {
  const dir = tempDir('mmctr-cli-report-');
  const set = (gauc: number) => ({ count: 100, clicks: 10, auc: gauc, gauc, gaucUsers: 9, logloss: 0.5 });
  for (const [name, seed, gauc] of [['id', 1, 0.6], ['id', 2, 0.62], ['simtier', 1, 0.65], ['simtier', 2, 0.66]] as const) {
    const run = path.join(dir, 'runs', `${name}-${seed}`);
    mkdirSync(run, { recursive: true });
    writeFileSync(path.join(run, 'config.json'), JSON.stringify({ name, data: {}, train: { seed } }));
    const buckets = { new: set(gauc - 0.1), rare: set(gauc), mid: set(gauc), head: set(gauc) };
    writeFileSync(path.join(run, 'metrics.json'), JSON.stringify({ fit: { epochs: [] }, test: { overall: set(gauc), buckets } }));
  }
  const out = path.join(dir, 'report');
  const r = mmctr('report', path.join(dir, 'runs'), '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /simtier\s+0\.6550±0\.0071\s+0\.6550±0\.0071\s+\+7\.38%/);
  assert.ok(['report.html', 'report.md', 'report.json'].every((f) => existsSync(path.join(out, f))));
  const bad = mmctr('report', path.join(dir, 'runs'), '--baseline', 'nope', '--out', out);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--baseline nope: no such experiment among the runs \(found: id, simtier\)/);
  assert.doesNotMatch(bad.err, /\n\s+at /, 'no stack trace');
  // With no --out the report goes to the runs folder of the home (--home, else MMCTR_HOME, else the working folder).
  for (const [how, run] of [
    ['--home', (home: string) => mmctrWith({ cwd: dir }, '--home', home, 'report', path.join(dir, 'runs'))],
    ['MMCTR_HOME', (home: string) => mmctrWith({ cwd: dir, env: { MMCTR_HOME: home } }, 'report', path.join(dir, 'runs'))],
    ['the working folder', (home: string) => mmctrWith({ cwd: home, env: { MMCTR_HOME: '' } }, 'report', path.join(dir, 'runs'))],
  ] as const) {
    const home = tempDir('mmctr-cli-home-');
    const r = run(home);
    assert.equal(r.code, 0, r.err);
    const reports = path.join(home, 'runs', 'reports');
    assert.ok(existsSync(reports) && readdirSync(reports).length === 1, `${how}: the report is under ${reports}`);
  }
});
