import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir, write } from '../data/helpers.js';
import { mmctr } from './helpers.js';

function dataset(): { dir: string; spec: string } {
  const dir = tempDir('mmctr-cli-');
  write(dir, 'events.csv', 'user_id,item_id,ts,clicked\nu1,a,1,1\nu1,b,abc,0\nu2,a,3,0\nu2,b,4,1\nu1,c,5,0,extra\nu1,c,6,1\n');
  write(dir, 'items.csv', 'item_id,title\na,Alpha\nb,Beta\n');
  const spec = write(
    dir,
    'dataset.json',
    JSON.stringify({ name: 'tiny', items: { path: 'items.csv', columns: { item_id: 'item_id', title: 'title' } }, events: { path: 'events.csv', columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', clicked: 'clicked' } } }),
  );
  return { dir, spec };
}

test('mmctr data check: rows used and dropped, problems with file:line, notes, summary; --strict fails on drops; --json', () => {
  const { dir, spec } = dataset();
  const human = mmctr('data', 'check', spec);
  assert.equal(human.code, 0, human.err);
  const events = path.join(dir, 'events.csv');
  assert.match(human.out, new RegExp(`events +${events.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(csv\\): 6 rows read, 4 used, 2 dropped`));
  assert.ok(human.out.includes(`${events}:3 field 'ts': is not a number (epoch seconds) or a timestamp (value 'abc')`), human.out);
  assert.ok(human.out.includes(`${events}:6: malformed row (too many columns)`), human.out);
  assert.ok(human.out.includes(`numbers in 'ts' read as epoch seconds (detected from their magnitude`), 'the summary states the time unit it used');
  assert.ok(human.out.includes('1 item id in the events is not in the item catalogue (c)'), human.out);
  assert.match(human.out, /users +2\n +items +3\n/);
  assert.match(human.out, /clicks +3 \(CTR 0\.7500\)/);
  assert.match(human.out, /time +1970-01-01T00:00:01Z \.\. 1970-01-01T00:00:06Z/);
  assert.match(human.out, /result: 2 rows dropped/);

  const strict = mmctr('data', 'check', spec, '--strict');
  assert.equal(strict.code, 1);
  assert.match(strict.out, /--strict: failing/);

  const json = mmctr('data', 'check', spec, '--json');
  assert.equal(json.code, 0);
  const r = JSON.parse(json.out);
  assert.equal(r.ok, true);
  assert.equal(r.rowsDropped, 2);
  assert.deepEqual([r.tables.events.rows, r.tables.events.rowsUsed], [6, 4]);
  assert.deepEqual(r.tables.events.examples.map((p: { line: number; field?: string }) => `${p.line} ${p.field ?? ''}`), ['3 ts', '6 ']);
  assert.equal(r.summary.impressions, 4);
});

test('mmctr data: errors print as one line without a stack; bad data exits 1, a bad config or adapter name 2', () => {
  const dir = tempDir('mmctr-cli-');
  const spec = write(dir, 'dataset.json', JSON.stringify({ name: 'x', events: { path: 'missing.csv', columns: { user_id: 'u', item_id: 'i', ts: 't' } } }));
  const r = mmctr('data', 'check', spec);
  assert.equal(r.code, 1);
  assert.equal(r.err, `mmctr: ${path.join(dir, 'missing.csv')}: does not exist\n`);
  const bad = mmctr('data', 'check', write(dir, 'bad.json', '{"name": "x", "events": {"path": "e.csv"}}'));
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^mmctr: .*bad\.json: invalid configuration\n {2}- events\.columns: /);
  assert.doesNotMatch(bad.err, /at .*\.js:\d+/);
  const unknown = mmctr('data', 'prepare', 'netflix', '--out', dir);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /^mmctr: data prepare: 'netflix' is not a known adapter: expected one of movielens, taobao/);
});

test('mmctr data build: writes the store and prints split sizes and CTRs', () => {
  const { dir, spec } = dataset();
  const config = write(dir, 'samples.json', JSON.stringify({ historyLength: 3, split: { kind: 'fraction', train: 0.5, valid: 0.25 } }));
  const store = path.join(dir, 'store');
  const r = mmctr('data', 'build', spec, '--out', store, '--config', config);
  assert.equal(r.code, 0, r.err);
  assert.ok(existsSync(path.join(store, 'meta.json')));
  assert.match(r.out, /train +2 +1 +0\.5000/);
  assert.match(r.out, /valid +1 +1 +1\.0000/);
  assert.match(r.out, /test +1 +1 +1\.0000/);
  assert.match(r.err, /2 rows dropped while reading/);
  const json = JSON.parse(mmctr('data', 'build', spec, '--out', store, '--json').out);
  assert.equal(json.config.historyLength, 50);
  assert.equal(json.splits.train.count + json.splits.valid.count + json.splits.test.count, 4);
  const badConfig = mmctr('data', 'build', spec, '--out', store, '--config', write(dir, 'bad-samples.json', '{"ties": "sometimes"}'));
  assert.equal(badConfig.code, 2);
  assert.match(badConfig.err, /bad-samples\.json: invalid configuration\n {2}- ties: /);
});

test('mmctr data prepare movielens --src: writes a dataset that data build accepts', () => {
  const src = tempDir('mmctr-cli-');
  write(src, 'ml-100k.item', 'item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n1\tA\t1995\tDrama\n2\tB\t1996\tComedy Drama\n');
  write(src, 'ml-100k.inter', 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n' + Array.from({ length: 20 }, (_, i) => `${i % 3}\t${(i % 2) + 1}\t${(i % 5) + 1}\t${100 + i}`).join('\n') + '\n');
  const out = path.join(src, 'prepared');
  const r = mmctr('data', 'prepare', 'movielens', '--src', src, '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /movielens-100k written to/);
  assert.match(r.out, /impressions 20, clicks 8, users 3/);
  for (const f of ['items.csv', 'events.csv', 'dataset.json', 'sample-config.json']) assert.ok(existsSync(path.join(out, f)), f);
  assert.equal(JSON.parse(readFileSync(path.join(out, 'sample-config.json'), 'utf8')).ties, 'file-order');
  const b = mmctr('data', 'build', path.join(out, 'dataset.json'), '--config', path.join(out, 'sample-config.json'), '--out', path.join(src, 'store'), '--json');
  assert.equal(b.code, 0, b.err);
  const meta = JSON.parse(b.out);
  assert.deepEqual([meta.splits.train.count, meta.splits.valid.count, meta.splits.test.count], [16, 2, 2]);
});

test('mmctr data export-atomic then prepare atomic: a store round-trips through RecBole atomic files; atomic without --src is refused; --name is found from the one .inter', () => {
  const { dir, spec } = dataset();
  const store = path.join(dir, 'store');
  assert.equal(mmctr('data', 'build', spec, '--out', store).code, 0);
  const out = path.join(dir, 'atomic');
  const r = mmctr('data', 'export-atomic', store, '--out', out, '--name', 'tiny');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /4 impressions \(3 clicks\), 3 items, 2 users written to .*: tiny\.inter, tiny\.item, tiny\.user/);
  assert.match(r.out, /note: the users' ids are not all integers: written as their store indices/);
  assert.match(r.out, /note: the items' ids are not all integers/);
  const back = mmctr('data', 'prepare', 'atomic', '--src', out, '--name', 'tiny', '--out', path.join(dir, 'back'), '--json');
  assert.equal(back.code, 0, back.err);
  assert.deepEqual(JSON.parse(back.out).counts, { items: 3, impressions: 4, clicks: 3, users: 2, skippedItemRows: 0, skippedRatingRows: 0 });
  const missing = mmctr('data', 'prepare', 'atomic', '--out', path.join(dir, 'x'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /data prepare atomic needs --src \(the folder of the atomic files; --name gives their stem/);
  const found = mmctr('data', 'prepare', 'atomic', '--src', out, '--out', path.join(dir, 'back2'), '--json');
  assert.equal(found.code, 0, found.err);
  assert.equal(JSON.parse(found.out).name, 'tiny');
});


test('mmctr data check on a catalogue alone: image files under a missing imageRoot are counted and named with their line', () => {
  const dir = tempDir();
  write(dir, 'items.csv', 'id,name,img\n1,Red shirt,a.jpg\n2,Blue jeans,b.jpg\n3,No photo,\n');
  write(dir, 'dataset.json', JSON.stringify({ name: 'cat', items: { path: 'items.csv', columns: { item_id: 'id', title: 'name', image: 'img' }, imageRoot: '/nonexistent' } }));
  const r = mmctr('data', 'check', path.join(dir, 'dataset.json'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /an item catalogue, no events/);
  assert.match(r.out, /images: 2 named under \/nonexistent: 2 missing, 0 unreadable/);
  assert.match(r.out, /items\.csv:2 field 'img': image file does not exist under \/nonexistent: the item has no image \(value 'a\.jpg'\) \[warning\]/);
  assert.match(r.out, /result: 3 items usable, 0 dropped; 2 of 2 item images missing or unreadable \(those items have no image\)/);
});
