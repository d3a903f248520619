/**
 * The one reader of item-vector files (src/encoders/vector-file.ts): every accepted source gives
 * the same ids and vectors, and each malformed file is refused with its name and what is wrong.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cacheFolder, imageFeatures } from '../../src/encoders/cache.js';
import { FeatureFileError } from '../../src/encoders/errors.js';
import type { ImageBackbone } from '../../src/encoders/types.js';
import { fileChunks } from '../../src/encoders/read-lines.js';
import { EMBEDDING_FORMAT, readEmbeddings, readTextVectors, readVectorFile, vectorSpaceMismatch, writeEmbeddings, writeVectorFile } from '../../src/encoders/vector-file.js';
import { Duck, sqlString } from '../../src/data/duck.js';
import { writeSafetensors } from '../../src/engine/safetensors.js';
import { tempDir } from '../data/helpers.js';

const dir = tempDir('mmctr-vectors-');
const file = (name: string) => path.join(dir, name);
const put = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};
const throwsFeatureError = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: Error) => e instanceof FeatureFileError && re.test(e.message), `expected ${re}`);
const fails = (f: string, re: RegExp) =>
  assert.throws(() => readVectorFile(f), (e: Error) => e instanceof FeatureFileError && e.message.startsWith(f) && re.test(e.message), `${path.basename(f)}: expected ${re}`);
const VECTORS = Float32Array.of(1, 2, 3, 4, 5, 6);

/** A backbone whose feature is the image file's first bytes; a file starting with "BAD" fails. */
const backbone: ImageBackbone = {
  id: 'bytes/3',
  dim: 3,
  async encode(images) {
    const { readFileSync } = await import('node:fs');
    const features = new Float32Array(images.length * 3);
    const failed: { index: number; reason: string }[] = [];
    images.forEach((p, i) => {
      const bytes = readFileSync(p);
      if (bytes.toString('latin1').startsWith('BAD')) failed.push({ index: i, reason: 'unreadable image' });
      else features.set([bytes[0], bytes[1], bytes[2]], i * 3);
    });
    return { features, failed };
  },
};

test('jsonl, csv (with or without header), tsv and safetensors give the same table', () => {
  const files = [
    put('v.jsonl', '{"id":"a","vector":[1,2,3]}\n{"id":"b","vector":[4,5,6]}\n'),
    put('v.csv', 'id,d0,d1,d2\na,1,2,3\r\nb,4,5,6\n'),
    put('nh.csv', 'a,1,2,3\nb,4,5,6\n'),
    put('v.tsv', 'a\t1\t2\t3\nb\t4\t5\t6\n'),
  ];
  const st = path.join(dir, 'v.safetensors');
  writeSafetensors(st, { vectors: { data: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3] } }, { ids: JSON.stringify(['a', 'b']) });
  files.push(st);
  for (const f of files) {
    const v = readVectorFile(f);
    assert.equal(v.dim, 3, f);
    assert.deepEqual(v.ids, ['a', 'b'], f);
    assert.deepEqual(Array.from(v.vectors), [1, 2, 3, 4, 5, 6], f);
    assert.match(v.id, /^precomputed\/v\.|^precomputed\/nh\./);
  }
});

