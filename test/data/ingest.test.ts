import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Duck } from '../../src/data/duck.js';
import { DataError } from '../../src/data/errors.js';
import { ingest, IngestReport, Problem, summarize } from '../../src/data/ingest.js';
import { parseDatasetSpec } from '../../src/data/spec.js';
import { buildStore, ingestOnly, ingestSpec, readSamples, tempDir, write } from './helpers.js';

const spec = (events: string, extra: Record<string, unknown> = {}, items?: string) => ({
  name: 't',
  ...(items ? { items: { path: items, columns: { item_id: 'item_id', title: 'title', category: 'category' } } } : {}),
  events: { path: events, columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', clicked: 'clicked' }, ...extra },
});

const problemsOf = (r: IngestReport, table: 'items' | 'events' = 'events'): Problem[] => r.tables[table]!.examples;
const where = (p: Problem) => `${path.basename(p.file)}:${p.line}${p.field ? ` ${p.field}` : ''}`;

test('malformed rows: too many or too few columns are counted and located by line, even after blank lines and quoted newlines', async () => {
  const dir = tempDir();
  write(
    dir,
    'events.csv',
    [
      'user_id,item_id,ts,clicked', // 1
      'u1,a,1,1', // 2
      'u1,b,2', // 3: too few
      'u1,c,3,0,extra', // 4: too many
      '', // 5: blank (skipped, not a row)
      'u2,"multi', // 6: a quoted field over two lines
      'line item",4,0', // 7
      'u2,d,5', // 8: too few
      'u2,e,abc,1', // 9: bad ts
      '',
    ].join('\n'),
  );
  const r = await ingestOnly(dir, spec('events.csv'));
  const t = r.tables.events;
  assert.deepEqual([t.rows, t.rowsUsed, t.rowsDropped], [6, 1, 5], 'three malformed rows, one id with a newline in it and one with a bad ts dropped');
  assert.equal(t.problemCounts['(row): malformed'], 3);
  const lines = problemsOf(r).map((p) => `${p.line}:${p.message.startsWith('malformed') ? p.message.split(':')[0] : p.field}`);
  assert.deepEqual(lines, ['3:malformed row (missing columns)', '4:malformed row (too many columns)', '6:item_id', '8:malformed row (missing columns)', '9:ts']);
  const bad = problemsOf(r).find((p) => p.line === 9)!;
  assert.equal(where(bad), 'events.csv:9 ts');
  assert.equal(bad.value, 'abc');
});

test('line numbers with CRLF line ends and whitespace-only lines', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', 'user_id,item_id,ts,clicked\r\nu1,a,1,1\r\n\r\n   \r\nu1,b,x,1\r\nu1,c,3,1\r\n');
  const r = await ingestOnly(dir, spec('events.csv'));
  assert.deepEqual(problemsOf(r).map((p) => `${p.line} ${p.field}`), ['4 item_id', '5 ts'], 'a whitespace-only line is a row missing columns');
  assert.deepEqual([r.tables.events!.rows, r.tables.events!.rowsUsed], [4, 2]);
});

