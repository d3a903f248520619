import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng, tempDir } from '../data/helpers.js';
import { arrivalOrder, built, LogEvent, logSpec, streamed } from './helpers.js';

const ev = (user: string, item: string, ts: number, type: string, rid: string | null = null, clicked: number | null = null): LogEvent => ({ user, item, ts, type, rid, clicked });

/** A random log with many ties, repeated clicks, request ids, own labels and several event types. */
function randomLog(seed: number, n: number, ownLabels: boolean): LogEvent[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const out: LogEvent[] = [];
  let t = 100;
  for (let i = 0; i < n; i++) {
    t += pick([0, 0, 1, 2, 3, 7]);
    const type = pick(['impression', 'impression', 'impression', 'click', 'click', 'purchase', 'cart']);
    const clicked = type === 'impression' && ownLabels && r() < 0.7 ? (r() < 0.4 ? 1 : 0) : null;
    out.push(ev(pick(['u1', 'u2', 'u3']), pick(['a', 'b', 'c', 'd']), t, type, r() < 0.3 ? null : pick(['r1', 'r2']), clicked));
  }
  return out;
}

test('property: streaming a log in file order gives exactly the samples data build gives (labels, histories; random logs, both tie rules, own labels or not, history types)', async () => {
  let clicked = 0, withHistory = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const ties = seed % 2 ? 'exclude' : 'file-order';
    const own = seed % 3 !== 0;
    const spec = logSpec(seed % 4 === 0 ? { history: ['click', 'purchase'] } : seed % 4 === 1 ? { label: { eventType: 'purchase' }, columns: { user_id: 'user', item_id: 'item', ts: 'ts', type: 'type', request_id: 'rid' } } : {});
    const config = { historyLength: 3, ties, clickWindowSeconds: 6 };
    const events = randomLog(seed, 160, own);
    const dir = tempDir('mmctr-stream-');
    const batch = await built(dir, spec, config, events);
    const { keys, report } = await streamed(dir, spec, config, events);
    assert.ok(batch.length > 20, `seed ${seed}: a log with samples`);
    assert.deepEqual(keys, batch, `seed ${seed} (ties ${ties}, own labels ${own})`);
    clicked += batch.filter((k) => / y=1 /.test(k)).length;
    withHistory += batch.filter((k) => /\[\w/.test(k)).length;
    assert.equal(report.late, 0);
    assert.deepEqual(report.pending, { queued: 0, open: 0 });
  }  // The logs exercise what the rules are about.
  assert.ok(clicked > 100 && withHistory > 500, `${clicked} clicked samples, ${withHistory} with a history`);
});

test('events out of order within the lateness give the same samples; later ones are counted as late, with where they came from', async () => {
  const events = randomLog(7, 200, false);
  const config = { historyLength: 4, ties: 'exclude', clickWindowSeconds: 10 };
  const dir = tempDir('mmctr-stream-');
  const batch = await built(dir, logSpec(), config, events);
  const arrival = arrivalOrder(events, 20, 3);
  assert.notDeepEqual(arrival, events, 'the arrival order differs');
  const within = await streamed(dir, logSpec(), config, events, { latenessSeconds: 20, arrival }, 'within');
  assert.equal(within.report.late, 0);
  assert.deepEqual(within.keys, batch);
  // With too small a lateness some arrive late: counted, reported with their line, and the rest is exactly the batch of the log without them.
  const tight = await streamed(dir, logSpec(), config, events, { latenessSeconds: 5, arrival }, 'tight');
  assert.ok(tight.report.late > 0);
  assert.equal(tight.report.problems.counts['ts: is late: older than the stream\'s watermark N (the newest time seen minus latenessSeconds 5); not applied'], tight.report.late);
  const lateLines = new Set(tight.report.problems.examples.map((p) => Number(/:(\d+)$/.exec(p.at)![1])));
  assert.ok(tight.report.problems.examples.every((p) => /tight\.jsonl:\d+$/.test(p.at)));
  if (tight.report.late <= 20) {
    const kept = arrival.filter((_, k) => !lateLines.has(k + 1));
    const dir2 = tempDir('mmctr-stream-');
    assert.deepEqual(tight.keys, await built(dir2, logSpec(), config, [...kept].sort((a, b) => Number(a.ts) - Number(b.ts))));
  }
});

