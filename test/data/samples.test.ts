import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Duck } from '../../src/data/duck.js';
import { DataError } from '../../src/data/errors.js';
import { ingest } from '../../src/data/ingest.js';
import { SampleConfig } from '../../src/data/sample-config.js';
import { buildSamples } from '../../src/data/samples.js';
import { SampleStore } from '../../src/data/store.js';
import { parseDatasetSpec } from '../../src/data/spec.js';
import { buildStore, csv, ingestOnly, prng, readSamples, tempDir, write } from './helpers.js';

const EVENTS_SPEC = {
  name: 'synthetic',
  events: { path: 'events.csv', columns: { user_id: 'user_id', item_id: 'item_id', type: 'type', ts: 'ts', clicked: 'clicked', request_id: 'request_id' } },
};
const HEADER = ['user_id', 'item_id', 'type', 'ts', 'clicked', 'request_id'];

interface Ev {
  idx: number;
  user: string;
  item: string;
  type: 'impression' | 'click';
  ts: number;
  clicked: '' | '0' | '1';
  req: string;
}

function eventsCsv(events: Ev[]): string {
  return csv([HEADER, ...events.map((e) => [e.user, e.item, e.type, e.ts, e.clicked, e.req])]);
}

/** Plain events for hand-written cases: [user, item, type, ts, clicked?, request?]. */
function evs(rows: [string, string, 'impression' | 'click', number, ('' | '0' | '1')?, string?][]): Ev[] {
  return rows.map(([user, item, type, ts, clicked = '', req = ''], idx) => ({ idx, user, item, type, ts, clicked, req }));
}

