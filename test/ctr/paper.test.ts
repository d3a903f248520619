import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compareRuns } from '../../src/ctr/experiment/runs.js';
import { checkPaperClaims, claimOfNote, PaperExperimentConfig, readPaperConfig, runPaperExperiment, variantConfig } from '../../src/ctr/experiment/paper.js';
import { SampleStore } from '../../src/data/store.js';
import type { PaperResult } from '../../src/ctr/experiment/result.js';
import { ConfigError } from '../../src/util/errors.js';
import { repoRoot } from '../../src/util/paths.js';
import { writePaperReport } from '../../src/report/paper-report.js';
import { demoStoreWithVectors } from './helpers.js';

const { dir, storeDir, vectorsFile, ready } = demoStoreWithVectors('mmctr-paper-');

function config(): PaperExperimentConfig {
  return PaperExperimentConfig.parse({
    name: 'tiny-paper',
    data: { store: storeDir, vectors: vectorsFile },
    model: { model: 'din', embeddingDim: 8, attentionHidden: [8], mlpHidden: [16, 8] },
    simTier: { tiers: 10 },
    make: { attentionHidden: [8], mlpHidden: [8], epochs: 3, earlyStoppingPatience: 3, batchSize: 128, lr: 0.01 },
    train: { batchSize: 128, lr: 0.01 },
    seeds: [1, 2],
    variants: ['id', 'simtier', 'make', 'simtier_make'],
    curveEpochs: 2,
  });
}

test('each variant is the ID model plus exactly its multimodal parts', () => {
  const c = config();
  const m = (v: Parameters<typeof variantConfig>[1]) => variantConfig(c, v, 3).model as Record<string, unknown>;
  assert.deepEqual([m('id').vector, m('id').simScore, m('id').simTier, m('id').make], [false, false, undefined, undefined]);
  assert.equal(m('vector').vector, true);
  assert.equal(m('simscore').simScore, true);
  assert.deepEqual(m('simtier_make').simTier, c.simTier);
  assert.deepEqual(m('simtier_make').make, c.make);
  assert.equal(variantConfig(c, 'make', 3).train.seed, 3);
});

test('the experiment trains every variant per seed, MAKE once per seed, and reports slices, curves and claims', async () => {
  await ready();
  const out = path.join(dir, 'exp');
  const r = runPaperExperiment(config(), SampleStore.open(storeDir), out);
  assert.deepEqual(r.seeds, [1, 2]);
  const overall = r.slices[0];
  assert.equal(overall.slice, 'overall');
  for (const v of r.variants) {
    assert.equal(overall.perSeed[v].length, 2);
    assert.ok(overall.summary[v].gauc.mean > 0.5, `${v} GAUC ${overall.summary[v].gauc.mean}`);
  }
  assert.equal(overall.summary.id.gainVsId.gauc, 0);
  const expectGain = (100 * (overall.summary.simtier.gauc.mean - overall.summary.id.gauc.mean)) / overall.summary.id.gauc.mean;
  assert.ok(Math.abs(overall.summary.simtier.gainVsId.gauc - expectGain) < 1e-3);
  // MAKE: trained once per seed (the simtier_make run reuses it), kept epoch within the limit.
  assert.equal(r.makeEpochs.length, 2);
  assert.ok(r.makeEpochs.every((e) => e >= 1 && e <= 3));
  assert.equal(r.curves.id.length, 2, 'the ID curve has one point per epoch');
  assert.ok(r.curves.make.length >= 1);
  const cached = readFileSync(path.join(out, 'runs', 'simtier_make-seed1', 'log.txt'), 'utf8');
  assert.match(cached, /MAKE reused/);
  assert.ok(r.notes.some((n) => /SimTier \+ MAKE vs ID/.test(n)));
  assert.deepEqual(checkPaperClaims(r), r.notes);
  const files = await writePaperReport(r, out);
  for (const f of [files.html, files.markdown, files.json]) assert.ok(existsSync(f));
  assert.match(readFileSync(files.markdown, 'utf8'), /SimTier \+ MAKE/);
  // `mmctr report` over the experiment's run folders gives the experiment's own figures: the
  // curve run is an experiment of its own, not a second ID seed 1.
  const again = compareRuns([path.join(out, 'runs')], { baseline: 'tiny-paper-id' });
  assert.deepEqual(again.groups.map((g) => g.name).sort(), ['tiny-paper-id', 'tiny-paper-id-curve', 'tiny-paper-make', 'tiny-paper-simtier', 'tiny-paper-simtier_make']);
  for (const v of r.variants) assert.deepEqual(again.slices[0].summary[`tiny-paper-${v}`].gauc, overall.summary[v].gauc, v);
  assert.ok(!again.notes.some((n) => n.includes('trained more than once')), again.notes.join('\n'));
});

test('claims are notes with their verdict first; claimOfNote reads them back, other notes are not claims', () => {
  const r = JSON.parse(readFileSync(path.join(repoRoot(), 'docs', 'reports', 'paper-movielens', 'report.json'), 'utf8')) as PaperResult;
  const notes = checkPaperClaims(r);
  assert.deepEqual(notes, r.notes, 'the committed result was checked by the same rules');
  assert.deepEqual(claimOfNote(notes[1]), { verdict: 'does not hold', sentence: 'gain on new items -17.52 % vs overall +2.56 % (claim: at least twice; ratio -6.84).' });
  assert.deepEqual(notes.map((n) => claimOfNote(n)?.verdict), ['holds', 'does not hold', 'holds', 'holds', 'holds', 'holds']);
  assert.equal(claimOfNote('MAKE reused from cache'), null);
  assert.equal(claimOfNote('holdsfast: not a verdict'), null);
});

test('a paper config without data or vectors is refused with the field named', () => {
  const file = path.join(dir, 'bad-paper.json');
  writeFileSync(file, JSON.stringify({ name: 'x', data: { store: storeDir }, model: { model: 'din' } }));
  assert.throws(() => readPaperConfig(file), (e: unknown) => e instanceof ConfigError && /data\.vectors/.test(e.message));
  writeFileSync(file, JSON.stringify({ name: 'x', data: { vectors: 'v.jsonl' }, model: { model: 'din' } }));
  assert.throws(() => readPaperConfig(file), (e: unknown) => e instanceof ConfigError && /data/.test(e.message) && /world/.test(e.message));
});

test('world.overrides keeps only the parameters given (the preset fills the rest; pipeline/world.ts checks them)', () => {
  const parsed = PaperExperimentConfig.parse({ name: 'x', world: { preset: 'small', seed: 3, overrides: { users: 800, tasteWeights: { baseColour: 0 } } }, data: { vectors: 'v.jsonl' }, model: { model: 'din' } });
  assert.deepEqual(parsed.world?.overrides, { users: 800, tasteWeights: { baseColour: 0 } });
});