test('delayed clicks: an impression is final at once when its click comes, or as a negative once its window closes; the order says so', async () => {
  const events = [ev('u', 'a', 10, 'impression'), ev('u', 'b', 11, 'impression'), ev('u', 'b', 15, 'click'), ev('u', 'c', 30, 'impression')];
  const dir = tempDir('mmctr-stream-');
  const config = { historyLength: 5, clickWindowSeconds: 10 };
  const { order } = await streamed(dir, logSpec(), config, events);
  // b's click makes it final at 15; a closes at 30 (more than 10 s after 10); c at the end of the log.
  assert.deepEqual(order, ['u b @11 y=1 []', 'u a @10 y=0 []', 'u c @30 y=0 [b]']);
  assert.deepEqual([...order].sort(), await built(dir, logSpec(), config, events));
});

test('request ids, the latest earlier impression, and ties between a click and an impression at the same time', async () => {
  const events = [
    ev('u', 'a', 10, 'impression', 'r1'),
    ev('u', 'a', 12, 'impression', 'r2'),
    ev('u', 'a', 13, 'click', 'r1'), // r1's impression, not the later r2 one
    ev('u', 'a', 20, 'impression', null),
    ev('u', 'a', 20, 'click', null), // after the impression in the file: matches it
    ev('u', 'b', 30, 'click'),
    ev('u', 'b', 30, 'impression'), // after the click in the file: not matched
    ev('u', 'c', 31, 'impression'),
  ];
  const dir = tempDir('mmctr-stream-');
  for (const ties of ['exclude', 'file-order']) {
    const config = { historyLength: 5, ties, clickWindowSeconds: 60 };
    const { keys } = await streamed(dir, logSpec(), config, events, {}, `ties-${ties}`);
    assert.deepEqual(keys, await built(dir, logSpec(), config, events));
    assert.ok(keys.includes('u a @10 y=1 []') && keys.includes('u a @12 y=0 []') && keys.includes('u a @20 y=1 [a]'), keys.join('\n'));
    assert.ok(keys.includes(ties === 'exclude' ? 'u b @30 y=0 [a a]' : 'u b @30 y=0 [a a b]'), keys.join('\n'));
  }
});

test('own-clicked impressions feed histories only when no click matched them: a later sample waits until that is known', async () => {
  const spec = logSpec({ label: { column: 'clicked', values: ['1'] }, columns: { user_id: 'user', item_id: 'item', ts: 'ts', type: 'type', request_id: 'rid' } });
  const events = [ev('u', 'a', 10, 'impression', null, 1), ev('u', 'b', 12, 'impression', null, 1), ev('u', 'b', 14, 'click'), ev('u', 'c', 15, 'impression', null, 0), ev('u', 'd', 40, 'impression', null, 0)];
  const dir = tempDir('mmctr-stream-');
  const config = { historyLength: 5, clickWindowSeconds: 20 };
  const { order } = await streamed(dir, spec, config, events);
  // c (at 15) needs to know whether a (at 10) is a behaviour: only when a's window closes (at 40).
  assert.deepEqual(order, ['u a @10 y=1 []', 'u b @12 y=1 [a]', 'u c @15 y=0 [a b]', 'u d @40 y=0 [a b]']);
  assert.deepEqual([...order].sort(), await built(dir, spec, config, events));
});

test('bad events are counted and reported with their line and field, and never stop the stream', async () => {
  const dir = tempDir('mmctr-stream-');
  const now = 1_800_000_000;
  const events: LogEvent[] = [
    ev('u', 'a', 10, 'impression'),
    ev('u', 'a', 11, 'view'),
    { user: 'u', ts: 12, type: 'click', rid: null, clicked: null },
    ev('u', 'a', 'soon' as unknown as number, 'click'),
    ev('u', 'a', now + 10 * 86_400, 'click'),
    ev('u', 'a', 4_200_000_000, 'click'),
    ev('u', 'b', 13, 'impression', null, 'maybe' as unknown as number),
    ev('u', 'b', 14, 'impression'),
  ];
  const { keys, report } = await streamed(dir, logSpec(), {}, events, { now: () => now });
  assert.deepEqual(keys, ['u a @10 y=0 []', 'u b @14 y=0 []']);
  assert.equal(report.bad, 6);
  assert.equal(report.events, 8);
  const where = report.problems.examples.map((p) => `${p.at.replace(/.*\//, '')} ${p.field}`);
  assert.deepEqual(where, ['stream.jsonl:2 type', 'stream.jsonl:3 item', 'stream.jsonl:4 ts', 'stream.jsonl:5 ts', 'stream.jsonl:6 ts', 'stream.jsonl:7 clicked']);
  assert.match(report.problems.examples[3].message, /in the future/);
  assert.match(report.problems.examples[4].message, /plausible range/);
});
