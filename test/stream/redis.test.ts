import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { SampleConfig } from '../../src/data/sample-config.js';
import { parseDatasetSpec } from '../../src/data/spec.js';
import { runStream } from '../../src/stream/run.js';
import { readSamplesFile, SamplesFile } from '../../src/stream/samples-file.js';
import { redisSource } from '../../src/stream/sources.js';
import { hasRedis, NO_REDIS, redisForFile } from '../serve/fixture.js';
import { prng, tempDir } from '../data/helpers.js';
import { built, LogEvent, logSpec, sampleKey } from './helpers.js';

const skip = hasRedis ? false : NO_REDIS;
const redis = redisForFile();

function log(n: number): LogEvent[] {
  const r = prng(9);
  const out: LogEvent[] = [];
  for (let i = 0, t = 5000; i < n; i++, t += Math.floor(r() * 5))
    out.push({ user: `u${Math.floor(r() * 4)}`, item: `i${Math.floor(r() * 5)}`, ts: t, type: r() < 0.6 ? 'impression' : 'click', rid: r() < 0.5 ? null : `r${Math.floor(r() * 2)}`, clicked: null });
  // One event far later closes every window of the others (a click of its own user: no sample).
  out.push({ user: 'closer', item: 'x', ts: out[out.length - 1].ts as number + 1000, type: 'click', rid: null, clicked: null });
  return out;
}

class Crash extends Error {}

test('redis stream: a consumer group reader gives the samples data build gives; entries are acknowledged only at checkpoints, and a crashed reader resumes with no sample twice or lost', { skip }, async () => {
  const dir = tempDir('mmctr-stream-redis-');
  const events = log(400);
  const config = { historyLength: 4, clickWindowSeconds: 15 };
  const expected = await built(dir, logSpec(), config, events);
  const stream = 't1:events';
  // Half the entries as one JSON field, half as flat fields (all text).
  for (const [k, e] of events.entries()) {
    if (k % 2) await redis.client.xadd(stream, '*', 'event', JSON.stringify(e));
    else await redis.client.xadd(stream, '*', ...Object.entries(e).flatMap(([f, v]) => (v === null ? [] : [f, String(v)])));
  }
  const spec = parseDatasetSpec(logSpec(), path.join(dir, 'dataset.json'), dir);
  const out = path.join(dir, 'out');
  const pendingSeen: number[] = [];
  const go = async (stopAt: number, crashAt?: number) => {
    const sink = new SamplesFile(path.join(out, 'samples.jsonl'));
    const abort = new AbortController();
    let batches = 0;
    try {
      return await runStream({
        events: spec.events!,
        samples: SampleConfig.parse(config),
        latenessSeconds: 5,
        maxFutureSeconds: 86_400,
        checkpointSeconds: 0,
        batch: 30,
        source: (resume) => redisSource({ client: redis.client, stream, group: 'trainers', consumer: 'c1', blockMs: 20 }, resume),
        sink,
        dir: out,
        signal: abort.signal,
        onProgress: (r) => {
          batches++;
          if (batches === crashAt) throw new Crash();
          if (r.events >= stopAt) abort.abort();
        },
      });
    } finally {
      sink.close();
      const pending = (await redis.client.xpending(stream, 'trainers')) as [number, ...unknown[]];
      pendingSeen.push(pending[0]);
    }
  };
  await assert.rejects(go(Infinity, 4), Crash);
  // The crashed run's last batch was read and never acknowledged.
  assert.equal(pendingSeen[0], 30);
  await assert.rejects(go(Infinity, 3), Crash);
  const report = await go(events.length);
  assert.equal(pendingSeen[2], 0, 'everything acknowledged after the final checkpoint');
  assert.equal(report.events, events.length);
  assert.equal(report.bad, 0);
  const samples = readSamplesFile(path.join(out, 'samples.jsonl'));
  assert.equal(new Set(samples.map((s) => s.seq)).size, samples.length, 'no sample twice');
  assert.deepEqual(samples.map(sampleKey).sort(), expected);
});
