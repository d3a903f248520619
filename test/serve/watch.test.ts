import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { writePublication, writeTrainerProgress } from '../../src/ctr/publication.js';
import { MODEL_FILE, openRun } from '../../src/ctr/run.js';
import { saveModel } from '../../src/engine/checkpoint.js';
import { startService, stopService } from '../../src/serve/start.js';
import { tempDir } from '../data/helpers.js';
import { tinyModel } from './fixture.js';

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const gauge = (metrics: string, name: string) => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : null;
};

test('serve --watch: each publication of new weights is reloaded under load with no failed request; /metrics shows the age and the samples behind; broken weights are tried once and the old model keeps serving', async () => {
  const m = await tinyModel();
  const run = path.join(tempDir('mmctr-watch-'), 'published');
  cpSync(m.run, run, { recursive: true });
  const started = await startService({ run, vectors: m.vectors, indexFile: null, token: null, log: false, ann: false, watchSeconds: 0.05 });
  try {
    const base = await started.service.listen(0);
    assert.equal(started.service.model!.publication, null, 'a run trained once has no publication');
    const items = [...started.service.model!.itemIndex.keys()];
    const body = JSON.stringify({ behaviours: items.slice(0, 10), candidates: items.slice(10, 60) });
    const rank = async () => {
      const r = await fetch(`${base}/v1/rank`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      return { status: r.status, body: (await r.json()) as { model: number; items: unknown[] } };
    };
    const before = await rank();
    let stop = false;
    const statuses = new Map<number, number>();
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const { status } = await rank();
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    });

    // Two publications, as a stream trainer writes them: the weights, then the manifest.
    const { config, model } = openRun(run);
    for (const version of [1, 2]) {
      for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.data[i] *= 1.01;
      saveModel(path.join(run, MODEL_FILE), model, config.model);
      writePublication(run, { version, from: m.run, trained: 1000 * version, newestEventTs: 1_700_000_000 + version, publishedAt: new Date().toISOString() });
      await until(`publication ${version} to be served`, () => started.service.model!.publication?.version === version);
    }
    const served = started.service.model!;
    assert.equal(served.version, 3, 'the first load and one reload per publication');
    assert.equal(served.publication!.trained, 2000);
    writeTrainerProgress(run, { trained: 2600, at: new Date().toISOString() });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.equal(gauge(metrics, 'mmctr_model_stream_trained_samples'), 2000);
    assert.equal(gauge(metrics, 'mmctr_model_samples_behind'), 600);
    const age = gauge(metrics, 'mmctr_model_age_seconds');
    assert.ok(age !== null && age >= 0 && age < 30, `model age ${age}`);
    const info = (await (await fetch(`${base}/v1/info`)).json()) as { model: { stream: { version: number; samplesBehind: number } } };
    assert.equal(info.model.stream.version, 2);
    assert.equal(info.model.stream.samplesBehind, 600);

    // A publication whose weights do not load: one failed reload, the previous model serving on.
    writeFileSync(path.join(run, MODEL_FILE), 'not safetensors');
    writePublication(run, { version: 3, from: m.run, trained: 3000, newestEventTs: null, publishedAt: new Date().toISOString() });
    await until('the failed reload', async () => /mmctr_model_reloads_total\{result="failed"\} 1/.test(await (await fetch(`${base}/metrics`)).text()));
    await new Promise((r) => setTimeout(r, 300));
    const later = await (await fetch(`${base}/metrics`)).text();
    assert.match(later, /mmctr_model_reloads_total\{result="failed"\} 1$/m, 'tried once per change, not at every look');
    stop = true;
    await Promise.all(clients);
    assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);
    const after = await rank();
    assert.equal(after.body.model, 3);
    assert.notDeepEqual(after.body.items, before.body.items, 'the new weights score');
  } finally {
    await stopService(started);
  }
});
