/**
 * Serving honesty about images: the default service's encoder (title-colour) reads an uploaded
 * photo, so two photos under one title get different vectors and a photo without a title is
 * indexed; an image that cannot be decoded fails its item with the reason; a server whose
 * encoder reads titles only says in the response and the log that the image was not used.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { RankingService } from '../../src/serve/app.js';
import { startService, stopService } from '../../src/serve/start.js';
import type { OpenedIndex } from '../../src/index/index.js';
import { tinyModel } from './fixture.js';

type Started = { service: RankingService; opened: OpenedIndex; run: string };
let colour: Started;
const TOKEN = 'test-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const json = (r: { body: string }) => JSON.parse(r.body);
const photo = (r: number, g: number, b: number) => sharp({ create: { width: 24, height: 24, channels: 3, background: { r, g, b } } }).png().toBuffer();
const upload = (s: Started, id: string, image: Buffer, title?: string) =>
  s.service.app.inject({ method: 'POST', url: `/v1/items?id=${id}${title ? `&title=${encodeURIComponent(title)}` : ''}&wait=1`, payload: image, headers: { ...auth, 'content-type': 'image/png' } });

before(async () => {
  const m = await tinyModel();
  assert.equal(m.encoder.kind, 'title-colour', 'the default encodes titles and photos');
  colour = await startService({ run: m.run, vectors: m.vectors, indexFile: null, encoder: `title-colour:${m.encoder.kind === 'title-colour' ? m.encoder.seed : 1}`, token: TOKEN, log: false });
});
after(() => stopService(colour));

async function cosine(s: Started, a: string, b: string): Promise<number> {
  const [u, v] = await s.opened.index.getMany([a, b]);
  return u!.reduce((acc, x, i) => acc + x * v![i], 0);
}

test('the default service uses an uploaded photo: two photos under one title differ, the same photo gives the same vector', async () => {
  const red = await photo(200, 20, 20), blue = await photo(20, 20, 200);
  for (const [id, image] of [['red-1', red], ['red-2', red], ['blue-1', blue]] as const) {
    const r = await upload(colour, id, image, 'summer dress');
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(json(r).imageUsed, true);
    assert.equal(json(r).warning, undefined);
  }
  assert.ok(Math.abs((await cosine(colour, 'red-1', 'red-2')) - 1) < 1e-6, 'same title, same photo');
  const differ = await cosine(colour, 'red-1', 'blue-1');
  assert.ok(differ < 0.9, `same title, different photos: cosine ${differ.toFixed(4)} (was 1.0000 when the photo was ignored)`);
});

test('the default service indexes a photo without a title, and fails an undecodable image with the reason', async () => {
  const untitled = await upload(colour, 'photo-only', await photo(20, 160, 20));
  assert.equal(untitled.statusCode, 201, untitled.body);
  assert.deepEqual(json(await colour.service.app.inject({ url: '/v1/items/photo-only' })), { id: 'photo-only', hasVector: true, knownToModel: false });
  const broken = await upload(colour, 'broken', Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'green jacket');
  assert.equal(broken.statusCode, 422, broken.body);
  assert.match(json(broken).message, /the image cannot be decoded .*send a readable image, or leave it out/);
});

test('a server whose encoder reads titles only says in the response and the log that the image was not used', async () => {
  const m = await tinyModel();
  const logged: string[] = [];
  const titles = await startService({ run: m.run, vectors: m.vectors, indexFile: null, encoder: 'hashed-title', token: TOKEN, log: 'warn', logStream: { write: (line) => logged.push(line) } });
  try {
    const r = await upload(titles, 'titled', await photo(200, 20, 20), 'summer dress');
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(json(r).imageUsed, false);
    assert.match(json(r).warning, /the image was not used: this server's item encoder \(hashed-title\/128\/seed1\) reads titles only/);
    assert.ok(logged.some((l) => /"level":40.*"item":"titled".*the image was not used/.test(l)), `logged: ${logged.join('')}`);
    // A precomputed vector sent with an image: the vector is indexed, and the answer says so.
    const vector = Array.from({ length: 128 }, (_, i) => (i === 1 ? 1 : 0));
    const both = await titles.service.app.inject({ method: 'POST', url: '/v1/items?wait=1', payload: { id: 'vec-and-image', vector, image: (await photo(1, 2, 3)).toString('base64') }, headers: auth });
    assert.equal(both.statusCode, 201, both.body);
    assert.match(json(both).warning, /the precomputed vector is indexed as sent/);
  } finally {
    await stopService(titles);
  }
});
