import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmbeddedIndex, InProcessQueue, type IngestJob } from '../../src/index/index.js';
import { startIngestWorkers } from '../../src/serve/ingest.js';
import { HashedTitleEncoder } from '../../src/serve/item-encoder.js';

const DIM = 16;

/** Submits every request in one go (one batch), runs the workers until the queue is empty. */
async function ingestBatch(requests: { id: string; title: string | null; vector?: number[] }[]): Promise<{ index: EmbeddedIndex; states: Map<string, { state: string; reason?: string }> }> {
  const index = EmbeddedIndex.open({ file: null, dim: DIM });
  const queue = new InProcessQueue();
  const jobs = await Promise.all(requests.map((r) => queue.submit(r)));
  const stop = startIngestWorkers({ index, queue, encoder: new HashedTitleEncoder(DIM), batch: 32 });
  while ((await queue.depth()) > 0) await new Promise((r) => setTimeout(r, 2));
  await stop();
  const states = new Map<string, { state: string; reason?: string }>();
  for (const j of jobs as IngestJob[]) states.set(j.id, (await queue.status(j.jobId)) as { state: string; reason?: string });
  return { index, states };
}

const goodTitles = Array.from({ length: 15 }, (_, i) => ({ id: `good-${i}`, title: `red cotton shirt number${i}` }));

test('ingestion fails item by item: a title with no word fails alone, its 15 batch mates are indexed', async () => {
  const { index, states } = await ingestBatch([...goodTitles, { id: 'bang', title: '!!!' }]);
  assert.equal([...states.values()].filter((s) => s.state === 'done').length, 15);
  assert.equal(states.get('bang')!.state, 'failed');
  assert.match(states.get('bang')!.reason!, /needs a title with at least one word/);
  assert.equal(await index.size(), 15);
});

test('ingestion fails item by item: a 1e200 vector is refused with a clear reason, not stored as zeros, and fails alone', async () => {
  const huge = Array.from({ length: DIM }, () => 1e200);
  const { index, states } = await ingestBatch([...goodTitles, { id: 'huge', title: null, vector: huge }]);
  assert.equal(states.get('huge')!.state, 'failed');
  assert.match(states.get('huge')!.reason!, /length overflows/);
  assert.equal([...states.values()].filter((s) => s.state === 'done').length, 15);
  assert.equal((await index.getMany(['huge']))[0], null);
});
