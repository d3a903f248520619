import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../src/util/paths.js';
import { freePort, tinyModel } from './fixture.js';

test('`mmctr serve <run>` serves, answers curl-style requests, and exits 0 on SIGTERM', async () => {
  const m = await tinyModel();
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(repoRoot(), 'bin', 'mmctr.js'), 'serve', m.run, '--vectors', m.vectors, '--memory', '--port', String(port), '--log-level', 'warn', '--precision', 'int8'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MMCTR_TOKEN: 'cli-token' },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    const ready = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    assert.equal(child.exitCode, null, `mmctr serve exited early: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const info = (await (await fetch(`${base}/v1/info`)).json()) as { index: { precision: string; items: number } };
  assert.equal(info.index.precision, 'int8');
  assert.ok(info.index.items > 0);
  const r = await fetch(`${base}/v1/items?wait=1`, { method: 'POST', body: JSON.stringify({ id: 'cli-ad', title: 'white linen trousers' }), headers: { 'content-type': 'application/json', authorization: 'Bearer cli-token' } });
  assert.equal(r.status, 201);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /SIGTERM: finishing in-flight requests and stopping/);
});