test('every source: an `mmctr pretrain embed` export, a feature cache, precomputed jsonl / csv / tsv / safetensors', async () => {
  const embed = file('embed.safetensors');
  writeEmbeddings(embed, ['a', 'b'], VECTORS, 3);
  const jsonl = file('v.jsonl');
  writeFileSync(jsonl, '{"id":"a","vector":[1,2,3]}\n{"id":"b","vector":[4,5,6]}\n');
  const st = file('v.safetensors');
  writeSafetensors(st, { vectors: { data: Float64Array.from(VECTORS), shape: [2, 3] } }, { ids: '["a","b"]' });
  for (const [f, source] of [[embed, 'embed'], [jsonl, 'precomputed'], [st, 'precomputed']] as const) {
    const v = readVectorFile(f);
    assert.equal(v.source, source, f);
    assert.equal(v.file, f);
    assert.deepEqual([v.ids, v.dim, [...v.vectors]], [['a', 'b'], 3, [...VECTORS]], f);
    assert.match(v.id, new RegExp(`^${source}/${path.basename(f).replace('.', '\\.')}/3/[0-9a-f]{12}$`));
  }
  // The cache of a backbone over three images, one of which fails: that item has no vector.
  const images = ['a', 'b', 'c'].map((id, i) => {
    const p = file(`${id}.img`);
    writeFileSync(p, i === 1 ? 'BAD' : Buffer.from([i + 1, i + 2, i + 3]));
    return { id, title: null, image: p };
  });
  await imageFeatures(backbone, images, file('cache'));
  const cache = readVectorFile(path.join(cacheFolder(file('cache'), backbone.id), 'features.safetensors'));
  assert.equal(cache.source, 'feature-cache');
  assert.deepEqual([cache.ids, cache.dim, [...cache.vectors]], [['a', 'c'], 3, [1, 2, 3, 3, 4, 5]]);
});

test('an embed export reads back with its int8 copy and metadata; another file is not one', () => {
  const embed = file('meta.safetensors');
  writeEmbeddings(embed, ['a', 'b'], Float32Array.of(0.5, -1, 0, 1, 1, 1), 3, { model: 'm' });
  const e = readEmbeddings(embed);
  assert.deepEqual([...e.int8], [63, -127, 0, 127, 127, 127]);
  assert.equal(e.meta.model, 'm');
  assert.equal(e.meta.format, EMBEDDING_FORMAT);
  const other = file('other.safetensors');
  writeSafetensors(other, { vectors: { data: VECTORS, shape: [2, 3] } }, { ids: '["a","b"]' });
  assert.throws(() => readEmbeddings(other), (err: Error) => err instanceof FeatureFileError && err.message.startsWith(other) && /not an item embedding file/.test(err.message));
});

test('malformed safetensors of each source are refused with the file and the problem named', () => {
  const putTensors = (name: string, tensors: Parameters<typeof writeSafetensors>[1], metadata: Record<string, string>) => {
    writeSafetensors(file(name), tensors, metadata);
    return file(name);
  };
  const embed = { format: EMBEDDING_FORMAT, ids: '["a","b"]' };
  fails(putTensors('e1.safetensors', { embeddings: { data: VECTORS, shape: [2, 3] } }, embed), /missing the embeddings tensors/);
  fails(putTensors('e2.safetensors', { embeddings: { data: VECTORS, shape: [2, 3] }, embeddings_int8: { data: new Int8Array(6), shape: [2, 3] } }, { ...embed, ids: '["a"]' }), /"ids" has 1 ids but tensor "embeddings" has 2 rows/);
  fails(putTensors('e3.safetensors', { embeddings: { data: Float32Array.of(1, 2, 3, 4, Infinity, 6), shape: [2, 3] }, embeddings_int8: { data: new Int8Array(6), shape: [2, 3] } }, embed), /"embeddings" row 1 \(id "b"\), dimension 1: not a finite number/);
  const cache = { backbone: 'x/2', dim: '3' };
  fails(putTensors('c1.safetensors', { features: { data: VECTORS, shape: [2, 3] }, missing: { data: new Uint8Array(2) } }, { ...cache, ids: '["a"]' }), /feature cache: features F32 \[2, 3\] and missing \[2\] do not match 1 ids/);
  fails(putTensors('c2.safetensors', { features: { data: VECTORS, shape: [2, 3] }, missing: { data: new Uint8Array(2) } }, { ...cache, ids: 'oops' }), /feature cache metadata "ids" is not a JSON array/);
  fails(putTensors('c3.safetensors', { features: { data: VECTORS, shape: [2, 3] }, missing: { data: new Uint8Array(2) } }, { ...cache, ids: '["a","a"]' }), /row 1: id "a" is duplicated \(first at row 0\)/);
  fails(putTensors('p1.safetensors', { left: { data: VECTORS }, right: { data: VECTORS } }, { ids: '["a"]' }), /expected a tensor named "vectors" \(or exactly one tensor\), found left, right; or an `mmctr pretrain embed` export or a feature cache/);
  fails(putTensors('p2.safetensors', { vectors: { data: new Int32Array(6), shape: [2, 3] } }, { ids: '["a","b"]' }), /tensor "vectors" must be 2-D F32 or F64, got I32 \[2, 3\]/);
  fails(putTensors('p3.safetensors', { vectors: { data: VECTORS, shape: [2, 3] } }, {}), /metadata "ids" must be a JSON array of ids/);
  writeFileSync(file('broken.safetensors'), 'not a safetensors file');
  fails(file('broken.safetensors'), /cannot read/);
  fails(file('absent.safetensors'), /cannot read/);
  const ok = putTensors('dim.safetensors', { vectors: { data: VECTORS, shape: [2, 3] } }, { ids: '["a","b"]' });
  assert.throws(() => readVectorFile(ok, 4), (e: Error) => e instanceof FeatureFileError && /dim\.safetensors: has 3-dimensional vectors, expected 4/.test(e.message));
  writeFileSync(file('empty.jsonl'), '\n\n');
  fails(file('empty.jsonl'), /no vectors/);
});

