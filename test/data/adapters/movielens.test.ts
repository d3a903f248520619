import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { defaultMovieLensSource, prepareMovieLens } from '../../../src/data/adapters/movielens.js';
import { DataError } from '../../../src/data/errors.js';
import { SampleStore } from '../../../src/data/store.js';
import { readDatasetSpec } from '../../../src/data/spec.js';
import { buildStore, readSamples, tempDir, write } from '../helpers.js';

/** Builds the store of a prepared MovieLens folder with the adapter's own sample config. */
async function prepareAndBuild(src: string, work: string) {
  const prepared = await prepareMovieLens({ src, out: path.join(work, 'ml') });
  const spec = JSON.parse(readFileSync(prepared.specFile, 'utf8'));
  const built = await buildStore(prepared.outDir, spec, prepared.samples, '../store');
  return { prepared, ...built };
}

test('movielens adapter on a small generated folder: clicks, first genre, file-order ties, 80/10/10', async () => {
  const src = tempDir();
  write(src, 'ml-100k.item', 'item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n1\tToy Story\t1995\tAnimation Children\'s Comedy\n2\tHeat, "the" film\t1995\tAction Crime\n3\tNo genre\t1990\t\n');
  // user 7: a click at 100 (line 2), then two rows at 200: the later one sees the earlier one.
  const inter = [
    'user_id:token\titem_id:token\trating:float\ttimestamp:float',
    '7\t1\t5\t100',
    '7\t2\t4\t200',
    '7\t3\t3\t200',
    '8\t1\t2\t50',
    '8\t2\t4\t300',
    '8\t3\t5\t300',
    '7\t1\t4\t400',
    '8\t1\tfive\t500',
    '9\t2\t1\t600',
    '9\t3\t4\t700',
    '7\t2\t5\t800',
  ];
  write(src, 'ml-100k.inter', inter.join('\n') + '\n');
  const { prepared, store, meta } = await prepareAndBuild(src, tempDir());
  assert.deepEqual(prepared.counts, { items: 3, impressions: 10, clicks: 7, users: 3, skippedItemRows: 0, skippedRatingRows: 1 });
  assert.deepEqual(prepared.notes, ["1 rating row skipped (first: ml-100k.inter:9 field 'rating': 'five' is not a number)"]);
  assert.deepEqual(prepared.samples, { historyLength: 50, ties: 'file-order', split: { kind: 'fraction', train: 0.8, valid: 0.1 }, clickWindowSeconds: 1800, negatives: { perPositive: 4, sampler: 'uniform', seed: 1 }, buckets: { rareMax: 10, midMax: 100 } });
  assert.equal(readDatasetSpec(prepared.specFile).name, 'movielens-100k');
  assert.deepEqual([meta.splits.train.count, meta.splits.valid.count, meta.splits.test.count], [8, 1, 1]);
  const { rows, catalog } = readSamples(store);
  assert.deepEqual(catalog.titles, ['Toy Story', 'Heat, "the" film', 'No genre']);
  assert.deepEqual(catalog.fields.category.vocab, ['Animation', 'Action']);
  assert.deepEqual([...catalog.fields.category.index], [0, 1, 2, 0]);
  assert.deepEqual(
    rows.map((r) => `${r.split} ${r.user}/${r.item}@${r.ts} ${r.label} [${r.hist.join(' ')}]`),
    [
      'train 8/1@50 0 []',
      'train 7/1@100 1 []',
      'train 7/2@200 1 [1]',
      'train 7/3@200 0 [1 2]',
      'train 8/2@300 1 []',
      'train 8/3@300 1 [2]',
      'train 7/1@400 1 [1 2]',
      'train 9/2@600 0 []',
      'valid 9/3@700 1 []',
      'test 7/2@800 1 [1 2 1]',
    ],
  );
});

test('movielens adapter: a missing column names the file and lists its columns', async () => {
  const src = tempDir();
  write(src, 'ml-100k.item', 'item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n1\tA\t1995\tDrama\n');
  write(src, 'ml-100k.inter', 'user_id:token\titem_id:token\tstars:float\ttimestamp:float\n1\t1\t5\t100\n');
  await assert.rejects(
    prepareMovieLens({ src, out: tempDir() }),
    (e: Error) => e instanceof DataError && e.message === `${path.join(src, 'ml-100k.inter')} field 'rating': column not found; the file has columns: user_id, item_id, stars, timestamp`,
  );
  await assert.rejects(prepareMovieLens({ src: path.join(src, 'nowhere'), out: tempDir() }), (e: Error) => e.message === `${path.join(src, 'nowhere')}: does not exist: expected the folder of the atomic files (NAME.inter, NAME.item)`);
});

