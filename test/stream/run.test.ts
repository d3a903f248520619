import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SampleConfig } from '../../src/data/sample-config.js';
import { parseDatasetSpec } from '../../src/data/spec.js';
import { runStream, StreamRunError } from '../../src/stream/run.js';
import { SamplesFile } from '../../src/stream/samples-file.js';
import { jsonLinesSource, pacedSource } from '../../src/stream/sources.js';
import { prng, tempDir } from '../data/helpers.js';
import { LogEvent, logSpec, writeJsonLines } from './helpers.js';

function log(n: number): LogEvent[] {
  const r = prng(5);
  const out: LogEvent[] = [];
  for (let i = 0, t = 1000; i < n; i++, t += Math.floor(r() * 4))
    out.push({ user: `u${Math.floor(r() * 5)}`, item: `i${Math.floor(r() * 6)}`, ts: t, type: r() < 0.6 ? 'impression' : 'click', rid: null, clicked: null });
  return out;
}

class Crash extends Error {}

async function run(dir: string, file: string, o: { crashAfter?: number; config?: Record<string, unknown> } = {}) {
  const spec = parseDatasetSpec(logSpec(), path.join(dir, 'dataset.json'), dir);
  const sink = new SamplesFile(path.join(dir, 'out', 'samples.jsonl'));
  let batches = 0;
  try {
    return await runStream({
      events: spec.events!,
      samples: SampleConfig.parse(o.config ?? { historyLength: 4, clickWindowSeconds: 20 }),
      latenessSeconds: 10,
      maxFutureSeconds: 86_400,
      checkpointSeconds: 0,
      batch: 25,
      source: async (resume) => jsonLinesSource(file, resume),
      sink,
      dir: path.join(dir, 'out'),
      onProgress: () => {
        // A crash after the batch's samples were written, before its checkpoint.
        if (o.crashAfter !== undefined && ++batches === o.crashAfter) throw new Crash();
      },
    });
  } finally {
    sink.close();
  }
}

test('a run killed between checkpoints resumes from the last one: the samples file ends byte for byte as an uninterrupted run writes it', async () => {
  const events = log(600);
  const whole = tempDir('mmctr-stream-run-');
  const file = writeJsonLines(path.join(whole, 'events.jsonl'), events);
  await run(whole, file);
  const expected = readFileSync(path.join(whole, 'out', 'samples.jsonl'), 'utf8');
  assert.ok(expected.split('\n').length > 300);

  const dir = tempDir('mmctr-stream-run-');
  const f2 = writeJsonLines(path.join(dir, 'events.jsonl'), events);
  await assert.rejects(run(dir, f2, { crashAfter: 7 }), Crash);
  await assert.rejects(run(dir, f2, { crashAfter: 5 }), Crash);
  // Half a line a dying writer left behind is cut too.
  appendFileSync(path.join(dir, 'out', 'samples.jsonl'), '{"user":"u1","it');
  const report = await run(dir, f2);
  assert.equal(readFileSync(path.join(dir, 'out', 'samples.jsonl'), 'utf8'), expected);
  assert.equal(report.events, 600);
  assert.ok(report.ended);
});

test('a checkpoint made with another sample config is refused, naming both', async () => {
  const dir = tempDir('mmctr-stream-run-');
  const file = writeJsonLines(path.join(dir, 'events.jsonl'), log(50));
  await run(dir, file);
  await assert.rejects(run(dir, file, { config: { historyLength: 9 } }), (e: Error) => e instanceof StreamRunError && /"historyLength":4.*"historyLength":9/.test(e.message));
});

test('a paced source hands out events at its rate of wall time, and [] between them; the events and their order are the file\'s', async () => {
  const dir = tempDir('mmctr-stream-paced-');
  const file = path.join(dir, 'events.jsonl');
  writeJsonLines(file, log(12));
  let clock = 0;
  const paced = pacedSource(jsonLinesSource(file), 5, () => clock);
  assert.deepEqual(await paced.next(100), [], 'nothing is due at the start');
  clock = 1000;
  const first = await paced.next(100);
  assert.equal(first!.length, 5, 'one second at 5 events/s');
  assert.deepEqual(await paced.next(100), [], 'nothing more until the clock moves');
  clock = 1500;
  assert.equal((await paced.next(1))!.length, 1, 'at most the batch asked for');
  clock = 10_000;
  const rest = await paced.next(100);
  assert.deepEqual([...first!, ...rest!].map((e) => e.at).slice(5), rest!.map((e) => e.at));
  assert.equal(5 + 1 + rest!.length, 12);
  assert.equal(await paced.next(100), null, 'the end of the file still ends the stream');
  await paced.close();
  assert.throws(() => pacedSource(paced, 0), /rate above 0/);
});
