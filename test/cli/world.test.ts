import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir, write } from '../data/helpers.js';
import { mmctr } from './helpers.js';

test('mmctr world generate writes a dataset that mmctr data check accepts; knobs reach the world', () => {
  const dir = tempDir('mmctr-cli-world-');
  const out = path.join(dir, 'w');
  const r = mmctr('world', 'generate', '--out', out, '--users', '40', '--days', '4', '--seed', '3', '--new-items', '0.3', '--tastes', 'baseColour=0, brand=0.1', '--json');
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out.trim().split('\n').at(-1)!);
  assert.equal(s.users, 40);
  assert.equal(s.days, 4);
  assert.equal(s.newItems, Math.round(360 * 0.3));
  const world = JSON.parse(readFileSync(path.join(out, 'world.json'), 'utf8'));
  assert.equal(world.params.seed, 3);
  assert.equal(world.params.newItemShare, 0.3);
  assert.deepEqual(world.params.tasteWeights, { articleType: 0.7, baseColour: 0, gender: 0.7, usage: 0.4, season: 0.25, brand: 0.1 });
  const badTaste = mmctr('world', 'generate', '--out', path.join(dir, 'x'), '--tastes', 'colour=0');
  assert.equal(badTaste.code, 2);
  assert.match(badTaste.err, /'--tastes <list>' argument 'colour=0' is invalid. 'colour' is not an attribute of the click model; expected articleType, baseColour, gender, usage, season, brand/);
  const check = mmctr('data', 'check', path.join(out, 'dataset.json'), '--strict', '--json');
  assert.equal(check.code, 0, check.out + check.err);
  assert.equal(JSON.parse(check.out).rowsDropped, 0);
  // Human output names the next steps.
  const again = mmctr('world', 'generate', '--out', out, '--users', '20', '--days', '3');
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /ad world \(builtin catalogue, preset small, seed 1\)/);
  assert.match(again.out, /next: mmctr data check/);
});

test('mmctr world generate leaves a folder that is not a world alone, and names bad knobs', () => {
  const dir = tempDir('mmctr-cli-world-');
  write(dir, 'notes.txt', 'mine');
  const r = mmctr('world', 'generate', '--out', dir, '--users', '10', '--days', '2');
  assert.equal(r.code, 1);
  assert.match(r.err, /not empty and not an ad world/);
  assert.ok(existsSync(path.join(dir, 'notes.txt')));
  const bad = mmctr('world', 'generate', '--out', path.join(dir, 'x'), '--preset', 'huge');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /'--preset <name>' argument 'huge' is invalid. Expected one of small, medium, bench/);
  const knob = mmctr('world', 'generate', '--out', path.join(dir, 'y'), '--noise', '-1');
  assert.equal(knob.code, 2);
  assert.match(knob.err, /'--noise <std>' argument '-1' is invalid. Expected a number >= 0/);
});
