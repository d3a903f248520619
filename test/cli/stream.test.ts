import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../src/util/paths.js';
import { readSamples, tempDir } from '../data/helpers.js';
import { logSpec, sampleKey, writeJsonLines } from '../stream/helpers.js';
import { mmctr } from './helpers.js';

const events = [
  { user: 'u', item: 'a', ts: 10, type: 'impression', rid: 'r1', clicked: null },
  { user: 'u', item: 'a', ts: 15, type: 'click', rid: 'r1', clicked: null },
  { user: 'u', item: 'b', ts: 20, type: 'impression', rid: null, clicked: null },
  { user: 'u', item: 'b', ts: 'never', type: 'click', rid: null, clicked: null },
  { user: 'v', item: 'a', ts: 30, type: 'impression', rid: null, clicked: null },
];

test('mmctr stream samples replays a log from a file or stdin into the samples data build makes, and reports bad events with their line', () => {
  const dir = tempDir('mmctr-cli-stream-');
  const file = writeJsonLines(path.join(dir, 'events.jsonl'), events);
  writeFileSync(path.join(dir, 'dataset.json'), JSON.stringify(logSpec()));
  const build = mmctr('data', 'build', path.join(dir, 'dataset.json'), '--out', path.join(dir, 'store'));
  assert.equal(build.code, 0, build.err);
  const expected = readSamples(path.join(dir, 'store')).rows.map(sampleKey).sort();

  const r = mmctr('stream', 'samples', path.join(dir, 'dataset.json'), '--events', file, '--out', path.join(dir, 'out'), '--json');
  assert.equal(r.code, 0, r.err);
  const report = JSON.parse(r.out);
  assert.equal(report.bad, 1);
  assert.match(report.problems.examples[0].at, /events\.jsonl:4$/);
  assert.equal(report.problems.examples[0].field, 'ts');
  const keys = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => sampleKey(JSON.parse(l))).sort();
  assert.deepEqual(keys(path.join(dir, 'out', 'samples.jsonl')), expected);

  const piped = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'mmctr.js'), 'stream', 'samples', path.join(dir, 'dataset.json'), '--events', '-', '--out', path.join(dir, 'piped')], { input: readFileSync(file), encoding: 'utf8' });
  assert.equal(piped.status, 0, piped.stderr);
  assert.match(piped.stdout, /3 samples \(1 clicked\) from 5 events of stdin/);
  assert.deepEqual(keys(path.join(dir, 'piped', 'samples.jsonl')), expected);
});

test('mmctr stream samples without a source is a usage error (exit 2) that names both', () => {
  const dir = tempDir('mmctr-cli-stream-');
  writeFileSync(path.join(dir, 'dataset.json'), JSON.stringify(logSpec()));
  const r = mmctr('stream', 'samples', path.join(dir, 'dataset.json'), '--out', path.join(dir, 'out'));
  assert.equal(r.code, 2);
  assert.match(r.err, /--events <file\|-> or --redis <url>/);
});