test('dimension mismatch, NaN, duplicates and bad JSON name file, line and field', () => {
  throwsFeatureError(() => readVectorFile(put('d.jsonl', '{"id":"a","vector":[1,2,3]}\n{"id":"b","vector":[1,2]}\n')), /d\.jsonl:2: .*"b" has 2 dimensions, expected 3/);
  throwsFeatureError(() => readVectorFile(put('e.jsonl', '{"id":"a","vector":[1,2,3]}\n'), 4), /e\.jsonl:1: .*has 3 dimensions, expected 4/);
  throwsFeatureError(() => readVectorFile(put('n.jsonl', '{"id":"a","vector":[1,null,3]}\n')), /n\.jsonl:1: field "vector"\[1\] is not a finite number: null/);
  throwsFeatureError(() => readVectorFile(put('n.csv', 'a,1,2\nb,1,NaN\n')), /n\.csv:2: column 3 is not a finite number: "NaN"/);
  throwsFeatureError(() => readVectorFile(put('e.csv', 'a,1,2\nb,1,\n')), /e\.csv:2: column 3 is not a finite number/);
  throwsFeatureError(() => readVectorFile(put('dup.csv', 'a,1,2\nb,1,2\na,3,4\n')), /dup\.csv:3: .*"a" is duplicated \(first at line 1\)/);
  throwsFeatureError(() => readVectorFile(put('j.jsonl', '{"id":"a","vector":[1]}\n{oops\n')), /j\.jsonl:2: not valid JSON/);
  throwsFeatureError(() => readVectorFile(put('x.npy', 'x')), /unknown vector file type/);
  throwsFeatureError(() => readVectorFile(path.join(dir, 'absent.jsonl')), /absent\.jsonl: cannot read/);
  const st = path.join(dir, 'bad.safetensors');
  writeSafetensors(st, { vectors: { data: Float32Array.of(1, NaN), shape: [1, 2] } }, { ids: '["a"]' });
  throwsFeatureError(() => readVectorFile(st), /row 0 \(id "a"\), dimension 1: not a finite number/);
  const st2 = path.join(dir, 'ids.safetensors');
  writeSafetensors(st2, { vectors: { data: Float32Array.of(1, 2), shape: [1, 2] } }, { ids: '["a","b"]' });
  throwsFeatureError(() => readVectorFile(st2), /"ids" has 2 ids but tensor "vectors" has 1 rows/);
});

