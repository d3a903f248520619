/**
 * world/: generators of benchmark and demo data. This file: a minimal click log (ids and a
 * category only, no content), made deterministically from a seed, for fast tests of the CTR
 * stages. Users have latent tastes over categories; a click is more likely when the ad's
 * category matches the user's tastes and the categories of the user's recent clicks, so a
 * sequence model has something real to learn. The demo and the benchmarks use the ad world
 * (generate.ts), which has real or drawn content, searches and true click probabilities.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RandomStream } from '../engine/random.js';

export interface DemoDataOptions {
  users?: number;
  items?: number;
  categories?: number;
  impressionsPerUser?: number;
  seed?: number;
}

/** Writes items.csv, events.csv and dataset.json into `dir`; returns the spec file. */
export function writeDemoData(dir: string, { users = 400, items = 600, categories = 12, impressionsPerUser = 60, seed = 7 }: DemoDataOptions = {}): string {
  const rng = new RandomStream(seed);
  mkdirSync(dir, { recursive: true });
  const itemCat = rng.ints(items, categories);
  const itemQuality = rng.normal(items, 0, 0.5);
  const itemLines = ['item_id,title,category'];
  for (let i = 0; i < items; i++) itemLines.push(`i${i},demo product ${i} of kind ${itemCat[i]},c${itemCat[i]}`);
  // Popularity with a long tail: ad i is drawn with weight 1 / (1 + i)^0.8.
  const cumulative = new Float64Array(items);
  let acc = 0;
  for (let i = 0; i < items; i++) cumulative[i] = acc += 1 / (1 + i) ** 0.8;
  const draw = (u: number) => {
    const x = u * acc;
    let lo = 0, hi = items - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const eventLines = ['user_id,item_id,ts,type,clicked'];
  const start = 1_700_000_000;
  for (let u = 0; u < users; u++) {
    const taste = rng.normal(categories, 0, 1.2);
    const recent: number[] = [];
    const uniforms = rng.uniform(impressionsPerUser * 2);
    let ts = start + Math.floor(rng.next() * 86_400);
    for (let k = 0; k < impressionsPerUser; k++) {
      ts += 60 + Math.floor(uniforms[2 * k] * 3600);
      const item = draw(uniforms[2 * k + 1]);
      const c = itemCat[item];
      const sequenceBoost = recent.filter((r) => r === c).length * 0.6;
      const logit = -1.2 + taste[c] + sequenceBoost + itemQuality[item];
      const clicked = rng.next() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
      eventLines.push(`u${u},i${item},${ts},impression,${clicked}`);
      if (clicked) {
        recent.push(c);
        if (recent.length > 5) recent.shift();
      }
    }
  }
  writeFileSync(path.join(dir, 'items.csv'), `${itemLines.join('\n')}\n`);
  writeFileSync(path.join(dir, 'events.csv'), `${eventLines.join('\n')}\n`);
  const spec = {
    name: 'demo',
    items: { path: 'items.csv', columns: { item_id: 'item_id', title: 'title', category: 'category' } },
    events: { path: 'events.csv', columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', type: 'type', clicked: 'clicked' } },
  };
  const specFile = path.join(dir, 'dataset.json');
  writeFileSync(specFile, JSON.stringify(spec, null, 2));
  return specFile;
}
