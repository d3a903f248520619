import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParameterFileError } from '../../src/engine/errors.js';
import {
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  SafetensorsReader,
  writeSafetensors,
} from '../../src/engine/safetensors.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'mmctr-st-'));
}

/** A file in the reference layout from its parts: u64 LE length, JSON padded with spaces, data. */
function assemble(header: unknown, data: Uint8Array, pad = true): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = pad ? Math.ceil(json.length / 8) * 8 : json.length;
  const head = Buffer.alloc(8 + len, 0x20);
  head.writeBigUInt64LE(BigInt(len));
  json.copy(head, 8);
  return Buffer.concat([head, data]);
}

function bytesOf(...arrays: ArrayBufferView[]): Uint8Array {
  return Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
}

/** Expects a ParameterFileError whose message names the file and contains every fragment. */
function throwsNaming(fn: () => unknown, file: string, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ParameterFileError, `expected a ParameterFileError, got ${String(err)}`);
    assert.ok(err.message.startsWith(file), `message should start with the file: ${err.message}`);
    for (const f of fragments) assert.ok(err.message.includes(f), `message should mention '${f}': ${err.message}`);
    return true;
  });
}

test('round trip of every dtype, scalar and empty shapes, and metadata', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'all.safetensors');
    const tensors = {
      'dense.w': { data: Float32Array.from([1.5, -2, 3.25, 0, 1e-30, -7]), shape: [2, 3] },
      ids: { data: Int32Array.from([-1, 2, 2147483647]) },
      q8: { data: Int8Array.from([-128, 0, 127, 5]), shape: [2, 2] },
      u8: { data: Uint8Array.from([0, 255, 7]) },
      f64: { data: Float64Array.from([Math.PI, -1e300]) },
      i64: { data: BigInt64Array.from([-(2n ** 62n), 3n]) },
      half: { data: Uint16Array.from([0x3c00]), dtype: 'F16' as const },
      scalar: { data: Float32Array.of(42), shape: [] },
      empty: { data: new Float32Array(0), shape: [0, 4] },
    };
    writeSafetensors(file, tensors, { producer: 'mmctr', config: '{"a":1}' });
    const back = readSafetensors(file);
    assert.deepEqual(back.metadata, { producer: 'mmctr', config: '{"a":1}' });
    assert.deepEqual([...back.tensors.keys()].sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = back.tensors.get(name)!;
      assert.deepEqual(got.shape, 'shape' in t ? t.shape : [t.data.length], name);
      assert.equal(got.data.constructor, t.data.constructor, name);
      assert.deepEqual(got.data, t.data, name);
    }
    assert.equal(back.tensors.get('half')!.dtype, 'F16');
    assert.equal(back.tensors.get('q8')!.dtype, 'I8');
    // Aligned layout: every tensor is a view over the one buffer the file was read into.
    const buffers = new Set([...back.tensors.values()].map((t) => t.data.buffer));
    assert.equal(buffers.size, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('encoding hands out views of the callers arrays instead of copying them', () => {
  const big = new Float32Array(1 << 20).fill(0.5);
  const sub = new Float32Array(big.buffer, 4096, 1000);
  const chunks = encodeSafetensors({ big: { data: big }, sub: { data: sub } });
  assert.equal(chunks.length, 3);
  assert.equal(chunks[1].buffer, big.buffer);
  assert.equal(chunks[2].buffer, big.buffer);
  assert.equal(chunks[2].byteOffset, 4096);
  assert.equal(chunks[0].length % 8, 0, 'the header is padded to 8 bytes');
});

test('our files follow the reference layout byte for byte', () => {
  const w = Float32Array.from([1, 2, 3, 4]);
  const ids = Int32Array.from([7, -7]);
  const q = Uint8Array.from([9]);
  const ours = Buffer.concat(encodeSafetensors({ w: { data: w, shape: [2, 2] }, ids: { data: ids }, q: { data: q } }, { k: 'v' }));
  // What the reference writer produces: metadata first, widest dtype first then by name,
  // compact JSON padded with spaces to 8 bytes.
  const expected = assemble(
    {
      __metadata__: { k: 'v' },
      ids: { dtype: 'I32', shape: [2], data_offsets: [0, 8] },
      w: { dtype: 'F32', shape: [2, 2], data_offsets: [8, 24] },
      q: { dtype: 'U8', shape: [1], data_offsets: [24, 25] },
    },
    bytesOf(ids, w, q),
  );
  assert.deepEqual(ours, expected);
});

// Written by the reference implementation (Python safetensors 0.8.0, safetensors.numpy.save_file):
//   {'a.f32': arange(6, f32).reshape(2, 3), 'b.i32': [-1, 2, 3] i32, 'c.i8': [-128, 0, 127] i8,
//    'd.u8': [[1, 2], [3, 255]] u8, 'e.f64': [1.5, -2.25] f64, 'f.empty': zeros((0, 4), f32),
//    'g.scalar': array(3.5, f32)}, metadata {'producer': 'safetensors-0.8.0', 'note': 'reference'}
const REFERENCE_FILE =
  '6AEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJwcm9kdWNlciI6InNhZmV0ZW5zb3JzLTAuOC4wIiwibm90ZSI6InJlZmVyZW5jZSJ9' +
  'LCJlLmY2NCI6eyJkdHlwZSI6IkY2NCIsInNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6WzAsMTZdfSwiYS5mMzIiOnsiZHR5cGUi' +
  'OiJGMzIiLCJzaGFwZSI6WzIsM10sImRhdGFfb2Zmc2V0cyI6WzE2LDQwXX0sImYuZW1wdHkiOnsiZHR5cGUiOiJGMzIiLCJzaGFw' +
  'ZSI6WzAsNF0sImRhdGFfb2Zmc2V0cyI6WzQwLDQwXX0sImcuc2NhbGFyIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOltdLCJkYXRh' +
  'X29mZnNldHMiOls0MCw0NF19LCJiLmkzMiI6eyJkdHlwZSI6IkkzMiIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzQ0LDU2' +
  'XX0sImMuaTgiOnsiZHR5cGUiOiJJOCIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzU2LDU5XX0sImQudTgiOnsiZHR5cGUi' +
  'OiJVOCIsInNoYXBlIjpbMiwyXSwiZGF0YV9vZmZzZXRzIjpbNTksNjNdfX0gIAAAAAAAAPg/AAAAAAAAAsAAAAAAAACAPwAAAEAA' +
  'AEBAAACAQAAAoEAAAGBA/////wIAAAADAAAAgAB/AQID/w==';

test('reads a file written by the reference implementation', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'reference.safetensors');
    writeFileSync(file, Buffer.from(REFERENCE_FILE, 'base64'));
    const { metadata, tensors } = readSafetensors(file);
    assert.deepEqual(metadata, { producer: 'safetensors-0.8.0', note: 'reference' });
    assert.deepEqual(tensors.get('a.f32'), { dtype: 'F32', shape: [2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) });
    assert.deepEqual(tensors.get('b.i32'), { dtype: 'I32', shape: [3], data: Int32Array.from([-1, 2, 3]) });
    assert.deepEqual(tensors.get('c.i8'), { dtype: 'I8', shape: [3], data: Int8Array.from([-128, 0, 127]) });
    assert.deepEqual(tensors.get('d.u8'), { dtype: 'U8', shape: [2, 2], data: Uint8Array.from([1, 2, 3, 255]) });
    assert.deepEqual(tensors.get('e.f64'), { dtype: 'F64', shape: [2], data: Float64Array.from([1.5, -2.25]) });
    assert.deepEqual(tensors.get('f.empty'), { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) });
    assert.deepEqual(tensors.get('g.scalar'), { dtype: 'F32', shape: [], data: Float32Array.of(3.5) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unpadded header (allowed by the format) is read through copies where views cannot align', () => {
  const w = Float32Array.from([0.25, -8]);
  const v = Float64Array.from([1e-9]);
  const bytes = assemble(
    {
      w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      v: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
    },
    bytesOf(w, v),
    false,
  );
  assert.notEqual((bytes.length - 16) % 8, 0, 'the test needs a misaligned data section');
  const { tensors } = parseSafetensors(new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), 'hand.safetensors');
  assert.deepEqual(tensors.get('w')!.data, w);
  assert.deepEqual(tensors.get('v')!.data, v);
});

