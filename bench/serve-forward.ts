/**
 * bench:serve's forward-pass phase, in a fresh process (not run by hand): the CPU per request of
 * rankCandidates (batch from ids and vectors, the model, the ranked list) on one engine thread,
 * without HTTP. Arguments: the run folder, the item vectors file ('' for none), a JSON file of
 * request bodies. Prints {"cpuMsPerRequest": n}.
 */
import { readFileSync } from 'node:fs';
import { readEmbeddings } from '../src/encoders/vector-file.js';
import { native } from '../src/engine/native.js';
import { loadServingModel } from '../src/serve/model-state.js';
import { idsToFetch, rankCandidates } from '../src/serve/ranker.js';

const [run, vectorsFile, bodiesFile] = process.argv.slice(2);
// The memory policy of `mmctr serve`.
native.keepFreedMemory(false);
const model = await loadServingModel(run, 1);
const vectorOf = new Map<string, Float32Array>();
let dim = 128;
if (vectorsFile) {
  const e = readEmbeddings(vectorsFile);
  dim = e.dim;
  e.ids.forEach((id, i) => vectorOf.set(id, e.vectors.subarray(i * e.dim, (i + 1) * e.dim)));
}
const inputs = (JSON.parse(readFileSync(bodiesFile, 'utf8')) as string[]).map((b) => JSON.parse(b) as { behaviours: string[]; candidates: string[] });
const once = async (input: (typeof inputs)[number]) => {
  const { unique } = idsToFetch(model, input);
  await rankCandidates(model, input, unique, unique.map((id) => vectorOf.get(id) ?? null), dim);
};
for (let i = 0; i < 100; i++) await once(inputs[i % inputs.length]);
const n = 400, before = process.cpuUsage();
for (let i = 0; i < n; i++) await once(inputs[i % inputs.length]);
const used = process.cpuUsage(before);
console.log(JSON.stringify({ cpuMsPerRequest: (used.user + used.system) / 1000 / n }));
