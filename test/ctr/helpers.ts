/** Shared test fixtures for the CTR stage. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RandomStream } from '../../src/engine/random.js';
import { buildStoreFromSpec } from '../../src/data/samples.js';
import { SampleStore } from '../../src/data/store.js';
import { SampleConfig } from '../../src/data/sample-config.js';
import { writeDemoData } from '../../src/world/demo-data.js';

/**
 * A small demo store and a jsonl of item vectors that carry each item's category (plus noise),
 * so the multimodal parts have something real to learn from. Built once, on first `ready()`.
 */
export function demoStoreWithVectors(prefix: string): { dir: string; storeDir: string; vectorsFile: string; ready: () => Promise<void> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const storeDir = path.join(dir, 'store');
  const vectorsFile = path.join(dir, 'vectors.jsonl');
  let built: Promise<void> | null = null;
  const ready = () =>
    (built ??= (async () => {
      await buildStoreFromSpec(writeDemoData(path.join(dir, 'data'), { users: 150, items: 200, impressionsPerUser: 40, seed: 3 }), SampleConfig.parse({}), storeDir);
      const catalog = SampleStore.open(storeDir).catalog;
      const rng = new RandomStream(4);
      const lines = catalog.ids.map((id, i) => {
        const cat = catalog.fields.category.index[i + 1];
        const v = Array.from(rng.normal(8, 0, 0.3));
        v[cat % 8] += 1;
        return JSON.stringify({ id, vector: v });
      });
      writeFileSync(vectorsFile, lines.join('\n'));
    })());
  return { dir, storeDir, vectorsFile, ready };
}
