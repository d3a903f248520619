import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../src/util/paths.js';
import { readSamples, tempDir } from '../data/helpers.js';
import { logSpec, sampleKey, writeJsonLines } from '../stream/helpers.js';
import { generateWorld } from '../../src/world/generate.js';
import { worldParams } from '../../src/world/params.js';
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

test('mmctr experiment stream: per seed a base run, the log streamed from it, the streamed and the frozen model compared on the same later samples; a report; a config without a dataset refused', async () => {
  const dir = tempDir('mmctr-cli-stream-experiment-');
  const w = await generateWorld(worldParams('small', { seed: 5, users: 60, days: 5 }), path.join(dir, 'world'));
  const config = {
    name: 'replay',
    data: { dataset: w.specFile, samples: JSON.parse(readFileSync(w.sampleConfigFile, 'utf8')) },
    model: { model: 'sum-pooling', embeddingDim: 8, mlpHidden: [16] },
    train: { batchSize: 128, lr: 0.005, epochs: 1 },
  };
  const configFile = path.join(dir, 'replay.json');
  writeFileSync(configFile, JSON.stringify(config));
  const out = path.join(dir, 'out');
  const r = mmctr('experiment', 'stream', configFile, '--runs', path.join(dir, 'runs'), '--out', out, '--seeds', '1,2', '--window', '300', '--json');
  assert.equal(r.code, 0, r.err);
  const result = JSON.parse(r.out);
  assert.deepEqual(result.seeds, [1, 2]);
  assert.equal(result.perSeed.length, 2);
  for (const s of result.perSeed) {
    assert.ok(s.trained > 0 && s.skipped > 0, `${s.trained} streamed, ${s.skipped} of the training period`);
    // Both models are judged on the same samples: the same counts.
    assert.equal(s.overall.frozen.count, s.overall.streamed.count);
    assert.ok(s.overall.frozen.auc > 0 && s.overall.frozen.auc < 1);
    assert.ok(s.curve.every((w: { frozen: unknown }) => w.frozen !== null));
  }
  // Seeds differ, so the spread is a real one; the claims are stated with verdicts.
  assert.notEqual(result.perSeed[0].overall.streamed.gauc, result.perSeed[1].overall.streamed.gauc);
  assert.equal(result.slices[0].summary.frozen.gain.gauc, 0, 'gains are measured against the frozen model');
  assert.match(result.notes[0], /^(holds|does not hold): the streamed model's progressive GAUC/);
  assert.match(readFileSync(path.join(out, 'report.md'), 'utf8'), /Streaming against a stale model: replay/);
  assert.ok(readFileSync(path.join(out, 'report.html'), 'utf8').includes('<svg'), 'the window curve is drawn');

  const storeOnly = path.join(dir, 'store-only.json');
  writeFileSync(storeOnly, JSON.stringify({ ...config, data: { store: path.join(dir, 'runs') } }));
  const refused = mmctr('experiment', 'stream', storeOnly, '--out', path.join(dir, 'refused'));
  assert.equal(refused.code, 2, refused.err);
  assert.match(refused.err, /give data\.dataset/);
});
