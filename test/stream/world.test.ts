import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { csvLogAsJsonLines } from '../../src/stream/replay.js';
import { generateWorld } from '../../src/world/generate.js';
import { worldParams } from '../../src/world/params.js';
import { tempDir } from '../data/helpers.js';
import { arrivalOrder, built, LogEvent, streamed } from './helpers.js';

/** The world's events.csv as event objects, in file order (through the replay copy a stream reads). */
function worldEvents(dir: string): LogEvent[] {
  const copy = path.join(dir, 'events-replay.jsonl');
  csvLogAsJsonLines(path.join(dir, 'events.csv'), copy);
  return readFileSync(copy, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogEvent);
}

test('on a generated ad world, streaming the log gives exactly the samples data build gives: own labels, and labels from delayed click events, arriving out of order', async () => {
  const dir = tempDir('mmctr-stream-world-');
  const w = await generateWorld(worldParams('small', { seed: 3, users: 60, days: 4 }), path.join(dir, 'world'));
  const events = worldEvents(w.dir);
  const spec = JSON.parse(readFileSync(w.specFile, 'utf8'));
  spec.events.path = 'events.jsonl';
  spec.events.format = 'jsonl';
  const config = { ...JSON.parse(readFileSync(w.sampleConfigFile, 'utf8')), clickWindowSeconds: 60 };
  const arrival = arrivalOrder(events, 30, 11);

  const own = await built(w.dir, spec, config, events);
  assert.ok(own.length > 1000, `${own.length} samples`);
  const a = await streamed(w.dir, spec, config, events, { latenessSeconds: 30, arrival }, 'own');
  assert.equal(a.report.late, 0);
  assert.equal(a.report.bad, 0);
  assert.deepEqual(a.keys, own);

  // Without the clicked column every label comes from matching the click events (5 s later, same request).
  const { clicked: _c, ...columns } = spec.events.columns;
  const bySpec = { ...spec, events: { ...spec.events, columns } };
  const matched = await built(w.dir, bySpec, config, events);
  assert.deepEqual(
    matched.map((k) => k.replace(/ y=\d/, '')),
    own.map((k) => k.replace(/ y=\d/, '')),
    'the same impressions and histories',
  );
  assert.ok(matched.filter((k) => / y=1 /.test(k)).length > 50, 'clicks matched');
  const b = await streamed(w.dir, bySpec, config, events, { latenessSeconds: 30, arrival }, 'matched');
  assert.deepEqual(b.keys, matched);
});