/** A random log with many equal timestamps, clicks near (and not near) impressions, labels or not. */
function randomLog(seed: number, n: number): Ev[] {
  const rnd = prng(seed);
  const pick = (k: number) => Math.floor(rnd() * k);
  const out: Ev[] = [];
  for (let i = 0; i < n; i++) {
    const imps = out.filter((e) => e.type === 'impression');
    if (rnd() < 0.3 && imps.length) {
      // A click: often on something the user was shown, sometimes late, sometimes anything.
      const near = rnd() < 0.7;
      const base = imps[pick(imps.length)];
      out.push({
        idx: i,
        user: near ? base.user : `u${pick(5)}`,
        item: near ? base.item : `i${pick(12)}`,
        type: 'click',
        ts: near ? base.ts + pick(14) * 100 : pick(40) * 100,
        clicked: '',
        req: near && rnd() < 0.3 ? (rnd() < 0.7 ? base.req : 'other') : '',
      });
    } else {
      const r = rnd();
      out.push({ idx: i, user: `u${pick(5)}`, item: `i${pick(12)}`, type: 'impression', ts: pick(40) * 100, clicked: r < 0.4 ? '' : r < 0.7 ? '0' : '1', req: rnd() < 0.2 ? `r${pick(3)}` : '' });
    }
  }
  // File order is not time order.
  for (let i = out.length - 1; i > 0; i--) {
    const j = pick(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out.map((e, idx) => ({ ...e, idx }));
}

const before = (a: Ev, b: Ev) => a.ts < b.ts || (a.ts === b.ts && a.idx < b.idx);

/**
 * The rules, written out naively (the oracle): labels, the user's clicks, and per impression the
 * last L clicks strictly before it (ties per policy), impressions in (time, file order).
 */
function expectedSamples(events: Ev[], config: SampleConfig): { ev: Ev; label: number; hist: string[] }[] {
  const W = config.clickWindowSeconds;
  const matched = new Set<number>();
  for (const c of events.filter((e) => e.type === 'click')) {
    let best: Ev | undefined;
    for (const e of events)
      if (e.type === 'impression' && e.user === c.user && e.item === c.item && before(e, c) && c.ts - e.ts <= W && (!e.req || !c.req || e.req === c.req))
        if (!best || before(best, e)) best = e;
    if (best) matched.add(best.idx);
  }
  const clicks = events.filter((e) => e.type === 'click' || (e.clicked === '1' && !matched.has(e.idx))).sort((a, b) => (before(a, b) ? -1 : 1));
  const imps = events.filter((e) => e.type === 'impression').sort((a, b) => (before(a, b) ? -1 : 1));
  return imps.map((ev) => {
    const past = clicks.filter((k) => k.user === ev.user && (config.ties === 'exclude' ? k.ts < ev.ts : before(k, ev)));
    const label = ev.clicked !== '' ? Number(ev.clicked) : matched.has(ev.idx) ? 1 : 0;
    return { ev, label, hist: past.slice(-config.historyLength).map((k) => k.item) };
  });
}

async function buildLog(dir: string, events: Ev[], config: unknown, name = 'store') {
  write(dir, 'events.csv', eventsCsv(events));
  const built = await buildStore(dir, EVENTS_SPEC, config, name);
  return { ...built, ...readSamples(built.store) };
}

test('property: histories hold exactly the last L earlier clicks; a future click never appears (random logs, both tie policies)', async () => {
  const dir = tempDir();
  let checkedSamples = 0;
  let nonEmpty = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const events = randomLog(seed, 160);
    for (const ties of ['exclude', 'file-order'] as const) {
      const config = SampleConfig.parse({ historyLength: 4, ties, clickWindowSeconds: 500, split: { kind: 'fraction', train: 0.6, valid: 0.2 } });
      const { rows } = await buildLog(dir, events, config, `store-${seed}-${ties}`);
      const expected = expectedSamples(events, config);
      assert.equal(rows.length, expected.length, 'one sample per impression');
      for (let i = 0; i < rows.length; i++) {
        const got = rows[i];
        const want = expected[i];
        const where = `seed ${seed}, ties ${ties}, sample ${i} (event line ${want.ev.idx + 2})`;
        assert.deepEqual([got.user, got.item, got.ts], [want.ev.user, want.ev.item, want.ev.ts], `${where}: order is (time, file order)`);
        assert.equal(got.label, want.label, `${where}: label`);
        assert.deepEqual(got.hist, want.hist, `${where}: history`);
        // The leakage property itself, independent of the oracle's bookkeeping: every history
        // entry is a click of this user strictly earlier than the impression.
        for (const h of got.hist) {
          const earlier = events.some(
            (k) => k.user === got.user && k.item === h && (k.type === 'click' || k.clicked === '1') && (ties === 'exclude' ? k.ts < want.ev.ts : before(k, want.ev)),
          );
          assert.ok(earlier, `${where}: history item ${h} has no earlier click`);
        }
        checkedSamples++;
        if (got.hist.length) nonEmpty++;
      }
    }
  }
  assert.ok(checkedSamples > 1000 && nonEmpty > checkedSamples / 3, `the property was exercised (${nonEmpty}/${checkedSamples} non-empty histories)`);
});

test('equal timestamps: exclude leaves same-time clicks out; file-order keeps those earlier in the file', async () => {
  const dir = tempDir();
  const events = evs([
    ['u', 'w', 'click', 4],
    ['u', 'A', 'impression', 5, '0'],
    ['u', 'y', 'click', 5],
    ['u', 'B', 'impression', 5, '0'],
    ['u', 'c', 'impression', 5, '1'],
    ['u', 'D', 'impression', 5, '0'],
    ['u', 'E', 'impression', 6, '0'],
  ]);
  const exclude = await buildLog(dir, events, { ties: 'exclude' }, 'ex');
  assert.deepEqual(exclude.rows.map((r) => [r.item, r.hist.join(' ')]), [['A', 'w'], ['B', 'w'], ['c', 'w'], ['D', 'w'], ['E', 'w y c']]);
  const fileOrder = await buildLog(dir, events, { ties: 'file-order' }, 'fo');
  assert.deepEqual(fileOrder.rows.map((r) => [r.item, r.hist.join(' ')]), [['A', 'w'], ['B', 'w y'], ['c', 'w y'], ['D', 'w y c'], ['E', 'w y c']]);
});

test('history is the last L clicks, most recent last, padded with 0 after', async () => {
  const dir = tempDir();
  const rows: [string, string, 'impression' | 'click', number, ('' | '0' | '1')?][] = [];
  for (let k = 1; k <= 7; k++) rows.push(['u', `i${k}`, 'impression', k * 10, '1']);
  rows.push(['u', 'target', 'impression', 100, '0'], ['v', 'target', 'impression', 100, '0']);
  const { rows: samples, store } = await buildLog(dir, evs(rows), { historyLength: 5, split: { kind: 'fraction', train: 0.5, valid: 0.1 } });
  const last = samples.find((s) => s.user === 'u' && s.item === 'target')!;
  assert.deepEqual(last.hist, ['i3', 'i4', 'i5', 'i6', 'i7']);
  assert.deepEqual(samples.find((s) => s.user === 'v')!.hist, []);
  assert.deepEqual(samples.find((s) => s.item === 'i3')!.hist, ['i1', 'i2'], 'readSamples checks the zero padding');
  assert.equal(SampleStore.open(store).meta.config.historyLength, 5);
});

test('click events label the latest earlier impression within the window and the request; one click counts once', async () => {
  const dir = tempDir();
  const events = evs([
    ['u', 'a', 'impression', 100], // 0: superseded by the impression at 200
    ['u', 'a', 'impression', 200], // 1: labelled by the click at 250
    ['u', 'b', 'impression', 210], // 2: sees no click yet
    ['u', 'a', 'click', 250],
    ['u', 'c', 'impression', 300], // 4: click at 300 + 1800 + 1: outside the window
    ['u', 'c', 'click', 2101],
    ['u', 'd', 'impression', 400, '', 'r1'], // 6: the click names another request
    ['u', 'd', 'click', 410, '', 'r2'],
    ['u', 'e', 'impression', 500, '1'], // 8: labelled and clicked: one history entry
    ['u', 'e', 'click', 505],
    ['u', 'f', 'impression', 600, '1'], // 10: labelled, no click event: its own click
    ['u', 'z', 'impression', 3000],
  ]);
  const { rows, meta } = await buildLog(dir, events, { historyLength: 10, ties: 'exclude', split: { kind: 'fraction', train: 0.9, valid: 0.05 } });
  assert.deepEqual(rows.map((r) => [r.item, r.ts, r.label]), [['a', 100, 0], ['a', 200, 1], ['b', 210, 0], ['c', 300, 0], ['d', 400, 0], ['e', 500, 1], ['f', 600, 1], ['z', 3000, 0]]);
  assert.deepEqual(rows.find((r) => r.item === 'b')!.hist, []);
  assert.deepEqual(rows.find((r) => r.item === 'z')!.hist, ['a', 'd', 'e', 'f', 'c'], 'clicks in time order, each once');
  assert.equal(meta.splits.train.clicks + meta.splits.valid.clicks + meta.splits.test.clicks, 3);
});

test('fraction split sizes: cumulative boundaries floor(n * train), floor(n * (train + valid)); time split by timestamps', async () => {
  const dir = tempDir();
  for (const [n, train, valid, sizes] of [
    [10, 0.8, 0.1, [8, 1, 1]],
    [19, 0.8, 0.1, [15, 2, 2]],
    [100, 0.29, 0.3, [29, 30, 41]],
    [7, 0.5, 0, [3, 0, 4]],
  ] as [number, number, number, number[]][]) {
    const events = evs(Array.from({ length: n }, (_, k) => ['u' + (k % 3), 'i' + (k % 4), 'impression', 1000 + Math.floor(k / 2), k % 2 ? '1' : '0'] as [string, string, 'impression', number, '0' | '1']));
    const { meta, rows } = await buildLog(dir, events, { split: { kind: 'fraction', train, valid } }, `frac-${n}`);
    assert.deepEqual([meta.splits.train.count, meta.splits.valid.count, meta.splits.test.count], sizes, `n=${n} ${train}/${valid}`);
    // The split follows (time, file order): train precedes valid precedes test.
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i].ts >= rows[i - 1].ts);
    assert.equal(meta.splits.train.clicks, rows.filter((r) => r.split === 'train' && r.label === 1).length);
  }
  const events = evs([0, 5, 9, 10, 11, 19, 20, 25].map((t, k) => ['u', `i${k}`, 'impression', t, '0']));
  const { meta, rows } = await buildLog(dir, events, { split: { kind: 'time', validStart: 10, testStart: 20 } }, 'time');
  assert.deepEqual([meta.splits.train.count, meta.splits.valid.count, meta.splits.test.count], [3, 3, 2]);
  assert.deepEqual(rows.filter((r) => r.split === 'valid').map((r) => r.ts), [10, 11, 19]);
  assert.equal(meta.trainEnd, 9);
});

