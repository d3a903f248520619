import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ExperimentConfig } from '../../src/ctr/config.js';
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
    const trainer = new StreamTrainer(model, config, store, runDir, out, 500);
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
  assert.equal(p.trained, whole.report.samples);
  assert.ok(p.trained > 1500, `${p.trained} trained`);
  assert.ok(p.curve.length >= 3);
  // Every trained sample was scored once before its step (a world this small teaches little: no quality claim here).
  assert.equal(p.curve.reduce((n, c) => n + c.count, 0), p.trained);
  assert.ok(p.curve.every((c) => c.auc > 0 && c.auc < 1 && c.logloss > 0 && Number.isFinite(c.gauc)), JSON.stringify(p.curve));
  assert.ok(p.curve.some((c) => c.newCount > 0), 'new items are scored on their own');

  const out = path.join(dir, 'crashed');
  await assert.rejects(stream(out, 4), Crash);
  await assert.rejects(stream(out, 2), Crash);
  const resumed = await stream(out);
  assert.equal(resumed.trainer.progress.trained, p.trained);
  const model = (d: string) => readFileSync(path.join(d, 'model', 'model.safetensors'));
  assert.ok(model(out).equals(model(path.join(dir, 'whole'))), 'the same parameters, bit for bit');
  assert.deepEqual(resumed.trainer.progress.curve, p.curve);
  // The published folder is a run: it opens as one.
  assert.equal(openRun(path.join(out, 'model')).config.name, 't');
});
