/**
 * A purchase-only retail log end to end (README "Your own data"): the ad world with its
 * impressions and clicks dropped, checked, built with negative sampling, trained and evaluated.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { generateWorld } from '../../src/world/generate.js';
import { worldParams } from '../../src/world/params.js';
import { tempDir } from '../data/helpers.js';
import { mmctr } from './helpers.js';

/** The world's catalogue and its purchases only (user, item, time, type): what a retailer's first export looks like. */
async function purchaseOnlyRetail(dir: string): Promise<{ spec: string; purchases: number }> {
  const world = await generateWorld(worldParams('small', { seed: 3, users: 600, days: 14, historyLength: 10, builtinItems: 120 }), path.join(dir, 'world'));
  const retail = path.join(dir, 'retail');
  spawnSync('mkdir', ['-p', retail]);
  copyFileSync(path.join(world.dir, 'items.csv'), path.join(retail, 'items.csv'));
  const lines = readFileSync(path.join(world.dir, 'events.csv'), 'utf8').trim().split('\n');
  const kept = lines.filter((l, i) => i === 0 || l.split(',')[3] === 'purchase').map((l) => l.split(',').slice(0, 4).join(','));
  writeFileSync(path.join(retail, 'purchases.csv'), kept.join('\n') + '\n');
  const spec = path.join(retail, 'dataset.json');
  writeFileSync(
    spec,
    JSON.stringify({
      name: 'retail',
      items: { path: 'items.csv', columns: { item_id: 'item_id', title: 'title', category: 'category', created_at: 'created_at' } },
      events: { path: 'purchases.csv', columns: { user_id: 'user_id', item_id: 'item_id', ts: 'ts', type: 'type' }, label: { eventType: 'purchase' } },
    }),
  );
  return { spec, purchases: kept.length - 1 };
}

test('a purchase-only log: data check says build samples negatives, build states it, train and evaluate say metrics are on sampled candidates', async () => {
  const dir = tempDir('mmctr-retail-');
  const { spec, purchases } = await purchaseOnlyRetail(dir);
  assert.ok(purchases > 300, `${purchases} purchases`);

  const check = mmctr('data', 'check', spec);
  assert.equal(check.code, 0, check.err);
  assert.match(check.out, new RegExp(`build +no impressions: each of the ${purchases} purchase events is a positive sample with 4 negatives drawn uniformly over the items live at its time`));
  assert.match(check.out, /result: every row is usable/);

  // Without the label rule the purchases are not positives: check says there is nothing to build and how to name them.
  const plain = JSON.parse(readFileSync(spec, 'utf8'));
  delete plain.events.label;
  const plainSpec = path.join(path.dirname(spec), 'plain.json');
  writeFileSync(plainSpec, JSON.stringify(plain));
  const nothing = mmctr('data', 'check', plainSpec);
  assert.equal(nothing.code, 1);
  assert.match(nothing.out, /no impression events and no click events \(the positives\), only \d+ purchase: .*"label": \{"eventType": "purchase"\}/);
  assert.match(nothing.out, /result: nothing to build samples from/);

  const storeDir = path.join(dir, 'store');
  const build = mmctr('data', 'build', spec, '--out', storeDir);
  assert.equal(build.code, 0, build.err);
  assert.match(build.out, /samples: evaluation on sampled candidates: each purchase is a positive scored against 4 negatives/);
  const meta = JSON.parse(readFileSync(path.join(storeDir, 'meta.json'), 'utf8'));
  assert.equal(meta.sampling.kind, 'negatives');
  assert.equal(meta.sampling.positives, purchases);
  const samples = meta.splits.train.count + meta.splits.valid.count + meta.splits.test.count;
  assert.equal(samples, purchases * 5 - 4 * meta.sampling.short);

  const config = path.join(dir, 'retail-din.json');
  writeFileSync(config, JSON.stringify({ name: 'retail-din', data: { store: storeDir }, model: { model: 'din', embeddingDim: 8, mlpHidden: [16], attentionHidden: [16, 8] }, train: { batchSize: 128, lr: 0.01, epochs: 3, keep: 'last' } }));
  const runs = path.join(dir, 'runs');
  const train = mmctr('train', config, '--runs', runs, '--json');
  assert.equal(train.code, 0, train.err);
  const [run] = readdirSync(runs).filter((d) => d.startsWith('retail-din'));
  const metrics = JSON.parse(readFileSync(path.join(runs, run, 'metrics.json'), 'utf8'));
  assert.match(metrics.notes[0], /^evaluation on sampled candidates/);
  assert.equal(metrics.fit.keptEpoch, 3);
  // Purchased items are more popular and closer to the user's taste than random live items.
  assert.ok(metrics.test.overall.auc > 0.6, `test AUC ${metrics.test.overall.auc}`);
  const evaluate = mmctr('evaluate', path.join(runs, run));
  assert.equal(evaluate.code, 0, evaluate.err);
  assert.match(evaluate.out, /note: evaluation on sampled candidates/);
});
