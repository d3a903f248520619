import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startService, stopService } from '../../src/serve/start.js';
import { tinyModel } from './fixture.js';

test('serve --backend onnx: the same request gets the same ranking and scores (1e-5) as the native backend, on the main thread and in a ranking thread', async () => {
  const m = await tinyModel();
  const common = { run: m.run, vectors: m.vectors, indexFile: null, token: null, log: false as const, ann: false };
  const native = await startService(common);
  const onnx = await startService({ ...common, backend: { kind: 'onnx', threads: 1 } });
  const pooled = await startService({ ...common, backend: { kind: 'onnx', threads: 1 }, rankThreads: 1 });
  try {
    const items = [...native.service.model!.itemIndex.keys()];
    // Unknown candidates and behaviours (no id row, no vector) beside known ones.
    const request = { behaviours: [...items.slice(0, 12), 'never-seen'], candidates: [...items.slice(20, 60), 'brand-new-ad'] };
    const rank = async (s: typeof native) => JSON.parse((await s.service.app.inject({ method: 'POST', url: '/v1/rank', payload: request })).body);
    const want = await rank(native);
    for (const [name, s] of [['onnx', onnx], ['onnx in a ranking thread', pooled]] as const) {
      const got = await rank(s);
      assert.deepEqual(got.counts, want.counts, name);
      const pctr = new Map<string, number>(got.items.map((x: { id: string; pctr: number }) => [x.id, x.pctr]));
      let worst = 0;
      for (const x of want.items as { id: string; pctr: number }[]) worst = Math.max(worst, Math.abs(x.pctr - pctr.get(x.id)!));
      assert.ok(worst < 1e-5, `${name}: max |pCTR diff| ${worst}`);
      // The order may only differ between candidates whose scores tie within that tolerance.
      got.items.forEach((x: { id: string; pctr: number }, k: number) => assert.ok(Math.abs(x.pctr - want.items[k].pctr) < 1e-5, `${name}: rank ${k}`));
      const info = JSON.parse((await s.service.app.inject({ url: '/v1/info' })).body);
      assert.equal(info.model.backend, 'onnx');
    }
    assert.equal(JSON.parse((await native.service.app.inject({ url: '/v1/info' })).body).model.backend, 'native');
    assert.ok(new Set(want.items.map((x: { pctr: number }) => x.pctr)).size > 10, 'the candidates get different scores');
    // A reload on the ONNX backend exports the run again and keeps answering the same.
    const reloaded = await onnx.service.reload();
    assert.equal(reloaded.version, 2);
    assert.ok(reloaded.onnx);
    const again = await rank(onnx);
    assert.equal(again.model, 2);
    assert.deepEqual(again.items.map((x: { id: string }) => x.id), (await rank(onnx)).items.map((x: { id: string }) => x.id));
  } finally {
    await stopService(pooled);
    await stopService(onnx);
    await stopService(native);
  }
});