test("a file's vector space: its encoder (embed metadata, the cache's backbone, or unnamed), width and hash; when two spaces are one", () => {
  writeEmbeddings(file('space-a.safetensors'), ['a', 'b'], VECTORS, 3, { encoder: 'enc-a' });
  writeEmbeddings(file('space-a-more.safetensors'), ['a', 'b', 'c'], Float32Array.of(...VECTORS, 7, 8, 9), 3, { encoder: 'enc-a' });
  writeEmbeddings(file('space-b.safetensors'), ['a', 'b'], VECTORS, 3, { encoder: 'enc-b' });
  const jsonl = put('space.jsonl', '{"id":"a","vector":[1,2,3]}\n{"id":"b","vector":[4,5,6]}\n');
  const [a, aMore, b, unnamed] = ['space-a.safetensors', 'space-a-more.safetensors', 'space-b.safetensors'].map((n) => readVectorFile(file(n)).space).concat(readVectorFile(jsonl).space);
  assert.equal(a.encoder, 'enc-a');
  assert.equal(unnamed.encoder, null);
  assert.match(a.hash, /^[0-9a-f]{12}$/);
  assert.equal(vectorSpaceMismatch(a, a), null, 'the same file');
  assert.equal(vectorSpaceMismatch(a, aMore), null, 'the same encoder over more items');
  assert.match(vectorSpaceMismatch(a, b)!, /another encoder \(enc-b, 3-d, file sha256 \w+; the run's: enc-a, 3-d/);
  assert.match(vectorSpaceMismatch(a, unnamed)!, /encoder is not named/);
  assert.match(vectorSpaceMismatch(a, { ...a, dim: 4, hash: 'x' })!, /the vectors are 4-d, the run was trained on 3-d vectors/);
});

/** `text`'s bytes in chunks of `size` (so lines, and multi-byte characters, straddle chunks). */
function* pieces(text: string, size: number): Generator<Uint8Array> {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

test('text files stream over chunks: the same vectors, and errors keep their line when a line straddles two chunks', () => {
  const csv = 'id,d0,d1\n\u00e9t\u00e9,1,2\r\nb,3,4\n\nc,5,6\n';
  for (const size of [1, 2, 3, 5, 7, 64]) {
    const v = readTextVectors('s.csv', 'csv', pieces(csv, size));
    assert.deepEqual([v.ids, v.dim, [...v.vectors]], [['\u00e9t\u00e9', 'b', 'c'], 2, [1, 2, 3, 4, 5, 6]], `chunks of ${size}`);
    assert.equal(v.hash, createHash('sha256').update(csv).digest('hex').slice(0, 12));
  }
  const bad = 'a,1,2\nb,3,4\nc,5,oops\n';
  for (const size of [4, 9, 13]) {
    throwsFeatureError(() => readTextVectors('bad.csv', 'csv', pieces(bad, size)), /^bad\.csv:3: column 3 is not a finite number: "oops"$/);
    throwsFeatureError(() => readTextVectors('dup.tsv', 'tsv', pieces('a\t1\nb\t2\na\t3\n', size)), /^dup\.tsv:3: row: id "a" is duplicated \(first at line 1\)$/);
    throwsFeatureError(
      () => readTextVectors('w.jsonl', 'jsonl', pieces('{"id":"a","vector":[1,2]}\n\n{"id":"b","vector":[1]}\n', size)),
      /^w\.jsonl:3: field "vector": vector of id "b" has 1 dimensions, expected 2 \(as the first row\)$/,
    );
  }
  // The file reader over small chunks: a line straddling a chunk boundary of the real file.
  const f = put('straddle.csv', bad);
  throwsFeatureError(() => readTextVectors(f, 'csv', fileChunks(f, 5)), /straddle\.csv:3: column 3 is not a finite number: "oops"/);
});

test("a text file's identity hash is the sha256 of its bytes, as before streaming", () => {
  const text = 'id,d0,d1\na,1,2\nb,3,4\n';
  const f = put('hash.csv', text);
  const v = readVectorFile(f);
  // The value the whole-file reader gave this content (printf ... | sha256sum).
  assert.equal(v.space.hash, '78a40e377e3e');
  assert.equal(v.space.hash, createHash('sha256').update(readFileSync(f)).digest('hex').slice(0, 12));
  assert.equal(v.id, 'precomputed/hash.csv/2/78a40e377e3e');
});

test('a text source longer than the longest JS string reads, without the text ever being one string', () => {
  // Lines of ~64 KB (a row padded with spaces) so that parsing is cheap and the bytes many.
  const width = 65_537, lines = Math.ceil((constants.MAX_STRING_LENGTH + 1) / width);
  function* source(): Generator<Uint8Array> {
    const out = Buffer.alloc(1_000_003);
    let at = 0;
    for (let i = 0; i < lines; i++) {
      const line = Buffer.from(`item${i},${i},-1,0.5`.padEnd(width - 1, ' ') + '\n');
      for (let off = 0; off < line.length; ) {
        const n = line.copy(out, at, off);
        at += n;
        off += n;
        if (at === out.length) {
          yield out;
          at = 0;
        }
      }
    }
    if (at) yield out.subarray(0, at);
  }
  assert.ok(lines * width > constants.MAX_STRING_LENGTH);
  const v = readTextVectors('big.csv', 'csv', source());
  assert.equal(v.ids.length, lines);
  assert.equal(v.dim, 3);
  assert.deepEqual([v.ids[lines - 1], ...v.vectors.subarray((lines - 1) * 3)], [`item${lines - 1}`, lines - 1, -1, 0.5]);
  const expected = createHash('sha256');
  for (const c of source()) expected.update(c);
  assert.equal(v.hash, expected.digest('hex').slice(0, 12));
});

test('Parquet: what writeVectorFile writes reads back equal; both layouts read; a wrong column is named', async () => {
  const out = file('round.parquet');
  const vectors = Float32Array.of(0.1, -2.5, 3e-8, 4, 5, 6);
  writeVectorFile(out, ['a', 'b'], vectors, 3, { backbone: 'x/3' });
  const v = readVectorFile(out);
  assert.deepEqual([v.source, v.ids, v.dim, [...v.vectors]], ['precomputed', ['a', 'b'], 3, [...vectors]]);
  assert.equal(v.space.hash, createHash('sha256').update(readFileSync(out)).digest('hex').slice(0, 12));
  const duck = await Duck.open();
  const copy = async (name: string, select: string) => {
    await duck.run(`COPY (${select}) TO ${sqlString(file(name))} (FORMAT parquet)`);
    return file(name);
  };
  try {
    const wide = await copy('wide.parquet', `SELECT * FROM (VALUES (7, 1.0::DOUBLE, 2.0::FLOAT), (8, 3.0, 4.0)) t(id, d0, d1)`);
    assert.deepEqual([readVectorFile(wide).ids, [...readVectorFile(wide).vectors]], [['7', '8'], [1, 2, 3, 4]]);
    fails(await copy('text.parquet', `SELECT 'a' AS id, 'oops' AS vector`), /column "vector" must be a list of numbers \(FLOAT\[\] or DOUBLE\[\]\), got VARCHAR/);
    fails(await copy('textdim.parquet', `SELECT 'a' AS id, 1.0 AS d0, 'x' AS d1`), /column "d1" must be numeric \(one column per dimension\) .* got VARCHAR/);
    fails(await copy('ints.parquet', `SELECT 'a' AS id, [1, 2] AS vector`), /column "vector" must be a list of numbers \(FLOAT\[\] or DOUBLE\[\]\), got INTEGER\[\]/);
    fails(await copy('idtype.parquet', `SELECT 1.5::DOUBLE AS id, [1.0]::FLOAT[] AS vector`), /column "id" \(the ids\) must be text or an integer, got DOUBLE/);
    fails(await copy('ragged.parquet', `SELECT * FROM (VALUES ('a', [1.0, 2.0]::FLOAT[]), ('b', [1.0]::FLOAT[])) t(id, v)`), /column "v" row 1 \(id "b"\): 1 dimensions, expected 2/);
    fails(await copy('nan.parquet', `SELECT 'a' AS id, ['nan'::DOUBLE, 1.0] AS v`), /column "v" row 0 \(id "a"\), dimension 0: not a finite number \(NaN\)/);
    fails(await copy('dup.parquet', `SELECT * FROM (VALUES ('a', [1.0]::FLOAT[]), ('a', [2.0]::FLOAT[])) t(id, v)`), /row 1: id "a" is duplicated \(first at row 0\)/);
  } finally {
    duck.close();
  }
  writeFileSync(file('junk.parquet'), 'not parquet');
  fails(file('junk.parquet'), /cannot read as Parquet/);
});