test('target-item training frequency and the new-item flag', async () => {
  const dir = tempDir();
  const events = evs([
    ['u1', 'a', 'impression', 1, '0'],
    ['u2', 'a', 'impression', 2, '1'],
    ['u1', 'b', 'impression', 3, '0'],
    ['u3', 'a', 'impression', 4, '0'],
    ['u1', 'a', 'impression', 5, '0'], // valid
    ['u2', 'c', 'impression', 6, '0'], // valid: c never trained
    ['u3', 'b', 'impression', 7, '1'], // test
    ['u3', 'd', 'impression', 8, '0'], // test: new
  ]);
  const { rows } = await buildLog(dir, events, { split: { kind: 'time', validStart: 5, testStart: 7 } });
  assert.deepEqual(
    rows.map((r) => `${r.split}:${r.item}:${r.freq}:${r.isNew}`),
    ['train:a:3:0', 'train:a:3:0', 'train:b:1:0', 'train:a:3:0', 'valid:a:3:0', 'valid:c:0:1', 'test:b:1:0', 'test:d:0:1'],
  );
});

test('the store appears whole: an unrelated folder is never replaced; an earlier store is', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', eventsCsv(evs([['u', 'a', 'impression', 1, '1'], ['u', 'b', 'impression', 2, '0']])));
  const spec = parseDatasetSpec(EVENTS_SPEC, path.join(dir, 'dataset.json'), dir);
  const duck = await Duck.open();
  try {
    await ingest(duck, spec);
    const precious = path.join(dir, 'precious');
    mkdirSync(precious);
    writeFileSync(path.join(precious, 'notes.txt'), 'keep me');
    await assert.rejects(buildSamples(duck, 'x', SampleConfig.parse({}), precious), (e: Error) => e instanceof DataError && /not empty and not a sample store/.test(e.message));
    assert.ok(existsSync(path.join(precious, 'notes.txt')));
    const store = path.join(dir, 'store/'); // a trailing slash must not put the build inside it
    await buildSamples(duck, 'x', SampleConfig.parse({}), store);
    const again = await buildSamples(duck, 'x', SampleConfig.parse({ historyLength: 7 }), store);
    assert.equal(SampleStore.open(store).meta.config.historyLength, 7);
    assert.equal(again.splits.train.count + again.splits.valid.count + again.splits.test.count, 2);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('building')), [], 'no temporary folder left');
  } finally {
    duck.close();
  }
});

test('a dataset without impressions or positives cannot be built, and says which event type to name', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', csv([['user_id', 'item_id', 'type', 'ts'], ['u', 'a', 'cart', 1], ['u', 'b', 'cart', 2]]));
  const spec = { name: 'carts', events: { path: 'events.csv', columns: { user_id: 'user_id', item_id: 'item_id', type: 'type', ts: 'ts' } } };
  await assert.rejects(buildStore(dir, spec, {}), (e: Error) => e instanceof DataError && /has no impressions and no positive events/.test(e.message));
  const report = await ingestOnly(dir, spec);
  assert.ok(report.notes.some((n) => /no impression events and no click events \(the positives\), only 2 cart: .*"label": \{"eventType": "cart"\}/.test(n)), report.notes.join('\n'));
});
