/**
 * A ranking thread (worker_threads): holds its own copy of the serving model(s) and runs the
 * forward passes the main thread sends it, so that on a machine with N cores N requests are
 * scored at once while the main thread keeps parsing, validating and fetching vectors.
 *
 * Messages in:  {type: 'load', id, run, version, dim, backend}  load a run as `version` (kept beside the
 *                                                  previous ones until told to drop them)
 *               {type: 'rank', id, version, input, unique, packed, present, dim}
 *               {type: 'drop', below}               forget versions older than `below`
 * Messages out: {type: 'done', id, result} | {type: 'error', id, message}
 */
import { parentPort } from 'node:worker_threads';
import { loadServingModel, type ServingBackend, type ServingModel } from './model-state.js';
import { rankCandidates, warmUp, type RankInput } from './ranker.js';

type Message =
  | { type: 'load'; id: number; run: string; version: number; dim: number; backend: ServingBackend }
  | { type: 'rank'; id: number; version: number; input: RankInput; unique: string[]; packed: Float32Array; present: Uint8Array; dim: number }
  | { type: 'drop'; below: number };

const models = new Map<number, ServingModel>();

parentPort!.on('message', async (m: Message) => {
  if (m.type === 'drop') {
    for (const [v, model] of models)
      if (v < m.below) {
        models.delete(v);
        void model.onnx?.close();
      }
    return;
  }
  try {
    if (m.type === 'load') {
      const model = await loadServingModel(m.run, m.version, m.backend);
      // Warm-up before the model is announced.
      await warmUp(model, m.dim);
      models.set(m.version, model);
      parentPort!.postMessage({ type: 'done', id: m.id, result: null });
      return;
    }
    const model = models.get(m.version);
    if (!model) throw new Error(`ranking thread: model version ${m.version} is not loaded here`);
    const vectors = m.unique.map((_, k) => (m.present[k] ? m.packed.subarray(k * m.dim, (k + 1) * m.dim) : null));
    parentPort!.postMessage({ type: 'done', id: m.id, result: await rankCandidates(model, m.input, m.unique, vectors, m.dim) });
  } catch (err) {
    parentPort!.postMessage({ type: 'error', id: m.id, message: (err as Error).message });
  }
});