test('wrong column types: the problem names file:line, the field and the value; optional fields are warnings, not drops', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', 'user_id,item_id,ts,clicked,position\nu1,a,abc,1,1\nu1,b,nan,1,2\nu1,c,7,maybe,3\nu1,d,8,0,first\n,e,9,0,4\nu2,f,2017-05-06 00:00:01,1,5\n');
  const r = await ingestOnly(dir, spec('events.csv', { columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', clicked: 'clicked', position: 'position' } }));
  const t = r.tables.events;
  assert.deepEqual([t.rows, t.rowsUsed, t.rowsDropped], [6, 2, 4]);
  const msgs = problemsOf(r).map((p) => `${where(p)} '${p.value ?? ''}' ${p.severity}`);
  assert.deepEqual(msgs, [
    "events.csv:2 ts 'abc' error",
    "events.csv:3 ts 'nan' error",
    "events.csv:4 clicked 'maybe' error",
    "events.csv:5 position 'first' warning",
    "events.csv:6 user_id '' error",
  ]);
  assert.match(problemsOf(r)[0].message, /is not a number \(epoch seconds\) or a timestamp/);
  assert.equal(t.problemCounts['ts: is not a number (epoch seconds) or a timestamp'], 2);
});

test('unknown event types are dropped and reported; typeValues maps the file\'s own values', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', 'user_id,item_id,ts,kind\nu1,a,1,pv\nu1,a,2,clk\nu1,b,3,view\nu1,b,4,Impression\n');
  const r = await ingestOnly(dir, {
    name: 't',
    events: { path: 'events.csv', columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', type: 'kind' }, typeValues: { pv: 'impression', clk: 'click' } },
  });
  assert.equal(r.tables.events!.rowsUsed, 3);
  const [p] = problemsOf(r);
  assert.equal(where(p), 'events.csv:4 kind');
  assert.equal(p.value, 'view');
  assert.match(p.message, /is not an event type: expected impression, click, cart, purchase/);
});

test('empty file, missing file, a folder, a file with only a header', async () => {
  const dir = tempDir();
  write(dir, 'empty.csv', '');
  await assert.rejects(ingestOnly(dir, spec('empty.csv')), (e: Error) => e instanceof DataError && e.message === `${path.join(dir, 'empty.csv')}: is empty: expected a header line and data rows`);
  await assert.rejects(ingestOnly(dir, spec('nope.csv')), (e: Error) => e instanceof DataError && e.message === `${path.join(dir, 'nope.csv')}: does not exist`);
  await assert.rejects(ingestOnly(dir, spec('.')), (e: Error) => e instanceof DataError && /is a folder/.test(e.message));
  write(dir, 'header.csv', 'user_id,item_id,ts,clicked\n');
  const r = await ingestOnly(dir, spec('header.csv'));
  assert.equal(r.tables.events!.rowsUsed, 0);
  assert.ok(r.notes.some((n) => /no usable event rows/.test(n)));
  await assert.rejects(buildStore(dir, spec('header.csv'), {}), /has no impressions/);
});

test('a missing column: the message lists the columns the file has (and suggests the delimiter when the header did not split)', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', 'user,item_id,ts,clicked\nu1,a,1,1\n');
  await assert.rejects(
    ingestOnly(dir, spec('events.csv')),
    (e: Error) => e instanceof DataError && e.message === `${path.join(dir, 'events.csv')} field 'user_id': column not found; the file has columns: user, item_id, ts, clicked`,
  );
  write(dir, 'tabs.csv', 'user_id\titem_id\tts\tclicked\nu1\ta\t1\t1\n');
  await assert.rejects(ingestOnly(dir, spec('tabs.csv')), (e: Error) => /the header splits on "\\t": set "format" or "delimiter"/.test(e.message));
});

test('items: duplicate ids keep the first row; empty ids are dropped; event items missing from the catalogue are counted in a note and kept', async () => {
  const dir = tempDir();
  write(dir, 'items.csv', 'item_id,title,category\na,Alpha,x\nb,Beta,y\na,Again,z\n,Nothing,x\nc,"Gamma, the third",y\n');
  write(dir, 'events.csv', 'user_id,item_id,ts,clicked\nu1,a,1,1\nu1,q,2,0\nu1,r,3,1\nu1,q,4,1\nu2,c,5,0\n');
  const { store, report, meta } = await buildStore(dir, spec('events.csv', {}, 'items.csv'), {});
  const items = report.tables.items!;
  assert.deepEqual([items.rows, items.rowsUsed, items.rowsDropped], [5, 3, 2]);
  assert.deepEqual(items.examples.map((p) => `${where(p)} '${p.value ?? ''}': ${p.message}`), [
    "items.csv:4 item_id 'a': repeats an earlier item id (the first row is kept)",
    "items.csv:5 item_id '': is empty: every item needs an id",
  ]);
  assert.deepEqual(report.notes, ['2 item ids in the events are not in the item catalogue (q, r): kept as id-only items (no title, image or category)']);
  assert.equal(meta.items, 5);
  const { catalog, rows } = readSamples(store);
  assert.deepEqual(catalog.ids, ['a', 'b', 'c', 'q', 'r'], 'catalogue order: the file, then unknown ids by first use');
  assert.deepEqual(catalog.titles, ['Alpha', 'Beta', 'Gamma, the third', null, null]);
  assert.deepEqual(catalog.fields.category.vocab, ['x', 'y']);
  assert.deepEqual([...catalog.fields.category.index], [0, 1, 2, 2, 0, 0]);
  assert.equal(rows.length, 5, 'events on unknown items are kept');
});

test('the same data as csv, tsv, jsonl and parquet gives the same samples', async () => {
  const dir = tempDir();
  const rows = [
    ['u1', 'a', '10', '1', 'Alpha'],
    ['u2', 'b', '11', '0', 'Beta'],
    ['u1', 'c', '12', '1', 'Gamma'],
    ['u2', 'a', '12', '1', 'Alpha'],
    ['u1', 'b', '13', '0', 'Beta'],
  ];
  write(dir, 'events.csv', ['user_id,item_id,ts,clicked', ...rows.map((r) => r.slice(0, 4).join(','))].join('\n') + '\n');
  write(dir, 'events.tsv', ['user_id\titem_id\tts\tclicked', ...rows.map((r) => r.slice(0, 4).join('\t'))].join('\n') + '\n');
  write(dir, 'events.jsonl', rows.map((r) => JSON.stringify({ user_id: r[0], item_id: r[1], ts: Number(r[2]), clicked: r[3] === '1' })).join('\n') + '\n');
  // Mixed JSON types in one column (numbers and strings) must not keep their JSON quotes.
  write(dir, 'mixed.jsonl', rows.map((r, i) => JSON.stringify({ user_id: i % 2 ? r[0] : r[0], item_id: r[1], ts: i % 2 ? Number(r[2]) : r[2], clicked: i % 2 ? Number(r[3]) : r[3] })).join('\n') + '\n');
  const duck = await Duck.open();
  await duck.run(`COPY (SELECT * FROM read_csv('${path.join(dir, 'events.csv')}', all_varchar=false)) TO '${path.join(dir, 'events.parquet')}' (FORMAT parquet)`);
  duck.close();
  const results: string[] = [];
  for (const file of ['events.csv', 'events.tsv', 'events.jsonl', 'mixed.jsonl', 'events.parquet']) {
    const { store, report } = await buildStore(dir, spec(file), { ties: 'file-order', split: { kind: 'fraction', train: 0.6, valid: 0.2 } }, `store-${file}`);
    assert.equal(report.tables.events!.rowsUsed, 5, file);
    assert.equal(report.tables.events!.format, file.split('.')[1], file);
    results.push(JSON.stringify(readSamples(store).rows));
  }
  for (let i = 1; i < results.length; i++) assert.equal(results[i], results[0]);
  assert.match(results[0], /"hist":\["a"\]/, 'the samples are not trivially empty');
});

test('jsonl and parquet problems carry line / row numbers too', async () => {
  const dir = tempDir();
  write(dir, 'events.jsonl', '{"user_id":"u1","item_id":"a","ts":1,"clicked":1}\n\n{"user_id":"u1","item_id":"b","ts":"soon","clicked":0}\n');
  const r = await ingestOnly(dir, spec('events.jsonl'));
  assert.deepEqual(problemsOf(r).map((p) => `${where(p)} ${p.value}`), ['events.jsonl:3 ts soon']);
  const duck = await Duck.open();
  await duck.run(`COPY (SELECT * FROM (VALUES ('u1', 'a', '1', 1), ('u1', 'b', 'x', 0), (NULL, 'c', '3', 1)) t(user_id, item_id, ts, clicked)) TO '${path.join(dir, 'e.parquet')}' (FORMAT parquet)`);
  duck.close();
  const p = await ingestOnly(dir, spec('e.parquet'));
  assert.deepEqual(problemsOf(p).map((x) => where(x)), ['e.parquet:2 ts', 'e.parquet:3 user_id']);
});

test('timestamps: epoch numbers, ISO text (UTC unless an offset is given)', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', 'user_id,item_id,ts,clicked\nu,a,1494028800,0\nu,b,2017-05-06 00:00:01,0\nu,c,2017-05-06T00:00:02Z,0\nu,d,2017-05-06T02:00:03+02:00,0\nu,e,1494028804.5,0\n');
  const { duck } = await ingestSpec(dir, spec('events.csv'));
  try {
    const ts = (await duck.all('SELECT ts FROM events ORDER BY seq')).map((r) => Number(r.ts));
    assert.deepEqual(ts, [1494028800, 1494028801, 1494028802, 1494028803, 1494028804.5]);
  } finally {
    duck.close();
  }
});

