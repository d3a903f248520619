import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { splitCsvLine } from '../../../src/data/csv.js';
import { defaultTaobaoSource, parseTaobaoTime, prepareTaobao, TAOBAO_FILES } from '../../../src/data/adapters/taobao.js';
import { buildStore, readSamples, tempDir, write } from '../helpers.js';

const HEADER = 'clk,time_stamp,userid,adgroup_id,pid,cate_id,campaign_id,customer,brand,price,cms_segid,cms_group_id,final_gender_code,age_level,pvalue_level,shopping_level,occupation,new_user_class_level,click_sequence';
const row = (clk: number, ts: string, user: string, ad: string, cate: string, brand: string, seq: string) => `${clk},${ts},${user},${ad},430548_1007,${cate},1,2,${brand},9.9,0,3,2,3,,3,0,,${seq}`;

async function prepareAndBuild(src: string) {
  const work = tempDir();
  const prepared = await prepareTaobao({ src, out: path.join(work, 'tb') });
  const spec = JSON.parse(readFileSync(prepared.specFile, 'utf8'));
  const built = await buildStore(prepared.outDir, spec, prepared.samples, '../store');
  // Impressions of events.csv in order, with where they came from: the order of the samples.
  const events = readFileSync(path.join(prepared.outDir, 'events.csv'), 'utf8').trim().split('\n').slice(1).map((l) => splitCsvLine(l, ','));
  const origins = events.filter((e) => e[2] === 'impression').map((e) => e[5]);
  return { prepared, origins, ...built, ...readSamples(built.store) };
}

/** click_sequence of each source row, by "file:line". */
function sequences(src: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of TAOBAO_FILES) {
    const lines = readFileSync(path.join(src, f), 'utf8').split('\n');
    const header = lines[0].split(',');
    lines.slice(1).forEach((l, i) => {
      if (l.trim()) out.set(`${f}:${i + 2}`, (l.split(',')[header.indexOf('click_sequence')] ?? '').split('^').filter(Boolean));
    });
  }
  return out;
}

test('taobao times: epoch numbers or YYYY-MM-DD HH:MM:SS in UTC', () => {
  assert.equal(parseTaobaoTime('2017-05-06 00:00:02'), 1494028802);
  assert.equal(parseTaobaoTime('1494028802'), 1494028802);
  assert.ok(Number.isNaN(parseTaobaoTime('yesterday')));
});

test('taobao adapter on generated files: items, click sequences become earlier clicks, files laid out in time', async () => {
  const src = tempDir();
  const t0 = '2017-05-06 00:00:00';
  const t1 = '2017-05-06 00:00:01';
  write(src, 'train_sample.csv', [HEADER, row(0, t0, 'u1', 'a', 'c1', 'b1', ''), row(1, t0, 'u1', 'b', 'c2', '', 'x'), row(0, t1, 'u1', 'c', 'c1', 'b1', 'x^b'), row(0, t1, 'u2', 'a', 'c9', 'b1', 'y')].join('\n') + '\n');
  write(src, 'valid_sample.csv', [HEADER, row(0, t0, 'u1', 'd', 'c3', 'b2', 'x^b^c'), row(1, t0, 'u2', 'b', 'c2', '', 'q')].join('\n') + '\n');
  write(src, 'test_sample.csv', [HEADER, row(0, t1, 'u1', 'a', 'c1', 'b1', 'x^b^c'), row(0, t1, 'u2', 'c', 'c1', 'b1', 'oops,extra')].join('\n') + '\n');
  const { prepared, rows, meta, report, catalog } = await prepareAndBuild(src);
  assert.deepEqual(prepared.counts, { items: 4, impressions: 7, clicks: 2, clickEvents: 5, users: 2, skippedRows: 1 });
  assert.deepEqual(prepared.notes, [
    "1 row skipped (first: test_sample.csv:3 field '(row)': has 20 fields, the header has 19)",
    '1 row gives an ad group a different cate_id or brand than its first row: the first row\'s are kept',
    'valid_sample.csv starts before train_sample.csv ends: its times are moved 1 day(s) later so that the split by file is a split by time',
    'test_sample.csv starts before valid_sample.csv ends: its times are moved 1 day(s) later so that the split by file is a split by time',
  ]);
  assert.deepEqual(prepared.samples.split, { kind: 'time', validStart: 1494028800 + 86400, testStart: 1494028801 + 86400 });
  assert.deepEqual([meta.splits.train.count, meta.splits.valid.count, meta.splits.test.count], [4, 2, 1]);
  assert.match(report.notes.join('\n'), /3 item ids in the events are not in the item catalogue \(x, y, q\)/);
  assert.deepEqual(catalog.fields.category.vocab, ['c1', 'c2', 'c3']);
  assert.deepEqual(catalog.fields.brand.vocab, ['b1', 'b2']);
  // u1: x (from row 2's sequence), then b is its own click at row 2... only once, though row 3 lists it again.
  assert.deepEqual(
    rows.map((r) => `${r.split} ${r.user}/${r.item} ${r.label} [${r.hist.join(' ')}]`),
    ['train u1/a 0 []', 'train u1/b 1 [x]', 'train u1/c 0 [x b]', 'train u2/a 0 [y]', 'valid u1/d 0 [x b c]', 'valid u2/b 1 [y q]', 'test u1/a 0 [x b c]'],
  );
});

test('taobao-ad-samples (real files): parse, build a store, every row sees its own click_sequence', async (t) => {
  const src = defaultTaobaoSource();
  if (!existsSync(path.join(src, 'train_sample.csv'))) {
    t.skip(`shared data absent: ${src}/train_sample.csv not found (set MMCTR_SHARED_DATA to the folder holding taobao-ad-samples/)`);
    return;
  }
  const { prepared, rows, meta, origins } = await prepareAndBuild(src);
  assert.equal(prepared.counts.impressions, 300);
  assert.equal(prepared.counts.skippedRows, 0);
  assert.deepEqual([meta.splits.train.count, meta.splits.valid.count, meta.splits.test.count], [100, 100, 100]);
  assert.equal(rows.length, origins.length);
  const seqs = sequences(src);
  let withSeq = 0;
  for (let i = 0; i < rows.length; i++) {
    const own = seqs.get(origins[i])!;
    assert.ok(own, origins[i]);
    assert.equal(rows[i].split, ['train', 'valid', 'test'][TAOBAO_FILES.indexOf(origins[i].split(':')[0] as (typeof TAOBAO_FILES)[number])], `${origins[i]} is in its file's split`);
    for (const id of own) assert.ok(rows[i].hist.includes(id), `${origins[i]}: click_sequence id ${id} is in the history [${rows[i].hist.join(' ')}]`);
    if (own.length) withSeq++;
  }
  assert.ok(withSeq > 30, `${withSeq} rows have a click_sequence`);
});
