/**
 * Shared by the serve tests: a tiny default model (small world, short training), built once per
 * test process, and helpers that start a real redis-server on a free loopback port (one per
 * test file: `redisForFile`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { ensureDefaultModel, type ServeManifest } from '../../src/serve/default-model.js';
import { freePort } from '../../src/util/net.js';
export { freePort };

let built: Promise<ServeManifest> | null = null;

/** A tiny trained default (about 5 s to build; history length 20). */
export function tinyModel(): Promise<ServeManifest> {
  if (!built) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-serve-test-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    built = ensureDefaultModel({ dir, users: 60, days: 4, epochs: 1, historyLength: 20 });
  }
  return built;
}

export const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
export const NO_REDIS = 'redis-server is not installed (apt-get install redis-server; .ci/run installs it): Redis tests skipped';

export interface RedisProcess {
  url: string;
  stop: () => Promise<void>;
}

/** A throwaway redis-server on 127.0.0.1 (no persistence; on `port` if given), ready when this resolves. */
export async function startRedis(port?: number): Promise<RedisProcess & { port: number }> {
  port ??= await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    // A server already stopped (a test that failed between a stop and a restart) resolves at once, not never.
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A redis-server and a client for the tests of one file: started before them, stopped after (nothing without Redis). */
export function redisForFile(): { readonly server: RedisProcess; readonly client: Redis } {
  const state = {} as { server: RedisProcess; client: Redis };
  before(async () => {
    if (!hasRedis) return;
    state.server = await startRedis();
    state.client = new Redis(state.server.url);
  });
  after(async () => {
    if (!hasRedis) return;
    state.client.disconnect();
    await state.server.stop();
  });
  return state;
}
