import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cacheFolder, imageFeatures } from '../../src/encoders/cache.js';
import type { ImageBackbone, ItemContent } from '../../src/encoders/types.js';
import { tempDir } from '../data/helpers.js';

/** A fake backbone: the feature is derived from the file's bytes; files starting with "BAD" fail. */
class FakeBackbone implements ImageBackbone {
  calls = 0;
  encoded = 0;
  readonly dim = 4;
  constructor(readonly id: string) {}
  async encode(images: readonly string[]) {
    this.calls++;
    this.encoded += images.length;
    const { readFileSync } = await import('node:fs');
    const features = new Float32Array(images.length * this.dim);
    const failed: { index: number; reason: string }[] = [];
    images.forEach((p, i) => {
      const bytes = readFileSync(p);
      if (bytes.toString('latin1').startsWith('BAD')) return failed.push({ index: i, reason: 'unreadable image: garbage bytes' });
      for (let d = 0; d < this.dim; d++) features[i * this.dim + d] = bytes[d % bytes.length] + d;
    });
    return { features, failed };
  }
}

const dir = tempDir('mmctr-cache-');
const img = (name: string, content: string) => {
  const f = path.join(dir, 'img', name);
  writeFileSync(f, content);
  return f;
};

test('features are computed once, cached per backbone id, and fallbacks are counted', async () => {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(path.join(dir, 'img'), { recursive: true });
  const cache = path.join(dir, 'cache');
  const items: ItemContent[] = [
    { id: 'a', title: 'A', image: img('a.png', 'aaaa') },
    { id: 'b', title: 'B', image: img('b.png', 'bcde') },
    { id: 'c', title: 'C', image: img('c.png', 'BAD bytes') },
    { id: 'd', title: 'D', image: path.join(dir, 'img', 'absent.png') },
    { id: 'e', title: 'E', image: null },
  ];
  const b1 = new FakeBackbone('fake/v1');
  const progress: [number, number][] = [];
  const t1 = await imageFeatures(b1, items, cache, (d, t) => progress.push([d, t]));
  assert.equal(b1.encoded, 3, 'only existing files go to the backbone');
  assert.deepEqual(progress.at(-1), [3, 3]);
  assert.equal(t1.backbone, 'fake/v1');
  assert.deepEqual(t1.ids, ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(Array.from(t1.missing), [0, 0, 1, 1, 1]);
  assert.deepEqual(Array.from(t1.features.subarray(0, 4)), [97, 98, 99, 100]);
  assert.ok(t1.features.subarray(8).every((x) => x === 0), 'fallback rows are zero');
  assert.equal(t1.report.computed, 3);
  assert.equal(t1.report.cached, 0);
  assert.equal(t1.report.corrupt, 1);
  assert.equal(t1.report.missing, 2);
  assert.deepEqual(
    t1.report.problems.map((p) => p.id),
    ['c', 'd', 'e'],
  );
  assert.match(t1.report.problems[0].reason, /unreadable image/);
  assert.match(t1.report.problems[1].reason, /missing file/);
  assert.match(t1.report.problems[2].reason, /no image/);
  assert.deepEqual(readdirSync(cacheFolder(cache, 'fake/v1')), ['features.safetensors'], 'no temp files left');

  // Second run, same backbone: nothing computed, same table.
  const b2 = new FakeBackbone('fake/v1');
  const t2 = await imageFeatures(b2, items, cache);
  assert.equal(b2.calls, 0);
  assert.equal(t2.report.computed, 0);
  assert.equal(t2.report.cached, 5);
  assert.deepEqual(t2.features, t1.features);
  assert.deepEqual(t2.missing, t1.missing);
  assert.deepEqual(t2.report.problems, t1.report.problems);

  // A new item: only it is computed; a subset keeps order of the request.
  const more = [...items, { id: 'f', title: 'F', image: img('f.png', 'ffff') }];
  const b3 = new FakeBackbone('fake/v1');
  const t3 = await imageFeatures(b3, more, cache);
  assert.equal(b3.encoded, 1);
  assert.equal(t3.report.computed, 1);
  const t3b = await imageFeatures(new FakeBackbone('fake/v1'), [more[5], more[0]], cache);
  assert.deepEqual(Array.from(t3b.features), [102, 103, 104, 105, 97, 98, 99, 100]);

  // The corrupt file is repaired: it is retried (its size/mtime changed), the others are not.
  writeFileSync(items[2].image!, 'cccccc');
  const b4 = new FakeBackbone('fake/v1');
  const t4 = await imageFeatures(b4, more, cache);
  assert.equal(b4.encoded, 1);
  assert.equal(t4.missing[2], 0);
  assert.equal(t4.report.corrupt, 0);

  // Another backbone id: everything is recomputed, in its own folder.
  const other = new FakeBackbone('fake/v2');
  const t5 = await imageFeatures(other, more, cache);
  assert.equal(other.encoded, 4);
  assert.equal(t5.report.cached, 0);
  assert.notEqual(cacheFolder(cache, 'fake/v1'), cacheFolder(cache, 'fake/v2'));
});

test('a corrupt cache file is set aside and recomputed, not fatal; duplicate ids are refused', async () => {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(path.join(dir, 'img'), { recursive: true });
  const cache = path.join(dir, 'cache2');
  const items: ItemContent[] = [{ id: 'a', title: null, image: img('a2.png', 'zzzz') }];
  await imageFeatures(new FakeBackbone('fake/x'), items, cache);
  const file = path.join(cacheFolder(cache, 'fake/x'), 'features.safetensors');
  writeFileSync(file, 'garbage');
  const b = new FakeBackbone('fake/x');
  const warnings: string[] = [];
  const onWarn = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarn);
  const t = await imageFeatures(b, items, cache);
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarn);
  assert.equal(b.encoded, 1);
  assert.equal(t.missing[0], 0);
  assert.ok(warnings.some((w) => /unreadable/.test(w)));
  await assert.rejects(imageFeatures(b, [items[0], items[0]], cache), /listed twice/);
});