test('summary: users, items, impressions, clicks (own labels and matched click events), CTR, time range', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', 'user_id,item_id,type,ts,clicked\nu1,a,impression,10,\nu1,a,click,20,\nu2,b,impression,30,1\nu2,c,impression,40,0\nu2,c,cart,50,\n');
  const { duck, report } = await ingestSpec(dir, {
    name: 't',
    events: { path: 'events.csv', columns: { user_id: 'user_id', item_id: 'item_id', type: 'type', ts: 'ts', clicked: 'clicked' } },
  });
  try {
    assert.deepEqual(report.notes, ['no item catalogue given: items are known by id only (no titles, images or categories)', '1 impression has no click label of its own: labelled by matching click events']);
    const s = await summarize(duck, 1800);
    assert.deepEqual(s, { users: 2, items: 3, events: { cart: 1, click: 1, impression: 3 }, impressions: 3, clicks: 2, ctr: 2 / 3, tsMin: 10, tsMax: 50 });
  } finally {
    duck.close();
  }
});

test('spec paths resolve against the spec\'s folder', async () => {
  const s = parseDatasetSpec(spec('data/events.csv', {}, 'items.csv'), '/x/dataset.json', '/x');
  assert.equal(s.events!.path, '/x/data/events.csv');
  assert.equal(s.items!.imageRoot, '/x');
  const dir = tempDir();
  write(dir, 'events.csv', 'user_id,item_id,ts,clicked\nu,a,1,1\n');
  const duck = await Duck.open();
  try {
    const r = await ingest(duck, parseDatasetSpec(spec('events.csv'), 'inline', dir));
    assert.equal(r.tables.events!.rowsUsed, 1);
  } finally {
    duck.close();
  }
});

