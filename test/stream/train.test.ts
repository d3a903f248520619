import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ExperimentConfig } from '../../src/ctr/config.js';
import { readPublication, readTrainerProgress } from '../../src/ctr/publication.js';
import { openRun, trainRun } from '../../src/ctr/run.js';
import { buildStoreFromSpec } from '../../src/data/samples.js';
import { readSampleConfig } from '../../src/data/sample-config.js';
import { readDatasetSpec } from '../../src/data/spec.js';
import { runStream } from '../../src/stream/run.js';
import { csvLogAsJsonLines } from '../../src/stream/replay.js';
import { jsonLinesSource } from '../../src/stream/sources.js';
import { StreamTrainer } from '../../src/stream/train.js';
import { generateWorld } from '../../src/world/generate.js';
import { worldParams } from '../../src/world/params.js';
import { tempDir } from '../data/helpers.js';

class Crash extends Error {}

test('stream train: one pass from a trained run with progressive validation; killed between checkpoints and resumed, the published model is bit-identical to an uninterrupted stream', async () => {
  const dir = tempDir('mmctr-stream-train-');
  const w = await generateWorld(worldParams('small', { seed: 4, users: 60, days: 4 }), path.join(dir, 'world'));
  const storeDir = path.join(dir, 'store');
  const { store } = await buildStoreFromSpec(w.specFile, readSampleConfig(w.sampleConfigFile), storeDir);
  const config = ExperimentConfig.parse({
    name: 't',
    data: { store: storeDir },
    model: { model: 'sum-pooling', embeddingDim: 8, mlpHidden: [16] },
    train: { batchSize: 128, lr: 0.005, epochs: 1 },
  });
  const runDir = path.join(dir, 'run');
  trainRun(config, store, runDir);
  const events = path.join(dir, 'events.jsonl');
  csvLogAsJsonLines(path.join(w.dir, 'events.csv'), events);
  const spec = readDatasetSpec(w.specFile);

  const stream = async (out: string, crashAt?: number) => {
    const { config, store, model } = openRun(runDir);
    const trainer = new StreamTrainer(model, config, store, runDir, out, { windowSize: 200, publishSeconds: 0, publishSamples: 200, compareFrozen: true });
    let batches = 0;
    const report = await runStream({
      events: spec.events!,
      samples: store.meta.config,
      latenessSeconds: 30,
      maxFutureSeconds: 86_400,
      checkpointSeconds: 0,
      batch: 400,
      source: async (resume) => jsonLinesSource(events, resume),
      sink: trainer,
      dir: out,
      onProgress: () => {
        if (++batches === crashAt) throw new Crash();
      },
    });
    return { report, trainer };
  };
  const whole = await stream(path.join(dir, 'whole'));
  const p = whole.trainer.progress;
  // The run's own training period only builds state; everything after it trains once.
  assert.equal(p.trained + p.skipped, whole.report.samples);
  assert.ok(p.skipped > 0 && p.trained >= 500, `${p.trained} trained, ${p.skipped} skipped`);
  assert.ok(p.curve.length >= 3);
  // Every trained sample was scored once before its step (a world this small teaches little: no quality claim here).
  assert.equal(p.curve.reduce((n, c) => n + c.count, 0), p.trained);
  assert.ok(p.curve.every((c) => c.auc > 0 && c.auc < 1 && c.logloss > 0 && Number.isFinite(c.gauc)), JSON.stringify(p.curve));
  assert.ok(p.curve.some((c) => c.newCount > 0), 'new items are scored on their own');
  // The frozen starting model is scored on the same windows, and it is not the one that trains.
  assert.ok(p.curve.every((c) => c.frozen !== null && c.frozen.auc > 0 && c.frozen.auc < 1));
  assert.ok(p.curve.some((c) => c.frozen!.logloss !== c.logloss), 'the streamed model moved away from the frozen one');
  // Published every 200 samples and at each checkpoint; the manifest names the last version and what it trained on.
  const published = readPublication(path.join(dir, 'whole', 'model'))!;
  assert.equal(published.version, p.published);
  assert.ok(p.published >= Math.floor(p.trained / 200), `${p.published} publications of ${p.trained} samples`);
  assert.equal(published.trained, p.trained);
  assert.equal(readTrainerProgress(path.join(dir, 'whole', 'model'))!.trained, p.trained);
  // Every clicked sample reached a publication, and its freshness was measured.
  const clicksTrained = whole.trainer.freshnessSeconds.length;
  assert.ok(clicksTrained > 0 && clicksTrained < whole.report.clicks, `${clicksTrained} clicked samples trained of ${whole.report.clicks}`);
  assert.ok(whole.trainer.freshnessSeconds.every((s) => s >= 0 && s < 60));

  const out = path.join(dir, 'crashed');
  await assert.rejects(stream(out, 4), Crash);
  await assert.rejects(stream(out, 2), Crash);
  const crashedVersion = readPublication(path.join(out, 'model'))!.version;
  const resumed = await stream(out);
  assert.equal(resumed.trainer.progress.trained, p.trained);
  const model = (d: string) => readFileSync(path.join(d, 'model', 'model.safetensors'));
  assert.ok(model(out).equals(model(path.join(dir, 'whole'))), 'the same parameters, bit for bit');
  assert.deepEqual(resumed.trainer.progress.curve, p.curve);
  // Versions go on across the restarts: never one number for two different sets of weights.
  assert.ok(readPublication(path.join(out, 'model'))!.version > crashedVersion, 'resumed publications number on from the crashed ones');
  // The published folder is a run: it opens as one.
  assert.equal(openRun(path.join(out, 'model')).config.name, 't');
});