test('SafetensorsReader reads single tensors, into the callers arrays too', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'r.safetensors');
    writeSafetensors(file, { a: { data: Float32Array.from([1, 2, 3]) }, b: { data: Int32Array.from([4, 5]) } });
    const header = readSafetensorsHeader(file);
    assert.equal(header.totalBytes, statSync(file).size);
    assert.deepEqual(header.entries.get('a'), { dtype: 'F32', shape: [3], begin: 0, end: 12 });
    const reader = SafetensorsReader.open(file);
    try {
      const dest = new Float32Array(3);
      reader.readInto('a', dest);
      assert.deepEqual(dest, Float32Array.from([1, 2, 3]));
      assert.deepEqual(reader.read('b').data, Int32Array.from([4, 5]));
      throwsNaming(() => reader.readInto('a', new Float32Array(4)), file, `'a'`, 'F32 [3]');
      throwsNaming(() => reader.readInto('b', new Float32Array(2)), file, `'b'`, 'I32');
      throwsNaming(() => reader.read('c'), file, `'c'`);
    } finally {
      reader.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('truncated and corrupt files are refused with the file and the entry at fault', () => {
  const dir = tempDir();
  try {
    const good = path.join(dir, 'good.safetensors');
    writeSafetensors(good, { 'layer.w': { data: new Float32Array(16).fill(1), shape: [4, 4] }, 'layer.b': { data: new Float32Array(4) } });
    const bytes = readFileSync(good);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const bad = path.join(dir, 'bad.safetensors');
    const check = (content: Uint8Array, ...fragments: string[]): void => {
      writeFileSync(bad, content);
      throwsNaming(() => readSafetensors(bad), bad, ...fragments);
      throwsNaming(() => readSafetensorsHeader(bad), bad, ...fragments);
    };
    const data16 = new Uint8Array(16);

    check(bytes.subarray(0, 5), 'too short');
    check(bytes.subarray(0, 8 + headerLen - 3), 'header length', 'truncated');
    check(bytes.subarray(0, bytes.length - 10), `tensor 'layer.w'`, 'run past the end', 'truncated');
    check(Buffer.concat([bytes, Buffer.alloc(4)]), '4 unexpected trailing bytes');
    const huge = Buffer.from(bytes);
    huge.writeBigUInt64LE(1n << 40n);
    check(huge, 'header length', 'limit');
    check(assemble({ x: 1 }, new Uint8Array(0)).fill(0x5b, 8, 9), `does not start with '{'`);
    const broken = assemble({ x: 1 }, new Uint8Array(0));
    broken.write('{"x', 8);
    broken.fill(0x20, 11);
    check(broken, 'not valid JSON');
    check(assemble({ t: { dtype: 'F8', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4)), `tensor 't'`, 'dtype "F8"');
    check(assemble({ t: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, new Uint8Array(8)), `tensor 't'`, 'shape');
    check(assemble({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, data16), `tensor 't'`, 'span 16 bytes', 'F32 [3] needs 12');
    check(assemble({ t: { dtype: 'F32', shape: [2], data_offsets: [8] } }, data16), `tensor 't'`, 'data_offsets');
    check(assemble({ t: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, data16), `tensor 't'`, 'end before they begin');
    check(
      assemble({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, data16),
      `tensor 'b'`, `overlap tensor 'a'`,
    );
    check(
      assemble({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [12, 16] } }, data16),
      `tensor 'b'`, 'gap of 4 bytes',
    );
    check(assemble({ a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data16), `tensor 'a'`, 'gap of 4 bytes after the header');
    check(assemble({ __metadata__: { n: 1 }, a: { dtype: 'U8', shape: [16], data_offsets: [0, 16] } }, data16), '"__metadata__"."n" must be a string');
    check(assemble([1, 2], new Uint8Array(0)), `does not start with '{'`);
    throwsNaming(() => readSafetensors(path.join(dir, 'missing.safetensors')), path.join(dir, 'missing.safetensors'), 'ENOENT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input is refused before the target is touched', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'm.safetensors');
    writeSafetensors(file, { a: { data: Float32Array.of(1) } });
    const before = readFileSync(file);
    assert.throws(() => writeSafetensors(file, { a: { data: new Float32Array(5), shape: [2, 2] } }), /'a' has shape \[2, 2\] \(4 values\) but 5 values/);
    assert.throws(() => writeSafetensors(file, { a: { data: new Float32Array(1), dtype: 'I32' } }), /'a' is declared I32, which needs a Int32Array, got a Float32Array/);
    assert.throws(() => writeSafetensors(file, { __metadata__: { data: new Float32Array(1) } }), /'__metadata__' cannot be a tensor name/);
    assert.throws(() => writeSafetensors(file, {}, { n: 1 as unknown as string }), /metadata 'n' must be a string/);
    assert.deepEqual(readFileSync(file), before);
    assert.deepEqual(readdirSync(dir), ['m.safetensors']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write that fails part-way (file size limit) leaves the old file intact and no temporary file', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'model.safetensors');
    writeSafetensors(file, { small: { data: Float32Array.from([1, 2, 3]) } }, { version: 'old' });
    const before = readFileSync(file);
    const script = path.join(here, '..', 'fixtures', 'write-safetensors.js');
    // ulimit -f counts 1024-byte blocks: 256 KiB, and the new file would be 4 MiB. Node ignores
    // SIGXFSZ, so the write fails with EFBIG after the first 256 KiB have reached the disk.
    const run = spawnSync('bash', ['-c', `ulimit -f 256 && exec "${process.execPath}" "${script}" "${file}" 1048576`], { encoding: 'utf8' });
    assert.equal(run.status, 2, `the writer should fail: ${run.stderr}`);
    assert.match(run.stderr, /EFBIG/);
    assert.deepEqual(readFileSync(file), before);
    assert.deepEqual(readSafetensors(file).metadata, { version: 'old' });
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
    // Without the limit the same writer replaces the file whole.
    const ok = spawnSync(process.execPath, [script, file, '1048576'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(readSafetensors(file).tensors.get('big')!.data.length, 1048576);
    assert.ok(existsSync(file));
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