test('searches: lists from separator-joined text (csv) or JSON arrays (jsonl); unusable searches located', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', 'user_id,item_id,ts,clicked\nu1,a,1,1\n');
  write(dir, 'searches.csv', 'uid,ts,q,shown,clicked,bought\nu1,1,red shoes,a|b|c,b,b\nu1,2,,a|b,,\nu2,3,blue,,,\nu2,x,green,a|b,a,z\n');
  write(dir, 'searches.jsonl', '{"uid":"u1","ts":1,"q":"red shoes","shown":["a","b","c"],"clicked":["b"],"bought":"b"}\n{"uid":"u1","ts":2,"q":"x","shown":[],"clicked":[],"bought":null}\n');
  for (const file of ['searches.csv', 'searches.jsonl']) {
    const { duck, report } = await ingestSpec(dir, {
      ...spec('events.csv'),
      searches: { path: file, columns: { user_id: 'uid', ts: 'ts', query_text: 'q', shown: 'shown', clicked: 'clicked', bought: 'bought' } },
    });
    try {
      const rows = await duck.all('SELECT user_id, ts, query_text, shown, clicked, bought FROM searches');
      assert.deepEqual(rows, [{ user_id: 'u1', ts: 1, query_text: 'red shoes', shown: ['a', 'b', 'c'], clicked: ['b'], bought: 'b' }], file);
      const problems = report.tables.searches!.examples.map((p) => `${where(p)}: ${p.message}`);
      if (file === 'searches.csv')
        assert.deepEqual(problems, [
          'searches.csv:3 q: has neither a query text nor a query image',
          'searches.csv:4 shown: lists no shown items',
          'searches.csv:5 ts: is not a number (epoch seconds) or a timestamp',
          'searches.csv:5 bought: names an item that is not among the shown ones (kept)',
        ]);
      else assert.deepEqual(problems, ['searches.jsonl:2 shown: lists no shown items']);
    } finally {
      duck.close();
    }
  }
});

test('timestamps: epoch milliseconds are detected from their magnitude (and said so), a configured unit is used as given', async () => {
  const dir = tempDir();
  write(dir, 'ms.csv', 'user_id,item_id,ts,clicked\nu,a,1700000000000,0\nu,b,1700000001500,1\n');
  const { duck, report } = await ingestSpec(dir, spec('ms.csv'));
  try {
    assert.deepEqual((await duck.all('SELECT ts FROM events ORDER BY seq')).map((r) => Number(r.ts)), [1700000000, 1700000001.5]);
    assert.deepEqual(report.tables.events!.time, { field: 'ts', unit: 'ms', detected: true });
    assert.equal(report.tables.events!.rowsDropped, 0);
  } finally {
    duck.close();
  }
  write(dir, 'us.csv', 'user_id,item_id,ts,clicked\nu,a,1700000000000000,0\n');
  const us = await ingestSpec(dir, spec('us.csv'));
  assert.equal(Number((await us.duck.all('SELECT ts FROM events'))[0].ts), 1700000000);
  us.duck.close();
  const told = await ingestSpec(dir, spec('ms.csv', { timeUnit: 's' }));
  assert.deepEqual(told.report.tables.events!.time, { field: 'ts', unit: 's', detected: false });
  assert.equal(told.report.tables.events!.rowsUsed, 0, 'read as seconds, as the spec says, they are out of range');
  told.duck.close();
});

