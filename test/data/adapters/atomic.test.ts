import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { exportAtomic, prepareAtomic } from '../../../src/data/adapters/atomic.js';
import { SampleStore } from '../../../src/data/store.js';
import { DataError } from '../../../src/data/errors.js';
import { buildStore, csv, readSamples, tempDir, write } from '../helpers.js';

/** A small log with non-integer user ids and a category name holding a space. */
async function sourceStore() {
  const dir = tempDir();
  write(dir, 'items.csv', csv([['item_id', 'title', 'category'], [11, 'Red\tshirt', 'Top wear'], [12, 'Blue jeans', 'Bottoms'], [13, 'Cap', '']]));
  const events: (string | number)[][] = [['user_id', 'item_id', 'ts', 'clicked']];
  const users = ['u07', 'u03', 'u12'];
  for (let t = 0; t < 30; t++) events.push([users[t % 3], 11 + (t % 3), 1000 + 10 * t, (t * 7) % 3 === 0 ? 1 : 0]);
  write(dir, 'events.csv', csv(events));
  const spec = { name: 'small', items: { path: 'items.csv', columns: { item_id: 'item_id', title: 'title', category: 'category' } }, events: { path: 'events.csv', columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', clicked: 'clicked' }, defaultType: 'impression' } };
  return buildStore(dir, spec, { historyLength: 50, ties: 'file-order', split: { kind: 'fraction', train: 0.8, valid: 0.1 } });
}

test('exportAtomic: RecBole files with typed headers; rating 5 / 1 for the label; class tokens; non-integer user ids as store indices', async () => {
  const { store } = await sourceStore();
  const out = exportAtomic(SampleStore.open(store), path.join(tempDir(), 'atomic'), 'small');
  assert.deepEqual([out.rows, out.clicks, out.items, out.users], [30, 10, 3, 3]);
  assert.deepEqual(out.indexed, { users: true, items: false });
  const inter = readFileSync(out.files.inter, 'utf8').trim().split('\n');
  assert.equal(inter[0], 'user_id:token\titem_id:token\trating:float\ttimestamp:float');
  assert.deepEqual(inter.slice(1, 4), ['1\t11\t5\t1000', '2\t12\t1\t1010', '3\t13\t1\t1020']);
  assert.deepEqual(readFileSync(out.files.item, 'utf8').split('\n').slice(0, -1), ['item_id:token\ttitle:token_seq\tclass:token_seq', '11\tRed shirt\tTop_wear', '12\tBlue jeans\tBottoms', '13\tCap\t']);
  assert.deepEqual(readFileSync(out.files.user, 'utf8').trim().split('\n'), ['user_id:token', '1', '2', '3']);
  assert.throws(() => exportAtomic(SampleStore.open(store), tempDir(), '../up'), DataError);
});

test('prepareAtomic reads an export back: the same impressions, labels, categories and click histories', async () => {
  const { store } = await sourceStore();
  const dir = tempDir();
  exportAtomic(SampleStore.open(store), path.join(dir, 'atomic'), 'small');
  const prepared = await prepareAtomic({ src: path.join(dir, 'atomic'), name: 'small', out: path.join(dir, 'ds') });
  assert.deepEqual(prepared.counts, { items: 3, impressions: 30, clicks: 10, users: 3, skippedItemRows: 0, skippedRatingRows: 0 });
  const spec = JSON.parse(readFileSync(prepared.specFile, 'utf8'));
  const back = await buildStore(prepared.outDir, spec, prepared.samples, '../store-back');
  const a = readSamples(store), b = readSamples(back.store);
  const userIndex = (u: string) => String(a.users.indexOf(u) + 1);
  assert.deepEqual(
    b.rows.map((r) => [r.split, r.user, r.item, r.label, r.ts, r.hist.join(' ')]),
    a.rows.map((r) => [r.split, userIndex(r.user), r.item, r.label, r.ts, r.hist.join(' ')]),
  );
  assert.deepEqual(b.catalog.fields.category.vocab, ['Top_wear', 'Bottoms']);
  assert.deepEqual(b.catalog.titles, ['Red shirt', 'Blue jeans', 'Cap']);
});

test('prepareAtomic: another click threshold; a missing .inter column names the file and lists its columns', async () => {
  const src = tempDir();
  write(src, 'log.item', 'item_id:token\tclass:token_seq\n1\tDrama\n2\tComedy Drama\n');
  write(src, 'log.inter', 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t3\t10\n1\t2\t2\t20\n2\t1\t5\t30\n');
  const prepared = await prepareAtomic({ src, name: 'log', out: tempDir(), clickRating: 3 });
  assert.equal(prepared.counts.clicks, 2);
  assert.equal(prepared.name, 'log');
  write(src, 'bad.item', 'item_id:token\tclass:token_seq\n1\tDrama\n');
  write(src, 'bad.inter', 'user_id:token\titem_id:token\tstars:float\ttimestamp:float\n1\t1\t5\t100\n');
  await assert.rejects(
    prepareAtomic({ src, name: 'bad', out: tempDir() }),
    (e: Error) => e instanceof DataError && e.message === `${path.join(src, 'bad.inter')} field 'rating': column not found; the file has columns: user_id, item_id, stars, timestamp`,
  );
});