test('movielens-100k (real data): 100,000 impressions, 943 users, 80,000 / 10,000 / 10,000, no leakage in sampled histories', async (t) => {
  const src = defaultMovieLensSource();
  if (!existsSync(path.join(src, 'ml-100k.inter'))) {
    t.skip(`shared data absent: ${src}/ml-100k.inter not found (set MMCTR_SHARED_DATA to the folder holding movielens-100k/)`);
    return;
  }
  const { prepared, store } = await prepareAndBuild(src, tempDir());
  const meta = SampleStore.open(store).meta;
  assert.equal(prepared.counts.impressions, 100000);
  assert.equal(meta.users, 943);
  assert.equal(meta.items, 1682);
  assert.deepEqual([meta.splits.train.count, meta.splits.valid.count, meta.splits.test.count], [80000, 10000, 10000]);
  const clicks = meta.splits.train.clicks + meta.splits.valid.clicks + meta.splits.test.clicks;
  assert.equal(clicks, prepared.counts.clicks);
  assert.equal(clicks, 55375, 'ratings >= 4');

  // The raw rows, independently of the adapter: per user, (ts, line, item, rating).
  const raw = readFileSync(path.join(src, 'ml-100k.inter'), 'utf8').split('\n').slice(1).filter(Boolean);
  const byUser = new Map<string, { ts: number; line: number; item: string; rating: number }[]>();
  raw.forEach((l, i) => {
    const [user, item, rating, ts] = l.split('\t');
    if (!byUser.has(user)) byUser.set(user, []);
    byUser.get(user)!.push({ ts: Number(ts), line: i + 2, item, rating: Number(rating) });
  });
  const { rows, catalog } = readSamples(store);
  assert.equal(catalog.fields.category.vocab[catalog.fields.category.index[catalog.ids.indexOf('1') + 1] - 1], 'Animation', 'Toy Story: first genre');
  let checked = 0;
  let nonEmpty = 0;
  for (let i = 0; i < rows.length; i += 97) {
    const s = rows[i];
    const own = byUser.get(s.user)!;
    const row = own.find((r) => r.item === s.item)!; // one rating per user and movie
    assert.equal(row.ts, s.ts);
    assert.equal(s.label, row.rating >= 4 ? 1 : 0);
    const earlier = own.filter((r) => r.rating >= 4 && (r.ts < row.ts || (r.ts === row.ts && r.line < row.line))).sort((a, b) => a.ts - b.ts || a.line - b.line);
    assert.deepEqual(s.hist, earlier.slice(-50).map((r) => r.item), `sample ${i} (${s.split}, user ${s.user}, line ${row.line})`);
    checked++;
    if (s.hist.length) nonEmpty++;
  }
  assert.ok(checked > 1000 && nonEmpty > checked / 2, `${nonEmpty}/${checked} sampled histories are non-empty`);
});

test('movielens adapter on another atomic set: reads it by its own stem; a failure names the files found and writes no --out folder', async () => {
  const src = tempDir();
  write(src, 'ml-1m.item', 'item_id:token\tmovie_title:token_seq\tclass:token_seq\n1\tA\tDrama\n2\tB\tComedy\n');
  write(src, 'ml-1m.inter', 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t5\t10\n1\t2\t2\t20\n');
  const prepared = await prepareMovieLens({ src, out: path.join(tempDir(), 'ml') });
  assert.equal(prepared.name, 'ml-1m');
  assert.deepEqual([prepared.counts.items, prepared.counts.impressions, prepared.counts.clicks], [2, 2, 1]);

  const out = path.join(tempDir(), 'never');
  await assert.rejects(
    prepareMovieLens({ src, out, name: 'ml-100k' }),
    (e: Error) => e instanceof DataError && e.message === `${path.join(src, 'ml-100k.inter')}: does not exist; it holds ml-1m.inter (--name ml-1m)`,
  );
  write(src, 'ml-10m.inter', 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t5\t10\n');
  await assert.rejects(prepareMovieLens({ src, out }), (e: Error) => e instanceof DataError && e.message === `${src}: it holds ml-10m.inter, ml-1m.inter: give the stem with --name`);
  await assert.rejects(prepareMovieLens({ src, out, name: 'ml-10m' }), (e: Error) => e instanceof DataError && e.message === `${path.join(src, 'ml-10m.item')}: does not exist`);
  // No usable rows: nothing is written either (the source is read in full before any output).
  write(src, 'empty.item', 'item_id:token\tclass:token_seq\n1\tDrama\n');
  write(src, 'empty.inter', 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\tx\t10\n');
  await assert.rejects(prepareMovieLens({ src, out, name: 'empty' }), /has no usable rating rows/);
  assert.equal(existsSync(out), false);
});