test('timestamps outside 1970..2100 (negative, year 3000) are reported like other bad rows, with file:line:field', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', 'user_id,item_id,ts,clicked\nu,a,1700000000,0\nu,b,-5,0\nu,c,3000-01-01T00:00:00Z,1\nu,d,32503680000,0\nu,e,1700000100,1\n');
  const r = await ingestOnly(dir, spec('events.csv'));
  assert.equal(r.tables.events!.rowsDropped, 3);
  assert.deepEqual(problemsOf(r).map((p) => `${where(p)} ${p.value}`), ['events.csv:3 ts -5', 'events.csv:4 ts 3000-01-01T00:00:00Z', 'events.csv:5 ts 32503680000']);
  assert.match(problemsOf(r)[0].message, /outside the plausible range 1970-01-01 \.\. 2100-01-01/);
});

test('ids with control characters (a NUL, a tab) are refused with file:line:field, not taken as new ids', async () => {
  const dir = tempDir();
  write(dir, 'events.csv', 'user_id,item_id,ts,clicked\nu1,a,10,0\nu\u00001,b,11,1\nu1,c\td,12,0\n');
  const r = await ingestOnly(dir, { ...spec('events.csv'), events: { ...spec('events.csv').events, delimiter: ',' } });
  assert.deepEqual(problemsOf(r).map((p) => where(p)), ['events.csv:3 user_id', 'events.csv:4 item_id']);
  assert.match(problemsOf(r)[0].message, /holds control characters/);
  assert.equal(problemsOf(r)[0].value, '"u\\u00001"');
  assert.equal(r.tables.events!.rowsUsed, 1);
});

test("the CSV reader's own errors name the file, the line and the field (a 10 MB field on line 6)", async () => {
  const dir = tempDir();
  write(dir, 'events.csv', `user_id,item_id,ts,clicked\nu1,a,1,1\nu2,b,2,0\n\nu3,c,3,1\nu4,${'x'.repeat(10 << 20)},4,0\nu5,e,5,1\n`);
  const err = await ingestOnly(dir, spec('events.csv')).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof DataError, String(err));
  assert.equal(err.location.line, 6);
  assert.equal(err.location.field, 'item_id');
  assert.match(err.message, /events\.csv:6 field 'item_id': cannot be read as csv: the line is 10485767 bytes, more than the CSV reader's limit/);
});

test('jsonl: a BOM is accepted; one bad line is one malformed row on the right line, and the rest are checked like CSV rows', async () => {
  const dir = tempDir();
  const row = (u: string, i: string, ts: unknown) => JSON.stringify({ user_id: u, item_id: i, ts, clicked: 1 });
  write(dir, 'bom.jsonl', `\uFEFF${row('u1', 'a', 10)}\n${row('u2', 'b', 11)}\n`);
  const bom = await ingestOnly(dir, spec('bom.jsonl'));
  assert.equal(bom.tables.events!.rowsUsed, 2);
  write(dir, 'bad.jsonl', [row('u1', 'a', 10), '', row('u2', 'b', 11), '{"user_id": "u3", item_id: "c"}', 'null', '[1, 2]', row('u4', 'd', 'soon'), row('u5', 'e', 13)].join('\n') + '\n');
  const r = await ingestOnly(dir, spec('bad.jsonl'));
  const t = r.tables.events;
  assert.deepEqual([t.rows, t.rowsUsed, t.rowsDropped], [7, 3, 4]);
  assert.deepEqual(problemsOf(r).map((p) => `${where(p)} ${p.message.split(' (')[0]}`), ['bad.jsonl:4 malformed row', 'bad.jsonl:5 malformed row', 'bad.jsonl:6 malformed row', 'bad.jsonl:7 ts is not a number']);
  assert.match(problemsOf(r)[0].message, /not valid JSON/);
  assert.match(problemsOf(r)[1].message, /a JSON null, not an object/);
});
